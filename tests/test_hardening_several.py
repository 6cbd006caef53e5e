"""Hardening: the shapes of the several-inputs/outputs path (and of one-output regression) are
checked or conformed, never broadcast silently; predict checks the inputs' names and shapes."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile
from nncompile.diagnostics import CompileError
from nncompile.errors import DataError

SPEC = """
model Three {
  input a: [5]
  input b: [3]
  ab = concat(a, b)
  h = dense(16, activation=relu)(ab)
  c = dense(4, activation=softmax)(h)
  k = dense(1, activation=sigmoid)(h)
  r = dense(2)(h)
  output c, k, r
}
train { model: Three loss: {c: categorical_crossentropy, k: binary_crossentropy, r: mse}
        epochs: 1 batch_size: 32 optimizer: adam(lr=1e-2) metrics: {r: [mae], c: [accuracy]} }
"""
N = 64
R = np.random.default_rng(0)
A, B = R.normal(size=(N, 5)).astype("f4"), R.normal(size=(N, 3)).astype("f4")
GOOD = {
    "c": R.integers(0, 4, N).astype("i4"),
    "k": R.integers(0, 2, N).astype("i4"),
    "r": R.normal(size=(N, 2)).astype("f4"),
}


@pytest.fixture(scope="module")
def program():
    return nncompile.compile(text=SPEC)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            {"r": R.normal(size=(N, 3)).astype("f4")},
            "the arrays given to fit() (output r): the train split has targets of shape [3] per "
            "example, but model Three outputs [2]",
        ),
        (
            {"r": R.normal(size=(N,)).astype("f4")},
            "the arrays given to fit() (output r): the train split has targets of shape [] per "
            "example, but model Three outputs [2]",
        ),
        (
            {"c": R.integers(0, 4, (N, 2)).astype("i4")},
            "the arrays given to fit() (output c): the train split has class ids of shape [2] per "
            "example, but model Three outputs [4]",
        ),
        (
            {"k": R.integers(0, 2, (N, 2)).astype("i4")},
            "the arrays given to fit() (output k): the train split has class ids of shape [2] per "
            "example, but model Three outputs [1]",
        ),
    ],
)
def test_several_outputs_refuse_targets_of_another_shape(program, target, message):
    with pytest.raises(DataError) as e:
        program.fit(data={"train": ({"a": A, "b": B}, {**GOOD, **target})}, epochs=1)
    assert message in str(e.value)


def test_targets_with_the_outputs_values_are_conformed(program):
    """(n, 1) class ids, (n, 2, 1) regression rows: the same values as the canonical shapes, so
    the same training (before: class ids (n, 1) made `accuracy` compare (n,) with (n, 1))."""
    splits = program.splits({"train": ({"a": A, "b": B}, GOOD)})
    odd = {"c": GOOD["c"][:, None], "k": GOOD["k"][:, None], "r": GOOD["r"][:, :, None]}
    shaped = program.splits({"train": ({"a": A, "b": B}, odd)})
    for name in GOOD:
        assert shaped["train"][1][name].shape == splits["train"][1][name].shape, name
        np.testing.assert_array_equal(shaped["train"][1][name], splits["train"][1][name])
    assert splits["train"][1]["r"].shape == (N, 2)
    assert splits["train"][1]["c"].shape == (N,)


ONE = """
model One {
  input a: [5]
  h = dense(16, activation=relu)(a)
  dense(1)
}
train { model: One loss: mse epochs: 4 batch_size: 32 optimizer: adam(lr=1e-2) seed: 0 }
"""


def test_one_output_regression_vector_trains_like_a_column():
    """A target vector (n,) for a one-unit output: before, `outputs - y` broadcast to (n, n) and
    the model learned the batch mean; now it is the column (n, 1), bitwise the same run."""
    y = (2 * A[:, 0]).astype("f4")
    losses = []
    for target in (y, y[:, None]):
        history = nncompile.compile(text=ONE).fit(data={"train": (A, target)})
        losses.append([e["loss"] for e in history.epochs])
    assert losses[0] == losses[1]


def test_one_output_regression_refuses_other_shapes():
    with pytest.raises(DataError) as e:
        nncompile.compile(text=ONE).fit(data={"train": (A, A[:, :3])}, epochs=1)
    assert (
        "the arrays given to fit(): the train split has targets of shape [3] per example, but "
        "model One outputs [1]" in str(e.value)
    )


@pytest.fixture(scope="module")
def trained(program):
    program.fit(data={"train": ({"a": A, "b": B}, GOOD)}, epochs=1)
    return program


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (
            {"a": A[:, :4], "b": B},
            "the inputs given to predict() (input a): examples of shape [4], but the model takes "
            "[5]",
        ),
        (
            {"a": A},
            "the inputs given to predict(): the data has no input 'b'; the model's inputs are a, b",
        ),
        (A, "the inputs given to predict(): the model has several inputs (a, b), but the data "),
        (
            {"a": A, "b": B, "z": B},
            "the inputs given to predict(): the data has an unknown input 'z'",
        ),
    ],
)
def test_predict_checks_names_and_shapes(trained, x, message):
    with pytest.raises(DataError) as e:
        trained.predict(x)
    assert message in str(e.value)


def test_predict_one_input_checks_its_shape():
    p = nncompile.compile(text=ONE)
    p.fit(data={"train": (A, A[:, :1])}, epochs=1)
    with pytest.raises(DataError) as e:
        p.predict(A[:, :3])
    assert "the inputs given to predict(): examples of shape [3], but the model takes [5]" in str(
        e.value
    )
    assert p.predict({"a": A}).shape == (N, 1)  # a dict with the one input's name is fine


NPZ = """
data d { source: npz("two.npz", x=["a", "b"], y=["c", "r"]) }
model M {
  input a: [5]
  input b: [3]
  ab = concat(a, b)
  h = dense(8, activation=relu)(ab)
  c = dense(4, activation=softmax)(h)
  r = dense(2)(h)
  output c, r
}
train { model: M data: d loss: {c: categorical_crossentropy, r: mse} epochs: 1 }
"""


def test_npz_regression_target_of_another_shape_is_a_diagnostic(tmp_path):
    np.savez(tmp_path / "two.npz", a=A, b=B, c=GOOD["c"], r=R.normal(size=(N, 3)).astype("f4"))
    spec = tmp_path / "m.nn"
    spec.write_text(NPZ)
    with pytest.raises(CompileError) as e:
        nncompile.compile(str(spec))
    text = str(e.value)
    assert "output r of model M is [2], but array 'r' of data d has targets of shape [3]" in text
    assert "m.nn:10:" in text or "m.nn:11:" in text or "m.nn:" in text


def test_a_keras_list_of_targets_is_named_as_such(program):
    with pytest.raises(DataError) as e:
        program.fit(data={"train": ({"a": A, "b": B}, [GOOD["c"], GOOD["k"], GOOD["r"]])})
    assert (
        "the arrays given to fit(), train split (y): the model has several outputs (c, k, r), but "
        "the data gives a list of 3 arrays" in str(e.value)
    )
    assert (
        e.value.hint == "give a dict of arrays keyed by output name: {'c': ..., 'k': ..., 'r': ...}"
    )
