"""Weights given only to `Program.fit(sample_weight=...)` are part of the run's data fingerprint
(run.json's `data.sample_weight`, a digest apart from the data's own, which loading the data again
reproduces): a run resumed with other weights is told, `compare` shows runs trained with other
weights, and a loaded run's data check does not mistake the missing weights for other data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import nncompile
from nncompile.runtime.runindex import differences
from nncompile.runtime.runrecord import data_change, data_fingerprint

SPEC = """
model M { input x: [4]  dense(3, activation=softmax) }
train { model: M  loss: categorical_crossentropy  optimizer: sgd(lr=0.1)  batch_size: 8
        epochs: EPOCHS  seed: 0  checkpoint: {every: 1} }
"""
NPZ = """
data d { source: npz("PATH")  split: {train: 0.5, val: 0.25, test: 0.25} }
model M { input x: [4]  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy  optimizer: sgd(lr=0.1)  batch_size: 8
        epochs: 1  seed: 0 }
"""


def arrays(n: int = 16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


def recorded(run) -> dict:
    return json.loads((run / "run.json").read_text())["data"]


def test_the_fingerprint_digests_given_weights_apart():
    x, y = arrays()
    splits = {"train": (x, y)}
    plain = data_fingerprint(splits)
    given = data_fingerprint(splits, given={"train": np.ones(16)})
    other = data_fingerprint(splits, given={"train": np.r_[np.zeros(8), np.ones(8)]})
    assert "sample_weight" not in plain and plain["sha256"] == given["sha256"] == other["sha256"]
    assert given["sample_weight"] != other["sample_weight"]
    assert data_change(given, given) is None and data_change(plain, plain) is None
    assert data_change(given, other) == "other sample weights given to fit()"
    assert data_change(plain, given) == (
        "trained without sample weights given to fit(), now with some"
    )
    assert data_change(given, plain) == "trained with sample weights given to fit(), now without"
    changed = data_fingerprint({"train": (x + 1, y)}, given={"train": np.ones(16)})
    assert data_change(given, changed) == "the same rows, other values"
    assert data_change(None, plain) is None


@pytest.mark.slow  # three fits with checkpoints
def test_a_resume_with_other_weights_is_told_and_compare_shows_them(tmp_path):
    x, y = arrays()
    w, other = np.ones(16, np.float32), np.r_[np.zeros(8), np.ones(8)].astype(np.float32)
    runs = tmp_path / "runs"
    program = nncompile.compile(text=SPEC.replace("EPOCHS", "2"))
    program.fit(data=(x, y), sample_weight=w, epochs=1, run_dir=runs / "1", verbose=False)
    first = recorded(program.save(runs / "1"))
    assert set(first) == {"sha256", "rows", "sample_weight"}
    shutil.copytree(runs / "1", runs / "same")
    notes: list[str] = []
    program = nncompile.compile(text=SPEC.replace("EPOCHS", "2"))
    program.fit(
        data=(x, y), sample_weight=other, run_dir=runs / "1", resume=True, log=notes.append,
        verbose=False,
    )  # fmt: skip
    assert [n for n in notes if n.startswith("warning")] == [
        f"warning: resuming {(runs / '1').resolve()} with data other than it was trained on "
        "(other sample weights given to fit()): the training does not continue the same "
        "computation"
    ]
    second = recorded(program.save(runs / "2"))
    assert second["sha256"] == first["sha256"] and second["sample_weight"] != first["sample_weight"]
    assert [k for k, _ in differences([runs / "1", runs / "2"])] == ["sample weights sha256"]
    notes.clear()  # the same weights: nothing to say
    program = nncompile.compile(text=SPEC.replace("EPOCHS", "2"))
    program.fit(
        data=(x, y), sample_weight=w, run_dir=runs / "same", resume=True, log=notes.append,
        verbose=False,
    )  # fmt: skip
    assert notes and not [n for n in notes if n.startswith("warning")]


def test_a_loaded_run_of_fit_weights_is_not_told_its_data_changed(tmp_path):
    x, y = arrays()
    np.savez(tmp_path / "d.npz", x=x, y=y)
    program = nncompile.compile(text=NPZ.replace("PATH", str(tmp_path / "d.npz")))
    program.fit(sample_weight=np.linspace(0.5, 1.5, 16), verbose=False)
    run = program.save(tmp_path / "run")
    assert set(recorded(run)) == {"sha256", "rows", "sample_weight"}
    notes: list[str] = []
    nncompile.load(run, log=notes.append)
    assert notes == []
    np.savez(tmp_path / "d.npz", x=x + 1, y=y)  # other data: told
    nncompile.load(run, log=notes.append)
    assert notes == [
        f"warning: the data loaded now differs from the data {run} was trained on (the same "
        "rows, other values): its metrics are not comparable with the run's"
    ]
