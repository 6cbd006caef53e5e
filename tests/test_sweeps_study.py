"""Sweeps as Optuna studies: several `nncompile sweep` processes share one SQLite study (each trial
runs once), pruning stops bad trials per epoch, a SIGKILLed worker's trial is rerun by another."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from nncompile.cli import main

ROOT = Path(__file__).resolve().parents[1]

SPEC = """
let hidden = 8
let lr = 0.1
data iris {{ source: sklearn("iris")  split: {{train: 0.6, val: 0.2, test: 0.2}} }}
model M {{ input x: [4]  dense(hidden, activation=relu)  dense(3, activation=softmax) }}
train {{ model: M  data: iris  loss: categorical_crossentropy  optimizer: sgd(lr=lr)
        epochs: {epochs}  batch_size: 16  metrics: [accuracy] {extra} }}
sweep {{ train: main  {space}
        objective: minimize(val_loss) {sweep} }}
"""


def spec(tmp_path, *, space, sweep="", epochs=3, extra="", name="s") -> Path:
    path = tmp_path / f"{name}.nn"
    path.write_text(SPEC.format(space=space, sweep=sweep, epochs=epochs, extra=extra))
    return path


def rows(out: Path) -> list[dict]:
    with open(out / "trials.csv") as f:
        return list(csv.DictReader(f))


def worker(path: Path, out: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(
        [sys.executable, "-m", "nncompile", "sweep", str(path), "--out", str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=path.parent,
    )


def ran(stderr: str) -> list[int]:
    """The trial numbers a worker's output says it ran."""
    return [int(n) for n in re.findall(r"^trial (\d+) \(", stderr, re.M)]


# two processes: in the slow tier (the fast tier runs a sqlite study in process, in
# test_another_sweep_on_the_same_study_is_refused)
@pytest.mark.slow
def test_two_workers_split_one_sqlite_study(tmp_path):
    db = tmp_path / "sweep.db"
    path = spec(
        tmp_path,
        space="grid: {hidden: [4, 16], lr: [0.05, 0.2]}",
        sweep=f'engine: optuna(storage="sqlite:///{db}", study="iris")',
        epochs=2,
    )
    out = tmp_path / "sw"
    a, b = worker(path, out), worker(path, out)
    (_, err_a), (_, err_b) = a.communicate(timeout=240), b.communicate(timeout=240)
    assert a.returncode == 0 and b.returncode == 0, err_a[-2000:] + err_b[-2000:]
    mine, theirs = ran(err_a), ran(err_b)
    assert sorted(mine + theirs) == [1, 2, 3, 4], (err_a, err_b)  # each trial once
    # (both usually take some; under heavy load one may finish before the other has started)
    assert "study 'iris', 4 trials in sqlite:" in err_a and "study 'iris'" in err_b
    study = optuna.load_study(study_name="iris", storage=f"sqlite:///{db}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert sorted((t.params["hidden"], t.params["lr"]) for t in study.trials) == sorted(
        (h, r) for h in (4, 16) for r in (0.05, 0.2)
    )
    table = rows(out)
    assert [r["trial"] for r in table] == ["1", "2", "3", "4"]
    assert all(r["state"] == "complete" and Path(r["run"]).is_dir() for r in table)
    best = json.loads((out / "best.json").read_text())["best"]
    assert best["val_loss"] == min(float(r["val_loss"]) for r in table)
    assert best["val_loss"] == pytest.approx(study.best_value)


def test_median_pruner_stops_a_bad_trial_early(tmp_path, capsys):
    # lr=1e-5 learns nothing: above the median of the two earlier trials at epoch 1
    path = spec(
        tmp_path,
        space="grid: {lr: [0.3, 0.2, 0.00001]}",
        sweep="pruner: median(startup=2)",
        epochs=5,
    )
    out = tmp_path / "sw"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    table = rows(out)
    assert [r["state"] for r in table] == ["complete", "complete", "pruned"]
    assert table[2]["note"] == "pruned at epoch 1"
    with open(Path(table[2]["run"]) / "metrics.csv") as f:
        assert len(list(csv.DictReader(f))) == 1  # one epoch of five
    with open(Path(table[0]["run"]) / "metrics.csv") as f:
        assert len(list(csv.DictReader(f))) == 5
    err = capsys.readouterr().err
    assert "study 's-main', 3 trials in memory" in err
    assert "lr=1e-05  val_loss" in err and "(pruned at epoch 1)" in err


