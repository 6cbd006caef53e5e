"""Layers that only rearrange their input: flatten and reshape."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, field_validator

from ...expr import t
from ...shapes import Shape, ShapeError, fmt
from .. import NoParams, Params
from ..lowering import Lowered
from .base import Example, Layer


def flatten_shape(p: NoParams, x: list[Shape]) -> Shape:
    return (math.prod(x[0]),)


def lower_flatten(p: NoParams, x: tuple[Shape, ...], out: Shape) -> Lowered:
    return Lowered(None, lambda a, xs: t("{x}.reshape({x}.shape[0], -1)", x=xs[0]))


class Reshape(Params):
    shape: Annotated[list[int], Field(min_length=1)]

    @field_validator("shape")
    @classmethod
    def _dims(cls, v: list[int]) -> list[int]:
        if sum(d == -1 for d in v) > 1 or any(d == 0 or d < -1 for d in v):
            raise ValueError("dimensions must be positive, with at most one -1")
        return v


def reshape_shape(p: Reshape, x: list[Shape]) -> Shape:
    total, known = math.prod(x[0]), math.prod(d for d in p.shape if d != -1)
    want = fmt(tuple(p.shape))
    if -1 in p.shape:
        if total % known:
            raise ShapeError(f"cannot reshape {fmt(x[0])} ({total} values) to {want}")
        return tuple(total // known if d == -1 else d for d in p.shape)
    if known != total:
        raise ShapeError(
            f"cannot reshape {fmt(x[0])} ({total} values) to {want} ({known} values)",
            "the number of values must stay the same; use -1 for one inferred dimension",
        )
    return tuple(p.shape)


def lower_reshape(p: Reshape, x: tuple[Shape, ...], out: Shape) -> Lowered:
    # the spec's dimensions, -1 included: the code follows the spec (and a parameterised block
    # whose other dimensions follow a parameter is one class)
    return Lowered(
        None, lambda a, xs: t("{x}.reshape({x}.shape[0], *{shape})", x=xs[0], shape=tuple(p.shape))
    )


ENTRIES = [
    Layer(
        "flatten",
        doc="[d1, d2, ...] -> [d1*d2*...]",
        shape=flatten_shape,
        lower=lower_flatten,
        example=Example("flatten()", ("[4, 4, 2]",)),
        reads_tokens=True,
    ),
    Layer(
        "reshape",
        Reshape,
        ("shape",),
        "changes the shape, keeping the values",
        shape=reshape_shape,
        lower=lower_reshape,
        example=Example("reshape([4, -1])", ("[16]",)),
        reads_tokens=True,
    ),
]
