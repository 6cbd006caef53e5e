"""Sequences: embeddings, recurrent layers and repetition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import field_validator

from ...expr import Sym, call, t
from ...shapes import Shape, ShapeError, fmt
from .. import Params, Ref, RefTo
from ..activations import activation_fn, initializer_expr, initializer_snippets
from ..lowering import RNGS, Code, Lowered
from .base import ActivationRef, Example, InitRef, Layer, Positive, rank
from .recurrent import BOTH_WAYS
from .recurrent import LAYERS as FUSED


class Embedding(Params):
    vocab: Positive
    dim: Positive
    init: InitRef = None  # the table (default: Flax's, normal with stddev 1/sqrt(dim))


def embedding_shape(p: Embedding, x: list[Shape]) -> Shape:
    rank("embedding", x[0], 1, hint="embedding takes token ids: `input tokens: int[T]`")
    return (*x[0], p.dim)


def lower_embedding(p: Embedding, x: tuple[Shape, ...], out: Shape) -> Lowered:
    table = {} if p.init is None else {"embedding_init": initializer_expr(p.init)}
    return Lowered(
        call("nnx.Embed", p.vocab, p.dim, **table, rngs=RNGS),
        lambda a, xs: call(a, xs[0]),
        initializer_snippets(p.init),
    )


class OneHot(Params):
    classes: Positive


def one_hot_shape(p: OneHot, x: list[Shape]) -> Shape:
    return (*x[0], p.classes)


def lower_one_hot(p: OneHot, x: tuple[Shape, ...], out: Shape) -> Lowered:
    # ids outside 0..classes-1 give all-zero rows (jax.nn.one_hot's rule)
    return Lowered(None, lambda a, xs: call("jax.nn.one_hot", xs[0], p.classes))


class Recurrent(Params):
    units: Positive
    return_sequences: bool = False
    activation: ActivationRef = None
    return_state: bool = False
    initial_state: list[str] | None = None  # tensor names (Layer.tensor_args)
    init: InitRef = None  # the input kernels (default: glorot_uniform, as for dense)
    recurrent_init: InitRef = None  # the recurrent kernels (default: orthogonal)


# the states of each recurrent layer, in the spec's (Keras') order; Flax's LSTM carry is (c, h)
STATES = {"simple_rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}


def check_states(name: str, p: Recurrent, states: list[Shape]) -> None:
    """``initial_state=[...]``: one tensor per state of the layer, each of shape [units]."""
    want = STATES[name]
    spelled = ", ".join(want)
    if len(states) != len(want):
        raise ShapeError(
            f"{name} starts from {len(want)} state(s) [{spelled}], but initial_state names "
            f"{len(states)}",
            f"pass initial_state=[{spelled}]: the final states of another {name} "
            f"(`seq, {spelled} = {name}(..., return_sequences=true, return_state=true)`)",
        )
    for label, tensor, shape in zip(want, p.initial_state or (), states, strict=False):
        if shape != (p.units,):
            raise ShapeError(
                f"{name}({p.units}) starts from states of shape [{p.units}], but its initial "
                f"{label}, {tensor}, is {fmt(shape)}",
                f"give the layer that produced {tensor} {p.units} units too",
            )


def rnn_outputs(name: str):
    def outputs(p: Recurrent, x: list[Shape]) -> dict[str, Shape] | None:
        if not p.return_state:
            return None
        states: dict[str, Shape] = {label: (p.units,) for label in STATES[name]}
        return {"seq": (x[0][0], p.units), **states} if p.return_sequences else states

    return outputs


class Lstm(Recurrent):
    unit_forget_bias: bool = True  # the forget gate's bias starts at 1 (Keras' default)


def rnn_shape(name: str):
    def infer(p: Recurrent, x: list[Shape]) -> Shape:
        s = x[0]
        hint = None
        if len(s) == 1:
            hint = (
                "a recurrent layer reads [steps, features]: use reshape([steps, 1]) or embedding()"
            )
        elif len(s) > 2:
            hint = "reshape to [steps, features] first"
        rank(name, s, 2, hint=hint)
        if len(x) > 1 or p.initial_state is not None:
            check_states(name, p, x[1:])
        return (s[0], p.units) if p.return_sequences else (p.units,)

    return infer


GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def rnn_count(name: str):
    gates = GATES[name]

    def count(p: Recurrent, x: list[Shape], out: Shape) -> int:
        f, u = x[0][-1], p.units
        return gates * (f * u + u * u + u)

    return count


def fused_layer(kind: str, features: int, p: Recurrent, reverse: bool = False) -> Code:
    """The emitted layer (registry.layers.recurrent): the gates' kernels fused, every step's input
    projected in one matmul before the time loop; drawn like Flax's cell. Arguments only where
    they differ from its defaults (orthogonal recurrent kernels, tanh, forget-gate bias 1)."""
    kw: dict[str, Code | bool] = {"kernel_init": initializer_expr(p.init)}
    if p.recurrent_init is not None and p.recurrent_init.name != "orthogonal":
        kw["recurrent_kernel_init"] = initializer_expr(p.recurrent_init)
    if p.activation is not None and p.activation.name != "tanh":
        kw["activation"] = activation_fn(p.activation)
    if isinstance(p, Lstm) and not p.unit_forget_bias:
        kw["forget_bias"] = False
    if p.return_sequences:
        kw["sequences"] = True
    if reverse:
        kw["reverse"] = True
    return call(FUSED[kind].name, features, p.units, **kw, rngs=RNGS)


def fused_carry(states: Sequence[Code]) -> dict[str, Any]:
    """``initial_carry=`` from the states in the spec's order ((h, c) for an LSTM)."""
    if not states:
        return {}
    return {"initial_carry": tuple(states) if len(states) > 1 else states[0]}


