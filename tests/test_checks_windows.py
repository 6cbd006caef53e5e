"""`check` reads the targets of `windows` data from the file headers (semantics.windowed): an npz
archive's `y` (shape, class ids or values), a csv file's target column, a text source's tokens;
with `targets: last` a window's target is the row after it, with `targets: sequence` a row per
step. A model whose output cannot take them is an error at the loss, before anything is loaded
(the loader stopped at the same mismatch after reading the whole file)."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile

SPEC = """\
data d { source: SOURCE  split: {train: 0.8, val: 0.2}  windows: {length: 5WINDOWS} }
model M { input x: INPUT  BODY }
train { model: M  data: d  loss: LOSS }
"""
RNG = np.random.default_rng(0)


@pytest.fixture
def folder(tmp_path):
    x = RNG.normal(size=(60, 3)).astype("float32")
    np.savez(tmp_path / "values.npz", x=x, y=RNG.normal(size=(60,)).astype("float32"))
    np.savez(tmp_path / "pairs.npz", x=x, y=RNG.normal(size=(60, 2)).astype("float32"))
    np.savez(tmp_path / "ids.npz", x=x, y=np.arange(60) % 4)
    rows = "".join(f"{i},{i % 3},{i % 5},{i * 0.5}\n" for i in range(60))
    (tmp_path / "series.csv").write_text("a,b,c,t\n" + rows, encoding="utf-8")
    (tmp_path / "t.txt").write_text("abcd " * 40, encoding="utf-8")
    return tmp_path


def diagnose(folder, source, body, loss="mse", windows="", shape="[5, 3]"):
    text = SPEC.replace("SOURCE", source).replace("WINDOWS", windows).replace("INPUT", shape)
    (folder / "s.nn").write_text(text.replace("BODY", body).replace("LOSS", loss), "utf-8")
    return [(d.span.line, d.message, d.hint) for d in nncompile.check(folder / "s.nn")]


CLASSES = "categorical_crossentropy"
LAST_STATE = "lstm(8)  "
PER_STEP = "lstm(8, return_sequences=true)  "


@pytest.mark.parametrize(
    ("source", "body", "loss", "windows"),
    [
        ('npz("values.npz")', LAST_STATE + "dense(1)", "mse", ""),
        ('npz("values.npz")', PER_STEP + "dense(1)", "mse", ", targets: sequence"),
        ('npz("pairs.npz")', LAST_STATE + "dense(2)", "mse", ""),
        ('npz("ids.npz")', LAST_STATE + "dense(4, activation=softmax)", CLASSES, ""),
        (
            'npz("ids.npz")',
            PER_STEP + "dense(4, activation=softmax)",
            CLASSES,
            ", targets: sequence",
        ),
        ('csv("series.csv", target="t")', LAST_STATE + "dense(1)", "mae", ""),
        ('csv("series.csv", target="t")', PER_STEP + "dense(1)", "mae", ", targets: sequence"),
        ('csv("series.csv", target="t")', LAST_STATE + "dense(3, activation=softmax)", CLASSES, ""),
    ],
)
def test_windows_whose_targets_fit_the_output_pass(folder, source, body, loss, windows):
    assert diagnose(folder, source, body, loss, windows) == []


def test_a_text_source_gives_a_class_id_per_step_or_per_window(folder):
    tokens = "embedding(5, 4)  "
    for body, windows in (
        (tokens + PER_STEP + "dense(5, activation=softmax)", ", targets: sequence"),
        (tokens + LAST_STATE + "dense(5, activation=softmax)", ""),
    ):
        assert diagnose(folder, 'text("t.txt")', body, CLASSES, windows, "int[5]") == []


SEQUENCE_HINT = (
    "end the model with a value per step ([5, 1]: return_sequences=true on the last recurrent "
    "layer, then dense(1)), or set `targets: last` for the row after the window"
)


@pytest.mark.parametrize(
    ("source", "body", "loss", "windows", "message", "hint"),
    [
        (
            'npz("values.npz")',
            LAST_STATE + "dense(1)",
            "mse",
            ", targets: sequence",
            "model M outputs [1] per example, but data d's windows (`targets: sequence`, from "
            "array 'y') give targets of shape [5, 1] per window",
            SEQUENCE_HINT,
        ),
        (
            'csv("series.csv", target="t")',
            LAST_STATE + "dense(1)",
            "mse",
            ", targets: sequence",
            "model M outputs [1] per example, but data d's windows (`targets: sequence`, from "
            "column 't') give targets of shape [5, 1] per window",
            SEQUENCE_HINT,
        ),
        (
            'npz("pairs.npz")',
            LAST_STATE + "dense(1)",
            "mse",
            "",
            "model M outputs [1] per example, but data d's windows (`targets: last`, from array "
            "'y') give targets of shape [2] per window",
            "end the model with dense(2)",
        ),
        (
            'csv("series.csv", target="t")',
            LAST_STATE + "dense(3)",
            "huber",
            "",
            "model M outputs [3] per example, but data d's windows (`targets: last`, from column "
            "'t') give targets of shape [1] per window",
            "end the model with dense(1)",
        ),
        (
            'npz("values.npz")',
            PER_STEP + "dense(1)",
            "mse",
            "",
            "model M outputs [5, 1] per example, but data d's windows (`targets: last`, from "
            "array 'y') give targets of shape [1] per window",
            "set `targets: sequence` for a row per step, or end the model with dense(1)",
        ),
        (
            'npz("ids.npz")',
            LAST_STATE + "dense(4, activation=softmax)",
            CLASSES,
            ", targets: sequence",
            "categorical_crossentropy reads one class id per example (model M outputs [4]), but "
            "data d's windows (`targets: sequence`, from array 'y') give [5] class ids per window",
            "end the model with a class per step (return_sequences=true on the last recurrent "
            "layer, then dense(classes, activation=softmax)), or set `targets: last` for one "
            "class id per window",
        ),
        (
            'npz("ids.npz")',
            PER_STEP + "dense(4, activation=softmax)",
            CLASSES,
            "",
            "categorical_crossentropy reads a class id per step, [5] (model M outputs [5, 4]), "
            "but data d's windows (`targets: last`, from array 'y') give one class id per window",
            "set `targets: sequence` in the windows for a class id per step, or end the model "
            "with one output per window (return_sequences=false on the last recurrent layer)",
        ),
    ],
)
def test_windows_whose_targets_do_not_fit_are_refused_at_the_loss(
    folder, source, body, loss, windows, message, hint
):
    assert diagnose(folder, source, body, loss, windows) == [(3, message, hint)]


def test_a_text_source_with_one_output_per_window_and_targets_per_step(folder):
    body = "embedding(5, 4)  " + LAST_STATE + "dense(5, activation=softmax)"
    found = diagnose(folder, 'text("t.txt")', body, CLASSES, ", targets: sequence", "int[5]")
    assert found == [
        (
            3,
            "categorical_crossentropy reads one class id per example (model M outputs [5]), but "
            "data d's windows (`targets: sequence`, from the text's tokens) give [5] class ids "
            "per window",
            "end the model with a class per step (return_sequences=true on the last recurrent "
            "layer, then dense(classes, activation=softmax)), or set `targets: last` for one "
            "class id per window",
        )
    ]


def test_float_series_with_a_classification_loss_stay_one_error(folder):
    """The source's task (a float `y`) already refuses the loss: no second error on shapes."""
    found = diagnose(
        folder, 'npz("values.npz")', LAST_STATE + "dense(4, activation=softmax)", CLASSES
    )
    assert [m for _, m, _ in found] == [
        "categorical_crossentropy needs class labels, but data d has real-valued targets"
    ]


