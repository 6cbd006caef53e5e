"""Keras' `weighted_metrics`: metrics that count each example by its sample weight, named by
Keras' rule (`weighted_<key>` when `metrics` has the key too). The values are Keras' own on a tiny
case (keras 3, jax backend, /work/benchvenv), computed by:

    m.update_state(y, p, sample_weight=w); m.result()   # for each keras.metrics class below
    model.compile(..., metrics=["accuracy"], weighted_metrics=["accuracy", "accuracy"])
    -> history keys accuracy, weighted_accuracy, weighted_accuracy_1
"""

from __future__ import annotations

import numpy as np
import pytest

import nncompile
from nncompile.diagnostics import CompileError
from nncompile.registry.metrics import Head
from nncompile.registry.weightedmetrics import weighted_keys
from nncompile.runtime.metrics import metric, weighted
from nncompile.runtime.sampleweight import Weighted
from tests.gan_specs import tiny_gan

P = np.array(
    [
        [0.29020399, 0.22424801, 0.48554799],
        [0.35465500, 0.18690000, 0.45844501],
        [0.54522002, 0.38156101, 0.07321900],
        [0.15163700, 0.28819501, 0.56016803],
        [0.08224100, 0.67579800, 0.24196100],
        [0.26862401, 0.32418701, 0.40719000],
        [0.28885701, 0.54284000, 0.16830300],
        [0.66955101, 0.08779000, 0.24265800],
        [0.61060000, 0.27177799, 0.11762200],
        [0.17472699, 0.27788999, 0.54738200],
        [0.17962700, 0.39994401, 0.42042899],
        [0.39179099, 0.28274399, 0.32546499],
    ],
    np.float32,
)
Y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 0])
W = np.array([1, 0.5, 2, 0, 1, 3, 0.25, 1, 1, 2, 0.5, 1.5], np.float32)
RNG = np.random.default_rng(0)
RNG.normal(size=(12, 3))  # (the Keras script drew P's logits first)
YR = RNG.normal(size=(12, 2)).astype(np.float32)  # (Keras was given the same arrays)
PR = RNG.normal(size=(12, 2)).astype(np.float32)
KERAS = {  # SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy(k=2), F1Score(macro), ...
    "accuracy": 0.5454545617103577,
    "top_k": 0.6727272868156433,
    "f1": 0.5002970695495605,
    "mae": 1.1447603702545166,
    "mse": 1.603156328201294,
    "rmse": 1.266158103942871,
}


def score(name: str, head: Head, outputs, y, w=W, **arguments) -> float:
    m = weighted(metric(name, head, **arguments), name)
    acc = m.init()
    half = len(y) // 2  # two batches: the accumulator adds up
    for part in (slice(0, half), slice(half, None)):
        target = y[part] if w is None else Weighted(y[part], w[part])
        acc = m.update(acc, outputs[part], target)
    return m.finalize(acc)


@pytest.mark.parametrize("name", ["accuracy", "top_k", "f1"])
def test_classification_metrics_weigh_examples_as_keras(name):
    head = Head("classification", 3, logits=False)
    arguments = {"k": 2} if name == "top_k" else {}
    assert score(name, head, P, Y, **arguments) == pytest.approx(KERAS[name], rel=1e-5)


@pytest.mark.parametrize("name", ["mae", "mse", "rmse"])
def test_regression_metrics_weigh_examples_as_keras(name):
    head = Head("regression", 2, logits=False)
    assert score(name, head, PR, YR) == pytest.approx(KERAS[name], rel=1e-5)


def test_without_weights_a_weighted_metric_is_the_metric():
    head = Head("classification", 3, logits=False)
    plain = np.mean(P.argmax(-1) == Y)
    assert score("accuracy", head, P, Y, w=None) == pytest.approx(plain)
    assert score("accuracy", head, P, Y, w=np.zeros(12, np.float32)) == 0.0  # no weight: 0


def test_keys_follow_keras_naming():
    assert weighted_keys(["accuracy"], ["accuracy", "accuracy"]) == [
        "weighted_accuracy",
        "weighted_accuracy_1",
    ]
    assert weighted_keys(["accuracy"], ["f1", "top_2"]) == ["f1", "top_2"]


