"""The emitted `im2col_conv` helper: the same numbers as nnx.Conv's native convolution.

The helper is fixed text (IM2COL, next to the convolutions in nncompile/registry/layers/conv.py)
that an emitted program's backend tuning sets as the `conv_general_dilated` of its nnx.Conv modules
after construction; the parameters stay nnx.Conv's (kernel HWIO + bias), so only the way the
convolution is computed differs: im2col + one matmul on CPU, lax.conv_general_dilated elsewhere.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from nncompile.codegen.emit import emit_model
from nncompile.codegen.load import load_module
from nncompile.compiler import analyse
from nncompile.registry.layers import IM2COL
from nncompile.source import Source


@pytest.fixture(autouse=True)
def im2col_anywhere(monkeypatch):
    """Every test runs the im2col path (the helper picks it when traced on CPU) in full float32
    (GPUs multiply float32 in TF32 by default), so the comparisons hold on any backend."""
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    with jax.default_matmul_precision("highest"):
        yield


def helper():
    namespace = {"jax": jax, "jnp": jnp}
    exec(IM2COL.code, namespace)
    return namespace["im2col_conv"]


CASES = [  # kernel, strides, padding, kernel dilation, input spatial shape
    ((3, 3), (1, 1), "SAME", 1, (8, 8)),
    ((3, 3), (2, 2), "SAME", 1, (9, 9)),
    ((3, 3), (1, 1), "VALID", 1, (8, 8)),
    ((3, 3), (2, 2), "VALID", 1, (9, 7)),
    ((5, 5), (1, 1), "SAME", 1, (8, 8)),
    ((3, 2), (2, 1), "SAME", 1, (7, 9)),
    ((1, 1), (1, 1), "SAME", 1, (6, 6)),
    ((2, 2), (3, 3), "SAME", 1, (8, 8)),
    ((3, 3), (1, 1), "SAME", 2, (9, 9)),
    ((4,), (1,), "SAME", 1, (12,)),
    ((5,), (2,), "VALID", 1, (20,)),
]


@pytest.mark.parametrize("kernel, strides, padding, dilation, spatial", CASES)
def test_im2col_equals_nnx_conv(kernel, strides, padding, dilation, spatial):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, *spatial, 4)), jnp.float32)
    make = lambda **kw: nnx.Conv(
        4,
        6,
        kernel_size=kernel,
        strides=strides,
        padding=padding,
        kernel_dilation=dilation,
        rngs=nnx.Rngs(0),
        **kw,
    )
    native, ours = make(), make(conv_general_dilated=helper())
    assert jax.tree.map(jnp.shape, nnx.state(native)) == jax.tree.map(jnp.shape, nnx.state(ours))
    assert all(
        jax.tree.leaves(jax.tree.map(jnp.array_equal, nnx.state(native), nnx.state(ours)))
    )  # same init
    # the outputs and gradients are computed under jit: one compilation each, where eager calls
    # compile every operation of the convolution and its gradient apart (~3x the CPU time)
    forward = nnx.jit(lambda m, x: m(x))
    np.testing.assert_allclose(forward(ours, x), forward(native, x), rtol=1e-5, atol=1e-5)

    @nnx.jit
    def grads(model):
        return nnx.grad(
            lambda m, x: jnp.sum(
                jnp.tanh(m(x)) * jnp.arange(m(x).size).reshape(m(x).shape) / 100.0
            ),
            argnums=(0, 1),
        )(model, x)

    (g_native, dx_native), (g_ours, dx_ours) = grads(native), grads(ours)
    ours_leaves = jax.tree.leaves(nnx.state(g_ours))
    for a, b in zip(ours_leaves, jax.tree.leaves(nnx.state(g_native)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx_ours, dx_native, rtol=1e-4, atol=1e-4)


def test_im2col_inside_jit_and_scan():
    conv = nnx.Conv(2, 3, kernel_size=(3, 3), rngs=nnx.Rngs(1), conv_general_dilated=helper())
    xs = jnp.asarray(np.random.default_rng(1).normal(size=(4, 2, 5, 5, 2)), jnp.float32)
    graphdef, state = nnx.split(conv)

    @jax.jit
    def run(state, xs):
        return jax.lax.scan(lambda s, x: (s, nnx.merge(graphdef, s)(x)), state, xs)[1]

    np.testing.assert_allclose(run(state, xs), jax.vmap(conv)(xs), rtol=1e-5, atol=1e-5)


def test_other_backends_use_the_native_convolution(monkeypatch):
    seen = []
    native = jax.lax.conv_general_dilated
    monkeypatch.setattr(
        jax.lax, "conv_general_dilated", lambda *a, **k: seen.append(1) or native(*a, **k)
    )
    conv = helper()
    x, k, nhwc = jnp.ones((1, 5, 5, 2)), jnp.ones((3, 3, 2, 4)), ("NHWC", "HWIO", "NHWC")
    ours = conv(x, k, (1, 1), "SAME", dimension_numbers=nhwc)  # CPU (im2col_anywhere)
    assert not seen  # CPU: im2col
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    theirs = conv(x, k, (1, 1), "SAME", dimension_numbers=nhwc)
    assert seen  # elsewhere: the native convolution
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_emitted_convolutions_keep_the_nnx_conv_parameter_layout():
    text = """
model M { input x: [8, 8, 1]  conv2d(4, 3, activation=relu)  conv2d(6, 3, strides=2, padding=valid)
          flatten()  dense(3) }
"""
    program, diagnostics = analyse(Source(text, "m.nn"))
    assert program is not None, diagnostics
    source = emit_model(program.models["M"], "m.nn")
    assert (
        "conv_general_dilated=" not in source
    )  # the model's code is plain Flax; tuning comes after
    model = load_module(source, "m.nn").Model(nnx.Rngs(0))
    shapes = {
        "/".join(map(str, p)): v.shape for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }
    assert shapes["conv2d_1/kernel"] == (3, 3, 1, 4) and shapes["conv2d_1/bias"] == (4,)
    assert shapes["conv2d_2/kernel"] == (3, 3, 4, 6)
    assert model(jnp.ones((2, 8, 8, 1))).shape == (2, 3)


def test_setting_the_helper_after_construction_keeps_the_numbers():
    """What backend tuning does to a built model: same parameters, same outputs."""
    conv = nnx.Conv(3, 5, kernel_size=(3, 3), strides=(2, 2), rngs=nnx.Rngs(2))
    x = jnp.asarray(np.random.default_rng(2).normal(size=(2, 9, 9, 3)), jnp.float32)
    native = conv(x)
    conv.conv_general_dilated = helper()
    np.testing.assert_allclose(conv(x), native, rtol=1e-5, atol=1e-5)
