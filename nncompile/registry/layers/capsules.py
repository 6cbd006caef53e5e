"""Capsule networks (Sabour et al., 2017): primary capsules, routing by agreement, lengths."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

from ...expr import Snippet, call, t
from ...shapes import Shape
from .. import NoParams, Params
from ..lowering import RNGS, Lowered, changed
from .base import Example, KernelSize, Layer, Padding, Positive, rank, spread
from .conv import Conv, conv_count, conv_shape

SQUASH = Snippet(
    "squash",
    '''
def squash(v, axis=-1):
    """Capsule non-linearity: keeps the direction, maps the length into [0, 1)."""
    norm2 = jnp.sum(v ** 2, axis=axis, keepdims=True)
    return norm2 / (1.0 + norm2) * v / jnp.sqrt(norm2 + 1e-9)
''',
)

PRIMARY_CAPSULES = Snippet(
    "PrimaryCapsules",
    '''
class PrimaryCapsules(nnx.Module):
    """A convolution whose channels are regrouped into `capsules` vectors of length `dim`."""

    def __init__(self, in_features, capsules, dim, kernel_size, *, strides=1, padding="VALID",
                 rngs):
        self.dim = dim
        self.conv = nnx.Conv(in_features, capsules * dim, kernel_size, strides, padding=padding,
                             kernel_init=KERNEL_INIT, rngs=rngs)

    def __call__(self, x):
        u = self.conv(x)
        return squash(u.reshape(u.shape[0], -1, self.dim))
''',
    needs=(SQUASH,),
)

CAPSULE_LAYER = Snippet(
    "CapsuleLayer",
    '''
class CapsuleLayer(nnx.Module):
    """Capsules with dynamic routing by agreement (Sabour et al., 2017)."""

    def __init__(self, in_capsules, in_dim, count, dim, *, routing, rngs):
        self.routing = routing
        shape = (in_capsules, count, dim, in_dim)
        self.weight = nnx.Param(nnx.initializers.normal(0.05)(rngs.params(), shape))

    def __call__(self, u):
        u_hat = jnp.einsum("ijdk,bik->bijd", self.weight[...], u)  # input capsules' predictions
        logits = jnp.zeros(u_hat.shape[:3])
        for i in range(self.routing):
            c = jax.nn.softmax(logits, axis=2)
            v = squash(jnp.einsum("bij,bijd->bjd", c, u_hat))
            if i + 1 < self.routing:
                logits = logits + jnp.einsum("bijd,bjd->bij", jax.lax.stop_gradient(u_hat), v)
        return v
''',
    needs=(SQUASH,),
)


class PrimaryCaps(Params):
    capsules: Positive
    dim: Positive
    kernel: KernelSize = 3
    strides: KernelSize = 1
    padding: Padding = "valid"


def _conv(p: PrimaryCaps) -> Conv:
    return Conv(filters=p.capsules * p.dim, kernel=p.kernel, strides=p.strides, padding=p.padding)


def primary_caps_shape(p: PrimaryCaps, x: list[Shape]) -> Shape:
    h, w, _ = conv_shape(2)(_conv(p), x)
    return (h * w * p.capsules, p.dim)


def lower_primary_caps(p: PrimaryCaps, x: tuple[Shape, ...], out: Shape) -> Lowered:
    kw = changed(strides=(spread(p.strides, 2), (1, 1)), padding=(p.padding.upper(), "VALID"))
    kernel = spread(p.kernel, 2)
    init = call("PrimaryCapsules", x[0][-1], p.capsules, p.dim, kernel, **kw, rngs=RNGS)
    return Lowered(init, lambda a, xs: call(a, xs[0]), (PRIMARY_CAPSULES,))


def primary_caps_patches(p: PrimaryCaps, x: tuple[Shape, ...], out: Shape) -> int:
    """The im2col patches of its convolution: taps x input channels per output position."""
    return out[0] // p.capsules * math.prod(spread(p.kernel, 2)) * x[0][-1]


class Capsules(Params):
    count: Positive
    dim: Positive
    routing: Annotated[int, Field(ge=1, le=10)] = 3


def capsules_shape(p: Capsules, x: list[Shape]) -> Shape:
    rank("capsules", x[0], 2, hint="capsules read [capsules, dim]: put primary_caps(...) before")
    return (p.count, p.dim)


def capsules_count(p: Capsules, x: list[Shape], out: Shape) -> int:
    n, d = x[0]
    return n * p.count * d * p.dim


def lower_capsules(p: Capsules, x: tuple[Shape, ...], out: Shape) -> Lowered:
    n_in, d_in = x[0]
    init = call("CapsuleLayer", n_in, d_in, p.count, p.dim, routing=p.routing, rngs=RNGS)
    return Lowered(init, lambda a, xs: call(a, xs[0]), (CAPSULE_LAYER,))


def capsule_length_shape(p: NoParams, x: list[Shape]) -> Shape:
    rank(
        "capsule_length",
        x[0],
        2,
        hint="capsule_length reads [capsules, dim]: put capsules(...) before",
    )
    return (x[0][0],)


def lower_capsule_length(p: NoParams, x: tuple[Shape, ...], out: Shape) -> Lowered:
    return Lowered(None, lambda a, xs: t("jnp.sqrt(jnp.sum({x} ** 2, axis=-1) + 1e-9)", x=xs[0]))


ENTRIES = [
    Layer(
        "primary_caps",
        PrimaryCaps,
        ("capsules", "dim", "kernel"),
        "convolution regrouped into capsule vectors, squashed: [H, W, C] -> [N, dim]",
        shape=primary_caps_shape,
        count=lambda p, x, out: conv_count(_conv(p), x, out),
        lower=lower_primary_caps,
        example=Example("primary_caps(capsules=4, dim=8, kernel=3, strides=2)", ("[9, 9, 8]",)),
        convolution=True,
        fusion_emitters=True,
        extra_activation_floats=primary_caps_patches,
    ),
    Layer(
        "capsules",
        Capsules,
        ("count", "dim"),
        "capsule layer with dynamic routing by agreement",
        shape=capsules_shape,
        count=capsules_count,
        lower=lower_capsules,
        example=Example("capsules(count=10, dim=16, routing=2)", ("[12, 8]",)),
        fusion_emitters=True,
    ),
    Layer(
        "capsule_length",
        doc="length of each capsule vector: [N, dim] -> [N]",
        shape=capsule_length_shape,
        lower=lower_capsule_length,
        example=Example("capsule_length()", ("[10, 16]",)),
    ),
]
