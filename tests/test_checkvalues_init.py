"""`check` reads the run folder `init: checkpoint(run, layers=[...])` names (semantics.initrun,
registry.runpaths): no trained run there yet is a warning (a pretraining spec may write it later),
a trained run without a listed layer an error at that name. No training here: run folders are
written as a run writes them (the marker, params/ with its checkpoint's tree metadata)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nncompile
from nncompile.registry.runpaths import MARKER, param_layers

SPEC = """data d { source: sklearn("iris")  split: {train: 0.8, val: 0.2} }
model Features { input x: [4]  dense(8, activation=relu) }
model M { input x: [4]  Features  dense(3, activation=softmax) }
train {
  model: M  data: d  loss: categorical_crossentropy  epochs: 1
  init: checkpoint("runs/pre-main", layers=[Features, dense_1])
}
"""


def diagnose(tmp_path, monkeypatch) -> list[tuple[int, str, str, str, str | None]]:
    (tmp_path / "s.nn").write_text(SPEC, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # (init's path is relative to the working directory)
    found = nncompile.check("s.nn")
    return [(d.span.line, d.severity, d.code, d.message, d.hint) for d in found]


def trained_run(folder, layers: list[str]) -> None:
    """A complete run folder whose params/ holds `layers` (each a kernel and a bias)."""
    (folder / "params").mkdir(parents=True)
    tree = {
        str((name, leaf)): {
            "key_metadata": [{"key": name, "key_type": 2}, {"key": leaf, "key_type": 2}],
            "value_metadata": {"value_type": "jax.Array", "write_shape": [4]},
        }
        for name in layers
        for leaf in ("kernel", "bias")
    }
    (folder / "params" / "_METADATA").write_text(json.dumps({"tree_metadata": tree}))
    (folder / MARKER).write_text(json.dumps({"format": "nncompile-run", "complete": True}))


def test_no_trained_run_yet_is_a_warning(tmp_path, monkeypatch):
    assert diagnose(tmp_path, monkeypatch) == [
        (
            6,
            "warning",
            "E505",
            "init: no trained run at runs/pre-main yet (the path is relative to the working "
            "directory)",
            "train the run it names first (`nncompile train SPEC --out RUN`), or fix the path",
        )
    ]


def test_a_group_folder_without_a_complete_run_is_no_trained_run(tmp_path, monkeypatch):
    (tmp_path / "runs" / "pre-main" / "1").mkdir(parents=True)  # (killed before it saved)
    (found,) = diagnose(tmp_path, monkeypatch)
    assert found[1] == "warning" and "no trained run at runs/pre-main" in found[3]


def test_a_layer_the_run_does_not_hold(tmp_path, monkeypatch):
    trained_run(tmp_path / "runs" / "pre-main" / "1", ["Features", "dense_2"])
    (tmp_path / "runs" / "pre-main" / "latest").symlink_to("1")
    assert diagnose(tmp_path, monkeypatch) == [
        (
            6,
            "error",
            "E505",
            "init: layer 'dense_1' is not in runs/pre-main/1 (its layers: Features, dense_2)",
            "leave 'dense_1' out of `layers`, or name the layer in this model as in the run",
        )
    ]


def test_a_run_holding_every_listed_layer_passes(tmp_path, monkeypatch):
    trained_run(tmp_path / "runs" / "pre-main", ["Features", "dense_1"])
    assert diagnose(tmp_path, monkeypatch) == []


def test_unreadable_metadata_says_nothing(tmp_path, monkeypatch):
    """A params/ folder whose metadata cannot be read is left to loading (it says what is wrong)."""
    run = tmp_path / "runs" / "pre-main"
    trained_run(run, ["Features"])
    (run / "params" / "_METADATA").write_text("{not json")
    assert diagnose(tmp_path, monkeypatch) == []


@pytest.mark.slow  # (imports orbax and JAX: ~3 s)
def test_param_layers_reads_what_orbax_writes(tmp_path):
    """The tree metadata's format is Orbax's: read back from a checkpoint it wrote (the RNG state
    a dropout layer keeps is not a layer's parameters: loading skips it too)."""
    ocp = pytest.importorskip("orbax.checkpoint")
    state = {
        "Features": {"dense_1": {"kernel": np.zeros((4, 8)), "bias": np.zeros(8)}},
        "dense_2": {"kernel": np.zeros((8, 3))},
        "dropout_1": {"rngs": {"default": {"count": np.zeros((), np.uint32)}}},
    }
    checkpointer = ocp.StandardCheckpointer()
    try:
        checkpointer.save((tmp_path / "params").absolute(), state)
        checkpointer.wait_until_finished()
    finally:
        checkpointer.close()
    assert param_layers(tmp_path) == {"Features", "dense_2"}
