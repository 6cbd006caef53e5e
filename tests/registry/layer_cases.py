"""Shared by the table tests of layers, activations and initializers: analyse a one-layer model and
turn one entry's lowering into a loaded module, without the rest of code generation."""

import ast

from nncompile.codegen.load import load_module
from nncompile.compiler import analyse
from nncompile.expr import Sym, in_order, render
from nncompile.registry.layers import Example
from nncompile.registry.lowering import Lowered
from nncompile.semantics import ir
from nncompile.source import Source

NAMES = "abcdefgh"


def analysed(example: Example) -> ir.Model:
    """The model `M` reading inputs a, b, ... of the example's types, ending in its statement."""
    inputs = "  ".join(f"input {n}: {t}" for n, t in zip(NAMES, example.inputs, strict=False))
    text = f"model M {{ {inputs}  {example.statement} }}"
    program, diagnostics = analyse(Source(text, "example.nn"))
    assert program is not None, (text, [str(d) for d in diagnostics])
    return program.models["M"]


def module_source(lowered: Lowered, inputs: int) -> str:
    """A module with the snippets the lowering needs and a class `M` holding the layer in
    `self.layer`."""
    names = [Sym(n) for n in NAMES[:inputs]]
    lines = [
        "import jax",
        "import jax.numpy as jnp",
        "from flax import nnx",
        "",
        "KERNEL_INIT = nnx.initializers.glorot_uniform()",
        "",
    ]
    for snippet in in_order(set(lowered.snippets)):
        lines += [snippet.code, ""]
    init = "pass" if lowered.init is None else f"self.layer = {render(lowered.init)}"
    lines += [
        "class M(nnx.Module):",
        "    def __init__(self, rngs):",
        f"        {init}",
        "",
        f"    def __call__(self, {', '.join(names)}):",
        f"        return {render(lowered.apply(Sym('self.layer'), names))}",
        "",
    ]
    source = "\n".join(lines)
    ast.parse(source)
    return source


def load(source: str):
    return load_module(source, "example.nn")