def fused_unpack(kind: str, sequences: bool):
    """The assignment target of ``layer(..., return_carry=True)``'s ``(states, outputs)``."""

    def unpack(v: Sequence[Sym]) -> Code:
        seq, states = (v[0], v[1:]) if sequences else (Sym("_"), v)
        if kind == "lstm":
            h, c = states
            return t("({h}, {c}), {seq}", h=h, c=c, seq=seq)
        return t("{h}, {seq}", h=states[0], seq=seq)

    return unpack


def lower_rnn(kind: str):
    def lower(p: Recurrent, x: tuple[Shape, ...], out: Shape) -> Lowered:
        init = fused_layer(kind, x[0][-1], p)
        snippets = (*initializer_snippets(p.init, p.recurrent_init), FUSED[kind])

        def apply(a: Sym, xs: Sequence[Code]) -> Code:
            return call(a, xs[0], **fused_carry(xs[1:]))

        if not p.return_state:
            return Lowered(init, apply, snippets)
        return Lowered(
            init,
            apply,
            apply_all=lambda a, xs: call(a, xs[0], **fused_carry(xs[1:]), return_carry=True),
            unpack=fused_unpack(kind, p.return_sequences),
            snippets=snippets,
        )

    return lower


class Bidirectional(Params):
    layer: Annotated[Ref, RefTo("layer")]
    merge: Literal["concat", "sum"] = "concat"

    @field_validator("layer")
    @classmethod
    def _recurrent(cls, v: Ref) -> Ref:
        if v.name not in GATES:
            raise ValueError(
                f"bidirectional wraps a recurrent layer (simple_rnn, lstm, gru), not {v.name}"
            )
        inner = v.params
        if isinstance(inner, Recurrent) and (inner.return_state or inner.initial_state):
            raise ValueError(
                "bidirectional does not pass states: use return_state and initial_state on "
                f"a plain {v.name}"
            )
        return v


def bidirectional_shape(p: Bidirectional, x: list[Shape]) -> Shape:
    inner = rnn_shape("bidirectional")(p.layer.params, x)
    return (*inner[:-1], inner[-1] * 2) if p.merge == "concat" else inner


