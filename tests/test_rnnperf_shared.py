"""The recurrent layers share one emitted form (registry/layers/recurrent.py's RecurrentLayer): the
options, the inputs' projection, the initial carry and the time loop are written once; a kind only
draws its kernels and defines its cell (the GRU: its loop, with a hand-written backward). Outputs,
states and gradients against Flax's cells: tests/test_perf_recurrent.py, test_rnnperf_vjp.py."""

from __future__ import annotations

import ast

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from nncompile.codegen.emit import emit_model
from nncompile.codegen.load import load_module
from nncompile.compiler import analyse
from nncompile.expr import in_order
from nncompile.registry.layers.recurrent import LAYERS, RECURRENT_LAYER
from nncompile.source import Source


def layer_class(kind: str) -> type:
    ns = {"jax": jax, "jnp": jnp, "nnx": nnx}
    for s in in_order([LAYERS[kind]]):
        exec(s.code, ns)  # the snippets as the emitted program holds them
    return ns[LAYERS[kind].name]


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_a_kind_is_its_parameters_and_its_cell_on_the_shared_loop(kind):
    snippet = LAYERS[kind]
    assert snippet.needs == (RECURRENT_LAYER,)
    (cls,) = ast.parse(snippet.code).body
    assert isinstance(cls, ast.ClassDef)
    assert [ast.unparse(b) for b in cls.bases] == ["RecurrentLayer"]
    methods = {f.name for f in cls.body if isinstance(f, ast.FunctionDef)}
    assert methods == ({"__init__", "loop"} if kind == "gru" else {"__init__", "cell"})
    assert "initial_carry" not in snippet.code and "def options" not in snippet.code


def test_a_model_of_every_kind_emits_the_loop_once_and_runs():
    body = "input x: [6, 3]\nlstm(4, return_sequences=true)\ngru(5, return_sequences=true)\n"
    program, diagnostics = analyse(Source(f"model M {{\n{body}simple_rnn(2)\n}}\n", "rnn.nn"))
    assert program is not None and not [d for d in diagnostics if d.severity == "error"]
    source = emit_model(program.models["M"], "rnn.nn")
    assert source.count("class RecurrentLayer(") == 1
    assert source.count("initial_carry=None") == 1
    model = load_module(source, "rnn.nn").Model(nnx.Rngs(0))
    assert model(jnp.ones((2, 6, 3))).shape == (2, 2)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_hoist_and_unroll_are_options_that_keep_the_function(kind):
    cls = layer_class(kind)
    x = jax.random.normal(jax.random.key(1), (3, 7, 2))

    def make(**kw):
        return cls(2, 4, kernel_init=nnx.initializers.glorot_uniform(), rngs=nnx.Rngs(0), **kw)

    default = make(sequences=True)
    assert default.hoist is type(default).hoist  # the class's default unless given
    want = default(x)
    for kw in ({"hoist": not default.hoist}, {"unroll": 3}):
        layer = make(sequences=True, **kw)
        assert layer.hoist is kw.get("hoist", type(layer).hoist)
        np.testing.assert_allclose(layer(x), want, rtol=1e-5, atol=1e-6)
    states, out = make(reverse=True, unroll=2)(x, return_carry=True)
    np.testing.assert_allclose(out, make(sequences=True, reverse=True)(x)[:, 0], atol=1e-6)
    first = states[0] if kind == "lstm" else states
    np.testing.assert_allclose(first, out, atol=0)
