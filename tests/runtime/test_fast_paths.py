"""The runtime's fast paths: scan-fused CNN epochs, epochs run ahead, the compilation cache switch.

No timings here (bench/run.py measures); these check that each fast path keeps the results.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

import nncompile.api as api
from nncompile.runtime import jaxcache, loop
from nncompile.runtime.loop import Trainer

ROOT = Path(__file__).resolve().parents[2]
QUIET = {"log": lambda message: None}

CNN = """
data images { source: sklearn("digits")  split: {train: 0.8, test: 0.2}  normalize: minmax
              reshape: [8, 8, 1] }
model CNN {
  input x: [8, 8, 1]
  conv2d(8, 3, activation=relu)
  conv2d(8, 3, strides=2, padding=valid, activation=relu)
  max_pool(2, padding=same)
  flatten()
  dense(10, activation=softmax)
}
train { model: CNN  data: images  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: 64  epochs: 5  metrics: [accuracy] }
"""


def digits_images(n=512):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data[:n] / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    return x, d.target[:n].astype(np.int32)


class Traces:
    def __init__(self):
        self.seen = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.seen.append(dict(trainer.traces))


def test_cnn_program_runs_scan_fused_compiles_once_and_trains():
    program = api.compile(text=CNN)
    assert program.config["strategy"] == "scan"
    assert "module.conv_general_dilated = canonical_conv" in program.source  # backend tuning, CPU
    x, y = digits_images()
    traces = Traces()
    history = program.fit(
        {"train": (x[:384], y[:384]), "test": (x[384:], y[384:])},
        callbacks=[traces],
        log=QUIET["log"],
    )
    assert (
        traces.seen == [{"train_epoch": 1, "train_step": 1}] * 5
    )  # one trace, one compilation, 5 epochs
    losses = history.series("loss")
    assert losses[-1] < losses[0] * 0.7
    assert program.evaluate("test")["accuracy"] > 0.5


def regression_splits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 10)).astype(np.float32)
    y = (x @ rng.normal(size=(10, 1)) + 0.1 * rng.normal(size=(300, 1))).astype(np.float32)
    return {"train": (x[:200], y[:200]), "val": (x[200:], y[200:])}


REG = """
data d { source: sklearn("diabetes")  split: {train: 0.7, val: 0.15, test: 0.15}
         normalize: standard  normalize_target: standard }
model R { input x: [10]  dense(16, activation=relu)  dense(1) }
train { model: R  data: d  loss: mse  optimizer: sgd(lr=0.02, momentum=0.9)  batch_size: 16
        epochs: 30
        early_stopping: {monitor: val_loss, patience: 3, min_delta: 0.01, restore_best: true} }
"""


@pytest.mark.parametrize("early_stopping", [True, False])
def test_epochs_run_ahead_give_the_same_results(monkeypatch, early_stopping):
    """Short epochs are dispatched one ahead; stopping discards that epoch, so results are
    unchanged."""
    module = api.compile(text=REG).module
    config = None if early_stopping else {"early_stopping": None}

    def train(ahead_below):
        monkeypatch.setattr(loop, "AHEAD_BELOW_S", ahead_below)
        trainer = Trainer(module, regression_splits(), config=config, **QUIET)
        history = trainer.fit()
        return history, jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(trainer.model)))

    (h_ahead, p_ahead), (h_plain, p_plain) = train(1e9), train(0.0)
    assert [{k: v for k, v in e.items() if k != "seconds"} for e in h_ahead.epochs] == [
        {k: v for k, v in e.items() if k != "seconds"} for e in h_plain.epochs
    ]
    assert h_ahead.stopped_early == h_plain.stopped_early == early_stopping
    assert h_ahead.best_epoch == h_plain.best_epoch
    assert all(jax.tree.leaves(jax.tree.map(np.array_equal, p_ahead, p_plain)))


def test_cache_switch_reads_the_environment(monkeypatch):
    for value, on in [("1", True), ("0", False), ("false", False), ("OFF", False), ("yes", True)]:
        monkeypatch.setenv("NNCOMPILE_CACHE", value)
        assert jaxcache.enabled() is on
    monkeypatch.setenv("NNCOMPILE_CACHE_DIR", "/somewhere/else")
    assert jaxcache.default_dir() == Path("/somewhere/else")
    monkeypatch.delenv("NNCOMPILE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert jaxcache.default_dir() == Path("/xdg/nncompile/jax")


TRAIN_ONE = """
import sys
import numpy as np
import nncompile.api as api
program = api.compile(text=sys.argv[1])
x = np.random.default_rng(0).normal(size=(64, 10)).astype(np.float32)
program.fit({"train": (x, x[:, :1])}, epochs=1, log=lambda line: None)
import jax
print(jax.config.jax_compilation_cache_dir)
"""


def run(args, cache_dir, **env):
    environment = {**os.environ, "NNCOMPILE_CACHE_DIR": str(cache_dir), **env}
    environment.pop("JAX_COMPILATION_CACHE_DIR", None)
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=300,
    )


def entries(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def test_compilation_cache_is_on_by_default_and_can_be_switched_off(tmp_path):
    on = run(["-c", TRAIN_ONE, REG], tmp_path / "on")
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() == str(tmp_path / "on") and entries(tmp_path / "on") > 0
    off = run(["-c", TRAIN_ONE, REG], tmp_path / "off", NNCOMPILE_CACHE="0")
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "None" and entries(tmp_path / "off") == 0


def test_cli_no_cache_flag(tmp_path):
    spec = tmp_path / "r.nn"
    spec.write_text(REG)
    out = run(
        [
            "-m",
            "nncompile",
            "train",
            str(spec),
            "--epochs",
            "1",
            "--quiet",
            "--no-cache",
            "--format",
            "json",
            "--out",
            str(tmp_path / "run"),
        ],
        tmp_path / "cache",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["epochs_run"] == 1
    assert entries(tmp_path / "cache") == 0
