"""Named npz arrays (`npz(path, x=[...], y=[...])`, or one of the two named): `check` reads each
target array's .npy header, so a float array read by a classification loss is an error at the
loss, whichever of x and y lists names (before, only both lists were checked; the others stopped
at loading, after reading the archive)."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile

R = np.random.default_rng(0)
ARRAYS = {
    "x": R.normal(size=(40, 5)),
    "a": R.normal(size=(40, 3)),
    "b": R.normal(size=(40, 2)),
    "label": (np.arange(40) % 2).astype("float32"),
    "ids": np.arange(40) % 2,
    "value": R.normal(size=(40,)),
    "pair": R.normal(size=(40, 2)),
}
TWO_OUTPUTS = """
model G { input x: [5]  h = dense(8, activation=relu)(x)
  LABEL = dense(2, activation=softmax)(h)  value = dense(1)(h)  output LABEL, value }
train { model: G  data: g  loss: {LABEL: categorical_crossentropy, value: mse} }"""
TWO_INPUTS = """
model G { input a: [3]  input b: [2]  c = concat(a, b)  LABEL = dense(2, activation=LAST)(c)
  output LABEL }
train { model: G  data: g  loss: LOSS }"""


def diagnose(tmp_path, source: str, model: str, label: str, **words):
    np.savez(tmp_path / "n.npz", **ARRAYS)
    for key, word in words.items():
        model = model.replace(key, word)
    text = "data g { source: " + source + "  split: {train: 0.8, val: 0.2} }" + model
    (tmp_path / "s.nn").write_text(text.replace("LABEL", label), encoding="utf-8")
    return [(d.span.line, d.message, d.hint) for d in nncompile.check(tmp_path / "s.nn")]


BOTH_HINT = "store class ids as integers, or use mse for output label"
ONE_HINT = (
    "store class ids as integers (np.savez(..., y=y.astype(int)); one-hot rows: y.argmax(-1)), "
    "or use mse"
)


@pytest.mark.parametrize(
    ("source", "model", "loss", "line", "hint"),
    [
        (
            'npz("n.npz", x="x", y=["label", "value"])',
            TWO_OUTPUTS,
            "categorical_crossentropy",
            4,
            BOTH_HINT,
        ),
        (
            'npz("n.npz", x=["a", "b"], y="label")',
            TWO_INPUTS,
            "categorical_crossentropy",
            4,
            ONE_HINT,
        ),
        ('npz("n.npz", x=["a", "b"], y="label")', TWO_INPUTS, "binary_crossentropy", 4, ONE_HINT),
    ],
)
def test_float_targets_of_a_classification_loss_are_refused(
    tmp_path, source, model, loss, line, hint
):
    last = "softmax" if loss.startswith("categorical") else "sigmoid"
    found = diagnose(tmp_path, source, model, "label", LOSS=loss, LAST=last)
    if last == "sigmoid":
        found = [f for f in found if "unit" not in f[1]]  # (dense(2) for a binary loss: aside)
    assert found == [
        (line, f"{loss} needs class ids, but array 'label' of data g holds floats", hint)
    ]


@pytest.mark.parametrize(
    ("source", "model"),
    [
        ('npz("n.npz", x="x", y=["ids", "value"])', TWO_OUTPUTS),
        ('npz("n.npz", x=["a", "b"], y="ids")', TWO_INPUTS),
    ],
)
def test_integer_class_ids_pass(tmp_path, source, model):
    words = {"LOSS": "categorical_crossentropy", "LAST": "softmax"}
    assert diagnose(tmp_path, source, model, "ids", **words) == []


def test_a_named_regression_target_of_another_width_with_one_named_input(tmp_path):
    """`x` names one array, `y` lists the outputs': their widths are read from the headers too."""
    source = 'npz("n.npz", x="x", y=["ids", "pair"])'
    model = TWO_OUTPUTS.replace("value", "pair")
    assert diagnose(tmp_path, source, model, "ids") == [
        (
            4,
            "output pair of model G is [1], but array 'pair' of data g has targets of shape [2]",
            "end output pair with dense(2), or store 1 value(s) per example",
        )
    ]