SPEC = """
data d { source: npz("PATH", sample_weight="w")  split: {train: 0.5, val: 0.25, test: 0.25} }
model M { input x: [4]  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: 8  epochs: 2  seed: 0  metrics: [accuracy]
        weighted_metrics: [accuracy, top_k(k=2)]
        early_stopping: {monitor: val_weighted_accuracy, patience: 5} }
"""


def test_a_train_block_records_and_evaluates_them(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(48, 4)).astype(np.float32), rng.integers(0, 3, 48)
    np.savez(tmp_path / "d.npz", x=x, y=y, w=rng.uniform(0, 2, 48).astype(np.float32))
    program = nncompile.compile(text=SPEC.replace("PATH", str(tmp_path / "d.npz")))
    assert "'weighted_metrics': [{'name': 'accuracy'}, {'name': 'top_k', 'k': 2}]" in program.source
    history = program.fit(verbose=False)
    assert {"weighted_accuracy", "top_2", "val_weighted_accuracy", "val_top_2"} <= set(
        history.epochs[-1]
    )
    got = program.evaluate()
    xt, yt = program.trainer.splits["test"]
    wt = program.dataset.weights["test"]
    p = np.asarray(program.trainer.predict(xt))
    right = p.argmax(-1) == yt.reshape(-1)
    assert got["accuracy"] == pytest.approx(right.mean(), abs=1e-6)
    assert got["weighted_accuracy"] == pytest.approx((wt * right).sum() / wt.sum(), rel=1e-5)
    top2 = (np.argsort(-p, -1)[:, :2] == yt.reshape(-1, 1)).any(-1)
    assert got["top_2"] == pytest.approx((wt * top2).sum() / wt.sum(), rel=1e-5)


def only(text: str) -> str:
    with pytest.raises(CompileError) as e:
        nncompile.compile(text=text)
    [d] = e.value.diagnostics
    return f"{d.message}\n  hint: {d.hint}"


def test_check_refuses_them_for_a_gan_and_several_outputs():
    gan = tiny_gan(
        "train { objective: gan(generator=G, discriminator=D, noise=normal([8]))\n"
        "  data: d  loss: non_saturating  weighted_metrics: [accuracy] }"
    )
    assert only(gan) == (
        "weighted_metrics score the outputs of a supervised model; train main is a GAN "
        "(`objective: gan(...)`), which records no metrics\n  hint: remove `weighted_metrics`"
    )
    several = """
model M { input x: [4]  h = dense(8)(x)  a = dense(3, activation=softmax)(h)
          b = dense(1)(h)  output a, b }
train { model: M  loss: {a: categorical_crossentropy, b: mse}  weighted_metrics: [accuracy] }
"""
    assert only(several) == (
        "weighted_metrics are for a model with one input and one output; model M has 1 "
        "input(s) and 2 output(s)\n  hint: give unweighted metrics per output (`metrics: "
        "{...}`), or remove `weighted_metrics`"
    )


def test_eject_refuses_them(tmp_path, capsys):
    from nncompile.cli import main

    np.savez(tmp_path / "d.npz", x=np.zeros((8, 4), np.float32), y=np.arange(8) % 3, w=np.ones(8))
    (tmp_path / "s.nn").write_text(SPEC.replace("PATH", "d.npz"))
    assert main(["eject", str(tmp_path / "s.nn"), "-o", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (
        "nncompile: cannot eject `train main`: weighted_metrics needs nncompile's runtime\n"
        "  hint: remove `weighted_metrics` to eject, or train with `nncompile train`\n"
    )


def test_weighted_regression_metrics_are_in_the_targets_units_and_better_low():
    from nncompile.runtime.metrics import better
    from nncompile.runtime.units import units

    keys = ["loss", "mae", "weighted_mae", "val_weighted_rmse"]
    assert units(keys, "standard") == {
        "loss": "standardised target units",
        "mae": "the targets' units",
        "weighted_mae": "the targets' units",
        "val_weighted_rmse": "the targets' units",
    }
    assert better("val_weighted_mae") == "min" and better("weighted_accuracy") == "max"
