"""Stated quality on real data with the specs' own defaults (slow-marked; CI runs them)."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

import nncompile.api as api

SPECS = Path(__file__).resolve().parents[1] / "specs"


@pytest.mark.slow
def test_digits_mlp_reaches_97_percent():
    program = api.compile(SPECS / "digits_mlp.nn")
    program.fit()
    assert program.evaluate()["accuracy"] >= 0.97


@pytest.mark.slow
def test_digits_cnn_reaches_98_percent():
    program = api.compile(SPECS / "digits_cnn.nn")
    program.fit()
    assert program.evaluate()["accuracy"] >= 0.98


@pytest.mark.slow
def test_simple_ann_regression_matches_linear_regression():
    """The course's simple ANN on diabetes: test MSE within 10% of LinearRegression (same split)."""
    program = api.compile(SPECS / "simple_ann_regression.nn")
    data = program.load_data()
    (x_train, y_train), (x_test, y_test) = data.splits["train"], data.splits["test"]
    baseline = float(
        np.mean((LinearRegression().fit(x_train, y_train).predict(x_test) - y_test) ** 2)
    )
    program.fit()
    assert program.evaluate()["loss"] <= 1.10 * baseline


@pytest.mark.slow
def test_capsnet_reaches_93_percent():
    program = api.compile(SPECS / "capsnet.nn")
    program.fit()
    assert program.evaluate()["accuracy"] >= 0.93


@pytest.mark.slow
def test_char_rnn_beats_a_bigram_table():
    """Next-character accuracy on the held-out text: the GRU beats predicting, for each character,
    the character that most often follows it in the training text, by at least 10 points."""
    program = api.compile(SPECS / "char_rnn.nn")
    data = program.load_data()
    (x, y), (x_val, y_val) = data.splits["train"], data.splits["val"]
    vocab = int(max(x.max(), y.max(), x_val.max(), y_val.max())) + 1
    follows = np.zeros((vocab, vocab))
    np.add.at(follows, (x.reshape(-1), y.reshape(-1)), 1)
    bigram = float((follows.argmax(1)[x_val] == y_val).mean())
    program.fit()
    assert program.evaluate("val")["accuracy"] >= bigram + 0.10
