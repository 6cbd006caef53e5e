"""Attention: multi-head attention (self and cross), learned positional embeddings and the
pre-norm transformer block built from them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ...expr import Snippet, call, t
from ...shapes import Shape, ShapeError, fmt
from .. import Params
from ..activations import activation_fn, initializer_expr, initializer_snippets
from ..lowering import RNGS, Code, Lowered, changed
from .base import ActivationRef, Example, InitRef, Layer, Positive, rank

Rate = Annotated[float, Field(ge=0, lt=1)]

SEQUENCE_HINT = "attention reads sequences [steps, features]: use embedding() or reshape first"


class MultiHeadAttention(Params):
    heads: Positive
    dim: Positive | None = None
    causal: bool = False
    dropout: Rate = 0.0
    use_bias: bool = True
    init: InitRef = None


def head_size(layer: str, heads: int, dim: int | None, features: int) -> int:
    """The size of one head: ``dim``, or the query's features split evenly over the heads."""
    if dim is not None:
        return dim
    if features % heads:
        raise ShapeError(
            f"{layer} cannot split {features} features into {heads} heads",
            f"give the size of each head (dim=...) or a number of heads that divides {features}",
        )
    return features // heads


def attention_count(features: int, kv_features: int, qkv: int, use_bias: bool = True) -> int:
    """Query, key and value projections to ``qkv`` features and the output projection back."""
    bias = 3 * qkv + features if use_bias else 0
    return features * qkv + 2 * kv_features * qkv + qkv * features + bias


def mha_shape(p: MultiHeadAttention, x: list[Shape]) -> Shape:
    if len(x) > 2:
        raise ShapeError(
            f"multi_head_attention reads a query and at most one key/value sequence, got {len(x)}",
            "self-attention: multi_head_attention(h, heads=4); cross: (q, kv)",
        )
    for s in x:
        rank("multi_head_attention", s, 2, hint=SEQUENCE_HINT)
    head_size("multi_head_attention", p.heads, p.dim, x[0][-1])
    if p.causal and x[-1][0] != x[0][0]:
        raise ShapeError(
            "a causal mask needs the query and the key/value sequence of one length, "
            f"got {fmt(x[0])} and {fmt(x[-1])}",
            "drop causal=true for cross-attention between sequences of different lengths",
        )
    return x[0]


def mha_count(p: MultiHeadAttention, x: list[Shape], out: Shape) -> int:
    f = x[0][-1]
    qkv = p.heads * head_size("multi_head_attention", p.heads, p.dim, f)
    return attention_count(f, x[-1][-1], qkv, p.use_bias)


def attention_floats(heads: int, steps: int, kv_steps: int, qkv: int) -> int:
    """What attention holds per example besides its output: the projected queries, keys and
    values, the attention weights (one steps x kv_steps matrix per head) and the attended values."""
    return 2 * steps * qkv + 2 * kv_steps * qkv + heads * steps * kv_steps


def mha_floats(p: MultiHeadAttention, x: tuple[Shape, ...], out: Shape) -> int:
    qkv = p.heads * head_size("multi_head_attention", p.heads, p.dim, x[0][-1])
    return attention_floats(p.heads, x[0][0], x[-1][0], qkv)


def causal_mask(x: Code) -> Code:
    """Each step attends to itself and the steps before it."""
    return call("nnx.make_causal_mask", t("{x}[..., 0]", x=x))


def lower_mha(p: MultiHeadAttention, x: tuple[Shape, ...], out: Shape) -> Lowered:
    f, kv = x[0][-1], x[-1][-1]
    qkv = p.heads * head_size("multi_head_attention", p.heads, p.dim, f)
    kw = changed(qkv_features=(qkv, f), in_kv_features=(kv, f), use_bias=(p.use_bias, True))
    if p.dropout:
        kw |= {"dropout_rate": p.dropout, "deterministic": False}
    init = call(
        "nnx.MultiHeadAttention",
        p.heads,
        f,
        **kw,
        kernel_init=initializer_expr(p.init),
        decode=False,
        rngs=RNGS,
    )

    def apply(a, xs):
        mask = {"mask": causal_mask(xs[0])} if p.causal else {}
        return call(a, *xs, **mask)

    return Lowered(init, apply, initializer_snippets(p.init))


POSITIONAL_EMBEDDING = Snippet(
    "PositionalEmbedding",
    '''
class PositionalEmbedding(nnx.Module):
    """Learned position vectors added to a sequence: x[:, t] + table[t] for t < max_length."""

    def __init__(self, max_length, features, *, rngs):
        shape = (max_length, features)
        self.table = nnx.Param(nnx.initializers.normal(0.02)(rngs.params(), shape))

    def __call__(self, x):
        return x + self.table[: x.shape[1]]
''',
)


class PositionalEmbedding(Params):
    max_length: Positive | None = None


def positional_shape(p: PositionalEmbedding, x: list[Shape]) -> Shape:
    rank("positional_embedding", x[0], 2, hint=SEQUENCE_HINT)
    if p.max_length is not None and x[0][0] > p.max_length:
        raise ShapeError(
            f"positional_embedding has {p.max_length} positions, "
            f"but the sequence has {x[0][0]} steps",
            f"use max_length={x[0][0]} or more (the default is the sequence length)",
        )
    return x[0]


