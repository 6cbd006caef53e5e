"""CANONICAL: XLA's own convolution with gradients written in its canonical layout, the CPU lowering
of nnx.Conv that also runs fast inside lax.scan (bench/convrule.py)."""

from __future__ import annotations

from ...expr import Snippet

CANONICAL = Snippet(
    "canonical_conv",
    '''
def canonical_conv(x, kernel, window_strides, padding, *, lhs_dilation=None, rhs_dilation=None,
                   dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """The convolution of nnx.Conv (channels last, kernel HWIO), chosen by backend when traced.

    On CPU: XLA's convolution, with its two gradients written as convolutions in the same
    channels-last layout (the input gradient over the flipped kernel, the kernel gradient with
    channels as the batch). JAX's own gradients use other dimension orders, which XLA:CPU
    rearranges for its fast convolution outside loops but not inside lax.scan, where they run
    several times slower. Elsewhere, and for grouped convolutions: jax.lax.conv_general_dilated.
    """
    if jax.default_backend() != "cpu" or feature_group_count != 1:
        return jax.lax.conv_general_dilated(
            x, kernel, window_strides, padding, lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count, precision=precision, **kwargs)
    dims = kernel.ndim - 2
    lhs_dilation = tuple(lhs_dilation or (1,) * dims)
    rhs_dilation = tuple(rhs_dilation or (1,) * dims)
    strides, taps = tuple(window_strides), kernel.shape[:dims]
    dilate = lambda n, d: (n - 1) * d + 1
    if isinstance(padding, str):
        padding = jax.lax.padtype_to_pads(
            [dilate(n, d) for n, d in zip(x.shape[1:-1], lhs_dilation)],
            [dilate(k, d) for k, d in zip(taps, rhs_dilation)], strides, padding)
    padding = tuple(tuple(p) for p in padding)
    spatial = "HWD"[:dims]
    spec = ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")
    out_type = kwargs.get("preferred_element_type")

    def conv(a, b, strides, padding, lhs_dilation, rhs_dilation):
        dn = jax.lax.conv_dimension_numbers(a.shape, b.shape, spec)
        return jax.lax.conv_general_dilated(
            a, b, strides, padding, lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
            dimension_numbers=dn, precision=precision, preferred_element_type=out_type)

    @jax.custom_vjp
    def forward(x, kernel):
        return conv(x, kernel, strides, padding, lhs_dilation, rhs_dilation)

    def keep(x, kernel):
        return forward(x, kernel), (x, kernel)

    def gradients(saved, g):
        x, kernel = saved
        sizes = list(zip(x.shape[1:-1], taps, strides, padding, lhs_dilation, rhs_dilation,
                         g.shape[1:-1]))
        # the input's: g, dilated by the strides, against the flipped kernel (in and out swapped)
        flipped = jnp.swapaxes(jnp.flip(kernel, tuple(range(dims))), -1, -2)
        pads = [(dilate(k, rd) - lo - 1, dilate(n, ld) - dilate(o, s) + lo)
                for n, k, s, (lo, _), ld, rd, o in sizes]
        dx = conv(g, flipped, lhs_dilation, pads, strides, rhs_dilation)
        # the kernel's: the input's channels as the batch, its batch as the features
        pads = [(lo, dilate(o, s) - dilate(n, ld) + dilate(k, rd) - lo - 1)
                for n, k, s, (lo, _), ld, rd, o in sizes]
        dk = conv(jnp.moveaxis(x, (0, -1), (-1, 0)), jnp.moveaxis(g, 0, -2), rhs_dilation, pads,
                  lhs_dilation, strides)
        return dx.astype(x.dtype), jnp.moveaxis(dk, 0, -2).astype(kernel.dtype)

    forward.defvjp(keep, gradients)
    return forward(x, kernel)
''',
    backend=True,
)
