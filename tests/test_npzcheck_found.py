"""What generated data files (bench/fuzz_datafiles.py, package npzcheck) and reading the loaders
found: files that passed `check` and then crashed loading with an error that was no diagnostic,
or that were reported in wrong words. Each is now a diagnostic, at `check` where headers tell."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import nncompile
from nncompile.errors import DataError
from nncompile.registry.datafiles import csv_problems, npz_problems
from nncompile.registry.sources import SOURCES, load_raw
from nncompile.runtime.data import DataSpec

X = np.random.default_rng(0).normal(size=(12, 3))
IDS = np.arange(12) % 3


def load(tmp_path, source: str, **args):
    return load_raw(DataSpec("d", source, args, base_dir=str(tmp_path)))


def test_every_source_example_passes_the_header_checks(tmp_path):
    for entry in SOURCES.entries():
        if entry.example_files is not None:
            entry.example_files(tmp_path)
        p = entry.params.model_validate(entry.example)
        assert entry.check_files(p, tmp_path) == [], entry.name


def test_a_member_that_is_no_array(tmp_path):
    """(AttributeError "'bytes' object has no attribute 'dtype'": numpy gives a member that is no
    .npy file as its bytes, and the loader read it as an array)"""
    np.savez(tmp_path / "d.npz", x=X, y=IDS)
    with zipfile.ZipFile(tmp_path / "d.npz", "a") as archive:
        archive.writestr("notes.txt", "not an array")
    with pytest.raises(DataError, match=r"d.npz: member 'notes.txt' is not a .npy array"):
        load(tmp_path, "npz", path="d.npz", x="notes.txt")
    p = SOURCES["npz"].params.model_validate({"path": "d.npz", "x": "notes.txt"})
    assert npz_problems(p, tmp_path) == [
        (
            "d.npz: member 'notes.txt' is not a .npy array",
            "store arrays with numpy.savez(path, x=..., y=...)",
        )
    ]


def test_a_damaged_member_is_not_called_an_object_array(tmp_path):
    """(a member cut short raised numpy's ValueError, which the loader took for an object array)"""
    np.save(tmp_path / "x.npy", X)
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("x.npy", (tmp_path / "x.npy").read_bytes()[:-40])
    with pytest.raises(DataError, match=r"array 'x' is damaged and cannot be read"):
        load(tmp_path, "npz", path="d.npz", y=None)


def test_csv_column_groups_without_feature_columns(tmp_path):
    """(ValueError "need at least one array to stack": every column was a target)"""
    (tmp_path / "d.csv").write_text("label\n0\n1\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no feature columns besides the targets"):
        load(tmp_path, "csv", path="d.csv", target={"out": "label"})
    p = SOURCES["csv"].params.model_validate({"path": "d.csv", "target": {"out": "label"}})
    assert csv_problems(p, tmp_path) == [
        ("d.csv has no feature columns besides the targets", "add feature columns")
    ]


def test_a_long_header_is_read_from_the_first_mebibyte_only(tmp_path):
    """A header row longer than what check reads is not judged (loading reads it)."""
    names = [f"c{i}" for i in range(200_000)]
    (tmp_path / "d.csv").write_text(",".join(names) + ",label\n" + "0," * 200_000 + "1\n")
    p = SOURCES["csv"].params.model_validate({"path": "d.csv", "target": "label"})
    assert csv_problems(p, tmp_path) == []


@pytest.mark.slow
def test_generated_data_files_end_in_check_a_diagnostic_or_a_step(tmp_path, capsys):
    """A few cases of the data-file fuzzer (its nightly form: `python bench/fuzz_datafiles.py
    --examples 1500`), traced: none ends in an error that is no diagnostic."""
    from bench_modules import bench_module

    fuzz = bench_module("fuzz_datafiles")
    out = tmp_path / "failures.txt"
    code = fuzz.main(
        ["--examples", "25", "--seed", "0", "--out", str(out), "--folder", str(tmp_path)]
    )
    assert code == 0, out.read_text()
    assert "25 cases in" in capsys.readouterr().out


def test_file_regression_targets_are_read_in_the_outputs_shape(tmp_path):
    """(ValueError "Incompatible shapes for broadcasting: (4, 3, 1), (4, 3)": targets of shape
    (n, 3) from a file for a [3, 1] output passed the checks, as the same number of values, but
    only arrays given to fit() were reshaped to the output's shape)"""
    np.savez(tmp_path / "d.npz", x=X[:, :, None], y=X.astype(np.float32))
    (tmp_path / "s.nn").write_text(
        'data d { source: npz("d.npz")  split: {train: 1} }\n'
        "model M { input x: [3, 1]  dense(1) }\n"
        "train { model: M  data: d  loss: mse  epochs: 1 }\n"
    )
    program = nncompile.compile(tmp_path / "s.nn")
    x, y = program.splits()["train"]
    assert x.shape == (12, 3, 1) and y.shape == (12, 3, 1)


def test_classes_of_a_source_with_class_ids_per_step(tmp_path):
    """(`target: input` hid the source's task: loading said "`classes` needs class labels, but
    this data is sequence"; `classes` picks examples by the source's own labels)"""
    (tmp_path / "d.csv").write_text("a,b,c,label\n" + "1,0,2,1\n0,1,1,0\n" * 4, encoding="utf-8")
    (tmp_path / "s.nn").write_text(
        'data d { source: csv("d.csv", target=["a", "label"], tokens=true)  target: input\n'
        "         classes: [0, 1] }\n"
        "model M { input x: int[2]  embedding(5, 4)  dense(5, activation=softmax) }\n"
        "train { model: M  data: d  loss: categorical_crossentropy }\n"
    )
    assert [(d.span.line, d.message, d.hint) for d in nncompile.check(tmp_path / "s.nn")] == [
        (
            1,
            "data d has `classes`, but its targets are class ids per step, not one class id per "
            "example",
            "remove `classes`",
        )
    ]


def test_regressed_one_hot_rows_of_another_size_than_the_output(tmp_path, monkeypatch):
    """(ValueError "Incompatible shapes for broadcasting: (2, 3, 1), (2, 1)": `one_hot: true`
    targets regressed with mse were never compared with the output; a [1] output took rows of
    3 by broadcasting, silently) `check` finds it in the values now (tests/test_checkvalues_*);
    loading still does, when check cannot read them (here: over its size limit)."""
    from nncompile.registry import datavalues

    monkeypatch.setattr(datavalues, "VALUE_BYTES", 0)
    np.savez(tmp_path / "d.npz", x=X, y=IDS)
    (tmp_path / "s.nn").write_text(
        'data d { source: npz("d.npz")  split: {train: 1}  one_hot: true }\n'
        "model M { input x: [3]  dense(1) }\n"
        "train { model: M  data: d  loss: mse  epochs: 1 }\n"
    )
    with pytest.raises(DataError, match=r"targets of shape \[3\] per example, but model M outputs"):
        nncompile.compile(tmp_path / "s.nn").splits()
