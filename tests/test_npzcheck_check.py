"""`check` reads the headers of the data files a spec names (an npz archive's member names and .npy
headers, a csv file's header row; never their data) and reports, at the data block's `source:`
line, what loading or the first epoch would stop at: arrays or columns that are not there, object
or text arrays, arrays of different lengths, unreadable files, inputs of another shape than the
model's, targets of another number of values than the loss reads. A file that is not there is a
warning (it may be written later); `check --strict` fails on it."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import nncompile

MODEL = """\
data d { source: SOURCE  split: {train: 1} }
model M { input x: [3]  dense(8, activation=relu)  HEAD }
train { model: M  data: d  loss: LOSS }
"""
CLASSES = ("dense(4, activation=softmax)", "categorical_crossentropy")
VALUES = ("dense(1)", "mse")


def diagnose(tmp_path, source: str, head=CLASSES, model: str | None = None):
    """(severity, line, message, hint) of each diagnostic of the spec in tmp_path."""
    text = (model or MODEL).replace("SOURCE", source).replace("HEAD", head[0])
    (tmp_path / "s.nn").write_text(text.replace("LOSS", head[1]), encoding="utf-8")
    found = nncompile.check(tmp_path / "s.nn")
    return [(d.severity, d.span.line, d.message, d.hint) for d in found]


def npz(tmp_path, **arrays):
    np.savez(tmp_path / "d.npz", **arrays)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 3))
IDS = np.arange(12) % 4


def test_a_good_archive_and_csv_pass(tmp_path):
    npz(tmp_path, x=X, y=IDS)
    assert diagnose(tmp_path, 'npz("d.npz")') == []
    (tmp_path / "d.csv").write_text("a,b,c,label\n" + "1,2,3,0\n" * 4, encoding="utf-8")
    assert diagnose(tmp_path, 'csv("d.csv", target="label")') == []


# ---- the archive alone: reported at the data block --------------------------------------------
@pytest.mark.parametrize(
    ("arrays", "args", "message", "hint"),
    [
        (
            {"features": X, "labels": IDS},
            "",
            "d.npz has no array 'x'; it holds features, labels",
            "name one of its arrays",
        ),
        (
            {"features": X, "y": IDS},
            ', x="feature"',
            "d.npz has no array 'feature'; it holds features, y",
            "did you mean 'features'? name one of its arrays",
        ),
        (
            {"x": X, "labels": IDS},
            ', y="label"',
            "d.npz has no array 'label'; it holds x, labels",
            "did you mean 'labels'? name one of its arrays",
        ),
        (
            {"x": np.array([[1, "a", None]] * 12, dtype=object), "y": IDS},
            "",
            "d.npz: array 'x' holds Python objects, and loading it would unpickle them (refused)",
            "store plain numeric arrays (int or float), never object arrays",
        ),
        (
            {"x": np.array([["a", "b", "c"]] * 12), "y": IDS},
            "",
            "d.npz: array 'x' has dtype <U1, not numbers",
            "store int or float arrays",
        ),
        (
            {"x": X, "y": np.zeros(12, dtype=complex)},
            "",
            "d.npz: array 'y' has dtype complex128, not numbers",
            "store int or float arrays",
        ),
        (
            {"x": np.zeros((0, 3)), "y": IDS[:0]},
            "",
            "d.npz: array 'x' has no examples (shape (0, 3))",
            "store one row per example",
        ),
        (
            {"x": X[:10], "y": IDS},
            "",
            "d.npz: the arrays have different numbers of examples (x: 10, y: 12)",
            "store one row per example in every array",
        ),
    ],
)
def test_what_the_loader_would_refuse_is_an_error_at_the_source(
    tmp_path, arrays, args, message, hint
):
    npz(tmp_path, **arrays)
    found = diagnose(tmp_path, f'npz("d.npz"{args})')
    assert found[0] == ("error", 1, message, hint)


def test_files_that_are_no_archive_are_refused(tmp_path):
    with open(tmp_path / "d.npz", "wb") as f:  # (np.save would add .npy to a name)
        np.save(f, X)
    assert diagnose(tmp_path, 'npz("d.npz")')[0][2:] == (
        "d.npz holds a single array, not a .npz archive",
        "save with numpy.savez(path, x=..., y=...)",
    )
    (tmp_path / "d.npz").write_bytes(b"\x80\x04garbage, or a pickle")
    assert diagnose(tmp_path, 'npz("d.npz")')[0][2] == (
        "d.npz is not a readable .npz archive (pickled files are refused)"
    )


def test_a_member_shorter_than_its_header_says_is_damaged(tmp_path):
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", IDS)
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("x.npy", (tmp_path / "x.npy").read_bytes()[:-40])  # a write cut short
        archive.writestr("y.npy", (tmp_path / "y.npy").read_bytes())
    found = diagnose(tmp_path, 'npz("d.npz")')
    assert found[0][2:] == (
        "d.npz: array 'x' is damaged and cannot be read",
        "write the archive again",
    )


def test_named_arrays_are_checked_by_name(tmp_path):
    spec = """\
