"""`class_weight:` of a train block (Keras' fit(class_weight=...)): the language (numeric dict keys,
`balanced`), its checks with their exact messages, the emitted program (CLASS_WEIGHT, the weighted
training loss, the unweighted evaluation), the runtime's balanced weights, logical shards, eject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.codegen.eject import eject
from nncompile.codegen.eject_train import BALANCED
from nncompile.compiler import analyse, read
from nncompile.fmt import format_text
from nncompile.runtime.classweight import balanced

SPECS = Path(__file__).resolve().parents[1] / "specs"

SPEC = """
data cancer {
  source: sklearn("breast_cancer")
  split: {train: 0.7, val: 0.1, test: 0.2}
}
model M {
  input x: [30]
  dense(8, activation=relu)
  dense(1, activation=sigmoid)
}
train {
  model: M  data: cancer  loss: binary_crossentropy  batch_size: 32  epochs: 2
  metrics: [accuracy, recall]
  class_weight: WEIGHTS
}
"""

NO_DATA = """
model M { input x: [4]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: M  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)  batch_size: 10
        epochs: 2  class_weight: WEIGHTS }
"""


def spec(weights: str, text: str = SPEC) -> str:
    return text.replace("WEIGHTS", weights)


def one(text: str):
    diagnostics = nncompile.check(text=text)
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# ---- the language and its checks -----------------------------------------------------------------
def test_a_dict_of_class_ids_and_balanced_pass_check():
    assert nncompile.check(text=spec("{0: 1.0, 1: 5.0}")) == []
    assert nncompile.check(text=spec("{1: 5}")) == []
    assert nncompile.check(text=spec("balanced")) == []


def test_fmt_keeps_numeric_keys():
    text = spec("{0: 1.0, 1: 5.0}")
    formatted = format_text(text)
    assert "class_weight: {0: 1.0, 1: 5.0}" in formatted
    assert format_text(formatted) == formatted


def test_a_class_the_output_does_not_have():
    text = spec("{0: 1.0, 2: 5.0}")
    d = one(text)
    assert d.message == "class_weight names class 2, but model M tells 2 classes apart (ids 0 to 1)"
    assert d.hint == "give weights for the class ids 0 to 1 (the others weigh 1)"
    assert d.span.line == line_of(text, "class_weight")


def test_weights_must_be_positive():
    d = one(spec("{0: 1.0, 1: 0}"))
    assert d.code == "E300" and "greater than 0" in d.message, d.message
    d = one(spec("{-1: 2.0}"))
    assert d.code == "E300" and "keys are class ids, whole numbers from 0" in d.message


def test_a_regression_loss_is_refused():
    text = """
data d { source: sklearn("diabetes") }
model R { input x: [10]  dense(1) }
train { model: R  data: d  loss: mse  class_weight: balanced }
"""
    d = one(text)
    assert d.message == "class_weight weighs classes, but mse is a regression loss"
    assert d.hint == (
        "use it with a classification loss: 'binary_crossentropy', 'categorical_crossentropy' or "
        "'margin'"
    )


def test_several_outputs_are_refused():
    text = (SPECS / "multi_io.nn").read_text()
    i = text.rindex("}")
    d = one(text[:i] + "  class_weight: {0: 2.0}\n" + text[i:])
    assert d.message.startswith("class_weight weighs the classes of one output; model ")
    assert d.hint.startswith("weigh the outputs' losses with `loss_weights: {...}`")


def test_a_gan_is_refused():
    text = (SPECS / "digits_gan.nn").read_text()
    i = text.rindex("}")
    d = one(text[:i] + "  class_weight: balanced\n" + text[i:])
    assert d.message == (
        "class_weight weighs the loss of a supervised model; `objective: gan(...)` has none"
    )


# ---- the emitted program -------------------------------------------------------------------------
def test_the_program_weighs_the_training_loss_only():
    program = nncompile.compile(text=spec("{1: 5.0}"))
    source = program.source
    assert "CLASS_WEIGHT = (1.0, 5.0)" in source
    assert "def loss_fn(model, x, y, class_weight=None):" in source
    assert "(model, x, y, CLASS_WEIGHT)" in source  # train_step
    assert "    return loss_fn(model, x, y)\n" in source  # eval_step: unweighted
    assert "class_weight" not in program.config  # the table is in the code
    plain = nncompile.compile(text=spec("{1: 5.0}").replace("class_weight: {1: 5.0}", ""))
    assert "class_weight" not in plain.source and "CLASS_WEIGHT" not in plain.source


def test_the_weighted_loss_is_keras_mean():
    """sum(w[y] * loss) / batch size (Keras' sum_over_batch_size), not divided by sum(w)."""
    module = nncompile.compile(text=spec("{0: 0.5, 2: 4.0}", NO_DATA)).module
    model = module.make_model(0)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 2, 1, 0])
    weighted, logits = module.loss_fn(model, x, y, module.CLASS_WEIGHT)
    plain, _ = module.loss_fn(model, x, y)
    logits = np.asarray(logits, np.float64)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    per = -log_p[np.arange(6), y]
    assert module.CLASS_WEIGHT == (0.5, 1.0, 4.0)  # class 1 left out: 1
    assert float(weighted) == pytest.approx((per * np.array([0.5, 1.0, 4.0])[y]).mean(), rel=1e-5)
    assert float(plain) == pytest.approx(per.mean(), rel=1e-5)
    # one-hot rows (`one_hot: true` data) weigh like their class ids
    per, rows = per.astype(np.float32), np.eye(3, dtype=np.float32)[y]
    by_rows = module.class_weighted(per, rows, module.CLASS_WEIGHT)
    assert float(by_rows) == pytest.approx(float(module.class_weighted(per, y, (0.5, 1.0, 4.0))))