def positional_length(p: PositionalEmbedding, x: list[Shape] | tuple[Shape, ...]) -> int:
    return p.max_length or x[0][0]


def lower_positional(p: PositionalEmbedding, x: tuple[Shape, ...], out: Shape) -> Lowered:
    init = call("PositionalEmbedding", positional_length(p, x), x[0][-1], rngs=RNGS)
    return Lowered(init, lambda a, xs: call(a, xs[0]), (POSITIONAL_EMBEDDING,))


TRANSFORMER_BLOCK = Snippet(
    "TransformerBlock",
    '''
class TransformerBlock(nnx.Module):
    """Pre-norm transformer block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, features, heads, qkv_features, hidden, *, activation=jax.nn.gelu,
                 causal=False, dropout=0.0, rngs):
        self.activation, self.causal = activation, causal
        self.norm_1 = nnx.LayerNorm(features, rngs=rngs)
        self.attention = nnx.MultiHeadAttention(heads, features, qkv_features=qkv_features,
                                                kernel_init=KERNEL_INIT, decode=False, rngs=rngs)
        self.norm_2 = nnx.LayerNorm(features, rngs=rngs)
        self.hidden = nnx.Linear(features, hidden, kernel_init=KERNEL_INIT, rngs=rngs)
        self.out = nnx.Linear(hidden, features, kernel_init=KERNEL_INIT, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x):
        mask = nnx.make_causal_mask(x[..., 0]) if self.causal else None
        x = x + self.dropout(self.attention(self.norm_1(x), mask=mask))
        h = self.out(self.activation(self.hidden(self.norm_2(x))))
        return x + self.dropout(h)
''',
)


class TransformerBlock(Params):
    heads: Positive
    dim: Positive | None = None
    hidden: Positive | None = None
    activation: ActivationRef = None
    causal: bool = False
    dropout: Rate = 0.0


def transformer_shape(p: TransformerBlock, x: list[Shape]) -> Shape:
    rank("transformer_block", x[0], 2, hint=SEQUENCE_HINT)
    head_size("transformer_block", p.heads, p.dim, x[0][-1])
    return x[0]


def transformer_sizes(p: TransformerBlock, x: list[Shape] | tuple[Shape, ...]) -> tuple[int, int]:
    """The attention's query/key/value features and the MLP's hidden width (default 4x)."""
    f = x[0][-1]
    return p.heads * head_size("transformer_block", p.heads, p.dim, f), p.hidden or 4 * f


def transformer_count(p: TransformerBlock, x: list[Shape], out: Shape) -> int:
    f = x[0][-1]
    qkv, hidden = transformer_sizes(p, x)
    return 4 * f + attention_count(f, f, qkv) + f * hidden + hidden + hidden * f + f


def transformer_floats(p: TransformerBlock, x: tuple[Shape, ...], out: Shape) -> int:
    """Attention's, two normalised copies and the residual sum of the input, the MLP's hidden
    units."""
    (steps, f), (qkv, hidden) = x[0], transformer_sizes(p, x)
    return attention_floats(p.heads, steps, steps, qkv) + 3 * steps * f + steps * hidden


def lower_transformer(p: TransformerBlock, x: tuple[Shape, ...], out: Shape) -> Lowered:
    f = x[0][-1]
    qkv, hidden = transformer_sizes(p, x)
    kw: dict[str, Code | bool | float] = {}
    if p.activation is not None and p.activation.name != "gelu":
        kw["activation"] = activation_fn(p.activation)
    kw |= changed(causal=(p.causal, False), dropout=(p.dropout, 0.0))
    init = call("TransformerBlock", f, p.heads, qkv, hidden, **kw, rngs=RNGS)
    return Lowered(init, lambda a, xs: call(a, xs[0]), (TRANSFORMER_BLOCK,))


ENTRIES = [
    Layer(
        "multi_head_attention",
        MultiHeadAttention,
        (),
        "scaled dot-product attention over `heads` heads of size `dim` (default: features / "
        "heads): self-attention (one input) or cross-attention (query, key/value); "
        "`causal=true` masks later steps",
        shape=mha_shape,
        count=mha_count,
        lower=lower_mha,
        extra_activation_floats=mha_floats,
        example=Example(
            "multi_head_attention(a, b, heads=2, dim=3, causal=true)", ("[5, 8]", "[5, 6]")
        ),
        merge=True,
    ),
    Layer(
        "positional_embedding",
        PositionalEmbedding,
        ("max_length",),
        "adds a learned vector per position to a sequence [T, F] (T <= max_length)",
        shape=positional_shape,
        count=lambda p, x, out: positional_length(p, x) * x[0][-1],
        lower=lower_positional,
        example=Example("positional_embedding(12)", ("[10, 4]",)),
    ),
    Layer(
        "transformer_block",
        TransformerBlock,
        ("heads",),
        "pre-norm transformer block: x + attention(layer_norm(x)), then x + mlp(layer_norm(x)) "
        "with `hidden` units (default 4F) and `activation` (default gelu); [T, F] -> [T, F]",
        shape=transformer_shape,
        count=transformer_count,
        lower=lower_transformer,
        extra_activation_floats=transformer_floats,
        example=Example(
            "transformer_block(2, hidden=16, activation=relu, causal=true)", ("[6, 8]",)
        ),
    ),
]