data d { source: npz("d.npz", x=["a", "b"], y=["c", "v"])  split: {train: 1} }
model M {
  input a: [3]
  input b: [2]
  h = concat(a, b)
  c = dense(4, activation=softmax)(h)
  v = dense(2)(h)
  output c, v
}
train { model: M  data: d  loss: {c: categorical_crossentropy, v: mse} }
"""
    npz(tmp_path, a=X, b=X[:, :2], c=IDS, v=X[:, :2])
    assert diagnose(tmp_path, "", model=spec) == []
    npz(tmp_path, a=X, b=X[:10, :2], c=IDS, vv=X[:, :2])
    assert [m for _, _, m, _ in diagnose(tmp_path, "", model=spec)] == [
        "d.npz has no array 'v'; it holds a, b, c, vv"
    ]
    npz(tmp_path, a=X, b=X[:10, :2], c=IDS, v=X[:, :2])
    assert [m for _, _, m, _ in diagnose(tmp_path, "", model=spec)] == [
        "d.npz: the arrays have different numbers of examples (a: 12, b: 10, c: 12, v: 12)"
    ]
    npz(tmp_path, a=X, b=X[:, :2], c=np.zeros((12, 2, 2), int), v=X[:, :2])
    assert diagnose(tmp_path, "", model=spec)[0][2] == (
        "d.npz: integer targets 'c' must be class ids of shape (n,) or one per step (n, steps), "
        "not (12, 2, 2)"
    )
    npz(tmp_path, a=X, b=X[:, :2], c=np.zeros((12, 2), int), v=X[:, :2])
    assert diagnose(tmp_path, "", model=spec)[0][1:3] == (
        10,
        "categorical_crossentropy reads one class id per example (model M outputs [4]), but "
        "array 'c' of data d holds [2] class ids per example",
    )


# ---- the archive against the model and the loss ----------------------------------------------
def test_inputs_of_another_shape_are_refused(tmp_path):
    npz(tmp_path, x=RNG.normal(size=(12, 5)), y=IDS)
    assert diagnose(tmp_path, 'npz("d.npz")') == [
        (
            "error",
            3,
            "model M takes x: [3], but data d gives examples of shape [5]",
            "declare `input x: [5]`",
        )
    ]


def test_class_ids_per_step_for_one_class_per_example(tmp_path):
    npz(tmp_path, x=X, y=np.zeros((12, 6), int))
    found = diagnose(tmp_path, 'npz("d.npz")')
    assert found == [
        (
            "error",
            3,
            "categorical_crossentropy reads one class id per example (model M outputs [4]), but "
            "array 'y' of data d holds [6] class ids per example",
            "end the model with a class per step: a [steps, classes] output "
            "(dense(classes, activation=softmax) on a sequence)",
        )
    ]


def test_regression_targets_of_another_size_than_the_output(tmp_path):
    npz(tmp_path, x=X, y=RNG.normal(size=(12, 3)))
    assert diagnose(tmp_path, 'npz("d.npz")', VALUES) == [
        (
            "error",
            3,
            "model M outputs [1] per example, but array 'y' of data d has 3 target value(s) per "
            "example",
            "end the model with dense(3), or store 1 value(s) per example",
        )
    ]
    npz(tmp_path, x=X, y=RNG.normal(size=12))  # (n,) for one unit: read as (n, 1)
    assert diagnose(tmp_path, 'npz("d.npz")', VALUES) == []


def test_one_hot_of_real_valued_targets(tmp_path):
    """(found by bench/fuzz_datafiles.py: loading said so; the headers tell)"""
    npz(tmp_path, x=X, y=RNG.normal(size=12))
    found = diagnose(tmp_path, 'npz("d.npz")  one_hot: true')
    assert found[0] == (
        "error",
        1,
        "data d has `one_hot: true`, but its targets are real values, not class ids",
        "remove `one_hot`, or store the targets as integer class ids",
    )
    found = diagnose(tmp_path, 'npz("d.npz")  classes: [0, 1]', VALUES)
    assert found == [
        (
            "error",
            1,
            "data d has `classes`, but its targets are real values, not one class id per example",
            "remove `classes`, or store the targets as integer class ids",
        )
    ]


def test_an_archive_without_targets_for_a_supervised_loss(tmp_path):
    npz(tmp_path, x=X)
    assert diagnose(tmp_path, 'npz("d.npz")') == [
        (
            "error",
            1,
            "data d has no targets (d.npz has no array 'y'), but categorical_crossentropy "
            "compares the model's outputs with targets",
            'name the targets\' array: npz(..., y="labels"), or add `target: input` to the data '
            "block for a reconstruction",
        )
    ]


# ---- csv: the header row -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "args", "message", "hint"),
    [
        (
            "a,b,c,labels\n1,2,3,0\n",
            'target="label"',
            "d.csv has no target column 'label'; its columns are a, b, c, labels",
            "did you mean 'labels'? set `target` to columns of the file",
        ),
        (
            "label\n0\n",
            'target="label"',
            "d.csv has no feature columns besides the target 'label'",
            "add feature columns",
        ),
        (
            "a,a,label\n1,2,0\n",
            'target="label"',
            "d.csv has two columns named 'a' (columns 1 and 2)",
            "give every column its own name in the header row",
        ),
        (
            "\n\n",
            'target="label"',
            "d.csv is empty",
            "a csv source needs a header row and at least one data row",
        ),
        (
            "a,b,c,label\n",
            'target="label"',
            "d.csv has a header but no data rows",
            "a csv source needs a header row and at least one data row",
        ),
        (
            "a,b\x00,c,label\n1,2,3,0\n",
            'target="label"',
            "d.csv looks like a binary file (it contains NUL bytes)",
            "give a UTF-8 text file",
        ),
    ],
)
def test_the_csv_header_row_is_read_by_check(tmp_path, text, args, message, hint):
    (tmp_path / "d.csv").write_text(text, encoding="utf-8")
    assert diagnose(tmp_path, f'csv("d.csv", {args})')[0] == ("error", 1, message, hint)


def test_csv_features_are_counted_from_the_header(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n", encoding="utf-8")
    assert diagnose(tmp_path, 'csv("d.csv", target="label")') == [
        (
            "error",
            3,
            "model M takes x: [3], but data d gives examples of shape [2]",
            "declare `input x: [2]`",
        )
    ]
    (tmp_path / "d.csv").write_text("a,b,c,price\n1,2,3,0.5\n", encoding="utf-8")
    assert diagnose(tmp_path, 'csv("d.csv", target="price")', ("dense(2)", "mse"))[0][2] == (
        "model M outputs [2] per example, but column price of data d has 1 target value(s) per "
        "example"
    )


def test_csv_column_groups_against_the_inputs(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,c,label\n1,2,3,0\n", encoding="utf-8")
    spec = """\
