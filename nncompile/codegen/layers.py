"""Emission helpers for layers: a node's lowering from its registry entry, and mixed precision.

The lowerings themselves live with the entries (nncompile/registry/layers/, activations.py); the
facts the plan reads from them (convolutions, emitters, activation sizes) are in nncompile.plan.
"""

from __future__ import annotations

from ..expr import Call, Snippet, Sym
from ..registry.activations import activation_call
from ..registry.layers import CANONICAL, COL2IM, IM2COL, LAYERS
from ..registry.lowering import Code, Lowered
from ..semantics import ir

__all__ = ["Lowered", "activation_call", "compute_dtype", "conv_tuning", "lower_layer"]


def lower_layer(node: ir.Node) -> Lowered:
    """A layer node as code, by its entry's lowering."""
    return LAYERS[node.kind].lower(node.params, node.in_shapes, node.shape)


def conv_tuning(lowering: str) -> Snippet | None:
    """The function every nnx.Conv computes through on CPU, by the plan's conv lowering."""
    tunings = {
        "none": None,
        "im2col on CPU": IM2COL,
        "canonical gradients on CPU": CANONICAL,
    }
    return tunings.get(lowering, COL2IM)


# layers whose matmuls/convolutions run in the compute dtype with `precision: bfloat16`. Not the
# recurrent cells: nnx.RNN starts their carry in the parameters' dtype (float32), and a cell
# computing in bfloat16 returns a bfloat16 carry, which its scan refuses ("carry input and carry
# output must have equal types"; found by the generated specs of tests/test_lang_fuzz_specs.py)
COMPUTE_DTYPE_LAYERS = {"nnx.Linear", "nnx.Conv", "nnx.Embed", "nnx.MultiHeadAttention"}


def compute_dtype(init: Code) -> Code:
    """A layer constructor with ``dtype=COMPUTE_DTYPE, param_dtype=jnp.float32`` (mixed precision:
    the parameters, their gradients and the optimizer stay float32; normalisation layers, which get
    no dtype, compute in float32 because their float32 parameters promote their inputs)."""
    if not isinstance(init, Call):
        return init
    args = tuple(compute_dtype(a) for a in init.args)
    kwargs = tuple((k, compute_dtype(v)) for k, v in init.kwargs)
    if init.fn in COMPUTE_DTYPE_LAYERS:
        kwargs = (
            *[kv for kv in kwargs if kv[0] != "rngs"],
            ("dtype", Sym("COMPUTE_DTYPE")),
            ("param_dtype", Sym("jnp.float32")),
            *[kv for kv in kwargs if kv[0] == "rngs"],
        )
    return Call(init.fn, args, kwargs)
