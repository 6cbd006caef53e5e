"""Emitted programs stand alone: every one parses, and one of each family imports, builds and
takes a training step in a subprocess that never imports nncompile (the code can be taken away and
run with jax/flax/optax).

The subprocess uses JAX's persistent compilation cache in nncompile's cache folder (unless
NNCOMPILE_CACHE=0), as every training run of the suite does: set through JAX's own environment
variables, so the program still needs nothing of nncompile. Building the models runs their
initializers eagerly, one compilation per operation and shape: ~50 CPU s on a cold cache, ~8 s on a
warm one."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from nncompile.codegen.emit import emit_program
from nncompile.compiler import load_spec
from nncompile.runtime import jaxcache

ROOT = Path(__file__).resolve().parents[2]

RUNNER = r"""
import importlib.util, json, sys
import jax, jax.numpy as jnp
from flax import nnx
results = {}
for path, x_shape, x_dtype, y_shape, y_dtype in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location("program", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    if m.CONFIG.get("kind") == "gan":
        g, d = m.make_models(0)
        gt, dt = m.make_optimizers(4, 2)
        go, do = nnx.Optimizer(g, gt, wrt=nnx.Param), nnx.Optimizer(d, dt, wrt=nnx.Param)
        batch = [jnp.zeros((4, *x_shape))]
        if m.CONFIG["gan"].get("condition"):  # a conditional GAN: the batch's class ids too
            batch.append(jnp.zeros((4,), jnp.int32))
        loss, _ = nnx.jit(m.train_step)(g, d, go, do, *batch, jax.random.key(0))
    else:
        model = m.make_model(0)
        opt = nnx.Optimizer(model, m.make_optimizer(4, 2), wrt=nnx.Param)
        x = jnp.zeros((4, *x_shape), x_dtype)
        y = jnp.zeros((4, *y_shape), y_dtype)
        loss, _ = nnx.jit(m.train_step)(model, opt, x, y, jax.random.key(0))
    results[path] = float(loss)
assert not [k for k in sys.modules if k.split(".")[0] == "nncompile"], "nncompile was imported"
print(json.dumps(results))
"""


# every emitted program is parsed; one program of each family also runs in the subprocess
# (building a model runs its initializers eagerly, ~1-3 s a program on 2 cores)
STEPPED = {
    ("digits_mlp", "main"),
    ("digits_cnn", "main"),
    ("char_rnn", "main"),
    ("sine_generator", "main"),
    ("perceptron", "main"),
    ("residual_mlp", "main"),
}


def _targets(train):
    out = train.model.outputs[0].shape
    task, one_hot = train.data.info.task, train.data.props.one_hot
    if task == "sequence" and not one_hot:
        return list(out[:-1]), "int32"
    if task == "classification" and not one_hot and train.props.loss.name != "binary_crossentropy":
        return [], "int32"
    if train.props.loss.name == "binary_crossentropy":
        return [], "int32"
    return list(out), "float32"


def _jax_cache() -> dict[str, str]:
    """JAX's environment for the persistent cache nncompile's runtime uses (none when it is off or
    the user set JAX's own)."""
    if not jaxcache.enabled() or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return {}
    folder = jaxcache.default_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # read-only home: no cache, as in nncompile's runtime
        return {}
    return {
        "JAX_COMPILATION_CACHE_DIR": str(folder),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def test_emitted_programs_run_without_nncompile(tmp_path):
    jobs = []
    for spec in sorted((ROOT / "specs").glob("*.nn")):
        program = load_spec(spec)
        for name, train in program.trains.items():
            source = emit_program(program, name)
            ast.parse(source)
            path = tmp_path / f"{spec.stem}_{name}.py"
            path.write_text(source)
            if train.model is None:
                jobs.append(
                    (str(path), list(train.generator.outputs[0].shape), "float32", [], "float32")
                )
            elif (spec.stem, name) in STEPPED:
                x = train.model.inputs[0]
                jobs.append((str(path), list(x.shape), x.dtype, *_targets(train)))
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(jobs)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        env={**os.environ, **_jax_cache()},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    losses = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(losses) == len(jobs)
