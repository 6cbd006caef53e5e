"""One table-driven test over every layer entry: the front end's shape rule and parameter count
agree with the Flax module the code generator builds, and the emitted code parses and runs."""
import ast

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from nncompile.compiler import analyse
from nncompile.source import Source
from nncompile.codegen.emit import emit_model
from nncompile.codegen.load import load_module
from nncompile.registry.layers import LAYERS

# layer name -> (model body after the input statement(s), input statements)
EXAMPLES = {
    "dense": ("dense(16, activation=relu, use_bias=false)", "input x: [8]"),
    "dropout": ("dropout(0.5)", "input x: [8]"),
    "batch_norm": ("batch_norm()", "input x: [6, 6, 4]"),
    "layer_norm": ("layer_norm()", "input x: [5, 8]"),
    "conv1d": ("conv1d(8, 3, strides=2, padding=valid)", "input x: [20, 3]"),
    "conv2d": ("conv2d(8, [3, 2], strides=2, activation=relu)", "input x: [9, 9, 3]"),
    "max_pool": ("max_pool(2)", "input x: [8, 8, 3]"),
    "avg_pool": ("avg_pool(3, strides=2, padding=same)", "input x: [9, 9, 3]"),
    "global_avg_pool": ("global_avg_pool()", "input x: [5, 5, 3]"),
    "global_max_pool": ("global_max_pool()", "input x: [7, 3]"),
    "flatten": ("flatten()", "input x: [4, 4, 2]"),
    "reshape": ("reshape([4, -1])", "input x: [16]"),
    "embedding": ("embedding(50, 6)", "input x: int[10]"),
    "simple_rnn": ("simple_rnn(6, return_sequences=true)", "input x: [10, 4]"),
    "lstm": ("lstm(6)", "input x: [10, 4]"),
    "gru": ("gru(6, return_sequences=true)", "input x: [10, 4]"),
    "bidirectional": ("bidirectional(lstm(6))", "input x: [10, 4]"),
    "repeat": ("repeat(5)", "input x: [7]"),
    "add": ("add(a, b)", "input a: [8]  input b: [8]"),
    "multiply": ("multiply(a, b)", "input a: [3, 8]  input b: [3, 8]"),
    "concat": ("concat(a, b, axis=0)", "input a: [2, 8]  input b: [3, 8]"),
    "primary_caps": ("primary_caps(capsules=4, dim=8, kernel=3, strides=2)", "input x: [9, 9, 8]"),
    "capsules": ("capsules(count=10, dim=16, routing=2)", "input x: [12, 8]"),
    "capsule_length": ("capsule_length()", "input x: [10, 16]"),
}


def test_every_layer_has_an_example():
    assert set(EXAMPLES) == set(LAYERS)


def _module(name):
    body, inputs = EXAMPLES[name]
    program, diags = analyse(Source(f"model M {{ {inputs}  {body} }}", "layer.nn"))
    assert program is not None, diags
    model = program.models["M"]
    source = emit_model(model, "layer.nn")
    ast.parse(source)
    return model, load_module(source, "layer.nn")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_layer_shape_and_parameters_match_flax(name):
    model, module = _module(name)
    built = module.Model(nnx.Rngs(0))
    node = model.nodes[-1]
    args = [jnp.zeros((2, *t.shape), jnp.int32 if t.dtype == "int32" else jnp.float32) for t in model.inputs]
    graphdef, state = nnx.split(built)
    out = jax.eval_shape(lambda s, *a: nnx.merge(graphdef, s)(*a), state, *args)
    assert out.shape == (2, *node.shape), f"{name}: flax gives {out.shape}, shape rule {node.shape}"
    counted = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(built, nnx.Param)))
    stats = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(built, nnx.BatchStat)))
    assert counted + stats == model.param_count, f"{name}: flax has {counted}+{stats}, summary says {model.param_count}"


@pytest.mark.parametrize("name", ["dense", "conv2d", "lstm", "capsules"])
def test_layer_step_compiles_once(name):
    model, module = _module(name)
    built = module.Model(nnx.Rngs(0))
    traces = []

    @jax.jit
    def step(state, x):
        traces.append(1)
        m = nnx.merge(graphdef, state)
        return jnp.sum(m(x) ** 2)

    graphdef, state = nnx.split(built)
    x = jnp.ones((2, *model.inputs[0].shape))
    step(state, x)
    step(state, x + 1)
    assert len(traces) == 1
