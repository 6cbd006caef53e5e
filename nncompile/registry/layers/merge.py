"""Merges: layers that read several tensors, named as positional arguments (`add(h, r)`)."""

from __future__ import annotations

from ...expr import call, t
from ...shapes import Shape, ShapeError, fmt
from .. import NoParams, Params
from ..lowering import Lowered
from .base import Example, Layer


def listed(x: list[Shape]) -> str:
    return " and ".join(fmt(s) for s in x)


def elementwise(name: str):
    def infer(p: NoParams, x: list[Shape]) -> Shape:
        if len(x) < 2:
            raise ShapeError(f"{name} needs at least two inputs, e.g. {name}(h, r)")
        for s in x[1:]:
            if s != x[0]:
                raise ShapeError(
                    f"{name} needs inputs of one shape, got {listed(x)}",
                    "project one input with dense(...) to match the other",
                )
        return x[0]

    return infer


def lower_operator(op: str):
    def lower(p: NoParams, x: tuple[Shape, ...], out: Shape) -> Lowered:
        template = f" {op} ".join(f"{{x{i}}}" for i in range(len(x)))
        return Lowered(None, lambda a, xs: t(template, **{f"x{i}": v for i, v in enumerate(xs)}))

    return lower


class Concat(Params):
    axis: int = -1


def concat_shape(p: Concat, x: list[Shape]) -> Shape:
    if len(x) < 2:
        raise ShapeError("concat needs at least two inputs, e.g. concat(h, r)")
    rank = len(x[0])
    if any(len(s) != rank for s in x):
        raise ShapeError(
            f"concat needs inputs of one rank, got {listed(x)}",
            "flatten() the input of higher rank first, e.g. `f = flatten()(c)`",
        )
    if not -rank <= p.axis < rank:
        raise ShapeError(
            f"concat has no axis {p.axis}: its inputs have rank {rank}",
            f"use an axis from {-rank} to {rank - 1} (the default -1 is the last)",
        )
    axis = p.axis % rank
    for s in x[1:]:
        if s[:axis] + s[axis + 1 :] != x[0][:axis] + x[0][axis + 1 :]:
            raise ShapeError(
                f"concat along axis {p.axis} needs the other axes equal, got {listed(x)}"
            )
    return (*x[0][:axis], sum(s[axis] for s in x), *x[0][axis + 1 :])


def lower_concat(p: Concat, x: tuple[Shape, ...], out: Shape) -> Lowered:
    axis = p.axis + 1 if p.axis >= 0 else p.axis  # the batch axis comes first
    return Lowered(None, lambda a, xs: call("jnp.concatenate", list(xs), axis=axis))


ENTRIES = [
    Layer(
        "add",
        doc="elementwise sum of tensors of one shape",
        shape=elementwise("add"),
        lower=lower_operator("+"),
        example=Example("add(a, b)", ("[8]", "[8]")),
        merge=True,
    ),
    Layer(
        "multiply",
        doc="elementwise product of tensors of one shape",
        shape=elementwise("multiply"),
        lower=lower_operator("*"),
        example=Example("multiply(a, b)", ("[3, 8]", "[3, 8]")),
        merge=True,
    ),
    Layer(
        "concat",
        Concat,
        (),
        "joins tensors along an axis (default: the last)",
        shape=concat_shape,
        lower=lower_concat,
        example=Example("concat(a, b, axis=0)", ("[2, 8]", "[3, 8]")),
        merge=True,
    ),
]
