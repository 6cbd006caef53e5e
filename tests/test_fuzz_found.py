"""What the generated specs (bench/fuzz_specs.py, package fuzz) found: specs that passed `check`
and then failed when training started. Each is now refused by `check` at the line to change."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile

SEVERAL = """\
model M {
  input a: [2]
  input b: [3]
  h = concat(a, b)
  r = repeat(4)(h)
  s = lstm(3, return_sequences=true)(r)
  y = dense(1)(s)
  OUTPUTS
}
train { model: M  loss: mse  epochs: 1  batch_size: full }
"""


@pytest.mark.slow
@pytest.mark.parametrize("outputs", ["output y", "z = dense(2)(h)\n  output y, z"])
def test_sampling_a_model_of_several_inputs_or_outputs(outputs):
    """(TypeError "unhashable type: 'slice'": sample cut the dict of a model's inputs like an
    array)"""
    from nncompile.runtime.sampling import SampleError

    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(8, 2)), "b": rng.normal(size=(8, 3))}
    y = rng.normal(size=(8, 4, 1))
    program = nncompile.compile(text=SEVERAL.replace("OUTPUTS", outputs))
    if "z" in outputs:
        program.fit(data={"train": (x, {"y": y, "z": rng.normal(size=(8, 2))})}, verbose=False)
        with pytest.raises(SampleError, match=r"one output; this model has several \(y, z\)"):
            program.sample(2)
    else:
        program.fit(data={"train": (x, y)}, verbose=False)
        drawn = program.sample(2)
        assert drawn.kind == "sequences" and drawn.values.shape == (2, 4, 1)
