"""Convolutions, transposed convolutions and pooling; IM2COL and COL2IM, the CPU lowerings of
nnx.Conv's convolution."""

from __future__ import annotations

import math

from ...expr import Snippet, call, t
from ...shapes import Shape, ShapeError, fmt
from .. import NoParams, Params
from ..activations import activation_call, initializer_snippets
from ..lowering import RNGS, Lowered, changed
from .base import (
    ActivationRef,
    Example,
    InitRef,
    KernelSize,
    Layer,
    Padding,
    Positive,
    RegularizerRef,
    rank,
    spread,
    weights,
)


class Conv(Params):
    filters: Positive
    kernel: KernelSize = 3
    strides: KernelSize = 1
    padding: Padding = "same"
    activation: ActivationRef = None
    use_bias: bool = True
    init: InitRef = None
    regularize: RegularizerRef = None


def window(length: int, k: int, s: int, padding: str) -> int:
    """Output positions along one axis of a window of size k, stride s."""
    return math.ceil(length / s) if padding == "same" else (length - k) // s + 1


def conv_shape(dims: int):
    name = f"conv{dims}d"

    def infer(p: Conv, x: list[Shape]) -> Shape:
        (s,) = x
        hint = None
        if dims == 2 and len(s) == 1:
            hint = "reshape the data to images, e.g. `reshape: [8, 8, 1]` in the data block"
        elif dims == 1 and len(s) == 1:
            hint = "conv1d needs [steps, channels]: use reshape([steps, 1])"
        rank(name, s, dims + 1, hint=hint)
        k, st = spread(p.kernel, dims), spread(p.strides, dims)
        if len(k) != dims or len(st) != dims:
            raise ShapeError(
                f"{name} takes {dims} kernel sizes and strides, got kernel={list(k)}, "
                f"strides={list(st)}"
            )
        spatial = tuple(window(*w, p.padding) for w in zip(s[:dims], k, st, strict=True))
        if min(spatial) < 1:
            raise ShapeError(
                f"{name} with kernel {list(k)} and padding 'valid' does not fit the input {fmt(s)}",
                "use padding=same or a smaller kernel",
            )
        return (*spatial, p.filters)

    return infer


def conv_count(p: Conv, x: list[Shape], out: Shape) -> int:
    taps = math.prod(spread(p.kernel, len(x[0]) - 1))
    return taps * x[0][-1] * p.filters + (p.filters if p.use_bias else 0)


def conv_kwargs(p, dims: int) -> dict:
    """nnx.Conv's kernel_size, and strides and padding where they differ from its defaults."""
    defaults = changed(
        strides=(spread(p.strides, dims), (1,) * dims), padding=(p.padding.upper(), "SAME")
    )
    return {"kernel_size": spread(p.kernel, dims), **defaults}


def lower_conv(p: Conv, x: tuple[Shape, ...], out: Shape) -> Lowered:
    dims = len(x[0]) - 1
    init = call("nnx.Conv", x[0][-1], p.filters, **conv_kwargs(p, dims), **weights(p), rngs=RNGS)
    return Lowered(
        init,
        lambda a, xs: activation_call(p.activation, call(a, xs[0])),
        initializer_snippets(p.init),
    )


def patches(p: Conv, x: tuple[Shape, ...], out: Shape) -> int:
    """The im2col patches: taps x input channels per output position."""
    return math.prod(out[:-1]) * math.prod(spread(p.kernel, len(x[0]) - 1)) * x[0][-1]


def transpose_pads(k: int, s: int, padding: str) -> tuple[int, int]:
    """The padding of the input-dilated convolution that is a transposed convolution (Keras' output
    sizes: `same` n * s, `valid` (n - 1) * s + k; `same` places the taps as lax.conv_transpose)."""
    if padding == "valid":
        return (k - 1, k - 1)
    low = k - 1 if s > k - 1 else math.ceil((k + s - 2) / 2)
    return (low, k + s - 2 - low)


