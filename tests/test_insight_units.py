"""Metrics in the data's units: with `normalize_target`, regression metrics equal scikit-learn's on
the de-normalised predictions, the units are said where numbers are printed, and runs without
scaled targets are untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error

import nncompile
from nncompile.cli import main
from nncompile.runconfig import RunConfig

SPEC = (Path(__file__).resolve().parents[1] / "specs" / "simple_ann_regression.nn").read_text()
METRICS = SPEC.replace("metrics:    [mae]", "metrics:    [mae, mse, rmse]")


@pytest.fixture(scope="module")
def trained():
    program = nncompile.compile(text=METRICS)
    program.fit(epochs=4)
    return program


def test_regression_metrics_equal_sklearn_in_the_targets_units(trained):
    x, y = trained.dataset.splits["test"]
    truth = trained.dataset.inverse_targets(y)
    predicted = trained.predict(x, raw=False)  # de-normalised by predict
    metrics = trained.evaluate("test")
    assert metrics["mae"] == pytest.approx(mean_absolute_error(truth, predicted), rel=1e-4)
    assert metrics["mse"] == pytest.approx(mean_squared_error(truth, predicted), rel=1e-4)
    assert metrics["rmse"] == pytest.approx(np.sqrt(mean_squared_error(truth, predicted)), rel=1e-4)
    scale = trained.dataset.stats["y"]["scale"][0]  # the loss stays on the standardised targets
    assert metrics["loss"] == pytest.approx(metrics["mse"] / scale**2, rel=1e-3)
    assert trained.history.epochs[-1]["val_mae"] > 10  # the history too (diabetes: 25..346)
    assert trained.units() == {
        "loss": "standardised target units",
        "mae": "the targets' units",
        "mse": "the targets' units",
        "rmse": "the targets' units",
        "val_loss": "standardised target units",
        "val_mae": "the targets' units",
        "val_mse": "the targets' units",
        "val_rmse": "the targets' units",
    }


def test_arrays_given_to_fit_keep_their_units():
    program = nncompile.compile(text=METRICS)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 10)).astype(np.float32), rng.normal(size=(64, 1)) * 100
    program.fit(data={"train": (x, y.astype(np.float32))}, epochs=1)
    assert program.trainer.config.target_scale is None
    assert program.units() == {}


def test_the_emitted_config_is_unchanged():
    program = nncompile.compile(text=SPEC)
    assert "target_scale" not in program.config
    assert RunConfig.load(program.config).dump() == program.config


def test_train_and_eval_say_the_units(tmp_path, capsys):
    spec = tmp_path / "regression.nn"
    spec.write_text(SPEC.replace("epochs:     100", "epochs:     2"), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", str(spec), "--quiet", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    line = "units: loss in standardised target units; mae in the targets' units"
    assert line in out.splitlines()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["units"]["mae"] == "the targets' units"
    assert main(["eval", str(spec), "--run", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1] == line
    mae = float(out.split("mae ")[1].split()[0])
    assert mae == pytest.approx(summary["test"]["mae"], rel=1e-4) and mae > 10


def test_predict_says_its_units(tmp_path, capsys):
    spec = tmp_path / "regression.nn"
    spec.write_text(SPEC.replace("epochs:     100", "epochs:     1"), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", str(spec), "--quiet", "--out", str(run)]) == 0
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 10), np.float32) + 0.01)
    capsys.readouterr()
    assert main(["predict", str(spec), "--run", str(run), "--input", str(x)]) == 0
    out, err = capsys.readouterr()
    assert "units: predictions in the targets' units (de-normalised)" in err
    assert len(out.split()) == 3 and all(20 < float(v) < 400 for v in out.split()), out
