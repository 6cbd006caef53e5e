"""Hostile inputs a user produces by accident, found by probing the CLI (package fuzz): each was an
"internal error" (exit 3) or did something else than asked before.

- `predict --input` an empty .npy file (EOFError), an array of 0 rows (a reshape error), a CSV
  with a header line (refused: "could not convert string 'a'", though a CSV exported from the
  training data has one), a CSV with the header's columns in another order or with the target
  column still in it;
- `predict --output y.png` wrote `y.png.npy` and said "wrote y.png"; `--output FOLDER` wrote
  `FOLDER.npy`; both now refused before anything is loaded, and `.csv` writes the CSV;
- a checkpoint's metadata edited by hand (an epoch that is not a number, a history that is not a
  list, another epoch than the folder's) crashed `train --resume` or resumed from the wrong epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nncompile.cli import main
from nncompile.errors import DataError
from nncompile.runtime.checkpoint_files import META_FIELDS, meta_problem
from nncompile.runtime.inputfiles import read_named_inputs

SPEC = """
data rows { source: csv("rows.csv", target="label")  split: {train: 0.6, val: 0.2, test: 0.2} }
model M { input x: [3]  dense(8, activation=relu)  dense(2, activation=softmax) }
train { model: M  data: rows  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)  epochs: 2
        batch_size: 8  checkpoint: {every: 1, keep: 3} }
"""
X = np.random.default_rng(0).normal(size=(40, 3)).round(3)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A trained run (2 epochs, a checkpoint per epoch) of a csv spec with columns a, b, c."""
    folder = tmp_path_factory.mktemp("fuzzinputs")
    rows = "".join(f"{a},{b},{c},{int(a + b > 0)}\n" for a, b, c in X)
    (folder / "rows.csv").write_text("a,b,c,label\n" + rows)
    (folder / "s.nn").write_text(SPEC)
    assert main(["train", str(folder / "s.nn"), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


def cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    return code, out.out + out.err


def predict(capsys, run, path, *more) -> tuple[int, str]:
    return cli(capsys, "predict", "--run", run, "--input", path, *more)


def csv_rows(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---- predict inputs -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.npy", b"", "cannot read inputs from {p}: the file is empty"),
        ("none.npy", np.zeros((0, 3)), "{p} holds no examples (0 rows)"),
        ("empty.csv", "", "{p} holds no examples (an empty file)"),
        ("header.csv", "a,b,c\n", "{p} has a header line but no examples"),
        ("typo.csv", "a,b,cc\n1,2,3\n", "{p}: column 'cc' of its header is not a feature"),
        ("fewer.csv", "a,b\n1,2\n", "{p} has no column 'c'; the run was trained on a, b, c"),
        ("text.csv", "a,b,c\n1,x,3\n", "{p} line 2, column 'b': 'x' is not a number"),
        ("hole.csv", "1,2,3\n4,,6\n", "{p} line 2, column 2: '' is not a number"),
        ("ragged.csv", "1,2,3\n4,5\n", "{p} line 2 has 2 fields, but the first row has 3"),
        ("inf.csv", "a,b,c\n1,inf,3\n", "{p}: 1 NaN or infinite input value(s)"),
    ],
)
def test_bad_prediction_inputs_are_diagnostics(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    with pytest.raises(DataError) as e:
        read_named_inputs(str(path), ["a", "b", "c"], ["label"])
    assert message.format(p=path) in str(e.value) and e.value.hint


def test_the_cli_says_the_same(run, capsys):
    np.save(run.parent / "none.npy", np.zeros((0, 3)))
    code, text = predict(capsys, run, run.parent / "none.npy")
    assert code == 1 and "none.npy holds no examples (0 rows)" in text


def test_a_csv_header_is_matched_by_name(run, capsys):
    """A header (the training data's, its columns in any order, the target column still in, blank
    lines) gives the predictions of the bare numbers in the training order."""
    plain = csv_rows(run.parent / "plain.csv", "".join(f"{a},{b},{c}\n" for a, b, c in X[:4]))
    code, want = predict(capsys, run, plain)
    assert code == 0
    shuffled = "c,label,a,b\n" + "".join(f"{c},1,{a},{b}\n\n" for a, b, c in X[:4])
    code, got = predict(capsys, run, csv_rows(run.parent / "named.csv", shuffled))
    assert code == 0 and got == want and len(want.splitlines()) == 4


def test_a_header_typo_names_the_column_it_meant(tmp_path):
    path = csv_rows(tmp_path / "typo.csv", "a,bb,c\n1,2,3\n")
    with pytest.raises(DataError, match="column 'bb' of its header") as e:
        read_named_inputs(str(path), ["a", "b", "c"], ["label"])
    assert e.value.hint.startswith("did you mean 'b'? ")


@pytest.mark.parametrize(
    "output, message",
    [
        ("y.png", "cannot write predictions to {o}: unknown file type .png"),
        ("", "{o} is a folder; predictions are written to one file"),
        ("nowhere/y.npy", "cannot write {o}: no folder"),
    ],
)
def test_a_predictions_file_nncompile_cannot_write_is_refused_first(run, capsys, output, message):
    target = run.parent / output if output else run.parent
    code, text = predict(capsys, run, run.parent / "rows.csv", "--output", target)
    assert code == 1 and message.format(o=target) in text, text
    assert not list(run.parent.glob("y.png*"))


def test_predictions_as_a_csv_file(run, capsys):
    plain = csv_rows(run.parent / "p.csv", "".join(f"{a},{b},{c}\n" for a, b, c in X[:3]))
    code, printed = predict(capsys, run, plain)
    code, _ = predict(capsys, run, plain, "--output", run.parent / "y.csv")
    assert code == 0 and (run.parent / "y.csv").read_text() == printed


def test_evaluating_a_split_the_data_lacks(run):
    """(a ValueError before: `eval --split val` of a run whose data has no validation split)"""
    import nncompile

    program = nncompile.load(run)
    with pytest.raises(
        DataError, match=r"no holdout split to evaluate \(it has train, val, test\)"
    ):
        program.evaluate("holdout")


# ---- checkpoint metadata edited by hand ---------------------------------------------------------
GOOD = {"epoch": 2, "epochs": 2, "history": [{"loss": 1.0}, {"loss": 0.5}], "stopping": None}


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"epoch": "two"}, 'gives epoch "two", not a whole number'),
        ({"epoch": True}, "gives epoch true, not a whole number"),
        ({"epoch": 10**6}, "gives epoch 1000000, but it is the checkpoint of epoch 2"),
        ({"epoch": -1}, "gives epoch -1, not a whole number"),
        ({"history": "x"}, 'gives history "x", not a list of epochs'),
        ({"history": [1, 2]}, "gives a history that is not a list of epochs"),
        ({"history": [{}] * 3}, "gives a history of 3 epochs for epoch 2"),
        ({"stopping": 5}, "gives stopping 5, not an object"),
        ({"devices": "many"}, 'gives devices "many", not a whole number'),
        ({"fingerprint": [[1]]}, "gives a fingerprint that is not a list of [path, shape, dtype]"),
    ],
)
def test_hand_edited_metadata_is_named(change, problem):
    assert meta_problem({**GOOD, **change}, "2") == problem


