"""`precision: bfloat16`: layers compute in bfloat16, parameters/gradients/optimizer stay float32,
loss in float32."""

import re

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import nncompile.api as api

SPEC = """
data images {{ source: sklearn("digits")  split: {{train: 0.8, test: 0.2}}  normalize: minmax
               reshape: [8, 8, 1] }}
model M {{
  input x: [8, 8, 1]
  conv2d(4, 3, activation=relu)
  flatten()
  dense(16, activation=relu)
  batch_norm()
  dense(10, activation=softmax)
}}
train {{ model: M  data: images  loss: categorical_crossentropy  batch_size: 32  epochs: 2{extra} }}
"""


def test_bfloat16_lowering_and_training():
    program = api.compile(text=SPEC.format(extra="  precision: bfloat16"))
    src = program.source
    flat = (
        re.sub(r"\s+", " ", src).replace("( ", "(").replace(", )", ")")
    )  # calls wrapped over lines, joined
    assert "COMPUTE_DTYPE = jnp.bfloat16" in src and program.config["precision"] == "bfloat16"
    assert (
        flat.count("dtype=COMPUTE_DTYPE, param_dtype=jnp.float32") == 3
    )  # conv and both dense layers
    norm = flat[flat.index("nnx.BatchNorm(") :].split(")")[0]
    assert "COMPUTE_DTYPE" not in norm  # normalisation in float32
    assert "outputs = model(x).astype(jnp.float32)" in src
    m = program.module
    model = m.make_model(0)
    x = jnp.ones((2, 8, 8, 1))
    assert (
        model.conv2d_1(x).dtype == jnp.bfloat16
        and model.dense_1(jnp.ones((2, 256))).dtype == jnp.bfloat16
    )
    loss, outputs = m.loss_fn(model, x, jnp.array([1, 2]))
    assert loss.dtype == jnp.float32 and outputs.dtype == jnp.float32
    assert m.predict(model, x).dtype == jnp.float32
    from sklearn.datasets import load_digits

    d = load_digits()
    xs, ys = (
        (d.data[:256] / 16.0).astype(np.float32).reshape(-1, 8, 8, 1),
        d.target[:256].astype(np.int32),
    )
    history = program.fit({"train": (xs, ys)}, epochs=3, log=lambda line: None)
    assert history.epochs[-1]["loss"] < history.epochs[0]["loss"]
    params = jax.tree.leaves(nnx.state(program.trainer.model, nnx.Param))
    assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}  # float32 master weights


def test_float32_is_the_default_and_emits_nothing_extra():
    program = api.compile(text=SPEC.format(extra=""))
    src = program.source
    assert "COMPUTE_DTYPE" not in src and program.config["precision"] == "float32"
    assert "astype(jnp.float32)" not in src
