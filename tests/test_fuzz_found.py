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


def test_a_metric_of_the_other_task_with_several_inputs_is_a_diagnostic(tmp_path):
    """(3 of 20 generated several-input specs: `mse` on class ids crashed the first epoch with a
    TypeError, reshaping the ids to the output's shape; one input gave this DataError already)"""
    from nncompile.errors import DataError

    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        a=rng.normal(size=(12, 4)),
        b=rng.normal(size=(12, 2)),
        c=np.arange(12) % 3,
    )
    (tmp_path / "s.nn").write_text(
        'data d { source: npz("d.npz", x=["a", "b"], y="c")  split: {train: 1} }\n'
        "model M { input a: [4]  input b: [2]  h = concat(a, b)\n"
        "          c = dense(3, activation=softmax)(h) }\n"
        "train { model: M  data: d  loss: categorical_crossentropy  metrics: [accuracy, mse] }\n"
    )
    program = nncompile.compile(str(tmp_path / "s.nn"))
    with pytest.raises(DataError, match="metric mse is for regression, but the targets are class"):
        program.splits()
