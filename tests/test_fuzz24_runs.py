"""Run folders used with another spec (bench/fuzz_runfolder.py, package fuzz, session 24): the
refusal says first what trained the run, then the differences (a list of CONFIG keys alone read
as if the spec had been edited)."""

from __future__ import annotations

import json

import pytest

from nncompile.runtime.runfolder import FORMAT, MARKER, RunFolderError, check_program
from nncompile.version import __version__


def _run(tmp_path, config: dict, spec: object = "/somewhere/mlp.nn"):
    marker = {"format": FORMAT, "version": 1, "complete": True, "nncompile": __version__}
    marker["program"] = {"config": config, "code": {}}
    (tmp_path / MARKER).write_text(json.dumps(marker))
    (tmp_path / "run.json").write_text(json.dumps({"spec": {"path": spec, "name": "mlp"}}))
    return tmp_path


MLP = {"kind": "supervised", "model": "M", "batch_size": 8}


@pytest.mark.parametrize(
    ("mine", "said"),
    [
        ({"kind": "supervised", "model": "F", "batch_size": 8}, "model M of mlp.nn, not model F: "),
        ({"kind": "gan", "batch_size": 8, "gan": {}}, "model M of mlp.nn, not a GAN: "),
    ],
)
def test_another_specs_run_says_what_trained_it(tmp_path, mine, said):
    run = _run(tmp_path, MLP)
    with pytest.raises(RunFolderError) as e:
        check_program(run, {"config": mine, "code": {}})
    assert str(e.value).startswith(f"{run} was trained by a different program: {said}CONFIG ")
    assert "leave out FILE" in e.value.hint


def test_an_edited_spec_lists_only_the_differences(tmp_path):
    run = _run(tmp_path, MLP)
    with pytest.raises(RunFolderError) as e:
        check_program(run, {"config": {**MLP, "batch_size": 16}, "code": {}})
    assert e.value.message == (
        f"{run} was trained by a different program: CONFIG batch_size was 8, is 16"
    )


def test_a_damaged_run_record_leaves_the_spec_out(tmp_path):
    run = _run(tmp_path, MLP, spec=None)
    (run / "run.json").write_bytes(b"\xff{")
    with pytest.raises(RunFolderError, match="program: model M, not model F: CONFIG model"):
        check_program(run, {"config": {**MLP, "model": "F"}, "code": {}})
