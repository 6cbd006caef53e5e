"""Startup package (process start to first step): what a path does NOT import or compute, asserted
without timing (bench/startup.py measures the seconds)."""

import builtins
import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

import nncompile
from nncompile.registry import bundled
from nncompile.registry.bundled import read_bundled

DIABETES = (
    'data d { source: sklearn("diabetes")  split: {train: 0.8, test: 0.2}  normalize: standard }\n'
    "model M { input x: [10]  dense(1) }\n"
    "train { model: M  data: d  loss: mse  optimizer: sgd(lr=0.01) }\n"
)


def test_diabetes_loads_without_importing_sklearn(tmp_path, monkeypatch):
    # importing scikit-learn cost ~1.2 of W3's ~4 CPU seconds to its first step
    path = tmp_path / "s.nn"
    path.write_text(DIABETES)
    real = builtins.__import__

    def guarded(name, *args, **kwargs):
        assert name.split(".")[0] != "sklearn", "scikit-learn was imported"
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", guarded)
    splits = nncompile.compile(str(path)).load_data().splits
    x, y = splits["train"]
    assert len(x) + len(splits["test"][0]) == 442
    assert x.shape[1:] == (10,) and y.dtype.kind == "f"


def test_diabetes_without_its_target_file_falls_back(tmp_path, monkeypatch):
    features = tmp_path / bundled.FILES["diabetes"]
    with gzip.open(features, "wt") as f:
        f.write("59 2 32.1 101.0 157 93.2 38.0 4.0 4.8598 87\n" * 3)
    monkeypatch.setattr(bundled, "data_file", lambda name: features)
    assert read_bundled("diabetes", 10) is None  # no diabetes_target.csv.gz beside it
    with gzip.open(tmp_path / bundled.DIABETES_TARGET, "wt") as f:
        f.write("151\n75\n141\n")
    x, y = read_bundled("diabetes", 10)
    assert x.shape == (3, 10) and y.tolist() == [151.0, 75.0, 141.0]
    assert np.all(x == 0)  # three equal rows: centred to 0, their scale (0) taken as 1
    features.write_bytes(b"not gzip")
    assert read_bundled("diabetes", 10) is None


def test_every_command_that_pauses_the_collector_exists():
    from nncompile import cli
    from nncompile.cli import startgc

    assert set(cli.COMMANDS) >= startgc.HOLD
    assert not {"lsp", "sweep", "tune"} & startgc.HOLD  # long-running: the collector as usual


def test_the_command_pauses_the_collector_while_it_runs_and_resumes_it(monkeypatch, tmp_path):
    import gc

    from nncompile import cli

    spec = tmp_path / "s.nn"
    spec.write_text(DIABETES)
    seen = []

    def handler(args):
        seen.append(gc.isenabled())
        return 0

    for command, argv, paused in [
        ("check", ["check", str(spec)], True),
        ("sweep", ["sweep", str(spec)], False),  # long-running: not paused
    ]:
        monkeypatch.setitem(cli.COMMANDS, command, (handler, cli.COMMANDS[command][1]))
        monkeypatch.setattr("sys.argv", ["nncompile", *argv])
        seen.clear()
        assert cli.main() == 0  # the process's own command line
        assert seen == [not paused]
        assert gc.isenabled()  # resumed on return
        seen.clear()
        assert cli.main(argv) == 0  # a caller's argv: its process's collector is left alone
        assert seen == [True]


def test_the_entry_point_pauses_the_collector_before_importing_the_cli(monkeypatch, tmp_path):
    import gc

    from nncompile import __main__ as entry
    from nncompile import cli

    seen = []

    def handler(args):
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setitem(cli.COMMANDS, "check", (handler, cli.COMMANDS["check"][1]))
    monkeypatch.setattr("sys.argv", ["nncompile", "check", str(tmp_path / "s.nn")])
    assert entry.main() == 0  # (the `nncompile` script's function)
    assert seen == [False] and gc.isenabled()
    gc.disable()  # a process that runs without the collector keeps it off
    try:
        assert entry.main() == 0
        assert seen == [False, False] and not gc.isenabled()
    finally:
        gc.enable()


def test_train_resumes_and_freezes_the_collector_before_training(monkeypatch, tmp_path):
    import gc

    from nncompile import cli
    from nncompile.cli import training

    seen = []

    class Program:
        devices = None

        def fit(self, **kwargs):
            seen.append((gc.isenabled(), gc.get_freeze_count()))
            raise KeyboardInterrupt  # (stops here; train forgets the unused run folder)

    monkeypatch.setattr(training, "train_target", lambda args, log: (Program(), tmp_path / "r"))
    monkeypatch.setattr("sys.argv", ["nncompile", "train", "x.nn", "--quiet"])
    try:
        assert cli.main() == 130
    finally:
        gc.unfreeze()
    assert seen and seen[0][0] and seen[0][1] > 0
    assert gc.isenabled()


FIRST_STEP = """
import gc, json, sys
from nncompile.runtime import progress

seen = {}


def on_step_end(self, *args):
    if not seen:
        seen["modules"] = sorted({m.split(".")[0] for m in sys.modules})
        seen["collector"] = [gc.isenabled(), gc.get_freeze_count()]


progress.Progress.on_step_end = on_step_end
progress.Progress.on_epoch_end = on_step_end
from nncompile import cli

sys.argv = ["nncompile", *sys.argv[1:]]
code = cli.main()
print(json.dumps({"code": code, **seen}))
"""


@pytest.mark.slow
def test_the_train_command_reaches_its_first_step_without_the_later_imports(tmp_path):
    # what `nncompile train` imports before its first step (bench/startup.py times it): no
    # scikit-learn (diabetes is read from its files), and what only the run folder needs after
    # training (Orbax, matplotlib) is not imported yet; the collector runs again, frozen
    spec = tmp_path / "s.nn"
    spec.write_text(DIABETES)
    argv = ["train", str(spec), "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")]
    done = subprocess.run(
        [sys.executable, "-c", FIRST_STEP, *argv], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0
    assert {"jax", "flax", "optax"} <= set(seen["modules"])
    assert not {"sklearn", "scipy", "matplotlib", "orbax", "pandas"} & set(seen["modules"])
    enabled, frozen = seen["collector"]
    assert enabled and frozen > 100_000
