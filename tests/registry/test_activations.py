"""Table tests over every activation and initializer entry (new ones are picked up automatically):
the example validates where a spec uses the name, the lowering renders and runs; it has a doc."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from layer_cases import analysed, load, module_source

from nncompile.compiler import analyse
from nncompile.expr import Sym, in_order, render
from nncompile.registry.activations import (
    ACTIVATIONS,
    INITIALIZERS,
    Activation,
    Initializer,
    activation_call,
    activation_fn,
)
from nncompile.registry.layers import LAYERS, Example
from nncompile.source import Source

X = np.linspace(-3, 3, 16, dtype=np.float32).reshape(2, 8)


def use(entry) -> str:
    return entry.example or entry.name


@pytest.mark.parametrize("entry", ACTIVATIONS.entries(), ids=lambda e: e.name)
def test_activation(entry):
    assert isinstance(entry, Activation) and entry.doc
    refs = []
    for statement in (f"dense(8, activation={use(entry)})", use(entry)):  # argument, statement
        node = analysed(Example(statement)).nodes[-1]
        refs.append(node.params if node.kind == "activation" else node.params.activation)
    assert [r.name for r in refs] == [entry.name] * 2 and refs[0].params == refs[1].params
    ref = refs[0]
    snippets = [s.code for s in in_order(set(entry.snippets))]
    body = render(activation_call(ref, Sym("x")))
    text = "\n".join(
        [
            "import jax",
            "import jax.numpy as jnp",
            *snippets,
            "def f(x):",
            f"    return {body}",
            "",
            f"g = {render(activation_fn(ref))}",
            "",
        ]
    )
    module = load(text)
    y = jax.jit(module.f)(X)
    assert y.shape == X.shape and bool(jnp.all(jnp.isfinite(y)))
    np.testing.assert_allclose(module.g(X), y, rtol=1e-6)  # as a function value (recurrent cells)


@pytest.mark.parametrize("entry", ACTIVATIONS.entries(), ids=lambda e: e.name)
def test_activation_in_a_recurrent_cell(entry):
    node = analysed(Example(f"simple_rnn(3, activation={use(entry)})", ("[4, 2]",))).nodes[-1]
    lowered = LAYERS["simple_rnn"].lower(node.params, node.in_shapes, node.shape)
    built = load(module_source(lowered, 1)).M(nnx.Rngs(0))
    assert built(jnp.ones((2, 4, 2))).shape == (2, 3)


@pytest.mark.parametrize("entry", INITIALIZERS.entries(), ids=lambda e: e.name)
def test_initializer(entry):
    assert isinstance(entry, Initializer) and entry.doc
    bias = "zeros" if entry.matrices_only else use(entry)
    node = analysed(Example(f"dense(6, init={use(entry)}, bias_init={bias})")).nodes[-1]
    assert node.params.init.name == entry.name
    lowered = LAYERS["dense"].lower(node.params, node.in_shapes, node.shape)
    assert {s.name for s in entry.snippets} <= {s.name for s in lowered.snippets}
    built = load(module_source(lowered, 1)).M(nnx.Rngs(0))
    kernel = np.asarray(built.layer.kernel[...])
    assert kernel.shape == (8, 6) and np.all(np.isfinite(kernel))
    assert np.asarray(built.layer.bias[...]).shape == (6,)


@pytest.mark.parametrize(
    "entry", [e for e in INITIALIZERS.entries() if e.matrices_only], ids=lambda e: e.name
)
def test_matrix_initializers_are_no_bias_initializers(entry):
    """Flax cannot compute a fan-in for a bias vector: `check` says so (not `train`, mid-build)."""
    text = f"model M {{ input a: [8]  dense(6, bias_init={entry.name}) }}"
    program, diagnostics = analyse(Source(text, "example.nn"))
    assert program is None
    assert any("cannot initialize a bias" in d.message for d in diagnostics), diagnostics
