"""Checkpoints, exact resume, the kill test, Ctrl-C, corrupt/foreign checkpoints, no pickle."""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from interrupts import StopAt

import nncompile
from nncompile.runtime.checkpoint import restore
from nncompile.runtime.checkpoint_files import CheckpointError, read_meta, steps
from nncompile.runtime.digest import sha256
from nncompile.runtime.transfer import read_params

NNCOMPILE = [sys.executable, "-m", "nncompile"]
ROOT = Path(__file__).resolve().parents[2]

SPEC = """
data d {
  source: sklearn("digits")
  split: {train: 0.7, val: 0.15, test: 0.15}
}
model M {
  input x: [64]
  dense(32, activation=relu)
  dropout(0.2)
  dense(10, activation=softmax)
}
train {
  model: M  data: d  loss: categorical_crossentropy
  optimizer: adam(lr=LR)  schedule: cosine(warmup=5)
  batch_size: 64  epochs: EPOCHS
  early_stopping: {monitor: val_loss, patience: PATIENCE, restore_best: true}
  CHECKPOINT
  metrics: [accuracy]
  seed: 3
}
"""


def spec(
    tmp_path: Path,
    name: str = "tiny",
    *,
    epochs: int = 8,
    lr: str = "1e-3",
    patience: int = 3,
    checkpoint: str = "checkpoint: {every: 1, keep: 2}",
) -> Path:
    text = (
        SPEC.replace("EPOCHS", str(epochs))
        .replace("LR", lr)
        .replace("PATIENCE", str(patience))
        .replace("CHECKPOINT", checkpoint)
    )
    path = tmp_path / f"{name}.nn"
    path.write_text(text)
    return path


def model_sha(program) -> str:
    return sha256(program.trainer.state()["model"])


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


# ---- resume in process ---------------------------------------------------------------------------
def test_resume_at_any_epoch_is_bitwise_exact_with_early_stopping_and_restore_best(tmp_path):
    path = spec(tmp_path, epochs=40, lr="3e-2", patience=2)  # stops early; restore_best goes back
    reference = nncompile.compile(path)
    history = reference.fit(run_dir=tmp_path / "ref")
    assert history.stopped_early and history.best_epoch < len(history.epochs), history.reason
    want = model_sha(reference)
    last = len(history.epochs)
    for k in (
        1,
        history.best_epoch,
        history.best_epoch + 1,
        last,
    ):  # incl. after the best, and the last epoch
        run = tmp_path / f"run{k}"
        first = nncompile.compile(path)
        assert first.fit(run_dir=run, callbacks=[StopAt(k)]).interrupted
        assert steps(run / "checkpoints")[-1] == k
        again = nncompile.compile(path)
        resumed = again.fit(run_dir=run, resume=True)
        assert model_sha(again) == want, f"interrupted after epoch {k}"
        assert [e["loss"] for e in resumed.epochs] == [e["loss"] for e in history.epochs]
        assert (resumed.best_epoch, resumed.reason) == (history.best_epoch, history.reason)


def test_checkpoint_contents_and_retention(tmp_path):
    path = spec(tmp_path, checkpoint="checkpoint: {every: 2, keep: 2}")
    program = nncompile.compile(path)
    program.fit(run_dir=tmp_path / "run")
    folder = tmp_path / "run" / "checkpoints"
    assert steps(folder) == [6, 8]
    assert not [p for p in folder.iterdir() if not p.name.isdigit()], (
        "leftovers next to the checkpoints"
    )
    meta = read_meta(folder / "8")
    assert meta["epoch"] == 8 and meta["seed"] == 3 and len(meta["history"]) == 8
    assert meta["stopping"]["key"] == "val_loss" and meta["fingerprint"] and meta["sha256"]["state"]
    assert "optimizer" in {p.split("/")[0] for p, _, _ in meta["fingerprint"]}


def test_resume_without_checkpoints_is_a_clear_error(tmp_path):
    program = nncompile.compile(spec(tmp_path))
    with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
        program.fit(run_dir=tmp_path / "nothing", resume=True)


# ---- safety --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    path = spec(folder, epochs=3)
    nncompile.compile(path).fit(run_dir=folder / "run")
    return path, folder / "run"


@pytest.fixture
def trained(trained_once, tmp_path):
    """A 3-epoch run of its own (a copy of one trained once for the module: the tests damage it)."""
    path, run = trained_once
    shutil.copy(path, tmp_path / path.name)
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / path.name, tmp_path / "run"


