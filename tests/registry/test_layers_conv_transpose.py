"""conv1d_transpose / conv2d_transpose: the emitted nnx.Conv over the input dilated by the strides
computes what nnx.ConvTranspose computes with the same kernel (Keras' output sizes), and COL2IM,
its CPU lowering, equals XLA's input-dilated convolution, values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from layer_cases import analysed, load, module_source

from nncompile.compiler import analyse
from nncompile.registry.layers import COL2IM, LAYERS
from nncompile.source import Source

CASES = [  # dims, kernel, strides, padding, input steps
    (2, 3, 2, "same", 4),
    (2, 3, 2, "valid", 4),
    (2, 4, 2, "same", 3),
    (2, [3, 2], [2, 1], "valid", 5),
    (2, 2, 3, "same", 3),
    (2, 1, 2, "valid", 3),  # kernel < stride: Keras' (n - 1) * s + k, not lax's n * s
    (1, 5, 3, "valid", 4),
    (1, 3, 1, "same", 6),
    (1, 2, 4, "valid", 3),
]


def built(dims, kernel, strides, padding, steps, channels=3):
    name = f"conv{dims}d_transpose"
    k = kernel if isinstance(kernel, int) else list(kernel)
    s = strides if isinstance(strides, int) else list(strides)
    statement = f"{name}(4, {k}, strides={s}, padding={padding})"
    model = analysed(type(LAYERS[name].example)(statement, (f"{[steps] * dims + [channels]}",)))
    node = model.nodes[-1]
    layer = load(module_source(LAYERS[name].lower(node.params, node.in_shapes, node.shape), 1))
    return layer.M(nnx.Rngs(0)), node


@pytest.mark.parametrize("dims, kernel, strides, padding, steps", CASES)
def test_equals_flax_conv_transpose_with_the_same_kernel(dims, kernel, strides, padding, steps):
    m, node = built(dims, kernel, strides, padding, steps)
    k = tuple(kernel) if isinstance(kernel, list) else (kernel,) * dims
    s = tuple(strides) if isinstance(strides, list) else (strides,) * dims
    ref = nnx.ConvTranspose(3, 4, k, s, padding=padding.upper(), rngs=nnx.Rngs(1))
    ref.kernel[...] = m.layer.kernel[...]
    ref.bias[...] = jnp.arange(4.0)
    m.layer.bias[...] = jnp.arange(4.0)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, *[steps] * dims, 3)), jnp.float32)
    y, want = m(x), ref(x)
    assert y.shape == (2, *node.shape)
    crop = tuple(slice(0, n) for n in node.shape[:-1])  # lax pads valid k < s with bias rows
    np.testing.assert_allclose(y, want[(slice(None), *crop)], atol=1e-5)
    if padding == "valid":  # Keras: (n - 1) * s + k
        assert node.shape[:-1] == tuple((steps - 1) * b + a for a, b in zip(k, s, strict=True))
    else:
        assert node.shape[:-1] == tuple(steps * b for b in s)


def col2im():
    namespace: dict = {"jax": jax, "jnp": jnp}
    exec(COL2IM.needs[0].code, namespace)
    exec(COL2IM.code, namespace)
    return namespace["col2im_conv"]


@pytest.mark.parametrize(
    "taps, dilation, pads, rhs",
    [
        ((3, 3), (2, 2), ((2, 1), (2, 1)), (1, 1)),
        ((3, 2), (3, 1), ((2, 2), (0, 1)), (1, 1)),
        ((3, 3), (2, 2), ((1, 1), (-1, 2)), (2, 1)),  # kernel dilation, cropping pads
        ((4,), (2,), ((3, 3),), (1,)),
        ((3, 3), (1, 1), ((2, 2), (1, 1)), (1, 1)),  # stride 1: im2col_conv with explicit pads
    ],
)
def test_col2im_equals_the_input_dilated_convolution(taps, dilation, pads, rhs):
    rng = np.random.default_rng(1)
    dims = len(taps)
    x = jnp.asarray(rng.normal(size=(2, *[5] * dims, 3)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(*taps, 3, 4)), jnp.float32)
    numbers = ("NHWC", "HWIO", "NHWC") if dims == 2 else ("NHC", "HIO", "NHC")
    kw = dict(lhs_dilation=dilation, rhs_dilation=rhs, dimension_numbers=numbers)
    fn = col2im()

    def native(k):
        return jax.lax.conv_general_dilated(x, k, (1,) * dims, pads, **kw)

    def ours(k):
        return fn(x, k, (1,) * dims, pads, **kw)

    np.testing.assert_allclose(jax.jit(ours)(kernel), native(kernel), rtol=1e-5, atol=1e-4)
    # under jit: one compilation each, not one per eager operation of the gradient (~3x the CPU)
    grads = [jax.jit(jax.grad(lambda k, f=f: jnp.sum(f(k) ** 2)))(kernel) for f in (ours, native)]
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-3)
    # every tap is one slice of the single matmul (or im2col's): no convolution left on CPU
    assert "convolution" not in jax.jit(ours).lower(kernel).as_text()


def test_a_transposed_convolution_on_a_vector_is_a_shape_error_with_a_hint():
    text = "model M { input x: [64]  conv2d_transpose(8, 3, strides=2) }"
    _, diagnostics = analyse(Source(text, "m.nn"))
    (d,) = diagnostics
    assert d.message == (
        "conv2d_transpose expects an input of rank 3 (without the batch axis), "
        "but receives [64] of rank 1"
    )
    assert d.hint == "reshape the data first, e.g. `reshape([4, 4, 8])`"


def test_the_plan_names_col2im_for_transposed_convolutions_of_gans():
    from nncompile.plan import conv_lowering

    text = "model M { input x: [4, 4, 2]  conv2d_transpose(3, 3, strides=2)  conv2d(1, 3) }"
    program, _ = analyse(Source(text, "m.nn"))
    decision = conv_lowering([program.models["M"]], gan=True)
    assert decision.value == "im2col and col2im on CPU"
    assert "conv2d_transpose as col2im" in decision.why
