"""The emitted GRU's hand-written backward (registry/layers/recurrent.py, GRU.loop: jax.custom_vjp)
gives Flax's gradients -- with respect to the parameters, the inputs and the initial state, for
every option (outputs per step or the last, either direction, hoisted or per-step projection, any
activation) -- and survives the transformations a program applies: gradients of gradients (as
XLA's own backward of the same loop gives them), vmap (populations), a narrower input dtype."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from nncompile.expr import in_order
from nncompile.registry.layers.recurrent import LAYERS

F, U, B, T = 3, 5, 4, 6
GLOROT = nnx.initializers.glorot_uniform()


def gru_class() -> type:
    ns = {"jax": jax, "jnp": jnp, "nnx": nnx}
    for s in in_order([LAYERS["gru"]]):
        exec(s.code, ns)  # the snippets as the emitted program holds them
    return ns["GRU"]


def pair(sequences=False, reverse=False, hoist=None, act=jax.nn.tanh):
    """Ours and Flax's nnx.RNN(nnx.GRUCell), drawn from the same keys: each a pure function
    f(x, h0, params) and its params."""
    ours = gru_class()(
        F, U, kernel_init=GLOROT, rngs=nnx.Rngs(0), sequences=sequences, reverse=reverse,
        hoist=hoist, activation=act,
    )  # fmt: skip
    cell = nnx.GRUCell(F, U, kernel_init=GLOROT, activation_fn=act, rngs=nnx.Rngs(0))
    og, ostate, orest = nnx.split(ours, nnx.Param, ...)
    fg, fstate, frest = nnx.split(nnx.RNN(cell, reverse=reverse, keep_order=True), nnx.Param, ...)

    def our_fn(x, h0, state):
        return nnx.merge(og, state, orest)(x, initial_carry=h0)

    def flax_fn(x, h0, state):
        seq = nnx.merge(fg, state, frest)(x, initial_carry=h0)
        return seq if sequences else seq[:, 0 if reverse else -1]

    return (our_fn, ostate), (flax_fn, fstate)


def inputs(seed=1):
    kx, kh = jax.random.split(jax.random.key(seed))
    return jax.random.normal(kx, (B, T, F)), jax.random.normal(kh, (B, U))


def loss(fn):
    return lambda x, h0, state: jnp.sum(jnp.sin(fn(x, h0, state)) * jnp.arange(1.0, U + 1))


@pytest.mark.parametrize(
    "sequences, reverse, hoist, act",
    [
        (False, False, None, jax.nn.tanh),
        (True, True, False, jax.nn.relu),
        (True, False, True, jax.nn.tanh),
        (False, True, True, jax.nn.sigmoid),
    ],
)
def test_gradients_of_parameters_inputs_and_initial_state_equal_flax(
    sequences, reverse, hoist, act
):
    (ours, ostate), (theirs, fstate) = pair(sequences, reverse, hoist, act)
    x, h0 = inputs()
    np.testing.assert_allclose(ours(x, h0, ostate), theirs(x, h0, fstate), rtol=1e-5, atol=1e-6)
    gx, gh, g = jax.grad(loss(ours), argnums=(0, 1, 2))(x, h0, ostate)
    fx, fh, fg = jax.grad(loss(theirs), argnums=(0, 1, 2))(x, h0, fstate)
    np.testing.assert_allclose(gx, fx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gh, fh, rtol=1e-4, atol=1e-5)
    want = {
        "kernel": fg["cell"]["dense_i"]["kernel"],
        "bias": fg["cell"]["dense_i"]["bias"],
        "recurrent_kernel": fg["cell"]["dense_h"]["kernel"],
    }
    for name, value in want.items():
        np.testing.assert_allclose(g[name][...], value[...], rtol=1e-4, atol=1e-5)


def xla_differentiated(layer_class: type) -> type:
    """The same GRU whose loop XLA differentiates: its cell in RecurrentLayer's shared loop."""

    class Reference(layer_class):
        loop = layer_class.__mro__[1].loop

        def cell(self, proj, r, act):
            def step(carry, xw_t):
                (h,) = carry
                x_r, x_z, x_n = jnp.split(proj(xw_t), 3, axis=-1)
                h_r, h_z, h_n = jnp.split(h @ r, 3, axis=-1)
                z = jax.nn.sigmoid(x_z + h_z)
                return ((1.0 - z) * act(x_n + jax.nn.sigmoid(x_r + h_r) * h_n) + z * h,)

            return step

    return Reference


@pytest.mark.slow  # two second-order programs: ~7 s
def test_gradients_of_gradients_equal_xlas():
    x, h0 = inputs(2)
    penalties = []
    for cls in (gru_class(), xla_differentiated(gru_class())):
        layer = cls(F, U, kernel_init=GLOROT, rngs=nnx.Rngs(0), sequences=True)
        gdef, state = nnx.split(layer)

        def fn(x, h0, state, gdef=gdef):
            return nnx.merge(gdef, state)(x, initial_carry=h0)

        # a gradient penalty's shape: the squared norm of an input gradient, differentiated
        penalty = lambda x, state, fn=fn: jnp.sum(jax.grad(loss(fn))(x, h0, state) ** 2)
        penalties.append(jax.grad(penalty, argnums=(0, 1))(x, state))
    (gx, g), (want_x, want) = penalties
    np.testing.assert_allclose(gx, want_x, rtol=1e-4, atol=1e-5)
    for name in ("kernel", "bias", "recurrent_kernel"):
        np.testing.assert_allclose(g[name][...], want[name][...], rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # ~4 s
def test_vmapped_gradients_are_each_members():
    (ours, ostate), _ = pair()
    xs = jax.random.normal(jax.random.key(3), (3, B, T, F))
    h0 = jnp.zeros((B, U))
    grad = jax.grad(loss(ours))
    got = jax.vmap(lambda x: grad(x, h0, ostate))(xs)
    for i in range(3):
        np.testing.assert_allclose(got[i], grad(xs[i], h0, ostate), rtol=1e-5, atol=1e-6)


def test_a_narrower_input_dtype_gets_gradients_of_its_own_dtype():
    (ours, ostate), _ = pair(sequences=True)
    x, h0 = inputs(4)
    gx, gh = jax.grad(loss(ours), argnums=(0, 1))(x.astype(jnp.bfloat16), h0, ostate)
    assert gx.dtype == jnp.bfloat16 and gh.dtype == jnp.float32
    want = jax.grad(loss(ours))(x.astype(jnp.bfloat16).astype(jnp.float32), h0, ostate)
    np.testing.assert_allclose(gx.astype(jnp.float32), want, rtol=0.05, atol=0.02)
