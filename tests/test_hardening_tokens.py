"""Hardening: token ids outside the vocabulary of the embedding (or one_hot) reading them are
refused with the layer named; before, the embedding's lookup gave NaN and training stopped at its
first step advising a lower learning rate."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile
from nncompile.errors import DataError

SPEC = """
model M {
  input t: int[4]
  input u: int[2]
  e = embedding(10, 3)(t)
  f = flatten()(e)
  g = one_hot(5)(u)
  h = flatten()(g)
  c = concat(f, h)
  dense(2, activation=softmax)
}
train { model: M loss: categorical_crossentropy epochs: 1 batch_size: 16 }
"""
R = np.random.default_rng(0)
T, U = R.integers(0, 10, (32, 4)).astype("i4"), R.integers(0, 5, (32, 2)).astype("i4")
Y = R.integers(0, 2, 32).astype("i4")


@pytest.mark.parametrize(
    ("x", "message", "hint"),
    [
        (
            {"t": np.where(T == 3, 12, T), "u": U},
            "the arrays given to fit(), train split: input t holds 15 token id(s) outside 0..9 "
            "(from 0 to 12), but embedding(10, ...) (e) reads ids 0..9",
            "give it 13 ids, embedding(13, ...), or renumber the tokens",
        ),
        (
            {"t": T, "u": np.where(U == 0, -1, U)},
            "the arrays given to fit(), train split: input u holds 13 token id(s) outside 0..4 "
            "(from -1 to 4), but one_hot(5) (g) reads ids 0..4",
            "token ids start at 0: renumber the tokens",
        ),
    ],
)
def test_ids_outside_the_vocabulary_are_refused(x, message, hint):
    bad = int(((x["t"] >= 10) | (x["t"] < 0)).sum() + ((x["u"] >= 5) | (x["u"] < 0)).sum())
    assert f"holds {bad} token" in message  # (the count is the data's)
    with pytest.raises(DataError) as e:
        nncompile.compile(text=SPEC).fit(data={"train": (x, Y)})
    assert str(e.value).splitlines()[0] == message
    assert e.value.hint == hint


def test_predict_checks_the_ids_too():
    p = nncompile.compile(text=SPEC)
    p.fit(data={"train": ({"t": T, "u": U}, Y)})
    with pytest.raises(DataError, match=r"^the inputs given to predict\(\): input t holds 1 token"):
        p.predict({"t": np.where(np.arange(T.size).reshape(T.shape) == 0, 10, T), "u": U})
