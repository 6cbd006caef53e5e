"""Attention layers and recurrent initialisation: argument paths the entries' examples do not take
(shape rule and parameter count against the built Flax module), and the behaviour the arguments
promise (causal masks, positions, forget-gate bias, orthogonal recurrent kernels)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from layer_cases import analysed, load, module_source

from nncompile.compiler import analyse
from nncompile.expr import render
from nncompile.registry.layers import LAYERS, Example
from nncompile.source import Source

CASES = [
    Example("multi_head_attention(heads=4)", ("[6, 8]",)),  # self-attention on the previous output
    Example("multi_head_attention(heads=2, dim=4)(a)", ("[6, 8]",)),
    Example(
        "multi_head_attention(a, b, heads=2, use_bias=false, dropout=0.1)", ("[5, 8]", "[7, 6]")
    ),
    Example("multi_head_attention(heads=2, init=he_normal)(a, b)", ("[5, 8]", "[5, 8]")),
    Example("positional_embedding()", ("[7, 3]",)),
    Example("transformer_block(4, dim=3, dropout=0.1)", ("[5, 8]",)),
    Example("transformer_block(1)", ("[4, 6]",)),
    Example(
        "lstm(4, unit_forget_bias=false, init=he_normal, recurrent_init=glorot_normal)",
        ("[6, 3]",),
    ),
    Example("gru(4, recurrent_init=orthogonal, return_sequences=true)", ("[6, 3]",)),
    Example("simple_rnn(4, init=lecun_normal)", ("[6, 3]",)),
    Example("bidirectional(lstm(3, unit_forget_bias=false), merge=sum)", ("[6, 3]",)),
]


def built(example: Example):
    model = analysed(example)
    node = model.nodes[-1]
    lowered = LAYERS[node.kind].lower(node.params, node.in_shapes, node.shape)
    return model, node, load(module_source(lowered, len(model.inputs))).M(nnx.Rngs(0))


def forward(module, *xs, shapes_only: bool = False):
    """The module's output, computed in one jitted call (or only its shape)."""
    graphdef, state = nnx.split(module)
    f = lambda s, *a: nnx.merge(graphdef, s)(*a)
    return jax.eval_shape(f, state, *xs) if shapes_only else jax.jit(f)(state, *xs)


@pytest.mark.parametrize("example", CASES, ids=[e.statement for e in CASES])
def test_shape_rule_and_parameter_count_match_flax(example):
    model, node, module = built(example)
    module.eval()
    xs = [jax.ShapeDtypeStruct((2, *t.shape), jnp.float32) for t in model.inputs]
    out = forward(module, *xs, shapes_only=True)
    assert out.shape == (2, *node.shape)
    params = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(module, nnx.Param)))
    assert params == node.param_count


def test_library_defaults_stay_out_of_the_emitted_calls():
    def init(statement, *inputs):
        node = analysed(Example(statement, inputs)).nodes[-1]
        return render(LAYERS[node.kind].lower(node.params, node.in_shapes, node.shape).init)

    assert init("multi_head_attention(heads=4)", "[6, 8]") == (
        "nnx.MultiHeadAttention(4, 8, kernel_init=KERNEL_INIT, decode=False, rngs=rngs)"
    )
    assert init("multi_head_attention(a, b, heads=2, dim=3, dropout=0.1)", "[5, 8]", "[5, 6]") == (
        "nnx.MultiHeadAttention(2, 8, qkv_features=6, in_kv_features=6, dropout_rate=0.1, "
        "deterministic=False, kernel_init=KERNEL_INIT, decode=False, rngs=rngs)"
    )
    assert init("transformer_block(2)", "[5, 8]") == "TransformerBlock(8, 2, 8, 32, rngs=rngs)"
    assert init("lstm(4, unit_forget_bias=false, recurrent_init=orthogonal)", "[5, 2]") == (
        "LSTM(2, 4, kernel_init=KERNEL_INIT, forget_bias=False, rngs=rngs)"
    )
    assert init("gru(4, recurrent_init=glorot_uniform)", "[5, 2]") == (
        "GRU(2, 4, kernel_init=KERNEL_INIT, "
        "recurrent_kernel_init=nnx.initializers.glorot_uniform(), rngs=rngs)"
    )


