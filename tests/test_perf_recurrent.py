"""The emitted recurrent layers (registry/layers/recurrent.py: gates fused; optionally the input
projection of every step one matmul before the time loop) compute what Flax's cells compute, from
the same initial parameters (drawn with the same keys in the same order)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from nncompile.expr import in_order
from nncompile.registry.layers.recurrent import BOTH_WAYS, LAYERS

CELLS = {"lstm": nnx.LSTMCell, "gru": nnx.GRUCell, "simple_rnn": nnx.SimpleCell}
GLOROT = nnx.initializers.glorot_uniform()
F, U, B, T = 3, 5, 4, 7


def emitted(kind: str) -> type:
    ns = {"jax": jax, "jnp": jnp, "nnx": nnx}
    for s in in_order([LAYERS[kind], BOTH_WAYS]):
        exec(s.code, ns)  # the snippets as the emitted program holds them
    return ns[LAYERS[kind].name]


def flax_cell(kind: str, seed: int, **kw):
    rngs = nnx.Rngs(seed)
    cell = CELLS[kind](F, U, kernel_init=GLOROT, rngs=rngs, **kw)
    if kind == "lstm":  # Keras' forget-gate bias of 1, as the language's lstm
        cell.hf.bias[...] = jnp.ones_like(cell.hf.bias[...])
    return cell, rngs


def ours(kind: str, seed: int, **kw):
    rngs = nnx.Rngs(seed)
    return emitted(kind)(F, U, kernel_init=GLOROT, rngs=rngs, **kw), rngs


def fused_params(kind: str, cell) -> dict[str, np.ndarray]:
    """Flax's per-gate (LSTM) or already fused (GRU, simple) parameters in our layout."""
    if kind == "lstm":
        gi, gh = (cell.ii, cell.if_, cell.ig, cell.io), (cell.hi, cell.hf, cell.hg, cell.ho)
        return {
            "kernel": np.concatenate([g.kernel[...] for g in gi], 1),
            "recurrent_kernel": np.concatenate([g.kernel[...] for g in gh], 1),
            "bias": np.concatenate([g.bias[...] for g in gh]),
        }
    if kind == "gru":
        return {
            "kernel": cell.dense_i.kernel[...],
            "bias": cell.dense_i.bias[...],
            "recurrent_kernel": cell.dense_h.kernel[...],
        }
    return {
        "kernel": cell.dense_i.kernel[...],
        "bias": cell.dense_i.bias[...],
        "recurrent_kernel": cell.dense_h.kernel[...],
    }


def x_batch(seed: int = 1) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (B, T, F))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_same_initial_parameters_and_the_same_keys_left_for_the_next_layer(kind):
    cell, rngs_flax = flax_cell(kind, 3)
    layer, rngs_ours = ours(kind, 3)
    for name, value in fused_params(kind, cell).items():
        np.testing.assert_array_equal(np.asarray(getattr(layer, name)[...]), np.asarray(value))
    # the layer after it draws the same parameters in both programs
    np.testing.assert_array_equal(
        jax.random.key_data(rngs_flax.params()), jax.random.key_data(rngs_ours.params())
    )
    count = sum(np.size(v) for v in jax.tree.leaves(nnx.state(layer, nnx.Param)))
    assert count == sum(np.size(v) for v in jax.tree.leaves(nnx.state(cell, nnx.Param)))


@pytest.mark.parametrize(
    "kind, reverse, hoist",
    [(k, r, False) for k in sorted(CELLS) for r in (False, True)]
    + [(k, False, True) for k in sorted(CELLS)],
)
def test_outputs_states_and_gradients_equal_flax(kind, reverse, hoist):
    cell, _ = flax_cell(kind, 0)
    rnn = nnx.RNN(cell, reverse=reverse, keep_order=True, return_carry=True)
    layer, _ = ours(kind, 0, sequences=True, reverse=reverse, hoist=hoist)
    x = x_batch()
    carry, seq = rnn(x)
    states, mine = layer(x, return_carry=True)
    np.testing.assert_allclose(mine, seq, rtol=1e-5, atol=1e-6)
    if kind == "lstm":  # flax carries (c, h), ours the spec's (h, c)
        carry = (carry[1], carry[0])
    np.testing.assert_allclose(
        np.asarray(jax.tree.leaves(states)), np.asarray(jax.tree.leaves(carry)), atol=1e-6
    )

    zeros = jnp.zeros((B, U))
    start = (zeros, zeros) if kind == "lstm" else zeros  # (no carry rng under jax.grad)

    def flax_loss(rnn, x):
        return jnp.sum(jnp.sin(rnn(x, initial_carry=start)[1]))

    def our_loss(layer, x):
        return jnp.sum(jnp.sin(layer(x, return_carry=True)[1]))

    np.testing.assert_allclose(
        nnx.grad(our_loss, argnums=1)(layer, x),
        nnx.grad(flax_loss, argnums=1)(rnn, x),
        rtol=1e-4,
        atol=1e-6,
    )
    ours_g = nnx.grad(our_loss)(layer, x)
    flax_g = nnx.grad(flax_loss)(rnn, x)
    holder = nnx.clone(rnn)
    nnx.update(holder, flax_g)  # flax's parameter gradients, read in our layout
    want = fused_params(kind, holder.cell)
    for name, value in want.items():
        np.testing.assert_allclose(ours_g[name][...], value, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_many_to_one_returns_the_last_state_and_starts_from_given_states(kind):
    cell, _ = flax_cell(kind, 0)
    layer, _ = ours(kind, 0)
    x = x_batch(2)
    n = 2 if kind == "lstm" else 1
    given = tuple(jax.random.normal(jax.random.key(9 + i), (B, U)) for i in range(n))
    flax_carry = (given[1], given[0]) if kind == "lstm" else given[0]
    want = nnx.RNN(cell)(x, initial_carry=flax_carry)[:, -1]
    got = layer(x, initial_carry=given if n > 1 else given[0])
    assert got.shape == (B, U)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_both_ways_equals_flax_bidirectional():
    kind = "gru"
    fwd, _ = flax_cell(kind, 0)
    bwd, _ = flax_cell(kind, 1)
    flax = nnx.Bidirectional(nnx.RNN(fwd), nnx.RNN(bwd), rngs=nnx.Rngs(0))
    a, _ = ours(kind, 0, sequences=True)
    b, _ = ours(kind, 1, sequences=True, reverse=True)
    ns = {"jax": jax, "jnp": jnp, "nnx": nnx}
    exec(BOTH_WAYS.code, ns)
    x = x_batch(3)
    np.testing.assert_allclose(ns["BothWays"](a, b)(x), flax(x), rtol=1e-5, atol=1e-6)
    last_a, _ = ours(kind, 0)
    last_b, _ = ours(kind, 1, reverse=True)
    seq = flax(x)
    want = jnp.concatenate([seq[:, -1, :U], seq[:, 0, U:]], axis=-1)
    np.testing.assert_allclose(ns["BothWays"](last_a, last_b)(x), want, rtol=1e-5, atol=1e-6)