# ---- balanced: from the training split, at run time ----------------------------------------------
def test_balanced_is_sklearns_rule():
    y = np.array([0] * 90 + [1] * 7 + [2] * 3)
    # sklearn.utils.class_weight.compute_class_weight("balanced", classes=[0, 1, 2], y=y)
    expected = 100 / (3 * np.array([90, 7, 3]))
    np.testing.assert_allclose(balanced(y), expected, rtol=1e-12)
    # one-hot rows (a column that never occurs weighs 1), binary targets as floats, shape (n, 1)
    onehot = np.eye(4, dtype=np.float32)[y]
    np.testing.assert_allclose(balanced(onehot), [*expected, 1.0], rtol=1e-12)
    binary = np.array([[0.0], [0.0], [0.0], [1.0]])
    np.testing.assert_allclose(balanced(binary), [4 / 6, 2.0])


def test_balanced_weights_are_set_when_training_starts():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = np.array([0] * 30 + [1] * 8 + [2] * 2)
    program = nncompile.compile(text=spec("balanced", NO_DATA))
    assert program.config["class_weight"] == "balanced"
    assert program.module.CLASS_WEIGHT == "balanced"
    program.fit(data={"train": (x, y)}, epochs=1)
    np.testing.assert_allclose(program.module.CLASS_WEIGHT, [40 / 90, 40 / 24, 40 / 6])
    # evaluation is unweighted: the loss of a split is the plain mean cross-entropy
    p = np.asarray(program.predict(x), np.float64)
    plain = -np.log(p[np.arange(40), y]).mean()
    assert program.evaluate(data=(x, y))["loss"] == pytest.approx(plain, rel=1e-4)


@pytest.mark.slow  # three small fits (compilation): over the fast tier's 3 s
def test_logical_shards_weigh_the_loss_too():
    """The sharded step (runtime.shards) calls loss_fn itself: it passes CLASS_WEIGHT as well."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    losses = []
    for extra in ("", "  logical_shards: 2"):
        text = spec("{2: 10.0}", NO_DATA).replace("epochs: 2", f"epochs: 1\n{extra}")
        history = nncompile.compile(text=text).fit(data={"train": (x, y)})
        losses.append(history.epochs[0]["loss"])
    plain = nncompile.compile(text=NO_DATA.replace("class_weight: WEIGHTS", ""))
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    unweighted = plain.fit(data={"train": (x, y)}, epochs=1).epochs[0]["loss"]
    assert unweighted != pytest.approx(losses[0], rel=0.05)


def test_eject_computes_balanced_weights(tmp_path):
    program, diagnostics = analyse(read(str(SPECS / "imbalanced_digits.nn")))
    assert program is not None, diagnostics
    eject(program, None, tmp_path)
    train_py = (tmp_path / "train.py").read_text()
    compile(train_py, "train.py", "exec")
    assert "    program.CLASS_WEIGHT = balanced_class_weight(y)\n" in train_py
    assert "CLASS_WEIGHT = 'balanced'" in (tmp_path / "model.py").read_text()
    # the ejected rule is the runtime's
    scope = {"np": np}
    exec(BALANCED.code, scope)
    y = np.array([0] * 11 + [1] * 2 + [3] * 5)
    assert scope["balanced_class_weight"](y) == pytest.approx(balanced(y))


def test_the_spec_data_is_what_its_script_writes():
    import importlib.util

    path = SPECS / "data" / "make_imbalanced_digits.py"
    loaded = importlib.util.spec_from_file_location("make_imbalanced_digits", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    x, y = module.imbalanced()
    with np.load(SPECS / "data" / "imbalanced_digits.npz") as got:
        np.testing.assert_array_equal(got["x"], x)
        np.testing.assert_array_equal(got["y"], y)
    assert 0.02 < y.mean() < 0.03


def test_the_fit_verdict_compares_the_weighted_loss_with_a_weighted_constant_guess():
    """The training loss is weighted, so the underfitting rule's constant guess is too: with
    balanced weights the best constant is 1/2 per class, whatever the imbalance (log 2)."""
    from nncompile.runtime.verdict import baseline_loss

    y = np.array([0] * 37 + [1])
    assert baseline_loss("binary_crossentropy", y) == pytest.approx(0.1217, abs=1e-4)
    assert baseline_loss("binary_crossentropy", y, balanced(y)) == pytest.approx(np.log(2))
