"""Decoding a variational autoencoder's latent points (`nncompile sample` of a model with a
sampling layer, a registry entry with `latent=True`: `gaussian_sample`): a copy of the trained model
whose sampling layer is switched, by a view of its module (the emitted GaussianSample), to draw
z ~ N(0, I) whatever its inputs (`prior=True`) or to return given points (`latent=z`: `sample
--grid N`, `Program.sample(latent=z)`), dropout and batch normalisation in evaluation mode, run by
the program's `predict` (folded heads applied). No second program: the layers after the sample
are the decoder."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import jax
import numpy as np
from flax import nnx

from ..errors import NncompileError
from .trees import each

GRID_QUANTILES = (0.05, 0.95)  # a grid spans the prior's central 90 % in each latent dimension
MAX_GRID = 64  # 64 x 64 = 4096 points, sampling's MAX_SAMPLES


class SampleError(NncompileError):
    """A sample that cannot be made or written: the program's kind, the arguments (latent points
    that do not fit the model's latent space among them)."""


class LatentSpace(NamedTuple):
    """A sampling layer of the model (a registry entry with `latent=True`; the api finds them in
    the spec): its layer name (`gaussian_sample`) and the shape of one example's latent point."""

    kind: str
    shape: tuple[int, ...]

    def written(self, path: str) -> str:
        """How the spec writes the layer at `path`, for messages: `z = gaussian_sample(...)`."""
        return f"{path} = {self.kind}(...)"


def decode_prior(trainer, n: int, seed: int):
    """The program's predictions for `n` draws from the prior, reproducible by `seed` (the
    trained model and its random streams are left as they are)."""
    return _decode(trainer, n, seed, prior=True)


def decode_latent(trainer, points: np.ndarray):
    """The program's predictions for the given latent points ([n, *latent], checked by
    `check_latent`): what the layers after the sampling layer make of them."""
    return _decode(trainer, len(points), 0, latent=points)


def _decode(trainer, n: int, seed: int, **view):
    model = nnx.clone(trainer.model)
    nnx.reseed(model, default=seed)
    viewed = nnx.view(
        model, deterministic=True, use_running_average=True, raise_if_not_found=False, **view
    )
    graphdef, state = nnx.split(viewed)
    # the encoder runs on zeros: only the draws (the points) reach the layers after the sample
    x = each(lambda a: np.zeros((n, *a.shape[1:]), a.dtype), trainer.splits["train"][0])
    run = jax.jit(lambda s, x: trainer.program.predict(nnx.merge(graphdef, s), x))
    return jax.device_get(run(state, x))


def check_latent(points, shape: tuple[int, ...], layer: str, limit: int) -> np.ndarray:
    """`points` as float32 [n, *shape] (one point of `shape` alone: n = 1), or a SampleError that
    names the latent size of the sampling layer (`layer`: as the spec writes it)."""
    want = f"[n, {', '.join(map(str, shape))}]"
    try:
        z = np.asarray(points, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise SampleError(
            f"latent points must be numbers, an array {want}: {e}",
            f"`{layer}` has {math.prod(shape)} latent values",
        ) from None
    if z.shape == tuple(shape):
        z = z[None]
    if z.ndim != len(shape) + 1 or z.shape[1:] != tuple(shape) or len(z) == 0:
        raise SampleError(
            f"latent points of shape {list(z.shape)} do not fit the latent space of "
            f"`{layer}`: it takes {want}",
            f"give one row of {', '.join(map(str, shape))} values per point",
        )
    if len(z) > limit:
        raise SampleError(f"{len(z)} latent points: decode at most {limit} in one call")
    bad = np.argwhere(~np.isfinite(z).reshape(len(z), -1).all(axis=1))
    if len(bad):
        raise SampleError(f"latent point {int(bad[0, 0])} is not finite: {z[int(bad[0, 0])]}")
    return z


def grid_points(n: int, shape: tuple[int, ...], layer: str) -> tuple[np.ndarray, str]:
    """n x n points over the central quantiles of a 2-D prior N(0, I), row by row from the top:
    z[0] rises left to right, z[1] top to bottom falls (like a plot); and a title saying so
    (`layer`: the sampling layer as the spec writes it, for messages)."""
    if tuple(shape) != (2,):
        raise SampleError(
            f"--grid spans a 2-D latent space; `{layer}` has "
            f"{math.prod(shape)} latent values ({list(shape)})",
            "decode chosen points with Program.sample(latent=z), or draw from the prior "
            "without --grid",
        )
    if not 2 <= n <= MAX_GRID:
        raise SampleError(f"--grid {n}: a grid is 2 to {MAX_GRID} points a side")
    lo, hi = GRID_QUANTILES
    values = [NormalDist().inv_cdf(lo + (hi - lo) * i / (n - 1)) for i in range(n)]
    across, down = np.asarray(values, np.float32), np.asarray(values[::-1], np.float32)
    points = np.stack(np.meshgrid(across, down), axis=-1).reshape(n * n, 2)
    title = (
        f"z[0] {across[0]:.2f} to {across[-1]:.2f} across, z[1] {down[0]:.2f} to "
        f"{down[-1]:.2f} down"
    )
    return points, title
