"""Hardening: `nncompile.load(run)` of a run whose spec has no data block (it trained on arrays
given to fit()): predict and export work from the declared input shapes; evaluate asks for data."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile
from nncompile.errors import DataError

ONE = """
model One {
  input a: [5]
  h = dense(8, activation=relu)(a)
  dense(1)
}
train { model: One loss: mse epochs: 1 batch_size: 16 optimizer: adam(lr=1e-2) }
"""
TWO = """
model Two {
  input a: [5]
  input t: int[4]
  e = embedding(10, 3)(t)
  f = flatten()(e)
  ab = concat(a, f)
  h = dense(8, activation=relu)(ab)
  c = dense(3, activation=softmax)(h)
  r = dense(2)(h)
  output c, r
}
train { model: Two loss: {c: categorical_crossentropy, r: mse} epochs: 1 batch_size: 16
        metrics: {c: [accuracy]} }
"""
R = np.random.default_rng(0)
A = R.normal(size=(32, 5)).astype("f4")
T = R.integers(0, 10, (32, 4)).astype("i4")


def trained(text: str, data, run) -> nncompile.Program:
    p = nncompile.compile(text=text)
    p.fit(data={"train": data}, run_dir=run)
    p.save()
    return p


def test_load_without_data_block_predicts_and_asks_for_data_to_evaluate(tmp_path):
    data = (A, A[:, :1] * 2)
    p = trained(ONE, data, tmp_path / "run")
    q = nncompile.load(tmp_path / "run")
    np.testing.assert_array_equal(q.predict(A), p.predict(A))
    with pytest.raises(DataError) as e:
        q.evaluate()
    assert str(e.value).startswith(
        "train main of <string> has no data block, so the loaded run has no test split to "
        "evaluate (it trained on arrays given to fit())"
    )
    assert "program.evaluate(data=(x, y))" in e.value.hint
    assert q.evaluate(data=data) == p.evaluate(data=data)
    with pytest.raises(DataError, match=r"targets of shape \[3\] per example"):
        q.evaluate(data=(A, A[:, :3]))
    q.export(tmp_path / "exported", platforms=("cpu",))
    assert (tmp_path / "exported").exists()


def test_load_without_data_block_several_inputs_and_outputs(tmp_path):
    y = {"c": R.integers(0, 3, 32).astype("i4"), "r": A[:, :2]}
    p = trained(TWO, ({"a": A, "t": T}, y), tmp_path / "run")
    q = nncompile.load(tmp_path / "run")
    got, want = q.predict({"a": A, "t": T}), p.predict({"a": A, "t": T})
    for name in ("c", "r"):
        np.testing.assert_array_equal(got[name], want[name])
    assert q.evaluate(data=({"a": A, "t": T}, y)) == p.evaluate(data=({"a": A, "t": T}, y))