def test_headers_that_say_nothing_leave_the_targets_to_loading(folder):
    """A missing file is a warning (it may be written later): loading compares the targets."""
    missing = diagnose(folder, 'npz("gone.npz")', LAST_STATE + "dense(7)")
    assert [m for _, m, _ in missing] == ["data file 'gone.npz' not found"]


def test_an_archive_without_targets_is_refused_for_a_loss_that_reads_them(folder):
    np.savez(folder / "bare.npz", x=RNG.normal(size=(30, 3)))
    assert diagnose(folder, 'npz("bare.npz")', LAST_STATE + "dense(7)") == [
        (
            1,
            "data d has no targets (bare.npz has no array 'y'), but mse compares the model's "
            "outputs with targets",
            'name the targets\' array: npz(..., y="labels"), or add `target: input` to the data '
            "block for a reconstruction",
        )
    ]


def test_an_archive_with_too_few_rows_for_one_window(folder):
    np.savez(folder / "short.npz", x=RNG.normal(size=(5, 3)), y=RNG.normal(size=(5,)))
    assert diagnose(folder, 'npz("short.npz")', LAST_STATE + "dense(1)") == [
        (
            1,
            "data d has 5 rows (short.npz, array 'x'), too few for one window: length 5 with "
            "horizon 1 needs 6",
            "use more data or a smaller windows.length",
        )
    ]
    np.savez(folder / "short.npz", x=RNG.normal(size=(6, 3)), y=RNG.normal(size=(6,)))
    assert diagnose(folder, 'npz("short.npz")', LAST_STATE + "dense(1)") == [
        (
            1,
            "data d has 6 rows (short.npz, array 'x'): 1 window(s) of length 5 (horizon 1, "
            "stride 1), too few for the 2 splits train, val",
            "use more data, shorter windows or a smaller stride, or fewer splits",
        )
    ]
    np.savez(folder / "short.npz", x=RNG.normal(size=(7, 3)), y=RNG.normal(size=(7,)))
    assert diagnose(folder, 'npz("short.npz")', LAST_STATE + "dense(1)") == []
    strided = diagnose(folder, 'npz("short.npz")', LAST_STATE + "dense(1)", windows=", stride: 2")
    assert [m for _, m, _ in strided] == [
        "data d has 7 rows (short.npz, array 'x'): 1 window(s) of length 5 (horizon 1, stride "
        "2), too few for the 2 splits train, val"
    ]
