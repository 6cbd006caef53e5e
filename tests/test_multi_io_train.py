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


TWO_OUT = """
model Two {
  input a: [5]
  input b: [3]
  ha = dense(16, activation=relu)(a)
  hb = dense(16, activation=relu)(b)
  c = concat(ha, hb)
  label = dense(2, activation=softmax)(c)
  value = dense(1)(c)
  output label, value
}
data none { source: npz("unused.npz", x=["a", "b"], y=["label", "value"]) }
train { model: Two data: none loss: {label: categorical_crossentropy, value: mse}
        loss_weights: {value: 0.5} epochs: 30 optimizer: adam(lr=1e-2) metrics: [accuracy, mae] }
"""


def test_two_outputs_train_with_per_output_losses_and_metrics():
    a, b, label, value = arrays()
    p = nncompile.compile(text=TWO_OUT)
    assert "losses['value'] = jnp.mean((outputs['value'] - y['value']) ** 2)" in p.source
    assert "loss = losses['label'] + 0.5 * losses['value']" in p.source
    assert "return label, value" in p.source
    x = lambda s: {"a": a[s], "b": b[s]}
    y = lambda s: {"label": label[s], "value": value[s]}
    tr, va = slice(0, 300), slice(300, None)
    history = p.fit(data={"train": (x(tr), y(tr)), "val": (x(va), y(va))})
    last = history.epochs[-1]
    assert set(last) >= {"label_accuracy", "value_mae", "val_label_accuracy", "val_value_mae"}
    # the logged loss is the weighted sum of the outputs' own losses, each recorded
    assert last["loss"] == pytest.approx(last["label_loss"] + 0.5 * last["value_loss"], rel=1e-4)
    assert last["val_loss"] == pytest.approx(
        last["val_label_loss"] + 0.5 * last["val_value_loss"], rel=1e-4
    )
    assert "label_mae" not in last and "value_accuracy" not in last  # each on its own task
    assert last["val_label_accuracy"] >= 0.85, last
    assert last["val_value_mae"] < 0.6 * np.abs(value[va]).mean(), last
    out = p.predict(x(va))
    assert set(out) == {"label", "value"}
    np.testing.assert_allclose(out["label"].sum(-1), 1, rtol=1e-5)  # softmax applied
    assert out["value"].shape == (100, 1)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (lambda c, v: {"label": c}, "(y): the data has no output 'value'"),
        (lambda c, v: c, "the model has several outputs (label, value), but the data gives one"),
        (
            lambda c, v: {"label": c * 3, "value": v},
            "(output label): 188 target(s) of the train split are outside the class ids 0..1",
        ),
        (
            lambda c, v: {"label": v, "value": v},
            "(output label): the train split has 400 target(s) that are not class ids",
        ),
    ],
)
def test_targets_are_checked_per_output(y, message):
    a, b, label, value = arrays()
    p = nncompile.compile(text=TWO_OUT)
    with pytest.raises(DataError) as e:
        p.fit(data={"train": ({"a": a, "b": b}, y(label, value))}, epochs=1)
    assert message in str(e.value)


def test_prediction_files_one_per_output(tmp_path):
    import io

    from nncompile.runtime.named import write_predictions

    out = {"digit": np.eye(3, dtype="f4"), "big": np.array([[0.1], [0.9], [0.5]], "f4")}
    written = write_predictions(out, str(tmp_path / "y.npy"), None)
    assert len(written) == 2
    np.testing.assert_array_equal(np.load(tmp_path / "y_digit.npy"), out["digit"])
    np.testing.assert_array_equal(np.load(tmp_path / "y_big.npy"), out["big"])
    write_predictions(out, str(tmp_path / "y.npz"), None)
    with np.load(tmp_path / "y.npz") as archive:
        assert sorted(archive.files) == ["big", "digit"]
    text = io.StringIO()
    write_predictions(out, None, text)
    assert text.getvalue().splitlines()[0] == "# digit"
    single = io.StringIO()
    write_predictions(np.ones((2, 2)), None, single)
    assert single.getvalue() == "1,1\n1,1\n"


def test_one_input_two_outputs(tmp_path):
    a, _, label, value = arrays()
    np.savez(tmp_path / "d.npz", a=a, label=label, value=value)
    text = """
data d { source: npz("d.npz", x="a", y=["label", "value"]) split: {train: 0.8, val: 0.2} }
model One {
  input a: [5]
  h = dense(16, activation=relu)
  label = dense(1, activation=sigmoid)(h)
  value = dense(1)(h)
  output label, value
}
train { model: One data: d loss: {label: binary_crossentropy, value: mse} epochs: 15
        optimizer: adam(lr=1e-2) metrics: [accuracy] }
"""
    (tmp_path / "one.nn").write_text(text)
    p = nncompile.compile(tmp_path / "one.nn")
    assert "model(x)" in p.source and "def __call__(self, a):" in p.source
    history = p.fit()
    assert history.epochs[-1]["val_label_accuracy"] >= 0.6
    out = p.predict(a[:4])
    assert set(out) == {"label", "value"} and out["label"].shape == (4, 1)
    assert ((out["label"] > 0) & (out["label"] < 1)).all()