data d { source: csv("d.csv", target="label", inputs={p: ["a", "b"], q: ["c", "e"]}) }
model M {
  input p: [2]
  input q: [1]
  h = concat(p, q)
  out = dense(2, activation=softmax)(h)
  output out
}
train { model: M  data: d  loss: categorical_crossentropy }
"""
    assert [m for _, _, m, _ in diagnose(tmp_path, "", model=spec)] == [
        "d.csv has no column 'e'; its columns are a, b, c, label"
    ]
    spec = spec.replace('"c", "e"', '"c"').replace('["a", "b"]', '["a", "b", "c"]')
    assert diagnose(tmp_path, "", model=spec) == [
        (
            "error",
            1,
            "model M takes p: [2], but data d gives it 3 column(s) (a, b, c)",
            "declare `input p: [3]`, or list 2 column(s) for it",
        )
    ]


# ---- a file that is not there ----------------------------------------------------------------
def test_a_missing_file_is_a_warning_and_strict_makes_it_fail(tmp_path, capsys):
    from nncompile.cli import main

    found = diagnose(tmp_path, 'npz("later.npz")')
    assert [(s, line, m) for s, line, m, _ in found] == [
        ("warning", 1, "data file 'later.npz' not found")
    ]
    assert main(["check", str(tmp_path / "s.nn")]) == 0
    assert main(["check", "--strict", str(tmp_path / "s.nn")]) == 1
    assert capsys.readouterr().err.rstrip().endswith("checked 1 file: 1 error or warning")
