"""Stated results of the seqdata specs (slow-marked; CI runs them): an autoencoder against PCA, the
addition seq2seq's whole answers, the token BiLSTM classifier."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA

import nncompile.api as api

SPECS = Path(__file__).resolve().parents[1] / "specs"


@pytest.mark.slow
def test_digits_autoencoder_beats_pca_with_the_same_bottleneck():
    """Reconstruction MSE on the test split below PCA with 8 components fitted on the same train
    rows (measured: about 0.013 vs PCA's 0.025)."""
    program = api.compile(SPECS / "digits_autoencoder.nn")
    data = program.load_data()
    (x_train, y_train), (x_test, y_test) = data.splits["train"], data.splits["test"]
    assert np.array_equal(x_train, y_train) and np.array_equal(x_test, y_test)  # target: input
    pca = PCA(8).fit(x_train)
    baseline = float(np.mean((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2))
    program.fit()
    mse = program.evaluate()["loss"]
    assert mse < baseline, (mse, baseline)


@pytest.mark.slow
def test_addition_seq2seq_gets_whole_answers_right():
    """Whole answers right on held-out questions (measured: 0.92 after the spec's 20 epochs)."""
    program = api.compile(SPECS / "addition_seq2seq.nn")
    program.fit()
    metrics = program.evaluate()
    assert metrics["exact_match"] >= 0.5, metrics


@pytest.mark.slow
def test_token_bilstm_classifies_digit_tokens():
    """Embedding + BiLSTM on 16 integer intensity tokens per digit (measured: 0.90)."""
    program = api.compile(SPECS / "token_bilstm.nn")
    program.fit()
    assert program.evaluate()["accuracy"] >= 0.85
