"""Several inputs and outputs (issue 11): models with two inputs and/or two outputs train, check
their data by name, and predict dicts."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile
from nncompile.errors import DataError

TWO_IN = """
model Two {
  input a: [5]
  input b: [3]
  ha = dense(16, activation=relu)(a)
  hb = dense(16, activation=relu)(b)
  c = concat(ha, hb)
  dense(2, activation=softmax)
}
data none { source: npz("unused.npz", x=["a", "b"]) }
train { model: Two data: none loss: categorical_crossentropy epochs: 30 batch_size: 32
        optimizer: adam(lr=1e-2) metrics: [accuracy] }
"""


def arrays(n: int = 400, seed: int = 0):
    r = np.random.default_rng(seed)
    a = r.normal(size=(n, 5)).astype("f4")
    b = r.normal(size=(n, 3)).astype("f4")
    label = ((a[:, 0] + b[:, 0]) > 0).astype("i4")  # needs both inputs
    value = (a[:, 1] - 2 * b[:, 1]).astype("f4")[:, None]
    return a, b, label, value


def test_two_inputs_train_and_predict():
    a, b, label, _ = arrays()
    p = nncompile.compile(text=TWO_IN)
    assert "def __call__(self, a, b):" in p.source
    assert "model(x['a'], x['b'])" in p.source
    x = {"a": a[:300], "b": b[:300]}
    xv = {"a": a[300:], "b": b[300:]}
    history = p.fit(data={"train": (x, label[:300]), "val": (xv, label[300:])})
    last = history.epochs[-1]
    assert last["val_accuracy"] >= 0.85, last
    probs = p.predict(xv)
    assert probs.shape == (100, 2)
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-5)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (
            lambda a, b: {"a": a},
            "train split: the data has no input 'b'; the model's inputs are a, b",
        ),
        (
            lambda a, b: {"a": a, "b": b, "c": b},
            "train split: the data has an unknown input 'c'; the model's inputs are a, b",
        ),
        (lambda a, b: a, "the model has several inputs (a, b), but the data gives one array"),
        (
            lambda a, b: {"a": a, "b": a},
            "(input b): the train split has examples of shape [5], but the model takes [3]",
        ),
        (
            lambda a, b: {"a": a, "b": b[:10]},
            "the named arrays have different numbers of examples ([10, 400])",
        ),
    ],
)
def test_inputs_are_checked_by_name_and_shape(x, message):
    a, b, label, _ = arrays()
    p = nncompile.compile(text=TWO_IN)
    with pytest.raises(DataError) as e:
        p.fit(data={"train": (x(a, b), label)}, epochs=1)
    assert message in str(e.value)
