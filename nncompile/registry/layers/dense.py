"""Fully connected layers, dropout and normalisation."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from ...expr import call
from ...shapes import Shape
from .. import Params, Ref
from ..activations import INITIALIZERS, activation_call, initializer_snippets
from ..lowering import RNGS, Lowered, changed
from .base import (
    ActivationRef,
    Example,
    InitRef,
    Layer,
    Positive,
    RegularizerRef,
    rank,
    same,
    weights,
)

Rate = Annotated[float, Field(ge=0, lt=1)]


class Dense(Params):
    units: Positive
    activation: ActivationRef = None
    use_bias: bool = True
    init: InitRef = None
    bias_init: InitRef = None
    regularize: RegularizerRef = None

    @field_validator("bias_init")
    @classmethod
    def _vector_init(cls, v: Ref | None) -> Ref | None:
        if v is not None and INITIALIZERS[v.name].matrices_only:
            usable = ", ".join(e.name for e in INITIALIZERS.entries() if not e.matrices_only)
            raise ValueError(
                f"{v.name} scales by the fan-in and fan-out of a weight matrix and "
                f"cannot initialize a bias vector; use one of {usable}"
            )
        return v


def dense_shape(p: Dense, x: list[Shape]) -> Shape:
    (s,) = x
    hint = "insert flatten() (or global_avg_pool()) before dense" if len(s) > 2 else None
    rank("dense", s, 1, 2, hint=hint)
    return (*s[:-1], p.units)


def dense_count(p: Dense, x: list[Shape], out: Shape) -> int:
    return x[0][-1] * p.units + (p.units if p.use_bias else 0)


def lower_dense(p: Dense, x: tuple[Shape, ...], out: Shape) -> Lowered:
    init = call("nnx.Linear", x[0][-1], p.units, **weights(p), rngs=RNGS)
    return Lowered(
        init,
        lambda a, xs: activation_call(p.activation, call(a, xs[0])),
        initializer_snippets(p.init, p.bias_init),
    )


class Dropout(Params):
    rate: Rate


def lower_dropout(p: Dropout, x: tuple[Shape, ...], out: Shape) -> Lowered:
    return Lowered(call("nnx.Dropout", p.rate, rngs=RNGS), lambda a, xs: call(a, xs[0]))


def spatial_dropout_shape(p: Dropout, x: list[Shape]) -> Shape:
    rank("spatial_dropout", x[0], 2, 3, hint="it drops channels of [steps, C] or [H, W, C]")
    return x[0]


def lower_spatial_dropout(p: Dropout, x: tuple[Shape, ...], out: Shape) -> Lowered:
    """nnx.Dropout whose mask is shared along the spatial axes: whole channels are dropped."""
    axes = tuple(range(1, len(x[0])))
    init = call("nnx.Dropout", p.rate, broadcast_dims=axes, rngs=RNGS)
    return Lowered(init, lambda a, xs: call(a, xs[0]))


class BatchNorm(Params):
    momentum: Annotated[float, Field(gt=0, lt=1)] = 0.99
    epsilon: Annotated[float, Field(gt=0)] = 1e-3


def lower_batch_norm(p: BatchNorm, x: tuple[Shape, ...], out: Shape) -> Lowered:
    kw = changed(momentum=(p.momentum, 0.99), epsilon=(p.epsilon, 1e-5))
    return Lowered(call("nnx.BatchNorm", x[0][-1], **kw, rngs=RNGS), lambda a, xs: call(a, xs[0]))


class LayerNorm(Params):
    epsilon: Annotated[float, Field(gt=0)] = 1e-6


def lower_layer_norm(p: LayerNorm, x: tuple[Shape, ...], out: Shape) -> Lowered:
    init = call("nnx.LayerNorm", x[0][-1], **changed(epsilon=(p.epsilon, 1e-6)), rngs=RNGS)
    return Lowered(init, lambda a, xs: call(a, xs[0]))


ENTRIES = [
    Layer(
        "dense",
        Dense,
        ("units",),
        "fully connected: y = activation(x @ W + b) on the last axis",
        shape=dense_shape,
        count=dense_count,
        lower=lower_dense,
        example=Example("dense(16, activation=relu, use_bias=false)"),
    ),
    Layer(
        "dropout",
        Dropout,
        ("rate",),
        "sets a random fraction `rate` of activations to 0 while training",
        shape=same,
        lower=lower_dropout,
        example=Example("dropout(0.5)"),
    ),
    Layer(
        "spatial_dropout",
        Dropout,
        ("rate",),
        "sets a random fraction `rate` of whole channels to 0 while training ([H, W, C], [T, C])",
        shape=spatial_dropout_shape,
        lower=lower_spatial_dropout,
        example=Example("spatial_dropout(0.5)", ("[6, 6, 4]",)),
    ),
    Layer(
        "batch_norm",
        BatchNorm,
        ("momentum",),
        "normalises each channel with batch statistics (running averages in evaluation)",
        shape=same,
        count=lambda p, x, out: 4 * x[0][-1],
        lower=lower_batch_norm,
        example=Example("batch_norm()", ("[6, 6, 4]",)),
        batch_statistics=True,
    ),
    Layer(
        "layer_norm",
        LayerNorm,
        ("epsilon",),
        "normalises each example over its last axis",
        shape=same,
        count=lambda p, x, out: 2 * x[0][-1],
        lower=lower_layer_norm,
        example=Example("layer_norm()", ("[5, 8]",)),
    ),
]
