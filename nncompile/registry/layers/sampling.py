"""Layers that draw random values the model is trained through: the reparameterized Gaussian sample
of a variational autoencoder (Kingma & Welling, 2014; Keras' `Sampling` layer).

`z = gaussian_sample(mean, log_var)` draws z = mean + exp(log_var / 2) * eps, eps ~ N(0, I), in
training (the gradient reaches mean and log_var through the draw), and is the mean in evaluation and
prediction (deterministic, like dropout). It adds `kl_weight` times the KL divergence of
N(mean, exp(log_var)) from N(0, I) (summed over the latent values, averaged over the batch) to the
training and evaluation loss: the layer's `loss_term`, Keras' `add_loss`.
"""

from __future__ import annotations

import math

from pydantic import field_validator

from ...expr import Snippet, Sym, call, t
from ...shapes import Shape, ShapeError, fmt
from .. import Params
from ..lowering import RNGS, Lowered
from .base import Example, Layer, LossTerm

GAUSSIAN_SAMPLE = Snippet(
    "GaussianSample",
    '''
class GaussianSample(nnx.Module):
    """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I) in training; the mean in evaluation. Keeps
    the KL divergence of N(mean, exp(log_var)) from N(0, I), summed over the latent values and
    averaged over the batch, in `kl` (float32) for loss_fn to add (Keras' add_loss). With
    `prior=True` (nnx.view; `nncompile sample`) it draws z ~ N(0, I) whatever its inputs: the
    layers after it decode draws from the prior; with `latent=z` (an array [batch, *latent]) it
    returns those given points (`nncompile sample --grid`, `Program.sample(latent=z)`)."""

    def __init__(self, *, rngs):
        self.rngs = rngs["sample"].fork()
        self.deterministic = False
        self.prior = False
        self.latent = None
        self.kl = nnx.Intermediate(jnp.zeros((), jnp.float32))

    def set_view(self, deterministic=None, prior=None, latent=None):  # nnx.view(model, ...)
        if deterministic is not None:
            self.deterministic = deterministic
        if prior is not None:
            self.prior = prior
        if latent is not None:
            self.latent = nnx.data(jnp.asarray(latent))

    def __call__(self, mean, log_var):
        m, v = mean.astype(jnp.float32), log_var.astype(jnp.float32)
        kl = -0.5 * jnp.sum(1.0 + v - m**2 - jnp.exp(v), axis=tuple(range(1, m.ndim)))
        self.kl.set_value(jnp.mean(kl))  # replaced, not written into (exported constants)
        if self.latent is not None:
            return self.latent.astype(mean.dtype)
        if self.prior:
            return jax.random.normal(self.rngs(), mean.shape, mean.dtype)
        if self.deterministic:
            return mean
        eps = jax.random.normal(self.rngs(), mean.shape, mean.dtype)
        return mean + jnp.exp(0.5 * log_var) * eps
''',
)


class GaussianSampleParams(Params):
    kl_weight: float = 1.0

    @field_validator("kl_weight")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(
                f"the KL term's weight must be positive, got {v:g}: without it the latent "
                "space is not pulled towards N(0, I) and draws from N(0, I) decode to nothing"
            )
        return v


def gaussian_sample_shape(p: GaussianSampleParams, x: list[Shape]) -> Shape:
    if len(x) != 2:
        raise ShapeError(
            f"gaussian_sample needs two inputs, the mean and the log-variance, got {len(x)}",
            "name them in a model of named tensors: `mean = dense(2)(h)`, "
            "`log_var = dense(2)(h)`, `z = gaussian_sample(mean, log_var)`",
        )
    mean, log_var = x
    if mean != log_var:
        raise ShapeError(
            f"gaussian_sample needs a mean and a log-variance of one shape, got {fmt(mean)} and "
            f"{fmt(log_var)}",
            f"give both the latent size, e.g. dense({mean[-1]}) each",
        )
    return mean


def lower_gaussian_sample(p: GaussianSampleParams, x: tuple[Shape, ...], out: Shape) -> Lowered:
    return Lowered(
        call("GaussianSample", rngs=RNGS),
        lambda a, xs: call(a, *xs),
        (GAUSSIAN_SAMPLE,),
    )


def gaussian_sample_loss(p: GaussianSampleParams, attr: Sym) -> LossTerm:
    """kl_weight x the layer's KL divergence (of the forward pass loss_fn just ran)."""
    return LossTerm("kl_loss", p.kl_weight, t("{a}.kl[...]", a=attr))


ENTRIES = [
    Layer(
        "gaussian_sample",
        GaussianSampleParams,
        (),
        "a VAE's sampling: z = mean + exp(log_var / 2) * eps in training, the mean in "
        "evaluation; adds kl_weight x the KL divergence of N(mean, exp(log_var)) from N(0, I) to "
        "the loss, recorded as kl_loss",
        shape=gaussian_sample_shape,
        lower=lower_gaussian_sample,
        example=Example("gaussian_sample(a, b, kl_weight=0.5)", ("[4]", "[4]")),
        merge=True,
        merge_names="mean, log_var",
        loss_term=gaussian_sample_loss,
        latent=True,
    ),
]
