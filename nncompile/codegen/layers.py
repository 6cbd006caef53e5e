"""Lowering tables: each layer, activation and initializer -> Flax NNX constructor and call.

A layer lowering returns ``Lowered(init, apply)``: ``init`` builds the submodule held in
``self.<name>`` (None for layers without parameters) and ``apply(attr, inputs)`` is the
expression computing the layer's output from its input expressions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..registry import Ref
from ..semantics import ir
from .expr import Call, Expr, Sym, call, t


@dataclass(frozen=True)
class Lowered:
    init: Expr | None
    apply: Callable[[Expr, list[Expr]], Expr]
    helpers: tuple[str, ...] = ()  # names of fixed helper snippets the code needs


# ---- activations and initializers ---------------------------------------------------------------
def activation(ref: Ref | None, x: Expr) -> Expr:
    if ref is None or ref.name == "linear":
        return x
    p = ref.params
    table = {
        "relu": lambda: call("jax.nn.relu", x),
        "leaky_relu": lambda: call("jax.nn.leaky_relu", x, negative_slope=p.alpha),
        "elu": lambda: call("jax.nn.elu", x, alpha=p.alpha),
        "selu": lambda: call("jax.nn.selu", x),
        "gelu": lambda: call("jax.nn.gelu", x, approximate=False),
        "sigmoid": lambda: call("jax.nn.sigmoid", x),
        "tanh": lambda: call("jnp.tanh", x),
        "softmax": lambda: call("jax.nn.softmax", x, axis=p.axis),
        "softplus": lambda: call("jax.nn.softplus", x),
        "swish": lambda: call("jax.nn.swish", x),
    }
    return table[ref.name]()


def initializer(ref: Ref | None) -> Expr:
    if ref is None:
        return Sym("KERNEL_INIT")
    p = ref.params
    table = {
        "glorot_uniform": lambda: call("nnx.initializers.glorot_uniform"),
        "glorot_normal": lambda: call("nnx.initializers.glorot_normal"),
        "he_uniform": lambda: call("nnx.initializers.he_uniform"),
        "he_normal": lambda: call("nnx.initializers.he_normal"),
        "lecun_uniform": lambda: call("nnx.initializers.lecun_uniform"),
        "lecun_normal": lambda: call("nnx.initializers.lecun_normal"),
        "orthogonal": lambda: call("nnx.initializers.orthogonal"),
        "normal": lambda: call("nnx.initializers.normal", p.stddev),
        "uniform": lambda: call("symmetric_uniform", p.scale),
        "constant": lambda: call("nnx.initializers.constant", p.value),
        "zeros": lambda: Sym("nnx.initializers.zeros"),
        "ones": lambda: Sym("nnx.initializers.ones"),
    }
    return table[ref.name]()


# layers whose matmuls/convolutions run in the compute dtype with `precision: bfloat16`
COMPUTE_DTYPE_LAYERS = {"nnx.Linear", "nnx.Conv", "nnx.Embed", "nnx.SimpleCell", "nnx.LSTMCell", "nnx.GRUCell"}


def compute_dtype(init: Expr) -> Expr:
    """A layer constructor with ``dtype=COMPUTE_DTYPE, param_dtype=jnp.float32`` (mixed precision: the
    parameters, their gradients and the optimizer stay float32; normalisation layers, which get no
    dtype, compute in float32 because their float32 parameters promote their inputs)."""
    if not isinstance(init, Call):
        return init
    args = tuple(compute_dtype(a) for a in init.args)
    kwargs = tuple((k, compute_dtype(v)) for k, v in init.kwargs)
    if init.fn in COMPUTE_DTYPE_LAYERS:
        kwargs = (*[kv for kv in kwargs if kv[0] != "rngs"], ("dtype", Sym("COMPUTE_DTYPE")),
                  ("param_dtype", Sym("jnp.float32")), *[kv for kv in kwargs if kv[0] == "rngs"])
    return Call(init.fn, args, kwargs)


def init_helpers(*refs: Ref | None) -> tuple[str, ...]:
    return ("symmetric_uniform",) if any(r is not None and r.name == "uniform" for r in refs) else ()


def _bias_kwargs(p) -> dict:
    kw = {"use_bias": p.use_bias} if not p.use_bias else {}
    kw["kernel_init"] = initializer(p.init)
    if getattr(p, "bias_init", None) is not None:
        kw["bias_init"] = initializer(p.bias_init)
    return kw


def _tuple(v, n: int) -> tuple:
    return tuple(v) if isinstance(v, list) else (v,) * n


# ---- layers -------------------------------------------------------------------------------------------
def dense(node: ir.Node) -> Lowered:
    p = node.params
    init = call("nnx.Linear", node.in_shapes[0][-1], p.units, **_bias_kwargs(p), rngs=Sym("rngs"))
    return Lowered(init, lambda a, xs: activation(p.activation, call(a, xs[0])), init_helpers(p.init, p.bias_init))


def conv(dims: int):
    def lower(node: ir.Node) -> Lowered:
        p = node.params
        init = call("nnx.Conv", node.in_shapes[0][-1], p.filters, kernel_size=_tuple(p.kernel, dims),
                    strides=_tuple(p.strides, dims), padding=p.padding.upper(), **_bias_kwargs(p),
                    conv_general_dilated=Sym("im2col_conv"), rngs=Sym("rngs"))
        return Lowered(init, lambda a, xs: activation(p.activation, call(a, xs[0])),
                       ("im2col_conv", *init_helpers(p.init)))
    return lower


def pool(fn: str):
    def lower(node: ir.Node) -> Lowered:
        p = node.params
        dims = len(node.in_shapes[0]) - 1
        size = _tuple(p.size, dims)
        strides = _tuple(p.strides, dims) if p.strides is not None else size
        return Lowered(None, lambda a, xs: call(fn, xs[0], window_shape=size, strides=strides,
                                                padding=p.padding.upper()))
    return lower


def global_pool(method: str):
    def lower(node: ir.Node) -> Lowered:
        axes = tuple(range(1, len(node.in_shapes[0])))
        return Lowered(None, lambda a, xs: t("{x}." + method + "(axis={axes})", x=xs[0], axes=axes))
    return lower


def dropout(node: ir.Node) -> Lowered:
    return Lowered(call("nnx.Dropout", node.params.rate, rngs=Sym("rngs")), lambda a, xs: call(a, xs[0]))


def batch_norm(node: ir.Node) -> Lowered:
    p = node.params
    init = call("nnx.BatchNorm", node.in_shapes[0][-1], momentum=p.momentum, epsilon=p.epsilon, rngs=Sym("rngs"))
    return Lowered(init, lambda a, xs: call(a, xs[0]))


def layer_norm(node: ir.Node) -> Lowered:
    init = call("nnx.LayerNorm", node.in_shapes[0][-1], epsilon=node.params.epsilon, rngs=Sym("rngs"))
    return Lowered(init, lambda a, xs: call(a, xs[0]))


def flatten(node: ir.Node) -> Lowered:
    return Lowered(None, lambda a, xs: t("{x}.reshape({x}.shape[0], -1)", x=xs[0]))


def reshape(node: ir.Node) -> Lowered:
    return Lowered(None, lambda a, xs: t("{x}.reshape({x}.shape[0], *{shape})", x=xs[0], shape=tuple(node.shape)))


def embedding(node: ir.Node) -> Lowered:
    p = node.params
    return Lowered(call("nnx.Embed", p.vocab, p.dim, rngs=Sym("rngs")), lambda a, xs: call(a, xs[0]))


CELLS = {"simple_rnn": "nnx.SimpleCell", "lstm": "nnx.LSTMCell", "gru": "nnx.GRUCell"}


def _cell(kind: str, features: int, p) -> Expr:
    kw = {}
    if p.activation is not None:
        kw["activation_fn"] = Sym(f"jax.nn.{p.activation.name}") if p.activation.name not in ("tanh", "linear") \
            else (Sym("jnp.tanh") if p.activation.name == "tanh" else t("lambda v: v"))
    return call(CELLS[kind], features, p.units, **kw, rngs=Sym("rngs"))


def recurrent(kind: str):
    def lower(node: ir.Node) -> Lowered:
        p = node.params
        init = call("nnx.RNN", _cell(kind, node.in_shapes[0][-1], p))
        if p.return_sequences:
            return Lowered(init, lambda a, xs: call(a, xs[0]))
        return Lowered(init, lambda a, xs: t("{h}[:, -1]", h=call(a, xs[0])))
    return lower


def bidirectional(node: ir.Node) -> Lowered:
    p = node.params
    inner = p.layer.params
    f = node.in_shapes[0][-1]
    init = call("nnx.Bidirectional", call("nnx.RNN", _cell(p.layer.name, f, inner)),
                call("nnx.RNN", _cell(p.layer.name, f, inner)), rngs=Sym("rngs"))
    u = inner.units
    if inner.return_sequences:
        return Lowered(init, lambda a, xs: call(a, xs[0]))
    # last step of the forward pass, and the backward pass's last step (which sits at time 0)
    return Lowered(init, lambda a, xs: t("(lambda h: jnp.concatenate([h[:, -1, :{u}], h[:, 0, {u}:]], axis=-1))({h})",
                                         u=u, h=call(a, xs[0])))


def repeat(node: ir.Node) -> Lowered:
    n = node.params.times
    return Lowered(None, lambda a, xs: t("jnp.repeat({x}[:, None], {n}, axis=1)", x=xs[0], n=n))


def merge(op: str):
    def lower(node: ir.Node) -> Lowered:
        return Lowered(None, lambda a, xs: t(f" {op} ".join("{x%d}" % i for i in range(len(xs))),
                                              **{f"x{i}": x for i, x in enumerate(xs)}))
    return lower


def concat(node: ir.Node) -> Lowered:
    axis = node.params.axis
    axis = axis + 1 if axis >= 0 else axis  # the batch axis comes first
    return Lowered(None, lambda a, xs: call("jnp.concatenate", list(xs), axis=axis))


def primary_caps(node: ir.Node) -> Lowered:
    p = node.params
    init = call("PrimaryCapsules", node.in_shapes[0][-1], p.capsules, p.dim, kernel_size=_tuple(p.kernel, 2),
                strides=_tuple(p.strides, 2), padding=p.padding.upper(), rngs=Sym("rngs"))
    return Lowered(init, lambda a, xs: call(a, xs[0]), ("im2col_conv", "squash", "PrimaryCapsules"))


def capsules(node: ir.Node) -> Lowered:
    p = node.params
    n_in, d_in = node.in_shapes[0]
    init = call("CapsuleLayer", n_in, d_in, p.count, p.dim, routing=p.routing, rngs=Sym("rngs"))
    return Lowered(init, lambda a, xs: call(a, xs[0]), ("squash", "CapsuleLayer"))


def capsule_length(node: ir.Node) -> Lowered:
    return Lowered(None, lambda a, xs: t("jnp.sqrt(jnp.sum({x} ** 2, axis=-1) + 1e-9)", x=xs[0]))


LAYERS: dict[str, Callable[[ir.Node], Lowered]] = {
    "dense": dense,
    "dropout": dropout,
    "batch_norm": batch_norm,
    "layer_norm": layer_norm,
    "conv1d": conv(1),
    "conv2d": conv(2),
    "max_pool": pool("nnx.max_pool"),
    "avg_pool": pool("nnx.avg_pool"),
    "global_avg_pool": global_pool("mean"),
    "global_max_pool": global_pool("max"),
    "flatten": flatten,
    "reshape": reshape,
    "embedding": embedding,
    "simple_rnn": recurrent("simple_rnn"),
    "lstm": recurrent("lstm"),
    "gru": recurrent("gru"),
    "bidirectional": bidirectional,
    "repeat": repeat,
    "add": merge("+"),
    "multiply": merge("*"),
    "concat": concat,
    "primary_caps": primary_caps,
    "capsules": capsules,
    "capsule_length": capsule_length,
}

CONV_KINDS = {"conv1d", "conv2d", "max_pool", "avg_pool", "primary_caps"}

# How XLA:CPU compiles a program, chosen from its layers. XLA:CPU compiles every fused kernel with its
# MLIR fusion emitters and then LLVM (~10 ms of CPU per kernel), and an im2col convolution adds
# 2 * (taps - 1) small copy kernels. With the older elemental emitters, the convolutional programs
# compile in 0.57-0.60 of the time (W2: 0.62 -> 0.36 s) and run their epochs at 0.95-1.01 of the time;
# dense programs (W1 epochs 1.13x) and capsule routing (1.23x) run slower with them
# (bench/emitters.py, bench/results/emitters.md). So: convolutions without capsules -> elemental.
ELEMENTAL_EMITTER_KINDS = {"conv1d", "conv2d"}
FUSION_EMITTER_KINDS = {"primary_caps", "capsules"}


def kinds(model: ir.Model) -> set[str]:
    """The layer kinds of a model and of the models it uses as blocks."""
    out = set()
    for n in model.nodes:
        out.add(n.kind)
        if n.submodel is not None:
            out |= kinds(n.submodel)
    return out


def uses_convolution(model: ir.Model) -> bool:
    return bool(kinds(model) & CONV_KINDS)


def cpu_compiler_options(model: ir.Model) -> dict:
    """XLA:CPU options for the program's compiled functions (the runtime ignores them elsewhere)."""
    used = kinds(model)
    return {"xla_cpu_use_fusion_emitters": False} if used & ELEMENTAL_EMITTER_KINDS and not used & FUSION_EMITTER_KINDS else {}


def activation_floats(model: ir.Model) -> int:
    """Floats a forward pass holds per example: the inputs, every layer's output and, for convolutions,
    the im2col patches (taps x input channels per output position). Sizes the evaluation batches."""
    total = sum(math.prod(t.shape) for t in model.inputs)
    for n in model.nodes:
        if n.submodel is not None:
            total += activation_floats(n.submodel)
            continue
        total += math.prod(n.shape)
        if n.kind in ("conv1d", "conv2d", "primary_caps"):
            taps = math.prod(_tuple(n.params.kernel, len(n.in_shapes[0]) - 1))
            positions = n.shape[0] // n.params.capsules if n.kind == "primary_caps" else math.prod(n.shape[:-1])
            total += positions * taps * n.in_shapes[0][-1]
    return total
