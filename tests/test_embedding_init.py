"""`embedding(vocab, dim, init=...)`: the table's initializer (Keras users match Keras's uniform
+-0.05 with `init=uniform(0.05)`); without it the program is the one emitted before."""

from __future__ import annotations

import numpy as np

from nncompile import api
from nncompile.codegen.load import load_module

SPEC = """\
model M {{
  input tokens: int[6]
  embedding(40, 8{init})
  global_avg_pool()
  dense(2, activation=softmax)
}}
train {{ model: M  loss: categorical_crossentropy  epochs: 1  batch_size: 4 }}
"""


def table(init: str) -> np.ndarray:
    program = api.compile(text=SPEC.format(init=init))
    model = load_module(program.source, "m.nn").make_model(0)
    return np.asarray(model.embedding_1.embedding[...]), program.source


def test_the_table_follows_init_and_the_default_program_is_unchanged():
    uniform, source = table(", init=uniform(0.05)")
    assert "embedding_init=" in source
    assert uniform.shape == (40, 8) and np.abs(uniform).max() <= 0.05
    assert uniform.min() < -0.03 and uniform.max() > 0.03  # symmetric, as documented
    default, plain = table("")
    assert "embedding_init" not in plain
    assert np.abs(default).max() > 0.1  # Flax's normal(1/sqrt(dim)): not the uniform table