def later_steps_changed(statement: str, steps: int = 6, features: int = 8) -> np.ndarray:
    """Per step, how much the output moves when only the steps after step 2 change."""
    _, _, module = built(Example(statement, (f"[{steps}, {features}]",)))
    module.eval()
    x = jax.random.normal(jax.random.key(1), (1, steps, features))
    y = x.at[:, 3:].add(jax.random.normal(jax.random.key(2), (1, steps - 3, features)))
    return np.abs(np.asarray(forward(module, y) - forward(module, x))).max(axis=(0, 2))


@pytest.mark.parametrize(
    "layer", ["multi_head_attention(heads=2, causal=true)", "transformer_block(2, causal=true)"]
)
def test_a_causal_mask_hides_later_steps(layer):
    moved = later_steps_changed(layer)
    assert moved[:3].max() < 1e-6, moved
    assert moved[3:].min() > 1e-3, moved
    unmasked = later_steps_changed(layer.replace("causal=true", "causal=false"))
    assert unmasked[:3].min() > 1e-3, unmasked


def test_positional_embedding_tells_positions_apart():
    _, _, module = built(Example("positional_embedding(10)", ("[6, 4]",)))
    assert module.layer.table.shape == (10, 4)
    out = np.asarray(forward(module, jnp.ones((1, 6, 4))))[0]
    assert len({tuple(np.round(row, 6)) for row in out}) == 6  # the same input at each step


def test_lstm_forget_gate_starts_at_one_and_recurrent_kernels_are_orthogonal():
    _, _, module = built(Example("lstm(5)", ("[6, 3]",)))
    layer = module.layer  # gates i, f, g, o side by side
    bias = np.asarray(layer.bias[...]).reshape(4, 5)
    assert np.all(bias[1] == 1.0)
    assert np.all(bias[[0, 2, 3]] == 0.0)
    for w in np.split(np.asarray(layer.recurrent_kernel[...]), 4, axis=1):
        np.testing.assert_allclose(w.T @ w, np.eye(5), atol=1e-5)
    _, _, plain = built(Example("lstm(5, unit_forget_bias=false)", ("[6, 3]",)))
    assert np.all(np.asarray(plain.layer.bias[...]) == 0.0)


def errors(text: str) -> list[tuple[str, str | None]]:
    _, diagnostics = analyse(Source(text, "m.nn"))
    return [(d.message, d.hint) for d in diagnostics]


@pytest.mark.parametrize(
    "body, message, hint",
    [
        (
            "input x: [5, 8]  multi_head_attention(heads=3)",
            "multi_head_attention cannot split 8 features into 3 heads",
            "give the size of each head (dim=...) or a number of heads that divides 8",
        ),
        (
            "input q: [5, 8]  input k: [7, 8]  multi_head_attention(q, k, heads=2, causal=true)",
            "a causal mask needs the query and the key/value sequence of one length, "
            "got [5, 8] and [7, 8]",
            "drop causal=true for cross-attention between sequences of different lengths",
        ),
        (
            "input q: [5, 8]  multi_head_attention(q, q, q, heads=2)",
            "multi_head_attention reads a query and at most one key/value sequence, got 3",
            "self-attention: multi_head_attention(h, heads=4); cross: (q, kv)",
        ),
        (
            "input x: [8]  transformer_block(2)",
            "transformer_block expects an input of rank 2 (without the batch axis), "
            "but receives [8] of rank 1",
            "attention reads sequences [steps, features]: use embedding() or reshape first",
        ),
        (
            "input x: [6, 3]  positional_embedding(4)",
            "positional_embedding has 4 positions, but the sequence has 6 steps",
            "use max_length=6 or more (the default is the sequence length)",
        ),
        (
            "input x: [4]  dense(4)  add()",
            "add needs at least two inputs, e.g. add(h, r)",
            None,
        ),
    ],
)
def test_diagnostics(body, message, hint):
    assert errors(f"model M {{ {body} }}") == [(message, hint)]


def test_unit_forget_bias_belongs_to_lstm_only():
    (found,) = errors("model M { input x: [6, 3]  gru(4, unit_forget_bias=false) }")
    assert "unit_forget_bias" in found[0]


def test_attention_weights_count_in_the_activation_estimate():
    from nncompile.plan import activation_floats

    model = analysed(Example("multi_head_attention(heads=4)", ("[50, 8]",)))
    assert activation_floats(model) >= 4 * 50 * 50  # one 50 x 50 weight matrix per head
    block = analysed(Example("transformer_block(2, hidden=64)", ("[40, 8]",)))
    assert activation_floats(block) >= 2 * 40 * 40 + 40 * 64
