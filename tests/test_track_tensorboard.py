"""`track: tensorboard`: event files read back with TensorBoard's own EventAccumulator."""

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_specs import IRIS_TRACKED as SPEC

import nncompile
from nncompile.cli import main

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def events(folder: Path) -> EventAccumulator:
    everything = {"scalars": 0, "histograms": 0, "tensors": 0}
    accumulator = EventAccumulator(str(folder), size_guidance=everything)
    accumulator.Reload()
    return accumulator


def test_train_writes_every_history_column_per_epoch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("spec.nn").write_text(SPEC.format(track="track: [tensorboard(histograms=true)]"))
    assert main(["train", "spec.nn", "--set", "width=12", "--quiet"]) == 0
    run = Path("runs/spec-main/1")
    acc = events(run / "tensorboard")
    tags = acc.Tags()
    assert set(tags["scalars"]) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for key in ("loss", "val_accuracy", "lr"):
        scalars = acc.Scalars(key)
        assert [s.step for s in scalars] == [1, 2, 3]
        np.testing.assert_allclose([s.value for s in scalars], [h[key] for h in history], 1e-6)
    # a histogram per parameter array and epoch, with the array's size as its count
    assert sorted(tags["histograms"]) == [
        "params/dense_1/bias",
        "params/dense_1/kernel",
        "params/dense_2/bias",
        "params/dense_2/kernel",
    ]
    kernel = acc.Histograms("params/dense_1/kernel")
    assert [h.step for h in kernel] == [1, 2, 3]
    assert kernel[0].histogram_value.num == 4 * 12
    # the model summary (with the --set value) and the settings as text
    summary = acc.Tensors("summary")[0].tensor_proto.string_val[0].decode()
    assert "dense_1  dense  [12]" in summary
    settings = acc.Tensors("settings")[0].tensor_proto.string_val[0].decode()
    assert "let.width = 12" in settings and "optimizer = adam(lr=0.01)" in settings


def test_fit_without_a_run_folder_writes_where_dir_says(tmp_path):
    logdir = tmp_path / "tb"
    text = SPEC.format(track=f'track: [tensorboard(dir="{logdir}")]')
    program = nncompile.compile(text=text)
    history = program.fit(epochs=2)
    acc = events(logdir)
    assert [s.value for s in acc.Scalars("loss")] == pytest.approx(history.series("loss"))
    assert "params/dense_1/kernel" not in acc.Tags()["histograms"]  # histograms are opt-in


def test_track_flag_adds_a_tracker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("spec.nn").write_text(SPEC.format(track=""))
    assert main(["train", "spec.nn", "--epochs", "1", "--quiet", "--track", "tensorboard"]) == 0
    assert [s.step for s in events(Path("runs/spec-main/1/tensorboard")).Scalars("loss")] == [1]


def test_fits_without_a_run_folder_each_get_their_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    program = nncompile.compile(text=SPEC.format(track="track: [tensorboard]"))
    for _ in range(2):  # e.g. a sweep's trials, started within one second
        program.fit(epochs=1)
    folders = sorted(Path("runs/tensorboard").iterdir())
    assert len(folders) == 2 and folders[0].name.startswith("<string>-main-")
    assert all([s.step for s in events(f).Scalars("loss")] == [1] for f in folders)
