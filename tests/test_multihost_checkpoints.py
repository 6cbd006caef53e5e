"""Checkpoints and `--resume` in a multi-host run: two processes on loopback
(`--coordinator 127.0.0.1:PORT --num-processes 2`), each with 2 forced CPU devices, every process
taking part in Orbax's saves and restores, process 0 writing the run folder; each process's devices
hold only their rows of the training split.

One test, four rounds of launches (the processes' start-up is most of its time): the uninterrupted
2-process run (with checkpoints) and 1 process x 4 devices (all the data on every device); the
2-process run stopped after epoch 1 (`--epochs 1`), and the uninterrupted run with `shard: params`;
the stopped run resumed by 2 processes. The resumed run ends bitwise where the uninterrupted
2-process run ends (the same mesh, the same reductions: parameters, optimizer state, losses), at
the parameters of one process with 4 devices to 1e-5, and `shard: params` at them to 1e-6."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from scale.forced import digits_mlp, env, free_port, run_params

import nncompile
from nncompile.runtime.checkpoint import read

TIMEOUT_S = 400


def spec_text() -> str:
    """The digits MLP, small, 2 epochs of 19 steps (inside the schedule's warm-up: stopping after
    epoch 1 and resuming trains the same steps), a checkpoint every epoch."""
    return digits_mlp(2, 32, "\n  checkpoint: {every: 1, keep: 3}")


def launch(
    tmp_path: Path, devices: int, args: list[str], spec: str = "spec.nn"
) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nncompile", "train", spec, "--quiet", "--devices", "4"]
    return subprocess.Popen(
        [*cmd, *args],
        cwd=tmp_path,
        env=env(devices),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def two_processes(tmp_path: Path, *args: str, spec: str = "spec.nn") -> list[subprocess.Popen]:
    port = free_port()
    hosts = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id"]
    return [launch(tmp_path, 2, [*hosts, str(i), *args], spec) for i in (0, 1)]


def finish(procs: list[subprocess.Popen]) -> list[str]:
    """Each process's stderr; every one must exit 0 (all are killed after TIMEOUT_S)."""
    errs = []
    try:
        for p in procs:
            errs.append(p.communicate(timeout=TIMEOUT_S)[1])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, err in zip(procs, errs, strict=True):
        assert p.returncode == 0, err[-3000:]
    return errs


def optimizer_leaves(tmp_path: Path, run: str, epoch: int) -> list[np.ndarray]:
    """A checkpoint's optimizer arrays, read (and checked) by one process with one device."""
    program = nncompile.compile(tmp_path / "spec.nn").load(tmp_path / run)
    state = read(program.trainer, tmp_path / run / "checkpoints", step=epoch).state
    return [np.asarray(a) for a in jax.tree.leaves(state["optimizer"])]


@pytest.mark.slow
def test_two_processes_checkpoint_and_resume_as_two(tmp_path):
    (tmp_path / "spec.nn").write_text(spec_text())
    whole = two_processes(tmp_path, "--out", "whole")
    one = launch(tmp_path, 4, ["--out", "one"])
    errs = finish([*whole, one])
    # each process holds only its devices' rows of the training split (half of them, here)
    held = re.search(r"process 1: trained 2 epochs on (\d+) of the (\d+) training rows", errs[1])
    assert held is not None, errs[1][-2000:]
    assert abs(int(held[1]) - int(held[2]) / 2) <= 2
    assert sorted(os.listdir(tmp_path / "whole" / "checkpoints")) == ["1", "2"]
    # stopped after epoch 1 (and, alongside, the whole run with `shard: params`: arrays split
    # over both processes' devices, saved by both)
    (tmp_path / "fsdp.nn").write_text(spec_text().replace("  seed:", "  shard: params\n  seed:"))
    fsdp = two_processes(tmp_path, "--out", "fsdp", spec="fsdp.nn")
    finish([*two_processes(tmp_path, "--out", "part", "--epochs", "1"), *fsdp])
    assert sorted(os.listdir(tmp_path / "fsdp" / "checkpoints")) == ["1", "2"]
    assert not (tmp_path / "part" / "checkpoints" / "2").exists()
    errs = finish(two_processes(tmp_path, "--out", "part", "--resume"))
    assert "process 1: trained 2 epochs" in errs[1]

    resumed, uninterrupted = run_params(tmp_path, "part"), run_params(tmp_path, "whole")
    for a, b in zip(resumed, uninterrupted, strict=True):
        assert np.array_equal(a, b)  # bitwise: the same mesh sums in the same order
    for a, b in zip(
        optimizer_leaves(tmp_path, "part", 2), optimizer_leaves(tmp_path, "whole", 2), strict=True
    ):
        assert np.array_equal(a, b)
    history = [
        json.loads(line) for line in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    ]
    expected = [
        json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [e["loss"] for e in history] == [e["loss"] for e in expected]
    on_one = run_params(tmp_path, "one")
    assert max(float(np.abs(a - b).max()) for a, b in zip(resumed, on_one, strict=True)) < 1e-5
    split = run_params(tmp_path, "fsdp", "fsdp.nn")
    assert max(float(np.abs(a - b).max()) for a, b in zip(split, uninterrupted, strict=True)) < 1e-6
