"""Issue 10, section 2: data that does not fit the model never trains silently.

Each case trained (or predicted) and exited 0 before: class ids past the output width, int64 ids
that wrap in int32, real-valued targets under a cross-entropy loss, labels 0..4 under binary
cross-entropy, a single class, a csv header naming two columns alike, NaN inputs to `predict`.
Now each is a DataError naming the data (file and column or array) and the offending values; the
CLI exits 1 without a traceback.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import nncompile
from nncompile.errors import DataError

SPEC = """
data rows {{ source: {source}  split: {{train: 0.6, val: 0.2, test: 0.2}} }}
model M {{ input x: [3]  dense(8, activation=relu)  {head} }}
train {{ model: M  data: rows  loss: {loss}  optimizer: adam(lr=1e-2)  epochs: 1  batch_size: 8 }}
"""
SOFTMAX2 = "dense(2, activation=softmax)"
SIGMOID1 = "dense(1, activation=sigmoid)"


def write_csv(folder, targets, header="a,b,c,label", name="rows.csv"):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(targets), 3))
    lines = [f"{a:.3f},{b:.3f},{c:.3f},{t}" for (a, b, c), t in zip(x, targets, strict=True)]
    (folder / name).write_text(header + "\n" + "\n".join(lines) + "\n")


def spec(folder, *, source='csv("rows.csv", target="label")', head=SOFTMAX2, loss=None):
    loss = loss or "categorical_crossentropy"
    path = folder / "s.nn"
    path.write_text(SPEC.format(source=source, head=head, loss=loss))
    return path


def cli(folder, *args):
    """Run `nncompile ARGS` in `folder`: (exit code, stderr + stdout); never a traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "nncompile", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = done.stderr + done.stdout
    assert "Traceback" not in text and "internal error" not in text, text
    return done.returncode, text


def train(folder, *extra):
    return cli(folder, "train", "s.nn", "--quiet", "--out", "run", *extra)


# ---- class ids past what the output and the loss tell apart -------------------------------------
def test_five_classes_into_two_softmax_units(tmp_path):
    write_csv(tmp_path, [i % 5 for i in range(60)])
    spec(tmp_path)
    code, text = train(tmp_path)
    assert code == 1, text
    assert "rows.csv, column 'label'" in text
    assert "outside the class ids 0..1" in text and "2, 3, 4" in text
    assert "dense(5, activation=softmax)" in text
    assert not (tmp_path / "run" / "params").exists()


def test_labels_0_to_4_as_binary_crossentropy_targets(tmp_path):
    write_csv(tmp_path, [i % 5 for i in range(60)])
    spec(tmp_path, head=SIGMOID1, loss="binary_crossentropy")
    code, text = train(tmp_path)
    assert code == 1, text
    assert "rows.csv, column 'label'" in text and "binary_crossentropy" in text
    assert "outside the class ids 0..1" in text and "2, 3, 4" in text


def test_fit_arrays_with_ids_past_the_output(tmp_path):
    program = nncompile.compile(spec(tmp_path))
    x, y = np.zeros((20, 3), np.float32), np.arange(20) % 2
    y[5], y[9] = 7, 2
    with pytest.raises(DataError, match=r"the arrays given to fit\(\) \(y\).*outside.*: 2, 7\n"):
        program.fit((x, y))


# ---- integers that int32 cannot hold ------------------------------------------------------------
def test_int64_ids_that_wrap_in_int32_from_npz(tmp_path):
    y = np.array([0, 1, 2**32 + 1] * 10, dtype=np.int64)  # 2**32+1 wraps to class 1
    np.savez(tmp_path / "d.npz", x=np.ones((30, 3)), y=y)
    spec(tmp_path, source='npz("d.npz")')
    code, text = train(tmp_path)
    assert code == 1, text
    assert "d.npz" in text and "'y'" in text and "4294967297" in text


def test_int64_ids_that_wrap_in_int32_given_to_fit(tmp_path):
    program = nncompile.compile(spec(tmp_path))
    y = np.array([0, 1, 2**32 + 1] * 10, dtype=np.int64)
    with pytest.raises(DataError, match=r"do not fit in 32-bit integers \(4294967297\)"):
        program.fit((np.ones((30, 3), np.float32), y))


# ---- task vs loss -------------------------------------------------------------------------------
def test_real_valued_csv_targets_with_crossentropy(tmp_path):
    write_csv(tmp_path, [f"{0.37 * i:.2f}" for i in range(60)])
    spec(tmp_path)
    code, text = train(tmp_path)
    assert code == 1, text
    assert "rows.csv, column 'label'" in text
    assert "categorical_crossentropy needs class labels, but the targets are real-valued" in text


def test_float_targets_given_to_fit_with_crossentropy(tmp_path):
    program = nncompile.compile(spec(tmp_path))
    y = np.linspace(0, 1, 20).astype(np.float32)
    with pytest.raises(DataError, match=r"not class ids .*categorical_crossentropy needs integer"):
        program.fit((np.ones((20, 3), np.float32), y))


def test_class_labels_with_a_regression_loss(tmp_path):
    write_csv(tmp_path, [i % 3 for i in range(60)])
    spec(tmp_path, head="dense(1)", loss="mse")
    code, text = train(tmp_path)
    assert code == 1, text
    assert "rows.csv, column 'label'" in text and "mse is a regression loss" in text
    assert "task: regression" in text


