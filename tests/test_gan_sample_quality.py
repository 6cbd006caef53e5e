"""Stated results of issue 16 (slow): the DCGAN's digits are recognisable, the conditional GAN draws
the digit asked for, the char-RNN writes text through `nncompile sample`.

Training time in these tests (2 CPU cores, quiet machine): digits classifier ~5 s, DCGAN 20 epochs
~25 s, conditional GAN 30 epochs ~12 s, char-RNN 3 epochs ~8 s (plus compilation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
N = 500


@pytest.fixture(scope="module")
def classifier():
    """The digits MLP (specs/digits_mlp.nn, 40 epochs), ~97% on its test split."""
    program = nncompile.compile(SPECS / "digits_mlp.nn")
    program.fit(epochs=40)
    assert program.evaluate()["accuracy"] > 0.94
    return program


def probabilities(classifier, gan, samples: np.ndarray) -> np.ndarray:
    """The classifier's class probabilities for generated examples (taken back to pixel units)."""
    stat = gan.dataset.stats["x"]
    pixels = samples.reshape(len(samples), -1) * np.asarray(stat["scale"]).reshape(-1)
    pixels = pixels + np.asarray(stat["shift"]).reshape(-1)
    return classifier.predict(pixels)  # the classifier's own normalisation applies


@pytest.mark.slow
def test_dcgan_draws_recognisable_digits_of_nine_classes(classifier):
    gan = nncompile.compile(SPECS / "digits_dcgan.nn")
    gan.fit(epochs=20)
    samples = gan.sample(N, seed=1)
    assert samples.kind == "images" and samples.values.shape == (N, 8, 8, 1)
    p = probabilities(classifier, gan, samples.values)
    confidence, classes = p.max(1).mean(), np.bincount(p.argmax(1), minlength=10)
    assert confidence >= 0.6, (confidence, classes)
    assert (classes > 0).sum() >= 9, classes


@pytest.mark.slow
def test_conditional_gan_draws_the_requested_digit(classifier):
    gan = nncompile.compile(SPECS / "digits_cgan.nn")
    gan.fit(epochs=30)
    wanted = np.arange(N) % 10
    samples = gan.sample(N, labels=wanted, seed=1)
    assert samples.values.shape == (N, 64) and (samples.labels == wanted).all()
    p = probabilities(classifier, gan, samples.values)
    accuracy = (p.argmax(1) == wanted).mean()
    assert accuracy >= 0.9, accuracy
    per_class = gan.sample(30)  # the default: each class in turn
    assert per_class.labels.tolist() == [k // 3 for k in range(30)] and per_class.columns == 3


@pytest.mark.slow
def test_char_rnn_writes_200_characters_with_nncompile_sample(tmp_path, capsys):
    spec, run = SPECS / "char_rnn.nn", tmp_path / "run"
    assert main(["train", str(spec), "--epochs", "3", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "text.txt"
    args = ["sample", str(spec), "--run", str(run), "-n", "200", "--prompt", "the network "]
    assert main([*args, "--temperature", "0.5", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8").rstrip("\n")
    assert text.startswith("the network ") and len(text) == len("the network ") + 200
    corpus = (SPECS / "data" / "corpus.txt").read_text(encoding="utf-8")
    assert set(text) <= set(corpus)
    # it writes words of its corpus, not noise: most of the words it writes are real ones
    words = text[len("the network ") :].split()[1:-1]
    known = set(corpus.replace(".", " ").replace(",", " ").split())
    real = sum(w.strip(".,:?'") in known for w in words) / len(words)
    assert real >= 0.6, (real, text)
    capsys.readouterr()
    assert main([*args, "--temperature", "0"]) == 0  # greedy: to stdout, the same every time
    first = capsys.readouterr().out
    assert main([*args, "--temperature", "0"]) == 0
    assert capsys.readouterr().out == first
