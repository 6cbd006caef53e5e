"""Layers: argument models, shape rules and parameter counts.

Shapes exclude the batch axis: a digits image is (8, 8, 1). A rule receives the validated
arguments and the shapes of its inputs and returns the output shape, or raises ShapeError with a
message and a hint the diagnostic shows at the layer's statement.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, field_validator

from . import Params, Ref, RefTo, Registry, entry

Shape = tuple[int, ...]
Positive = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(ge=0, lt=1)]
Activation = Annotated[Ref | None, RefTo("activation")]
Init = Annotated[Ref | None, RefTo("initializer")]


class ShapeError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def fmt(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _rank(name: str, x: Shape, *ranks: int, hint: str | None = None) -> None:
    if len(x) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(f"{name} expects an input of rank {want} (without the batch axis), "
                         f"but receives {fmt(x)} of rank {len(x)}", hint)


def _pair(v: int | list[int], n: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, list) else (v,) * n


# ---- dense and friends ------------------------------------------------------------------------
class Dense(Params):
    units: Positive
    activation: Activation = None
    use_bias: bool = True
    init: Init = None
    bias_init: Init = None


def dense_shape(p: Dense, x: list[Shape]) -> Shape:
    (s,) = x
    _rank("dense", s, 1, 2, hint="insert flatten() (or global_avg_pool()) before dense" if len(s) > 2 else None)
    return (*s[:-1], p.units)


def dense_count(p: Dense, x: list[Shape], out: Shape) -> int:
    return x[0][-1] * p.units + (p.units if p.use_bias else 0)


class Dropout(Params):
    rate: Rate


class BatchNorm(Params):
    momentum: Annotated[float, Field(gt=0, lt=1)] = 0.99
    epsilon: Annotated[float, Field(gt=0)] = 1e-3


class LayerNorm(Params):
    epsilon: Annotated[float, Field(gt=0)] = 1e-6


def same(p, x: list[Shape]) -> Shape:
    return x[0]


def no_params(p, x, out) -> int:
    return 0


# ---- convolutions and pooling -------------------------------------------------------------------
KernelSize = Positive | list[Positive]


class Conv(Params):
    filters: Positive
    kernel: KernelSize = 3
    strides: KernelSize = 1
    padding: Literal["same", "valid"] = "same"
    activation: Activation = None
    use_bias: bool = True
    init: Init = None


def _window(length: int, k: int, s: int, padding: str) -> int:
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
        _rank(name, s, dims + 1, hint=hint)
        k, st = _pair(p.kernel, dims), _pair(p.strides, dims)
        if len(k) != dims or len(st) != dims:
            raise ShapeError(f"{name} takes {dims} kernel sizes and strides, got kernel={list(k)}, strides={list(st)}")
        spatial = tuple(_window(n, kk, ss, p.padding) for n, kk, ss in zip(s[:dims], k, st))
        if min(spatial) < 1:
            raise ShapeError(f"{name} with kernel {list(k)} and padding 'valid' does not fit the input "
                             f"{fmt(s)}", "use padding=same or a smaller kernel")
        return (*spatial, p.filters)

    def count(p: Conv, x: list[Shape], out: Shape) -> int:
        return math.prod(_pair(p.kernel, dims)) * x[0][-1] * p.filters + (p.filters if p.use_bias else 0)

    return infer, count


class Pool(Params):
    size: KernelSize = 2
    strides: KernelSize | None = None
    padding: Literal["same", "valid"] = "valid"


def pool_shape(name: str):
    def infer(p: Pool, x: list[Shape]) -> Shape:
        (s,) = x
        _rank(name, s, 2, 3, hint="pooling needs [steps, channels] or [height, width, channels]")
        dims = len(s) - 1
        k = _pair(p.size, dims)
        st = _pair(p.strides, dims) if p.strides is not None else k
        spatial = tuple(_window(n, kk, ss, p.padding) for n, kk, ss in zip(s[:dims], k, st))
        if min(spatial) < 1:
            raise ShapeError(f"{name} of size {list(k)} does not fit the input {fmt(s)}",
                             "use a smaller size or padding=same")
        return (*spatial, s[-1])
    return infer


def global_pool(p, x: list[Shape]) -> Shape:
    (s,) = x
    _rank("global pooling", s, 2, 3)
    return (s[-1],)


def flatten(p, x: list[Shape]) -> Shape:
    return (math.prod(x[0]),)


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
    if -1 in p.shape:
        if total % known:
            raise ShapeError(f"cannot reshape {fmt(x[0])} ({total} values) to {fmt(tuple(p.shape))}")
        return tuple(total // known if d == -1 else d for d in p.shape)
    if known != total:
        raise ShapeError(f"cannot reshape {fmt(x[0])} ({total} values) to {fmt(tuple(p.shape))} ({known} values)",
                         "the number of values must stay the same; use -1 for one inferred dimension")
    return tuple(p.shape)


# ---- sequences -----------------------------------------------------------------------------------
class Embedding(Params):
    vocab: Positive
    dim: Positive


def embedding_shape(p: Embedding, x: list[Shape]) -> Shape:
    _rank("embedding", x[0], 1, hint="embedding takes token ids: `input tokens: int[T]`")
    return (*x[0], p.dim)


class Recurrent(Params):
    units: Positive
    return_sequences: bool = False
    activation: Activation = None


def rnn_shape(name: str):
    def infer(p: Recurrent, x: list[Shape]) -> Shape:
        (s,) = x
        hint = None
        if len(s) == 1:
            hint = "a recurrent layer reads [steps, features]: use reshape([steps, 1]) or embedding()"
        elif len(s) > 2:
            hint = "reshape to [steps, features] first"
        _rank(name, s, 2, hint=hint)
        return (s[0], p.units) if p.return_sequences else (p.units,)
    return infer


GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def rnn_count(name: str):
    def count(p: Recurrent, x: list[Shape], out: Shape) -> int:
        f, u = x[0][-1], p.units
        if name == "gru":  # flax GRUCell: input kernels without bias, hidden kernels with bias
            return 3 * (f * u) + 3 * (u * u + u)
        if name == "lstm":  # flax LSTMCell: input kernels without bias, hidden kernels with bias
            return 4 * (f * u) + 4 * (u * u + u)
        return f * u + u * u + u
    return count


class Bidirectional(Params):
    layer: Annotated[Ref, RefTo("layer")]
    merge: Literal["concat", "sum"] = "concat"

    @field_validator("layer")
    @classmethod
    def _recurrent(cls, v: Ref) -> Ref:
        if v.name not in GATES:
            raise ValueError(f"bidirectional wraps a recurrent layer (simple_rnn, lstm, gru), not {v.name}")
        return v


def bidirectional_shape(p: Bidirectional, x: list[Shape]) -> Shape:
    inner = rnn_shape("bidirectional")(p.layer.params, x)
    return (*inner[:-1], inner[-1] * 2) if p.merge == "concat" else inner


def bidirectional_count(p: Bidirectional, x: list[Shape], out: Shape) -> int:
    return 2 * rnn_count(p.layer.name)(p.layer.params, x, out)


class Repeat(Params):
    times: Positive


def repeat_shape(p: Repeat, x: list[Shape]) -> Shape:
    _rank("repeat", x[0], 1, hint="repeat turns one vector into a sequence: flatten first")
    return (p.times, *x[0])


# ---- merges ---------------------------------------------------------------------------------------
class Elementwise(Params):
    pass


def elementwise(name: str):
    def infer(p, x: list[Shape]) -> Shape:
        if len(x) < 2:
            raise ShapeError(f"{name} needs at least two inputs, e.g. {name}(h, r)")
        for s in x[1:]:
            if s != x[0]:
                raise ShapeError(f"{name} needs inputs of one shape, got " + " and ".join(fmt(t) for t in x),
                                 "project one input with dense(...) to match the other")
        return x[0]
    return infer


class Concat(Params):
    axis: int = -1


def concat_shape(p: Concat, x: list[Shape]) -> Shape:
    if len(x) < 2:
        raise ShapeError("concat needs at least two inputs, e.g. concat(h, r)")
    rank = len(x[0])
    if any(len(s) != rank for s in x):
        raise ShapeError("concat needs inputs of one rank, got " + " and ".join(fmt(t) for t in x),
                         "flatten() the input of higher rank first, e.g. `f = flatten()(c)`")
    if not -rank <= p.axis < rank:
        raise ShapeError(f"concat has no axis {p.axis}: its inputs have rank {rank}",
                         f"use an axis from {-rank} to {rank - 1} (the default -1 is the last)")
    axis = p.axis % rank
    for s in x[1:]:
        if s[:axis] + s[axis + 1:] != x[0][:axis] + x[0][axis + 1:]:
            raise ShapeError(f"concat along axis {p.axis} needs the other axes equal, got "
                             + " and ".join(fmt(t) for t in x))
    return (*x[0][:axis], sum(s[axis] for s in x), *x[0][axis + 1:])


# ---- capsules --------------------------------------------------------------------------------------
class PrimaryCaps(Params):
    capsules: Positive
    dim: Positive
    kernel: KernelSize = 3
    strides: KernelSize = 1
    padding: Literal["same", "valid"] = "valid"


def primary_caps_shape(p: PrimaryCaps, x: list[Shape]) -> Shape:
    conv = Conv(filters=p.capsules * p.dim, kernel=p.kernel, strides=p.strides, padding=p.padding)
    h, w, _ = conv_shape(2)[0](conv, x)
    return (h * w * p.capsules, p.dim)


def primary_caps_count(p: PrimaryCaps, x: list[Shape], out: Shape) -> int:
    conv = Conv(filters=p.capsules * p.dim, kernel=p.kernel, strides=p.strides, padding=p.padding)
    return conv_shape(2)[1](conv, x, out)


class Capsules(Params):
    count: Positive
    dim: Positive
    routing: Annotated[int, Field(ge=1, le=10)] = 3


def capsules_shape(p: Capsules, x: list[Shape]) -> Shape:
    _rank("capsules", x[0], 2, hint="capsules read [capsules, dim]: put primary_caps(...) before")
    return (p.count, p.dim)


def capsules_count(p: Capsules, x: list[Shape], out: Shape) -> int:
    n, d = x[0]
    return n * p.count * d * p.dim


def capsule_length_shape(p, x: list[Shape]) -> Shape:
    _rank("capsule_length", x[0], 2, hint="capsule_length reads [capsules, dim]: put capsules(...) before")
    return (x[0][0],)


def _layer(name, params, positional, doc, infer, count=no_params, merge=False):
    return entry(name, params, positional, doc, infer=infer, count=count, merge=merge)


_conv1d, _conv2d = conv_shape(1), conv_shape(2)

LAYERS = Registry("layer", [
    _layer("dense", Dense, ("units",), "fully connected: y = activation(x @ W + b) on the last axis",
           dense_shape, dense_count),
    _layer("dropout", Dropout, ("rate",), "sets a random fraction `rate` of activations to 0 while training", same),
    _layer("batch_norm", BatchNorm, ("momentum",), "normalises each channel with batch statistics "
           "(running averages in evaluation)", same, lambda p, x, out: 4 * x[0][-1]),
    _layer("layer_norm", LayerNorm, ("epsilon",), "normalises each example over its last axis", same,
           lambda p, x, out: 2 * x[0][-1]),
    _layer("conv1d", Conv, ("filters", "kernel"), "1-D convolution over [steps, channels]", *_conv1d),
    _layer("conv2d", Conv, ("filters", "kernel"), "2-D convolution over [height, width, channels]", *_conv2d),
    _layer("max_pool", Pool, ("size",), "maximum over windows", pool_shape("max_pool")),
    _layer("avg_pool", Pool, ("size",), "mean over windows", pool_shape("avg_pool")),
    _layer("global_avg_pool", Elementwise, (), "mean over all positions: [..., C] -> [C]", global_pool),
    _layer("global_max_pool", Elementwise, (), "maximum over all positions: [..., C] -> [C]", global_pool),
    _layer("flatten", Elementwise, (), "[d1, d2, ...] -> [d1*d2*...]", flatten),
    _layer("reshape", Reshape, ("shape",), "changes the shape, keeping the values", reshape_shape),
    _layer("embedding", Embedding, ("vocab", "dim"), "token ids [T] -> vectors [T, dim]", embedding_shape,
           lambda p, x, out: p.vocab * p.dim),
    _layer("simple_rnn", Recurrent, ("units",), "Elman recurrent layer: [T, F] -> [units] or [T, units]",
           rnn_shape("simple_rnn"), rnn_count("simple_rnn")),
    _layer("lstm", Recurrent, ("units",), "long short-term memory: [T, F] -> [units] or [T, units]",
           rnn_shape("lstm"), rnn_count("lstm")),
    _layer("gru", Recurrent, ("units",), "gated recurrent unit: [T, F] -> [units] or [T, units]",
           rnn_shape("gru"), rnn_count("gru")),
    _layer("bidirectional", Bidirectional, ("layer",), "runs a recurrent layer both ways and concatenates",
           bidirectional_shape, bidirectional_count),
    _layer("repeat", Repeat, ("times",), "one-to-many: [F] -> [times, F]", repeat_shape),
    _layer("add", Elementwise, (), "elementwise sum of tensors of one shape", elementwise("add"), merge=True),
    _layer("multiply", Elementwise, (), "elementwise product of tensors of one shape", elementwise("multiply"),
           merge=True),
    _layer("concat", Concat, (), "joins tensors along an axis (default: the last)", concat_shape, merge=True),
    _layer("primary_caps", PrimaryCaps, ("capsules", "dim", "kernel"),
           "convolution regrouped into capsule vectors, squashed: [H, W, C] -> [N, dim]",
           primary_caps_shape, primary_caps_count),
    _layer("capsules", Capsules, ("count", "dim"), "capsule layer with dynamic routing by agreement",
           capsules_shape, capsules_count),
    _layer("capsule_length", Elementwise, (), "length of each capsule vector: [N, dim] -> [N]",
           capsule_length_shape),
])