def conv_transpose_shape(dims: int):
    name = f"conv{dims}d_transpose"

    def infer(p: Conv, x: list[Shape]) -> Shape:
        (shape,) = x
        hint = "reshape the data first, e.g. `reshape([4, 4, 8])`" if len(shape) == 1 else None
        rank(name, shape, dims + 1, hint=hint)
        k, st = spread(p.kernel, dims), spread(p.strides, dims)
        if len(k) != dims or len(st) != dims:
            raise ShapeError(
                f"{name} takes {dims} kernel sizes and strides, got kernel={list(k)}, "
                f"strides={list(st)}"
            )
        axes = zip(shape[:dims], k, st, strict=True)
        if p.padding == "same":
            return (*(n * b for n, _, b in axes), p.filters)
        return (*((n - 1) * b + a for n, a, b in axes), p.filters)

    return infer


def lower_conv_transpose(p: Conv, x: tuple[Shape, ...], out: Shape) -> Lowered:
    """nnx.Conv over the input dilated by the strides: a transposed convolution with the kernel
    (taps..., in, out) of nnx.ConvTranspose, computing what it computes (COL2IM on CPU)."""
    dims = len(x[0]) - 1
    k, st = spread(p.kernel, dims), spread(p.strides, dims)
    pads = tuple(transpose_pads(a, b, p.padding) for a, b in zip(k, st, strict=True))
    kw = {"kernel_size": k, "padding": pads, **changed(input_dilation=(st, (1,) * dims))}
    init = call("nnx.Conv", x[0][-1], p.filters, **kw, **weights(p), rngs=RNGS)
    return Lowered(
        init,
        lambda a, xs: activation_call(p.activation, call(a, xs[0])),
        initializer_snippets(p.init),
    )


def taps_out(p: Conv, x: tuple[Shape, ...], out: Shape) -> int:
    """The col2im products: taps x output channels per input position."""
    return math.prod(x[0][:-1]) * math.prod(spread(p.kernel, len(x[0]) - 1)) * p.filters


class Pool(Params):
    size: KernelSize = 2
    strides: KernelSize | None = None
    padding: Padding = "valid"


def pool_shape(name: str):
    def infer(p: Pool, x: list[Shape]) -> Shape:
        (s,) = x
        rank(name, s, 2, 3, hint="pooling needs [steps, channels] or [height, width, channels]")
        dims = len(s) - 1
        k = spread(p.size, dims)
        st = spread(p.strides, dims) if p.strides is not None else k
        if len(k) != dims or len(st) != dims:
            raise ShapeError(
                f"{name} over {dims} axes takes {dims} sizes and strides, got "
                f"size={list(k)}, strides={list(st)}"
            )
        spatial = tuple(window(*w, p.padding) for w in zip(s[:dims], k, st, strict=True))
        if min(spatial) < 1:
            raise ShapeError(
                f"{name} of size {list(k)} does not fit the input {fmt(s)}",
                "use a smaller size or padding=same",
            )
        return (*spatial, s[-1])

    return infer


def lower_pool(fn: str):
    def lower(p: Pool, x: tuple[Shape, ...], out: Shape) -> Lowered:
        dims = len(x[0]) - 1
        size = spread(p.size, dims)
        strides = spread(p.strides, dims) if p.strides is not None else size
        return Lowered(
            None,
            lambda a, xs: call(
                fn,
                xs[0],
                window_shape=size,
                strides=strides,
                **changed(padding=(p.padding.upper(), "VALID")),
            ),
        )

    return lower


def global_pool(p: NoParams, x: list[Shape]) -> Shape:
    (s,) = x
    rank("global pooling", s, 2, 3)
    return (s[-1],)


def lower_global_pool(method: str):
    def lower(p: NoParams, x: tuple[Shape, ...], out: Shape) -> Lowered:
        axes = tuple(range(1, len(x[0])))
        return Lowered(None, lambda a, xs: t("{x}." + method + "(axis={axes})", x=xs[0], axes=axes))

    return lower