def test_the_metadata_a_checkpoint_writes_passes(run):
    meta = json.loads((run / "checkpoints" / "2" / "meta" / "metadata").read_text())
    assert meta_problem(meta, "2") is None
    assert set(META_FIELDS) - {"samples"} <= set(meta)  # (a GAN's samples)


@pytest.mark.parametrize("key, value", [("epoch", "two"), ("stopping", {"wait": "x"})])
def test_resume_from_hand_edited_metadata_is_a_diagnostic_and_changes_nothing(
    run, capsys, key, value
):
    meta_file = run / "checkpoints" / "2" / "meta" / "metadata"
    before = meta_file.read_text()
    meta = json.loads(before)
    meta[key] = value if not isinstance(value, dict) else {**(meta[key] or {}), **value}
    meta_file.write_text(json.dumps(meta))
    try:
        listing = sorted(p.name for p in run.iterdir())
        code, text = cli(capsys, "train", run.parent / "s.nn", "--resume", "--out", run, "--quiet")
        assert code == 1 and f"{run / 'checkpoints' / '2'} is corrupt: its metadata" in text, text
        assert "resume from the checkpoint of epoch 1" in text
        assert sorted(p.name for p in run.iterdir()) == listing
    finally:
        meta_file.write_text(before)


def test_resume_without_checkpoints_names_the_run_not_its_staging_folder(run, capsys, tmp_path):
    """(it named the hidden `.run.nncompile-next/checkpoints` a re-run is staged in)"""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy, symlinks=True)
    shutil.rmtree(copy / "checkpoints")
    code, text = cli(capsys, "train", run.parent / "s.nn", "--resume", "--out", copy, "--quiet")
    assert code == 1 and f"no checkpoint to resume from in {copy / 'checkpoints'}\n" in text, text
