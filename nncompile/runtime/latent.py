"""Decoding draws from a variational autoencoder's prior (`nncompile sample` of a model with a
`gaussian_sample` layer): a copy of the trained model, its sampling layers switched to draw
z ~ N(0, I) whatever their inputs (`prior=True`, the emitted GaussianSample's view), dropout and
batch normalisation in evaluation mode, run by the program's `predict` (folded heads applied)."""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from .trees import each


def has_prior(model: nnx.Module) -> bool:
    """Whether a layer of the model can draw from a prior (the emitted GaussianSample)."""
    return any(hasattr(m, "prior") and hasattr(m, "kl") for _, m in nnx.iter_graph(model))


def decode_prior(trainer, n: int, seed: int):
    """The program's predictions for `n` draws from the prior, reproducible by `seed` (the
    trained model and its random streams are left as they are)."""
    model = nnx.clone(trainer.model)
    nnx.reseed(model, default=seed)
    view = nnx.view(
        model, deterministic=True, use_running_average=True, prior=True, raise_if_not_found=False
    )
    graphdef, state = nnx.split(view)
    # the encoder runs on zeros: only the draws reach the layers after the sample
    x = each(lambda a: np.zeros((n, *a.shape[1:]), a.dtype), trainer.splits["train"][0])
    run = jax.jit(lambda s, x: trainer.program.predict(nnx.merge(graphdef, s), x))
    return jax.device_get(run(state, x))