def _conv(dims: int, doc: str, example: Example) -> Layer:
    return Layer(
        f"conv{dims}d",
        Conv,
        ("filters", "kernel"),
        doc,
        shape=conv_shape(dims),
        count=conv_count,
        lower=lower_conv,
        example=example,
        convolution=True,
        extra_activation_floats=patches,
    )


def _conv_transpose(dims: int, doc: str, example: Example) -> Layer:
    return Layer(
        f"conv{dims}d_transpose",
        Conv,
        ("filters", "kernel"),
        doc,
        shape=conv_transpose_shape(dims),
        count=conv_count,
        lower=lower_conv_transpose,
        example=example,
        convolution=True,
        col2im=True,
        extra_activation_floats=taps_out,
    )


ENTRIES = [
    _conv(
        1,
        "1-D convolution over [steps, channels]",
        Example("conv1d(8, 3, strides=2, padding=valid)", ("[20, 3]",)),
    ),
    _conv(
        2,
        "2-D convolution over [height, width, channels]",
        Example("conv2d(8, [3, 2], strides=2, activation=relu)", ("[9, 9, 3]",)),
    ),
    _conv_transpose(
        1,
        "transposed 1-D convolution (upsamples by `strides`) over [steps, channels]",
        Example("conv1d_transpose(4, 3, strides=2, padding=valid)", ("[6, 3]",)),
    ),
    _conv_transpose(
        2,
        "transposed 2-D convolution (upsamples by `strides`) over [height, width, channels]",
        Example("conv2d_transpose(8, [3, 2], strides=2, activation=relu)", ("[4, 4, 3]",)),
    ),
    Layer(
        "max_pool",
        Pool,
        ("size",),
        "maximum over windows",
        shape=pool_shape("max_pool"),
        lower=lower_pool("nnx.max_pool"),
        example=Example("max_pool(2)", ("[8, 8, 3]",)),
    ),
    Layer(
        "avg_pool",
        Pool,
        ("size",),
        "mean over windows",
        shape=pool_shape("avg_pool"),
        lower=lower_pool("nnx.avg_pool"),
        example=Example("avg_pool(3, strides=2, padding=same)", ("[9, 9, 3]",)),
    ),
    Layer(
        "global_avg_pool",
        doc="mean over all positions: [..., C] -> [C]",
        shape=global_pool,
        lower=lower_global_pool("mean"),
        example=Example("global_avg_pool()", ("[5, 5, 3]",)),
    ),
    Layer(
        "global_max_pool",
        doc="maximum over all positions: [..., C] -> [C]",
        shape=global_pool,
        lower=lower_global_pool("max"),
        example=Example("global_max_pool()", ("[7, 3]",)),
    ),
]


