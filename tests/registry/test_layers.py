"""Table tests over every layer entry (a new entry is picked up automatically, with its example):
its arguments validate, its shape rule, parameter count and `batch_statistics` flag agree with the
Flax module its lowering builds, the lowering renders to code that compiles once, and it is
documented."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from layer_cases import analysed, load, module_source

from nncompile.codegen.emit import emit_model
from nncompile.codegen.load import load_module
from nncompile.expr import render
from nncompile.registry.layers import LAYERS, Example, Layer
from nncompile.runtime.shards import shardable

# cases beyond the entries' own examples: argument values whose lowering takes another path
MORE = [
    ("bidirectional", Example("bidirectional(gru(5), merge=sum)", ("[6, 3]",))),
    (
        "bidirectional",
        Example("bidirectional(simple_rnn(5, return_sequences=true), merge=sum)", ("[6, 3]",)),
    ),
    ("bidirectional", Example("bidirectional(lstm(4, return_sequences=true))", ("[6, 3]",))),
    ("conv2d", Example("conv2d(4, 1, use_bias=false, init=he_normal)", ("[5, 5, 2]",))),
    ("conv1d", Example("conv1d(4, 3)", ("[9, 2]",))),
    ("max_pool", Example("max_pool(3, strides=1, padding=same)", ("[10, 2]",))),
    ("batch_norm", Example("batch_norm(0.9, epsilon=1e-5)", ("[4]",))),
    ("primary_caps", Example("primary_caps(2, 4, kernel=[3, 2], padding=same)", ("[6, 6, 3]",))),
    ("concat", Example("concat(a, b, c)", ("[2, 3]", "[2, 1]", "[2, 4]"))),
    ("add", Example("add(a, b, c)", ("[4]", "[4]", "[4]"))),
    ("reshape", Example("reshape([2, 3, 2])", ("[12]",))),
]
CASES = [(e.name, e.example) for e in LAYERS.entries()] + MORE
IDS = [f"{name}:{example.statement}" for name, example in CASES]


def test_every_entry_is_a_documented_layer_with_an_example():
    for entry in LAYERS.entries():
        assert isinstance(entry, Layer)
        assert entry.doc, f"{entry.name} has no doc"
        assert entry.example.statement.startswith(entry.name), f"{entry.name}: another layer"
        assert set(entry.positional) <= set(entry.params.model_fields), entry.name


@pytest.mark.parametrize("name, example", CASES, ids=IDS)
def test_lowering_matches_the_shape_rule_and_parameter_count(name, example):
    model = analysed(example)  # the arguments validate, the shape rule runs
    node = model.nodes[-1]
    assert node.kind == name
    lowered = LAYERS[name].lower(node.params, node.in_shapes, node.shape)
    built = load(module_source(lowered, len(model.inputs))).M(nnx.Rngs(0))
    args = [
        jax.ShapeDtypeStruct((2, *t.shape), jnp.int32 if t.dtype == "int32" else jnp.float32)
        for t in model.inputs
    ]
    graphdef, state = nnx.split(built)
    out = jax.eval_shape(lambda s, *a: nnx.merge(graphdef, s)(*a), state, *args)
    assert out.shape == (2, *node.shape), f"{name}: flax {out.shape}, shape rule {node.shape}"
    params = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(built, nnx.Param)))
    stats = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(built, nnx.BatchStat)))
    assert params + stats == node.param_count, f"{name}: flax {params}+{stats}, {node.param_count}"
    # the flag `check` refuses `logical_shards:` by is what the trainer sees in the module
    # (a layer's loss term, gaussian_sample's KL, is state too: refused by its own check)
    keeps = LAYERS[name].batch_statistics or LAYERS[name].loss_term is not None
    assert keeps == (not shardable(built)), name


@pytest.mark.parametrize("name", list(LAYERS))
def test_lowering_compiles_once_and_runs(name):
    example = LAYERS[name].example
    model = analysed(example)
    node = model.nodes[-1]
    built = load(
        module_source(
            LAYERS[name].lower(node.params, node.in_shapes, node.shape), len(model.inputs)
        )
    ).M(nnx.Rngs(0))
    built.eval()
    graphdef, state = nnx.split(built)
    traces = []

    @jax.jit
    def forward(state, *xs):
        traces.append(1)
        return nnx.merge(graphdef, state)(*xs)

    rng = np.random.default_rng(0)
    args = [
        jnp.asarray(rng.integers(0, 5, (2, *t.shape)), jnp.int32)
        if t.dtype == "int32"
        else jnp.asarray(rng.normal(size=(2, *t.shape)), jnp.float32)
        for t in model.inputs
    ]
    y = forward(state, *args)
    forward(state, *[a + 1 for a in args])
    assert len(traces) == 1
    assert y.shape == (2, *node.shape) and bool(jnp.all(jnp.isfinite(y)))


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_example_emits_as_a_model(name):
    """The same examples through the whole code generator (classes, snippets, backend tuning)."""
    model = analysed(LAYERS[name].example)
    module = load_module(emit_model(model, "example.nn"), "example.nn")
    built = module.Model(nnx.Rngs(0))
    args = [
        jax.ShapeDtypeStruct((2, *t.shape), jnp.int32 if t.dtype == "int32" else jnp.float32)
        for t in model.inputs
    ]
    graphdef, state = nnx.split(built)
    out = jax.eval_shape(lambda s, *a: nnx.merge(graphdef, s)(*a), state, *args)
    assert out.shape == (2, *model.nodes[-1].shape)


@pytest.mark.parametrize(
    "statement, inputs, text",
    [
        (
            "conv2d(8)",
            ("[9, 9, 3]",),
            "nnx.Conv(3, 8, kernel_size=(3, 3), kernel_init=KERNEL_INIT, rngs=rngs)",
        ),
        (
            "conv2d(8, 3, strides=2, padding=valid, use_bias=false)",
            ("[9, 9, 3]",),
            "nnx.Conv(3, 8, kernel_size=(3, 3), strides=(2, 2), padding='VALID', use_bias=False, "
            "kernel_init=KERNEL_INIT, rngs=rngs)",
        ),
        ("dense(4)", ("[8]",), "nnx.Linear(8, 4, kernel_init=KERNEL_INIT, rngs=rngs)"),
        ("batch_norm()", ("[8]",), "nnx.BatchNorm(8, epsilon=0.001, rngs=rngs)"),
        ("layer_norm()", ("[8]",), "nnx.LayerNorm(8, rngs=rngs)"),
        (
            "lstm(4, activation=tanh)",
            ("[5, 2]",),
            "LSTM(2, 4, kernel_init=KERNEL_INIT, rngs=rngs)",
        ),
        (
            "gru(4, activation=relu)",
            ("[5, 2]",),
            "GRU(2, 4, kernel_init=KERNEL_INIT, activation=jax.nn.relu, rngs=rngs)",
        ),
        (
            "lstm(4, activation=leaky_relu(0.2))",
            ("[5, 2]",),
            "LSTM(2, 4, kernel_init=KERNEL_INIT, "
            "activation=lambda v: jax.nn.leaky_relu(v, negative_slope=0.2), rngs=rngs)",
        ),
        ("primary_caps(2, 4)", ("[6, 6, 3]",), "PrimaryCapsules(3, 2, 4, (3, 3), rngs=rngs)"),
    ],
)
def test_lowerings_leave_library_defaults_out(statement, inputs, text):
    node = analysed(Example(statement, inputs)).nodes[-1]
    low = LAYERS[node.kind].lower(node.params, node.in_shapes, node.shape)
    assert render(low.init) == text


def test_no_lowering_passes_a_convolution_implementation():
    """Backend tuning (im2col on CPU) is set after construction, never in the model's code."""
    for name, example in CASES:
        node = analysed(example).nodes[-1]
        low = LAYERS[name].lower(node.params, node.in_shapes, node.shape)
        code = "".join(
            [render(low.init) if low.init is not None else "", *(s.code for s in low.snippets)]
        )
        assert "conv_general_dilated" not in code and "im2col" not in code, name
