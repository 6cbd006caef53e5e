"""Layers without parameters that resample or rescale their input: upsample and rescale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ...expr import Expr, Sym, call, t
from ...shapes import Shape, ShapeError
from .. import Params
from ..lowering import Code, Lowered
from .base import Example, KernelSize, Layer, rank, same, spread


class Upsample(Params):
    size: KernelSize = 2
    method: Literal["nearest", "bilinear"] = "nearest"


def upsample_shape(p: Upsample, x: list[Shape]) -> Shape:
    (s,) = x
    rank("upsample", s, 2, 3, hint="upsample needs [steps, channels] or [height, width, channels]")
    size = spread(p.size, len(s) - 1)
    if len(size) != len(s) - 1:
        raise ShapeError(
            f"upsample over {len(s) - 1} axes takes {len(s) - 1} factors, got size={list(size)}"
        )
    return (*(n * f for n, f in zip(s[:-1], size, strict=True)), s[-1])


def lower_upsample(p: Upsample, x: tuple[Shape, ...], out: Shape) -> Lowered:
    """nearest: every value repeated `size` times along each axis (broadcasts, no gather);
    bilinear: jax.image.resize (half-pixel centres, as Keras' UpSampling2D)."""
    size = spread(p.size, len(x[0]) - 1)

    def apply(a: Sym, xs: Sequence[Code]) -> Code:
        if p.method == "bilinear":
            axes = "".join(f", {{d{i}}}" for i in range(len(out)))  # placeholders only
            sizes = {f"d{i}": n for i, n in enumerate(out)}
            return t(
                "jax.image.resize({x}, ({x}.shape[0]" + axes + '), "bilinear")', x=xs[0], **sizes
            )
        y: Code = xs[0]
        for axis, factor in enumerate(size, start=1):
            if factor > 1:
                y = call("jnp.repeat", y, factor, axis=axis)
        return y

    return Lowered(None, apply)


class Rescale(Params):
    scale: float
    offset: float = 0.0


def lower_rescale(p: Rescale, x: tuple[Shape, ...], out: Shape) -> Lowered:
    def apply(a: Sym, xs: Sequence[Code]) -> Expr:
        if p.offset == 0:
            return t("{x} * {scale}", x=xs[0], scale=p.scale)
        sign = "+" if p.offset > 0 else "-"
        return t(
            "{x} * {scale} " + sign + " {offset}", x=xs[0], scale=p.scale, offset=abs(p.offset)
        )

    return Lowered(None, apply)


ENTRIES = [
    Layer(
        "upsample",
        Upsample,
        ("size",),
        "repeats (nearest) or interpolates (bilinear) each spatial axis by `size`: "
        "[H, W, C] -> [H*s, W*s, C]",
        shape=upsample_shape,
        lower=lower_upsample,
        example=Example("upsample([2, 3], method=bilinear)", ("[4, 4, 3]",)),
    ),
    Layer(
        "rescale",
        Rescale,
        ("scale", "offset"),
        "x * scale + offset (pixels in [0, 255] to [0, 1]: rescale(0.00392))",
        shape=same,
        lower=lower_rescale,
        example=Example("rescale(0.5, offset=-1)", ("[4, 4, 3]",)),
    ),
]