IM2COL = Snippet(
    "im2col_conv",
    '''
def im2col_conv(x, kernel, window_strides, padding, *, lhs_dilation=None, rhs_dilation=None,
                dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """The convolution of nnx.Conv (channels last, kernel HWIO), chosen by backend when traced.

    On CPU it is written as im2col: pad, put the kernel-offset views of the input side by side on
    the channel axis and do one matmul with the kernel reshaped to (taps * in, out). XLA:CPU runs
    that faster than its native convolution, and, unlike it, just as fast inside lax.scan (whose
    convolution gradients it leaves unoptimised). Elsewhere: jax.lax.conv_general_dilated.
    """
    dims = kernel.ndim - 2
    lhs_dilation = tuple(lhs_dilation or (1,) * dims)
    rhs_dilation = tuple(rhs_dilation or (1,) * dims)
    if jax.default_backend() != "cpu" or feature_group_count != 1 or set(lhs_dilation) != {1}:
        return jax.lax.conv_general_dilated(
            x, kernel, window_strides, padding, lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count, precision=precision, **kwargs)
    taps = kernel.shape[:dims]
    reach = [(k - 1) * d + 1 for k, d in zip(taps, rhs_dilation)]
    if isinstance(padding, str):
        padding = jax.lax.padtype_to_pads(x.shape[1:-1], reach, window_strides, padding)
    x = jnp.pad(x, [(0, 0), *padding, (0, 0)])
    out = [(n - r) // s + 1 for n, r, s in zip(x.shape[1:-1], reach, window_strides)]
    offsets = [()]
    for k in taps:
        offsets = [o + (i,) for o in offsets for i in range(k)]
    views = []
    for offset in offsets:  # the same order as the kernel's (taps..., in) rows
        start = [i * d for i, d in zip(offset, rhs_dilation)]
        stop = [b + (n - 1) * s + 1 for b, n, s in zip(start, out, window_strides)]
        strides = (1, *window_strides, 1)
        views.append(jax.lax.slice(x, (0, *start, 0), (x.shape[0], *stop, x.shape[-1]), strides))
    patches = views[0] if len(views) == 1 else jnp.concatenate(views, axis=-1)
    y = jnp.matmul(patches.reshape(-1, patches.shape[-1]), kernel.reshape(-1, kernel.shape[-1]),
                   precision=precision, preferred_element_type=kwargs.get("preferred_element_type"))
    return y.reshape(*patches.shape[:-1], kernel.shape[-1])
''',
    backend=True,
)


COL2IM = Snippet(
    "col2im_conv",
    '''
def col2im_conv(x, kernel, window_strides, padding, *, lhs_dilation=None, rhs_dilation=None,
                **kwargs):
    """The convolution of nnx.Conv, also over an input dilated by lhs_dilation (a transposed
    convolution), chosen by backend when traced.

    On CPU an input-dilated convolution is written as col2im: one matmul of the input with the
    kernel reshaped to (in, taps * out), then each tap's products placed on the dilated output grid
    (lax.pad with interior padding) and summed. Inside lax.scan XLA:CPU runs that up to ~6x faster
    than its native input-dilated convolution (bench/conv_transpose.py). Other convolutions:
    im2col_conv.
    """
    dims = kernel.ndim - 2
    lhs_dilation = tuple(lhs_dilation or (1,) * dims)
    rhs_dilation = tuple(rhs_dilation or (1,) * dims)
    if (jax.default_backend() != "cpu" or set(lhs_dilation) == {1} or isinstance(padding, str)
            or set(window_strides) != {1} or kwargs.get("feature_group_count", 1) != 1):
        return im2col_conv(x, kernel, window_strides, padding, lhs_dilation=lhs_dilation,
                           rhs_dilation=rhs_dilation, **kwargs)
    taps, (cin, cout), steps = kernel.shape[:dims], kernel.shape[dims:], x.shape[1:-1]
    rows = jnp.moveaxis(kernel.reshape(-1, cin, cout), 1, 0).reshape(cin, -1)
    z = jnp.matmul(x.reshape(-1, cin), rows, precision=kwargs.get("precision"),
                   preferred_element_type=kwargs.get("preferred_element_type"))
    z = z.reshape(x.shape[0], *steps, -1, cout)
    size = [(n - 1) * s + 1 + lo + hi - (k - 1) * d
            for n, s, (lo, hi), k, d in zip(steps, lhs_dilation, padding, taps, rhs_dilation)]
    offsets = [()]
    for k in taps:
        offsets = [o + (i,) for o in offsets for i in range(k)]
    y = None
    for j, offset in enumerate(offsets):  # the same order as the kernel's taps
        config = [(0, 0, 0)]
        for i, n, s, (lo, _), d, m in zip(offset, steps, lhs_dilation, padding, rhs_dilation, size):
            start = lo - i * d  # where input position 0 lands for this tap (< 0: cropped)
            config.append((start, m - 1 - start - (n - 1) * s, s - 1))
        config.append((0, 0, 0))
        v = jax.lax.pad(z[..., j, :], jnp.zeros((), z.dtype), config)
        y = v if y is None else y + v
    return y
''',
    needs=(IM2COL,),
    backend=True,
)
