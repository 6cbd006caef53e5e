"""A checkpoint written on 4 devices resumes on 1, 2 and 4 (the state is restored bitwise, and
laid out on the new mesh): on 4 the run ends bitwise where the uninterrupted 4-device run ends, on 1
and 2 within float tolerance (another device count sums the gradients in another order)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scale import forced


def spec_text() -> str:
    text = forced.digits_mlp(3, 64, "\n  checkpoint: {every: 1, keep: 5}")
    return text.replace("batch_size: 64", "batch_size: 32")


def train(tmp_path: Path, *args: str) -> None:
    forced.run(["-m", "nncompile", "train", "spec.nn", "--quiet", *args], cwd=tmp_path)


@pytest.mark.slow
def test_four_device_checkpoint_resumes_on_one_two_and_four(tmp_path):
    (tmp_path / "spec.nn").write_text(spec_text())
    train(tmp_path, "--devices", "4", "--out", "whole")
    train(tmp_path, "--devices", "4", "--out", "on1", "--epochs", "1")
    for other in ("on2", "on4"):
        shutil.copytree(tmp_path / "on1", tmp_path / other)
    for run, devices in (("on1", "1"), ("on2", "2"), ("on4", "4")):
        train(tmp_path, "--devices", devices, "--out", run, "--resume")
    whole = forced.run_params(tmp_path, "whole")
    for a, b in zip(whole, forced.run_params(tmp_path, "on4"), strict=True):
        assert np.array_equal(a, b)  # bitwise
    for run in ("on1", "on2"):
        resumed = forced.run_params(tmp_path, run)
        assert max(float(np.abs(a - b).max()) for a, b in zip(whole, resumed, strict=True)) < 1e-5
