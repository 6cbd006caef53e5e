"""`nncompile sweep`: every grid point is a trial, the best one is reported and written down."""

import csv
import json

from nncompile.cli import main

SPEC = """
let hidden = 8
let lr = 1e-2
data iris { source: sklearn("iris")  split: {train: 0.6, val: 0.2, test: 0.2} }
model M { input x: [4]  dense(hidden, activation=relu)  dense(3, activation=softmax) }
train { model: M  data: iris  loss: categorical_crossentropy  optimizer: adam(lr=lr)  epochs: 3
        batch_size: 16
        metrics: [accuracy] }
sweep { train: main  grid: {hidden: [4, 16], lr: [1e-3, 3e-2]}  objective: maximize(val_accuracy) }
"""


def test_grid_sweep(tmp_path, capsys):
    spec = tmp_path / "s.nn"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sw")]) == 0
    with open(tmp_path / "sw" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["hidden"], r["lr"]) for r in rows] == [
        ("4", "0.001"),
        ("4", "0.03"),
        ("16", "0.001"),
        ("16", "0.03"),
    ]
    best = json.loads((tmp_path / "sw" / "best.json").read_text())["best"]
    assert best["val_accuracy"] == max(float(r["val_accuracy"]) for r in rows)
    assert "best: trial" in capsys.readouterr().out


def test_sweep_objective_must_be_recorded(tmp_path, capsys):
    spec = tmp_path / "s.nn"
    spec.write_text(SPEC.replace("maximize(val_accuracy)", "maximize(val_f1)"))
    assert main(["check", str(spec)]) == 1
    assert "sweep objective 'val_f1' is not recorded" in capsys.readouterr().err
