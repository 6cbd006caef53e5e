"""Hardening: an ejected train.py reports regression metrics in the targets' units, as
`nncompile train` does (with `normalize_target`, errors times the targets' spread)."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

import nncompile
from nncompile.codegen.eject import eject
from nncompile.compiler import analyse, read

SPEC = """data d {
  source: synthetic("sine", n=300, noise=0.1)
  split: {train: 0.7, test: 0.3}
  normalize_target: standard
}
model M {
  input x: [1]
  dense(16, activation=tanh)
  dense(1)
}
train { model: M  data: d  loss: mse  metrics: [mae, rmse]  epochs: 1  batch_size: full  seed: 3 }
"""


def run_ejected(folder: Path, monkeypatch, capsys) -> dict[str, float]:
    """train.py run in this process (its modules `data` and `model` forgotten afterwards)."""
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "argv", ["train.py"])
    try:
        runpy.run_path(str(folder / "train.py"), run_name="__main__")
    finally:
        for name in ("data", "model"):
            sys.modules.pop(name, None)
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("test: "))
    return {k: float(v) for k, v in re.findall(r"(\S+) (-?[\d.]+(?:e[-+]?\d+)?)", line[6:])}


def test_ejected_regression_metrics_are_in_the_targets_units(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "sine.nn"
    spec.write_text(SPEC)
    analysed, _ = analyse(read(str(spec)))
    eject(analysed, None, tmp_path / "out")
    folder = tmp_path / "out"
    ejected = run_ejected(Path(folder), monkeypatch, capsys)
    program = nncompile.compile(str(spec))
    program.fit()
    trained = program.evaluate("test")
    assert set(ejected) == {"loss", "mae", "rmse"}
    for key in ejected:  # (train.py prints 4 decimals)
        assert ejected[key] == pytest.approx(trained[key], abs=1e-4), key
    # the targets' spread is not 1: scaled errors would differ
    assert "TARGET_SCALE = data.TARGET_SCALE" in (Path(folder) / "train.py").read_text()
