"""The other names a train or sweep block uses: the GAN objective and its noise, initialising from
another run, and sweep objectives. (Losses, optimizers, schedules, regularizers and metrics have
modules of their own.)"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from ..expr import Expr, t
from . import BlockRef, Entry, Params, Ref, RefTo, Registry
from .bounds import Size

Positive = Size


# ---- GAN objective and its noise -----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Noise(Entry):
    """`lower(p, key, n)`: a batch of n noise vectors drawn with key (expressions); `shape(p)`: the
    shape of one noise vector (the generator's input)."""

    lower: Callable[[Any, Any, Any], Expr]
    shape: Callable[[Any], tuple[int, ...]] = lambda p: tuple(p.shape)
    example: Mapping[str, Any] = field(default_factory=dict)


class NoiseShape(Params):
    shape: Annotated[list[Positive], Field(min_length=1)]


NOISES = Registry(
    "noise",
    [
        Noise(
            "normal",
            NoiseShape,
            ("shape",),
            "standard normal noise of the given shape",
            lower=lambda p, key, n: t(
                "jax.random.normal({k}, ({n}, *{s}))", k=key, n=n, s=tuple(p.shape)
            ),
            example={"shape": [4]},
        ),
        Noise(
            "uniform",
            NoiseShape,
            ("shape",),
            "uniform noise in [-1, 1] of the given shape",
            lower=lambda p, key, n: t(
                "jax.random.uniform({k}, ({n}, *{s}), minval=-1.0, maxval=1.0)",
                k=key,
                n=n,
                s=tuple(p.shape),
            ),
            example={"shape": [2, 2]},
        ),
    ],
)


class Gan(Params):
    """`condition=label`: a conditional GAN; both models take the example's class label as their
    second input (`int[1]`: the class id, for an embedding; `[K]`: one-hot over K classes).
    `label_smoothing=s`: the discriminator's target for real examples is 1 - s (one-sided).
    `instance_noise=sigma`: Gaussian noise of that deviation added to every example (real and
    generated) the discriminator sees while training."""

    generator: Annotated[str, BlockRef("model")]
    discriminator: Annotated[str, BlockRef("model")]
    noise: Annotated[Ref, RefTo("noise")]
    condition: Literal["label"] | None = None
    label_smoothing: Annotated[float, Field(ge=0, lt=0.5)] = 0.0
    instance_noise: Annotated[float, Field(ge=0, le=10)] = 0.0


OBJECTIVES = Registry(
    "objective",
    [
        Entry(
            "gan",
            Gan,
            ("generator", "discriminator", "noise"),
            "adversarial training: a generator against a discriminator (conditional with "
            "condition=label; label_smoothing, instance_noise)",
        ),
    ],
)


# ---- transfer learning and sweeps ----------------------------------------------------------------
class FromCheckpoint(Params):
    run: str
    layers: list[str] | None = None


INITS = Registry(
    "init",
    [
        Entry(
            "checkpoint",
            FromCheckpoint,
            ("run", "layers"),
            "load matching parameters (by block/layer name) from another run folder",
        ),
    ],
)


class Monitor(Params):
    metric: str = "val_loss"


SWEEP_OBJECTIVES = Registry(
    "sweep_objective",
    [
        Entry(
            "minimize",
            Monitor,
            ("metric",),
            "the trial whose recorded key (any a monitor may name) reached the lowest value",
        ),
        Entry(
            "maximize",
            Monitor,
            ("metric",),
            "the trial whose recorded key (any a monitor may name) reached the highest value",
        ),
    ],
)
