"""The emitted `canonical_conv` helper (CANONICAL, nncompile/registry/layers/convgrad.py): XLA's
convolution whose two gradients are written as channels-last convolutions. Same values and the
same gradients as jax.lax.conv_general_dilated (JAX's own transpose rules) for strided, padded,
kernel-dilated and input-dilated (transposed) convolutions, in 1-D and 2-D, inside lax.scan too."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nncompile.registry.layers.conv import transpose_pads
from nncompile.registry.layers.convgrad import CANONICAL


@pytest.fixture(autouse=True)
def on_cpu(monkeypatch):
    """The canonical path (taken when traced on CPU) in full float32 on any backend."""
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    with jax.default_matmul_precision("highest"):
        yield


def helper():
    namespace = {"jax": jax, "jnp": jnp}
    exec(CANONICAL.code, namespace)
    return namespace["canonical_conv"]


CASES = [  # input spatial, kernel, strides, padding, input dilation, kernel dilation
    ((8, 8), (3, 3), (2, 2), "SAME", (1, 1), (1, 1)),
    ((9, 7), (3, 3), (2, 2), "VALID", (1, 1), (1, 1)),
    ((9, 9), (3, 3), (1, 1), "SAME", (1, 1), (2, 2)),
    ((4, 4), (3, 3), (1, 1), (transpose_pads(3, 2, "same"),) * 2, (2, 2), (1, 1)),
    ((3, 4), (3, 2), (1, 1), ((2, 2), (1, 1)), (3, 3), (1, 1)),
    ((20,), (5,), (2,), "VALID", (1,), (1,)),
]


def spec(dims: int) -> tuple[str, str, str]:
    s = "HW"[:dims] if dims < 3 else "HWD"
    return ("N" + s + "C", s + "IO", "N" + s + "C")


@pytest.mark.parametrize("spatial, kernel, strides, padding, lhs, rhs", CASES)
def test_values_and_gradients_equal_xla(spatial, kernel, strides, padding, lhs, rhs):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(3, *spatial, 4)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(*kernel, 4, 5)), jnp.float32)
    dn = jax.lax.conv_dimension_numbers(x.shape, k.shape, spec(len(spatial)))
    ours = helper()

    def loss(f):
        return lambda x, k: jnp.sum(
            jnp.sin(f(x, k, strides, padding, lhs_dilation=lhs, rhs_dilation=rhs,
                      dimension_numbers=dn))
        )  # fmt: skip

    native = loss(jax.lax.conv_general_dilated)
    np.testing.assert_allclose(loss(ours)(x, k), native(x, k), rtol=1e-5)
    ours_grads, native_grads = jax.grad(loss(ours), (0, 1))(x, k), jax.grad(native, (0, 1))(x, k)
    for a, b in zip(ours_grads, native_grads, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_gradients_inside_scan_equal_xla():
    rng = np.random.default_rng(1)
    xs = jnp.asarray(rng.normal(size=(3, 2, 6, 6, 2)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(3, 3, 2, 3)), jnp.float32)
    dn = ("NHWC", "HWIO", "NHWC")

    def run(f):
        grad = jax.grad(lambda k, x: jnp.sum(f(x, k, (2, 2), "SAME", dimension_numbers=dn) ** 2))
        return jax.jit(lambda k: jax.lax.scan(lambda k, x: (k - 0.01 * grad(k, x), None), k, xs))

    np.testing.assert_allclose(
        run(helper())(k)[0], run(jax.lax.conv_general_dilated)(k)[0], rtol=1e-4, atol=1e-5
    )


def test_other_backends_and_groups_use_xla_as_is(monkeypatch):
    dn = ("NHWC", "HWIO", "NHWC")

    def traced(groups: int) -> str:
        x, k = jnp.ones((1, 5, 5, 4)), jnp.ones((3, 3, 4 // groups, 4))
        conv = lambda x: helper()(x, k, (1, 1), "SAME", dimension_numbers=dn,
                                  feature_group_count=groups)  # fmt: skip
        return str(jax.make_jaxpr(jax.grad(lambda x: conv(x).sum()))(x))

    assert "custom_vjp" in traced(1)  # CPU: canonical gradients
    assert "custom_vjp" not in traced(2)  # grouped: XLA's as is
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert "custom_vjp" not in traced(1)  # elsewhere: XLA's as is