# ---- a single class -----------------------------------------------------------------------------
def test_single_class_csv(tmp_path):
    write_csv(tmp_path, ["cat"] * 40)
    spec(tmp_path)
    code, text = train(tmp_path)
    assert code == 1, text
    assert "rows.csv, column 'label'" in text
    assert "every training target is the same class ('cat')" in text


def test_single_class_arrays_given_to_fit(tmp_path):
    program = nncompile.compile(spec(tmp_path))
    with pytest.raises(DataError, match=r"every training target is the same class \(1\)"):
        program.fit((np.ones((20, 3), np.float32), np.ones(20, np.int64)))


# ---- the csv header -----------------------------------------------------------------------------
def test_two_csv_columns_of_one_name(tmp_path):
    write_csv(tmp_path, [i % 2 for i in range(60)], header="a,b,a,label")
    spec(tmp_path)
    code, text = train(tmp_path)
    assert code == 1, text
    assert "rows.csv has two columns named 'a' (columns 1 and 3)" in text


# ---- predict on bad inputs ----------------------------------------------------------------------
def test_predict_on_nan_inputs(tmp_path):
    write_csv(tmp_path, [i % 2 for i in range(60)])
    spec(tmp_path)
    code, text = train(tmp_path)
    assert code == 0, text
    (tmp_path / "in.csv").write_text("0.1,0.2,0.3\n0.4,nan,0.6\n")
    code, text = cli(tmp_path, "predict", "s.nn", "--run", "run", "--input", "in.csv")
    assert code == 1, text
    assert "in.csv: 1 NaN or infinite input value(s), the first in example 2 (index [1, 1])" in text
    assert "nan" not in text.replace("NaN", "").lower().split("hint")[0].replace("in.csv", "")


def test_predict_api_on_nan_inputs(tmp_path):
    write_csv(tmp_path, [i % 2 for i in range(60)])
    program = nncompile.compile(spec(tmp_path))
    program.fit()
    x = np.zeros((2, 3), np.float32)
    x[0, 2] = np.inf
    with pytest.raises(DataError, match=r"predict\(\): 1 NaN or infinite input value\(s\)"):
        program.predict(x)


def test_eval_on_data_that_no_longer_fits_the_run(tmp_path):
    write_csv(tmp_path, [i % 2 for i in range(60)])
    spec(tmp_path)
    code, text = train(tmp_path)
    assert code == 0, text
    write_csv(tmp_path, [i % 4 for i in range(60)])  # the data grew two classes since
    code, text = cli(tmp_path, "eval", "s.nn", "--run", "run")
    assert code == 1, text
    assert "rows.csv, column 'label'" in text and "outside the class ids 0..1" in text


# ---- the checks themselves (no training) -------------------------------------------------------
def test_one_hot_rows_wider_than_the_output(tmp_path):
    text = SPEC.replace("split:", "one_hot: true  split:")
    source = 'csv("rows.csv", target="label")'
    loss = "categorical_crossentropy"
    program = nncompile.compile(text=text.format(source=source, head=SOFTMAX2, loss=loss))
    y = np.eye(3, dtype=np.float32)[np.arange(30) % 3]
    with pytest.raises(DataError, match=r"one-hot rows of 3 classes, but model M ends with 2"):
        program.fit((np.ones((30, 3), np.float32), y))


@pytest.mark.parametrize(
    ("loss", "units", "y", "found"),
    [
        ("binary_crossentropy", 1, np.array([0, 1, 2, 1]), "outside the class ids 0..1"),
        ("categorical_crossentropy", 3, np.array([0, -1, 2, 1]), "0..2 that .*: -1"),
        ("categorical_crossentropy", 3, np.array([0, 1, 2**40], np.uint64), "32-bit"),
        ("categorical_crossentropy", 3, np.array([0.0, 1.5, 2.0]), r"not class ids \(e.g. 1.5\)"),
        ("margin", 3, np.array([2, 2, 2]), r"same class \(2\)"),
    ],
)
def test_check_targets_refuses(loss, units, y, found):
    from nncompile.registry.losses import LOSSES
    from nncompile.runtime.fit_checks import Fit, check_targets

    fit = Fit(LOSSES[loss], "M", (units,))
    with pytest.raises(DataError, match=found):
        check_targets({"train": (np.zeros((len(y), 2)), y)}, fit, "here")


@pytest.mark.parametrize(
    ("loss", "units", "y"),
    [
        ("binary_crossentropy", 1, np.array([True, False, True])),
        ("categorical_crossentropy", 3, np.array([0.0, 2.0, 1.0], np.float32)),
        ("categorical_crossentropy", (2, 3), np.array([[0, 2], [1, 1]], np.int64)),  # sequences
        ("mse", 1, np.array([[0.5], [2.5]], np.float32)),
    ],
)
def test_check_targets_accepts(loss, units, y):
    from nncompile.registry.losses import LOSSES
    from nncompile.runtime.fit_checks import Fit, check_targets

    output = units if isinstance(units, tuple) else (units,)  # (steps, classes) for sequences
    check_targets({"train": (np.zeros((len(y), 2)), y)}, Fit(LOSSES[loss], "M", output), "here")
