"""The plan's convolution rule: how nnx.Conv computes on CPU (canonical_conv, im2col, col2im or
XLA's own), measured by bench/convrule.py and bench/conv_transpose.py."""

from __future__ import annotations

from ..registry.layers import LAYERS
from ..semantics import ir
from .facts import Decision, layer_nodes, model_layers


def _convolutional(model: ir.Model) -> list[str]:
    return sorted({e.name for e in model_layers(model) if e.convolution})


COL2IM_ON_CPU = "im2col and col2im on CPU"
CANONICAL_ON_CPU = "canonical gradients on CPU"
# strided or transposed with at least this many in x out channels: im2col / col2im (between the
# conv autoencoder, <= 128: canonical 0.36-0.48x, and W5's decoder, >= 2048: 2.6x; two points)
CANONICAL_MAX_RESAMPLING = 512


def _resampling(models: list[ir.Model]) -> list[tuple[str, int]]:
    """The strided or transposed convolutions, as (`kind(in x out)`, in x out channels)."""
    out = []
    for m in models:
        for n in layer_nodes(m):
            entry, p = LAYERS.get(n.kind), n.params
            # (primary_caps: capsules x dim output channels)
            filters = getattr(p, "filters", None) or getattr(p, "capsules", 0) * getattr(
                p, "dim", 0
            )
            if entry is None or not entry.convolution or not filters or not n.in_shapes:
                continue
            strides = getattr(p, "strides", 1)
            strided = any(s != 1 for s in (strides if isinstance(strides, list) else [strides]))
            if strided or entry.col2im:
                c = n.in_shapes[0][-1]
                out.append((f"{n.kind}({c} x {filters})", c * filters))
    return out


def conv_lowering(models: list[ir.Model], *, gan: bool = False) -> Decision[str]:
    """How nnx.Conv computes on CPU. JAX's convolution gradients are slow inside lax.scan on
    XLA:CPU (jax-ml/jax#12868: 13-14x); written channels-last (CANONICAL) they are fast, and for
    narrow strided or transposed convolutions faster than im2col (conv autoencoder: 3.11 vs 6.52
    CPU ms a scan-fused step, bench/convrule.py, bench/results/autotune.md section 5). Stride-1
    convolutions keep im2col (W2: 8.2-9.3k examples/s against 5.8-7.0k with canonical gradients,
    quiet machine, fresh processes alternated), wide resampling ones (CANONICAL_MAX_RESAMPLING)
    im2col / col2im (W5's decoder: 2.6x slower with canonical gradients), and so do GANs."""
    conv = sorted({k for m in models for k in _convolutional(m)})
    if not conv:
        return Decision("none", "no convolutions")
    transposed = sorted({e.name for m in models for e in model_layers(m) if e.col2im})
    resampling = [] if gan else _resampling(models)
    heavy = [name for name, c in resampling if c >= CANONICAL_MAX_RESAMPLING]
    if resampling and not heavy:
        return Decision(
            CANONICAL_ON_CPU,
            f"{', '.join(name for name, _ in resampling)}: narrow strided or transposed "
            "convolutions: on XLA:CPU, XLA's own convolution with both gradients written as "
            "channels-last convolutions (canonical_conv), fast inside lax.scan; 0.48 of the CPU "
            "time of im2col per scan-fused step on the conv autoencoder (bench/convrule.py); "
            "GPU/TPU keep the native one",
        )
    why = (
        f"{', '.join(conv)}: on XLA:CPU a convolution written as im2col (shifted "
        "views and one matmul) is faster and stays fast inside lax.scan; "
        "GPU/TPU keep the native one"
    )
    if heavy:
        why = (
            f"{', '.join(heavy)}: strided or transposed with in x out channels >= "
            f"{CANONICAL_MAX_RESAMPLING}, where canonical gradients lose (a decoder of such ran "
            "2.6x slower with them than with col2im, bench/conv_transpose.py); " + why
        )
    if not transposed:
        return Decision("im2col on CPU", why)
    return Decision(
        COL2IM_ON_CPU,
        f"{why}; {', '.join(transposed)} as col2im (one matmul, the taps' products summed on the "
        "output grid): a scan-fused epoch takes 1/1.2 to 1/6.5 of the CPU time of the native "
        "input-dilated convolution (bench/conv_transpose.py)",
    )