def test_halving_pruner_and_tpe_sampler(tmp_path):
    path = spec(
        tmp_path,
        space="random: {lr: [0.3, 0.00001]}  trials: 6",
        sweep="sampler: tpe(startup=2)  pruner: halving(min_epochs=1, rate=2)  seed: 3",
        epochs=4,
    )
    out = tmp_path / "sw"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    table = rows(out)
    assert len(table) == 6
    pruned = [r for r in table if r["state"] == "pruned"]
    assert pruned and all(r["lr"] == "1e-05" for r in pruned)  # only the bad rate is pruned
    # TPE draws the good rate more often once it has seen both
    assert sum(r["lr"] == "0.3" for r in table[2:]) >= 2


def test_killed_worker_trial_is_rerun_and_resumed(tmp_path):
    db = tmp_path / "sweep.db"
    url = f"sqlite:///{db}"
    path = spec(
        tmp_path,
        space="grid: {lr: [0.05, 0.1]}",
        sweep=f'engine: optuna(storage="{url}", study="kill", heartbeat=1)',
        epochs=12,
        extra="checkpoint: {every: 1}",
    )
    out = tmp_path / "sw"
    a = worker(path, out)
    deadline = time.monotonic() + 120
    killed = None
    try:
        while time.monotonic() < deadline and a.poll() is None:
            try:
                study = optuna.load_study(study_name="kill", storage=url)
                running = [
                    t
                    for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
                    if len(t.intermediate_values) >= 2
                ]
            except Exception:  # not created yet, or the database busy a moment
                running = []
            if running:
                a.send_signal(signal.SIGKILL)
                killed = running[0].number
                break
            time.sleep(0.05)
    finally:
        if a.poll() is None and killed is None:
            a.kill()
        a.communicate()
    assert killed == 0, "worker A was killed in its first trial"
    b = worker(path, out)
    _, err = b.communicate(timeout=240)
    assert b.returncode == 0, err
    study = optuna.load_study(study_name="kill", storage=url)
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "COMPLETE", "COMPLETE"], err  # trial 1, trial 2, trial 1's rerun
    assert study.trials[2].params == study.trials[0].params
    assert re.search(r"a rerun of trial 1, resumed after epoch \d+", err), err
    table = rows(out)
    assert table[0]["note"] == "its worker stopped (no heartbeat): rerun as another trial"
    assert table[2]["run"].endswith("trial_1")  # the rerun trains in the original's folder
    with open(out / "trial_1" / "metrics.csv") as f:
        assert len(list(csv.DictReader(f))) == 12  # resumed epochs and new ones: the whole run


def test_bad_storage_is_a_diagnostic(tmp_path, capsys):
    path = spec(tmp_path, space="grid: {lr: [0.1]}", sweep='engine: optuna(storage="nosuchdb://x")')
    assert main(["sweep", str(path), "--out", str(tmp_path / "sw")]) == 1
    err = capsys.readouterr().err
    assert (
        "s.nn:9:47: error[E506]: cannot open the sweep storage 'nosuchdb://x': "
        "Can't load plugin: sqlalchemy.dialects:nosuchdb" in err
    )
    assert 'hint: give a database URL Optuna accepts, e.g. storage="sqlite:///sweep.db"' in err
    assert "Traceback" not in err


def test_another_sweep_on_the_same_study_is_refused(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    engine = f'engine: optuna(storage="{url}", study="shared")'
    first = spec(tmp_path, space="grid: {lr: [0.1]}", sweep=engine, epochs=1)
    assert main(["sweep", str(first), "--out", str(tmp_path / "sw")]) == 0
    other = spec(tmp_path, space="grid: {lr: [0.2]}", sweep=engine, epochs=1, name="t")
    assert main(["sweep", str(other), "--out", str(tmp_path / "sw")]) == 1
    err = capsys.readouterr().err
    assert (
        "error[E506]: the study 'shared' in this storage belongs to a different sweep "
        "(it searches {'space': {'lr': [0.1]}, 'grid': True, 'objective': 'minimize(val_loss)'})"
        in err
    )
    # the same sweep again: its study is done, nothing runs, the results are reported
    assert main(["sweep", str(first), "--out", str(tmp_path / "sw")]) == 0
    out = capsys.readouterr()
    assert "trial 1 (" not in out.err and "best: trial 1 (lr=0.1)" in out.out


def test_sampler_on_a_grid_is_refused(tmp_path, capsys):
    path = spec(tmp_path, space="grid: {lr: [0.1]}", sweep="sampler: tpe")
    assert main(["check", str(path)]) == 1
    assert (
        "invalid sweep block 'main': `sampler:` chooses the values of a `random: {...}` sweep; "
        "a grid runs every point" in capsys.readouterr().err
    )
