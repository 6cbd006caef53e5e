"""What bench/fuzz_mutate.py found in sweeps (package fuzz, session 24)."""

from __future__ import annotations

import pytest

import nncompile
from nncompile.compiler import load_spec
from nncompile.source import Bare, as_text

SPEC = """\
let act = relu
let acts = [relu, tanh]
let other = sigmoid
let file = "a.csv"
data d { source: synthetic("blobs", n=24, features=4, classes=3)  split: {train: 0.5, val: 0.5} }
model M { input x: [4]  dense(4, activation=act)  dense(3, activation=softmax) }
train main { model: M  data: d  loss: categorical_crossentropy  batch_size: 12  epochs: 1 }
SWEEP
"""


def _grid(tmp_path, sweep: str) -> dict:
    path = tmp_path / "s.nn"
    path.write_text(SPEC.replace("SWEEP", sweep))
    return next(iter(load_spec(path).sweeps.values())).props


def test_sweep_values_written_as_names_go_back_as_names(tmp_path):
    """(every trial of `grid: {act: [relu, tanh]}` failed: "expected an activation name, not a
    string: relu is written without quotes", while check passed)"""
    props = _grid(tmp_path, 'sweep { train: main  grid: {act: [relu, tanh, other, "x"]} }')
    relu, tanh, other, x = props.grid["act"]
    assert [as_text(v) for v in (relu, tanh)] == ["relu", "tanh"]
    assert isinstance(relu, Bare) and not isinstance(x, Bare) and as_text(x) == '"x"'
    assert not isinstance(other, Bare)  # a `let` name: its value, as before
    for value in (relu, tanh):
        program = nncompile.compile(tmp_path / "s.nn", sets={"act": as_text(value)})
        assert program.run_config is not None
    random = _grid(tmp_path, "sweep { train: main  random: {act: acts}  trials: 2 }").random
    assert [as_text(v) for v in random["act"]] == ["relu", "tanh"]


@pytest.mark.slow
def test_a_sweep_over_activation_names_trains_every_trial(tmp_path):
    path = tmp_path / "s.nn"
    path.write_text(SPEC.replace("SWEEP", "sweep { train: main  grid: {act: [relu, tanh]} }"))
    spec = load_spec(path)
    from nncompile.search import sweep

    result = sweep(spec, out=tmp_path / "out", report=lambda line: None)
    assert [t.state for t in result.trials] == ["complete", "complete"], result.trials