def _data_files(step: Path) -> list[Path]:
    return sorted(
        (p for p in (step / "state").rglob("*") if p.is_file() and "/d/" in str(p)),
        key=lambda p: -p.stat().st_size,
    )


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta", "empty_meta"])
def test_corrupt_or_truncated_checkpoint_is_a_clear_error_and_changes_nothing(trained, damage):
    path, run = trained
    step = run / "checkpoints" / "3"
    if damage in ("truncate", "flip"):
        data = _data_files(step)[0]
        raw = bytearray(data.read_bytes())
        if damage == "truncate":
            data.write_bytes(raw[: len(raw) // 2])
        else:
            for i in range(len(raw) // 2, len(raw) // 2 + 64):
                raw[i] ^= 0xFF
            data.write_bytes(bytes(raw))
    else:
        (step / "meta" / "metadata").write_text(
            "" if damage == "empty_meta" else '{"format": "nncompile-checkpoint", '
        )
    before = tree_digest(run)
    with pytest.raises(CheckpointError) as e:
        nncompile.compile(path).fit(run_dir=run, resume=True)
    assert str(step) in str(e.value) and e.value.hint
    assert tree_digest(run) == before, "a failed resume changed the run folder"
    # the CLI says the same, without a traceback, exit 1
    before = tree_digest(run)
    r = subprocess.run(
        [*NNCOMPILE, "train", str(path), "--resume", "--out", str(run), "--quiet"],
        capture_output=True,
        text=True,
        env=env(),
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr and str(step) in r.stderr, r.stderr
    assert tree_digest(run) == before


def test_foreign_checkpoint_is_refused(tmp_path, trained):
    _, run = trained
    other = tmp_path / "other.nn"
    other.write_text(spec(tmp_path, "wide", epochs=3).read_text().replace("dense(32", "dense(48"))
    before = tree_digest(run)
    with pytest.raises(CheckpointError, match="does not fit this program") as e:
        nncompile.compile(other).fit(run_dir=run, resume=True)
    assert "[64, 32]" in str(e.value) and "[64, 48]" in str(e.value)
    assert tree_digest(run) == before


def test_changed_seed_or_data_is_refused(tmp_path, trained):
    path, run = trained
    changed = tmp_path / "seeded.nn"
    changed.write_text(path.read_text().replace("seed: 3", "seed: 4"))
    with pytest.raises(CheckpointError, match="seed 3, but this run has 4"):
        nncompile.compile(changed).fit(run_dir=run, resume=True)


def test_loading_never_unpickles(trained, monkeypatch):
    path, run = trained

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used to load a checkpoint")

    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    program = nncompile.compile(path)
    program.fit(run_dir=run, resume=True)  # restores the checkpoint, then has nothing left to run
    program.save(run)
    assert read_params(run)  # and a run folder's params/, without knowing its program
    trainer = nncompile.compile(path).trainer_for(program.splits())
    assert restore(trainer, run / "checkpoints")["epoch"] == 3


# ---- processes: Ctrl-C and SIGKILL ---------------------------------------------------------------
def test_ctrl_c_writes_a_checkpoint_and_exits_130_saying_how_to_resume(tmp_path):
    path = spec(tmp_path, epochs=20000, patience=20000, checkpoint="")  # no periodic checkpoints
    run = tmp_path / "run"
    p = subprocess.Popen(
        [*NNCOMPILE, "train", str(path), "--out", str(run)],
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    lines = []
    for line in p.stderr:  # one plain progress line per epoch (not a terminal)
        lines.append(line)
        if line.startswith("epoch 3/"):
            break
    p.send_signal(signal.SIGINT)
    rest = p.stderr.read()
    assert p.wait(timeout=60) == 130, "".join(lines) + rest
    done = steps(run / "checkpoints")
    assert len(done) == 1 and done[0] >= 3
    assert "--resume" in rest and f"epoch {done[0]}" in rest and str(run) in rest
    assert read_meta(run / "checkpoints" / str(done[0]))["epoch"] == done[0]
    r = subprocess.run(
        [
            *NNCOMPILE,
            "train",
            str(path),
            "--out",
            str(run),
            "--resume",
            "--epochs",
            str(done[0] + 2),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env(),
    )
    assert r.returncode == 0, r.stderr
    assert len((run / "metrics.jsonl").read_text().splitlines()) == done[0] + 2


@pytest.mark.slow
def test_kill_at_random_moments_then_resume_ends_bitwise_equal(tmp_path):
    """SIGKILL `nncompile train` at random moments (and during checkpoint writes), resume each
    time: every complete checkpoint stays readable, and the final parameters are the uninterrupted
    run's."""
    path = spec(tmp_path, epochs=30, patience=30)
    reference = nncompile.compile(path)
    reference.fit(run_dir=tmp_path / "reference")
    want = model_sha(reference)
    checker = nncompile.compile(path)
    checker_trainer = checker.trainer_for(checker.splits())

    run = tmp_path / "run"
    folder = run / "checkpoints"
    rng = random.Random(1234)
    plan = ["write", "random", "write", "random", "write"]
    in_write = 0
    start = time.perf_counter()
    for how in plan:
        resume = bool(steps(folder))
        cmd = [
            *NNCOMPILE,
            "train",
            str(path),
            "--out",
            str(run),
            "--quiet",
            *(["--resume"] if resume else []),
        ]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env())
        seen = set(steps(folder)) if resume else set()
        deadline = time.perf_counter() + 60
        killed_in_write = False
        while (
            p.poll() is None and time.perf_counter() < deadline
        ):  # wait for a new checkpoint to begin
            names = os.listdir(folder) if folder.is_dir() else []
            writing = any("tmp" in n for n in names)
            new = set(steps(folder)) - seen
            if how == "write" and writing and (new or not seen):
                p.kill()
                killed_in_write = True
                break
            if how == "random" and new:
                time.sleep(rng.uniform(0.0, 0.15))
                p.kill()
                break
            time.sleep(0.001)
        p.wait()
        assert p.returncode != 0, f"training finished before it could be killed: {p.stderr.read()}"
        p.stderr.close()
        in_write += killed_in_write
        for s in steps(folder):  # every complete checkpoint is readable and intact
            restore(checker_trainer, folder, step=s)
    assert in_write >= 2, "no kill landed during a checkpoint write"
    r = subprocess.run(
        [*NNCOMPILE, "train", str(path), "--out", str(run), "--quiet", "--resume"],
        capture_output=True,
        text=True,
        env=env(),
    )
    assert r.returncode == 0, r.stderr
    assert sha256(read_params(run)) == want, "resumed parameters differ from the uninterrupted run"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 30
    print(
        f"kill test: {len(plan)} kills ({in_write} during a checkpoint write), "
        f"{time.perf_counter() - start:.1f} s"
    )