def bidirectional_count(p: Bidirectional, x: list[Shape], out: Shape) -> int:
    return 2 * rnn_count(p.layer.name)(p.layer.params, x, out)


def lower_bidirectional(p: Bidirectional, x: tuple[Shape, ...], out: Shape) -> Lowered:
    """The forward layer and a backward twin (its outputs in time order; without sequences its
    final state, the one after reading step 0), concatenated or summed."""
    inner, f = p.layer.params, x[0][-1]
    assert isinstance(inner, Recurrent)  # the validator admits recurrent layers only
    kind = p.layer.name
    both = [fused_layer(kind, f, inner), fused_layer(kind, f, inner, reverse=True)]
    merge = {"merge": "sum"} if p.merge == "sum" else {}
    snippets = (*initializer_snippets(inner.init, inner.recurrent_init), FUSED[kind], BOTH_WAYS)
    return Lowered(call("BothWays", *both, **merge), lambda a, xs: call(a, xs[0]), snippets)


class Repeat(Params):
    times: Positive


def repeat_shape(p: Repeat, x: list[Shape]) -> Shape:
    rank("repeat", x[0], 1, hint="repeat turns one vector into a sequence: flatten first")
    return (p.times, *x[0])


def lower_repeat(p: Repeat, x: tuple[Shape, ...], out: Shape) -> Lowered:
    return Lowered(
        None, lambda a, xs: t("jnp.repeat({x}[:, None], {n}, axis=1)", x=xs[0], n=p.times)
    )


def _rnn(name: str, doc: str, example: Example) -> Layer:
    return Layer(
        name,
        Lstm if name == "lstm" else Recurrent,
        ("units",),
        doc,
        shape=rnn_shape(name),
        count=rnn_count(name),
        lower=lower_rnn(name),
        example=example,
        outputs=rnn_outputs(name),
        tensor_args=("initial_state",),
        recurrent=True,
    )


ENTRIES = [
    Layer(
        "embedding",
        Embedding,
        ("vocab", "dim"),
        "token ids [T] -> vectors [T, dim]",
        shape=embedding_shape,
        count=lambda p, x, out: p.vocab * p.dim,
        lower=lower_embedding,
        example=Example("embedding(50, 6)", ("int[10]",)),
        reads_tokens=True,
        needs_tokens=True,
        token_count="vocab",
    ),
    Layer(
        "one_hot",
        OneHot,
        ("classes",),
        "token ids [...] -> one-hot float vectors [..., classes] (no parameters)",
        shape=one_hot_shape,
        lower=lower_one_hot,
        example=Example("one_hot(12)", ("int[10]",)),
        reads_tokens=True,
        needs_tokens=True,
        token_count="classes",
    ),
    _rnn(
        "simple_rnn",
        "Elman recurrent layer: [T, F] -> [units] or [T, units]; states [h]",
        Example("simple_rnn(6, return_sequences=true, activation=relu)", ("[10, 4]",)),
    ),
    _rnn(
        "lstm",
        "long short-term memory: [T, F] -> [units] or [T, units]; states [h, c]; forget-gate bias "
        "1 unless unit_forget_bias=false",
        Example("lstm(6, recurrent_init=glorot_uniform)", ("[10, 4]",)),
    ),
    _rnn(
        "gru",
        "gated recurrent unit: [T, F] -> [units] or [T, units]; states [h]",
        Example("gru(6, return_sequences=true)", ("[10, 4]",)),
    ),
    Layer(
        "bidirectional",
        Bidirectional,
        ("layer",),
        "runs a recurrent layer both ways and concatenates",
        shape=bidirectional_shape,
        count=bidirectional_count,
        lower=lower_bidirectional,
        example=Example("bidirectional(lstm(6))", ("[10, 4]",)),
        recurrent=True,
    ),
    Layer(
        "repeat",
        Repeat,
        ("times",),
        "one-to-many: [F] -> [times, F]",
        shape=repeat_shape,
        lower=lower_repeat,
        example=Example("repeat(5)", ("[7]",)),
        reads_tokens=True,
    ),
]
