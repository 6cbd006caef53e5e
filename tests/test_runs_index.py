"""Issue 12, runs: `nncompile runs` (a table of runs) and `nncompile compare` (curves, settings)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from tiny_specs import DIGITS as SPEC

import nncompile


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """runs/tiny-main/1 (hidden=4, 2 epochs) and /2 (hidden=32, 3 epochs), saved by the API."""
    folder = tmp_path_factory.mktemp("index")
    (folder / "tiny.nn").write_text(SPEC)
    with contextlib.chdir(folder):
        for hidden, epochs in ((4, 2), (32, 3)):
            program = nncompile.compile("tiny.nn", sets={"hidden": hidden})
            program.fit(epochs=epochs)
            program.save()
    return folder


def test_runs_lists_every_run_with_its_settings_and_metrics(two_runs, cli):
    root = two_runs / "runs"
    code, out, err = cli("runs", str(root), "--format", "json", "--sort", "epochs")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["run"] for r in rows] == [str(root / "tiny-main/1"), str(root / "tiny-main/2")]
    assert [r["overrides"] for r in rows] == [{"hidden": "4"}, {"hidden": "32"}]
    assert [r["epochs"] for r in rows] == [2, 3]
    for r in rows:
        lines = (Path(r["run"]) / "metrics.jsonl").read_text().splitlines()
        history = [json.loads(line) for line in lines]
        assert r["final"]["val_loss"] == history[-1]["val_loss"]
        best = min(history, key=lambda e: e["val_loss"])
        assert r["best_epoch"] == best["epoch"] and r["best"]["val_loss"] == best["val_loss"]
        assert set(r["test"]) == {"loss", "accuracy"} and r["spec"] == "tiny"
    # sorted by the last epoch's validation accuracy, descending
    code, out, _ = cli("runs", str(root), "--format", "json", "--sort", "val_accuracy", "--reverse")
    accuracies = [r["final"]["val_accuracy"] for r in json.loads(out)]
    assert accuracies == sorted(accuracies, reverse=True)
    # the table
    code, out, _ = cli("runs", str(root))
    assert code == 0 and "tiny-main/1" in out and "hidden=32" in out and "val_loss" in out


def test_runs_sort_key_and_empty_folder(two_runs, tmp_path, cli):
    code, _, err = cli("runs", str(two_runs / "runs"), "--sort", "nope")
    assert code == 1 and err.startswith("nncompile: cannot sort by 'nope': no run has it\n")
    assert "test_accuracy" in err and "best_val_loss" in err
    code, _, err = cli("runs", str(tmp_path))
    assert code == 0 and err == f"no runs under {tmp_path}\n"
    code, _, err = cli("runs", str(tmp_path / "none"))
    assert code == 1 and err.startswith(f"nncompile: no folder {tmp_path / 'none'}")


def test_compare_draws_the_curves_and_prints_what_differs(two_runs, tmp_path, cli):
    group = two_runs / "runs" / "tiny-main"
    png = tmp_path / "curves.png"
    code, out, err = cli("compare", str(group), "-o", str(png), "--format", "json")
    assert code == 0 and err == f"wrote {png}\n"
    shown = json.loads(out)
    assert shown["runs"] == [str(group / "1"), str(group / "2")]
    assert shown["differences"] == {"--set hidden": ["4", "32"]}  # epochs: --epochs, not CONFIG
    from matplotlib.image import imread

    image = imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 900  # 3 panels: loss, accuracy, lr
    code, out, _ = cli("compare", str(group / "1"), str(group / "2"))
    assert code == 0 and "settings that differ" in out and "--set hidden" in out
    code, _, err = cli("compare", str(tmp_path))
    assert code == 1 and err.startswith(f"nncompile: {tmp_path} is not a run folder")
