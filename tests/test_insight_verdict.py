"""See your fit: the verdict of runtime.verdict on crafted histories (exact), and on three real
fits: a model memorising a tiny training set, a linear model on XOR, a learning rate that
diverges — each with its hint."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nncompile
from nncompile.cli import main
from nncompile.runtime.verdict import Facts, baseline_loss, describe, verdict

REGULARISE = (
    "regularise: `dropout(0.3)` after the hidden layers; or `regularize: l2(1e-4)`; or "
    "`early_stopping: {monitor: val_loss, patience: 10, restore_best: true}`; or a smaller model, "
    "or more training data (`augment:` for images)"
)
CAPACITY = (
    "give the model more capacity: a hidden layer with a non-linear activation (e.g. `dense(64, "
    "activation=relu)` before the output layer), more units, or fewer regularisation/dropout; "
    "then train longer"
)


def history(train: list[float], val: list[float] | None = None) -> list[dict]:
    out = []
    for i, loss in enumerate(train):
        e = {"epoch": i + 1, "loss": loss, "seconds": 0.1}
        if val is not None:
            e["val_loss"] = val[i]
        out.append(e)
    return out


def test_overfitting_when_validation_rises_while_training_falls():
    r = verdict(history([1.0, 0.5, 0.3, 0.2, 0.1], [1.0, 0.6, 0.5, 0.6, 0.7]), Facts(epochs=5))
    assert r["verdict"] == "overfitting"
    assert r["reason"] == (
        "validation loss rose 40% after its best epoch 3 (0.5 -> 0.7) while the training loss "
        "fell (0.3 -> 0.1)"
    )
    assert r["hint"] == REGULARISE
    assert r["stopped_improving"] == 3
    assert r["gap"] == {"best": pytest.approx(0.2), "last": pytest.approx(0.6)}
    assert r["best"] == {"epoch": 3, "loss": 0.3, "val_loss": 0.5}


def test_restored_best_epoch_is_fine_and_hints_name_only_what_is_missing():
    epochs = history([1.0, 0.5, 0.45, 0.4, 0.35], [1.0, 0.6, 0.55, 0.62, 0.7])
    facts = Facts(epochs=5, early_stopping=True, restore_best=True, dropout=True)
    r = verdict(epochs, facts)
    assert r["verdict"] == "fine" and r["kept_epoch"] == 3
    assert r["reason"] == (
        "no sign of over- or underfitting; validation stopped improving after epoch 3, early "
        "stopping kept it; gap (validation - training loss) 0.1"
    )
    gap = verdict(history([1.0, 0.2, 0.1], [1.0, 0.5, 0.45]), facts)  # 4.5x the training loss
    assert gap["verdict"] == "overfitting"
    assert gap["hint"] == (
        "regularise: `regularize: l2(1e-4)`; or a smaller model, or more training data "
        "(`augment:` for images)"
    )


def test_still_improving_diverged_underfitting():
    r = verdict(history([1.0, 0.8, 0.6, 0.5, 0.4], [1.0, 0.8, 0.6, 0.5, 0.4]), Facts(lr=0.01))
    assert r["verdict"] == "still improving"
    assert r["reason"] == (
        "validation loss still fell 33.3% over the last 2 epochs, to its best at epoch 5 of 5"
    )
    assert (
        r["hint"] == "train longer: `epochs: 20` (or --epochs 20); or a larger learning rate "
        "(adam(lr=0.03))"
    )
    r = verdict(history([1.0, 2.0, 5.0]), Facts(optimizer="sgd", lr=3.0))
    assert (r["verdict"], r["reason"]) == (
        "diverged",
        "the training loss rose from 1 (epoch 1) to 5",
    )
    assert r["hint"] == (
        "lower the learning rate: `optimizer: sgd(lr=0.3)`; or clip the gradients: `clip_norm: "
        "1.0`; check the data is normalised"
    )
    first = verdict([], Facts(optimizer="sgd", lr=3.0, nonfinite=True, clip_norm=1.0))
    assert first == {
        "verdict": "diverged",
        "reason": "the training loss became non-finite in the first epoch",
        "hint": "lower the learning rate: `optimizer: sgd(lr=0.3)`; check the data is normalised",
    }
    flat = history([0.70, 0.69, 0.69, 0.69, 0.69], [0.70, 0.69, 0.69, 0.69, 0.69])
    r = verdict(flat, Facts(baseline=0.6931))
    assert r["verdict"] == "underfitting" and r["hint"] == CAPACITY
    assert r["reason"].startswith("the training loss 0.69 is 100% of what always predicting")
    assert verdict(flat, Facts(baseline=2.3))["verdict"] == "fine"


def test_baseline_losses():
    ids = np.array([0, 0, 0, 1])
    assert baseline_loss("categorical_crossentropy", ids) == pytest.approx(
        -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    )
    assert baseline_loss("categorical_crossentropy", np.eye(2, dtype=np.float32)[ids]) == (
        pytest.approx(baseline_loss("categorical_crossentropy", ids))
    )
    y = np.array([[1.0], [2.0], [4.0]])
    assert baseline_loss("mse", y) == pytest.approx(np.var(y))
    assert baseline_loss("mae", y) == pytest.approx(np.mean(np.abs(y - 2.0)))
    assert baseline_loss("huber", y) is None


OVERFIT = """\
data digits {
  source: sklearn("digits")  split: {train: 0.5, val: 0.5}  subset: 0.04  normalize: minmax
}
model Big {
  input x: [64]
  dense(256, activation=relu)
  dense(10, activation=softmax)
}
train {
  model: Big  data: digits  loss: categorical_crossentropy
  optimizer: adam(lr=0.01)  batch_size: 16  epochs: 40
}
"""

UNDERFIT = """\
data xor { source: synthetic("xor", n=400)  split: {train: 0.5, val: 0.5} }
model Linear {
  input x: [2]
  dense(2, activation=softmax)
}
train {
  model: Linear  data: xor  loss: categorical_crossentropy
  optimizer: adam(lr=0.05)  batch_size: 32  epochs: 30
}
"""

DIVERGE = """\
data diabetes {
  source: sklearn("diabetes")  split: {train: 0.7, val: 0.3}
  normalize: standard  normalize_target: standard
}
model Regressor {
  input x: [10]
  dense(32, activation=relu)
  dense(1)
}
train {
  model: Regressor  data: diabetes  loss: mse  optimizer: sgd(lr=3.0)  batch_size: 32  epochs: 10
}
"""


@pytest.mark.parametrize(
    ("spec", "expected", "hint"),
    [
        (OVERFIT, "overfitting", REGULARISE),
        (UNDERFIT, "underfitting", CAPACITY),
        (
            DIVERGE,
            "diverged",
            "lower the learning rate: `optimizer: sgd(lr=0.3)`; or clip the gradients: "
            "`clip_norm: 1.0`; check the data is normalised",
        ),
    ],
    ids=["memorises", "linear-on-xor", "lr-diverges"],
)
def test_real_fits(spec, expected, hint):
    program = nncompile.compile(text=spec)
    program.fit()
    report = program.fit_report()
    assert (report["verdict"], report["hint"]) == (expected, hint), report["reason"]


def test_train_prints_the_verdict_and_keeps_it_in_summary(tmp_path, capsys):
    path = tmp_path / "under.nn"
    path.write_text(UNDERFIT.replace("epochs: 30", "epochs: 20"), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", str(path), "--quiet", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["fit"]["verdict"] == "underfitting"
    assert "\n".join(describe(summary["fit"])) in out
    assert f"fit: underfitting (the training loss {summary['fit']['last']['loss']:.4g}" in out
