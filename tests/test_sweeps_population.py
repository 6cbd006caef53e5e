"""Populations: a sweep whose trials differ only in optimizer hyperparameters trains as one vmapped
program, with the results of separate runs; other sweeps fall back to separate programs, saying
why."""

import csv
import itertools
import json
from pathlib import Path

import pytest

import nncompile
from nncompile.compiler import analyse
from nncompile.population import population
from nncompile.search import as_population, sweep
from nncompile.source import Source

SPEC = """
let lr = 0.01
let decay = 0.001
let hidden = 16
let nesterov = false
data iris {{ source: sklearn("iris")  split: {{train: 0.6, val: 0.2, test: 0.2}} }}
model M {{ input x: [4]  dense(hidden, activation=relu)  dropout(0.2)
           dense(3, activation=softmax) }}
train {{ model: M  data: iris  loss: categorical_crossentropy  {optimizer}
        epochs: 8  batch_size: 16  metrics: [accuracy]
        early_stopping: {{patience: 2, min_delta: 0.02}} }}
sweep {{ grid: {grid} }}
"""
ADAMW = "optimizer: adamw(lr=lr, weight_decay=decay)"


def run(tmp_path, grid, optimizer=ADAMW, population=True, name="p"):
    path = tmp_path / "s.nn"
    path.write_text(SPEC.format(grid=grid, optimizer=optimizer))
    lines = []
    result = sweep(
        nncompile.load_spec(str(path)),
        out=tmp_path / name,
        report=lines.append,
        population=population,
    )
    return result, lines


def series(run_dir, key):
    with open(f"{run_dir}/metrics.csv") as f:
        return [float(r[key]) for r in csv.DictReader(f)]


def test_population_equals_separate_runs_bit_for_bit(tmp_path):
    # on a CPU the members run one after another inside the program (runtime.population's "map"
    # layout): each one's arithmetic is its separate run's, so every number is the same
    grid = "{lr: [0.2, 0.0005], decay: [0.001, 0.01]}"
    together, said = run(tmp_path, grid)
    assert said[0] == (
        "4 trials as one population program, members one after another (CPU): the trials "
        "differ only in optimizer hyperparameters (lr, weight_decay), which "
        "optax.inject_hyperparams keeps in the optimizer state: one program for 4 members"
    )
    apart, said = run(tmp_path, grid, population=False, name="s")
    assert not any("population" in line for line in said)
    lengths = set()
    for a, b in zip(together.trials, apart.trials, strict=True):
        assert a.values == b.values
        assert a.reason == b.reason
        for key in ("loss", "val_loss", "val_accuracy", "lr"):
            assert series(a.run, key) == series(b.run, key)
        test_a = json.loads(Path(a.run, "summary.json").read_text())["test"]
        test_b = json.loads(Path(b.run, "summary.json").read_text())["test"]
        assert test_a == test_b  # the restored best state
        assert a.objective == b.objective
        lengths.add(len(series(a.run, "loss")))
        # a sweep draws its trials together; their folders have no curves.png of their own
        assert not Path(a.run, "curves.png").exists() and not Path(b.run, "curves.png").exists()
    assert len(lengths) > 1, "members stopped early at different epochs"
    assert together.best.number == apart.best.number
    for result in (together, apart):
        assert (result.out / "curves.png").stat().st_size > 10_000


def members(text: str, grid: dict) -> list:
    names = list(grid)
    return [
        analyse(Source(text, "s.nn"), dict(zip(names, combo, strict=True)))[0]
        for combo in itertools.product(*grid.values())
    ]


@pytest.mark.parametrize(
    "grid, optimizer, why",
    [
        ({"hidden": ["8", "16"]}, ADAMW, "the values change model M: one program per shape"),
        (
            {"nesterov": ["true", "false"]},
            "optimizer: sgd(lr=lr, momentum=0.9, nesterov=nesterov)",
            "the values change the optimizer's `nesterov`, compiled in",
        ),
        (
            {"lr": ["0.1", "0.01"]},
            "optimizer: adam(lr=lr)  schedule: cosine()",
            "the learning rate starts a schedule, whose rates are compiled into the program",
        ),
        ({"lr": ["0.1"]}, ADAMW, "one trial: nothing to train together"),
    ],
)
def test_other_sweeps_run_separate_programs(grid, optimizer, why):
    text = SPEC.format(grid="{lr: [0.1]}", optimizer=optimizer)
    decision = population(members(text, grid))
    assert not decision.value and decision.why == why


def test_an_optimizer_keyword_in_one_member_only_falls_back(tmp_path):
    # momentum 0 leaves the keyword out of optax.sgd: the states differ in structure
    path = tmp_path / "s.nn"
    path.write_text(
        SPEC.format(grid="{decay: [0.0, 0.9]}", optimizer="optimizer: sgd(lr=0.1, momentum=decay)")
    )
    lines = []
    points = [{"decay": 0.0}, {"decay": 0.9}]
    assert as_population(str(path), "main", None, points, 1, lines.append) is None
    assert lines == [
        "2 trials as separate programs: member 2's optimizer state has another structure than "
        "member 1's (an optimizer keyword given in one only)"
    ]


def test_plan_says_how_each_sweep_runs(tmp_path, capsys):
    from nncompile.cli import main

    path = tmp_path / "s.nn"
    text = SPEC.format(grid="{lr: [0.1, 0.01], decay: [0.001, 0.01]}", optimizer=ADAMW)
    text += "sweep widths { grid: {hidden: [8, 16]} }\n"
    text += 'sweep shared { random: {lr: [0.1]}  engine: optuna(storage="sqlite:///x.db") }\n'
    path.write_text(text)
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [
        "sweep main: one population program: the trials differ only in optimizer hyperparameters "
        "(lr, weight_decay), which optax.inject_hyperparams keeps in the optimizer state: one "
        "program for 4 members",
        "sweep widths: separate programs: the values change model M: one program per shape",
        "sweep shared: an Optuna study: its trials run one by one, drawn as trials finish",
    ]
