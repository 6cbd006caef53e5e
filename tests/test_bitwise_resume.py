"""A checkpoint written on 4 devices resumes on 1 and 2 bitwise-equal to the uninterrupted 4-device
run (runtime/shards.py: logical shards), every model and optimizer leaf and the history alike, in a
subprocess forced to 4 CPU devices (tests/scale/resume_runner.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scale.forced import ROOT, arrays


def resumed(tmp_path: Path, spec: str, rows: int, devices: str, settings: str) -> dict:
    out = tmp_path / "runs.npz"
    return arrays("resume_runner", ROOT / "specs" / spec, out, rows, devices, settings)


def state(arrays: dict, run: str) -> list[np.ndarray]:
    keys = sorted(
        (k for k in arrays if k.startswith(f"{run}/state/")), key=lambda k: int(k.split("/")[-1])
    )
    return [arrays[k] for k in keys]


def assert_bitwise(arrays: dict, run: str) -> None:
    whole, other = state(arrays, "whole"), state(arrays, run)
    assert len(whole) == len(other) > 5  # model and optimizer leaves
    for i, (a, b) in enumerate(zip(whole, other, strict=True)):
        assert a.dtype == b.dtype and np.array_equal(a, b), (run, i, np.abs(a - b).max())
    assert np.array_equal(arrays["whole/history"], arrays[f"{run}/history"]), run


@pytest.mark.parametrize("strategy", ["scan", pytest.param("step", marks=pytest.mark.slow)])
def test_four_device_checkpoint_resumes_bitwise_on_one_and_two(tmp_path, strategy):
    # 128 examples in batches of 32: 4 steps an epoch, the second epoch resumed
    arrays = resumed(tmp_path, "digits_mlp.nn", 128, "1,2", f"strategy:{strategy},batch_size:32")
    assert int(arrays["meta/shards"]) == 4 and int(arrays["meta/devices"]) == 4
    for run in ("on1", "on2"):
        assert_bitwise(arrays, run)
        assert "not bitwise" not in str(arrays[f"{run}/log"])


@pytest.mark.slow
def test_bitwise_with_float_metrics_a_remainder_batch_and_sharded_parameters(tmp_path):
    # regression: the mae and loss sums are floats (their order matters); 138 rows in batches of
    # 32: a remainder of 10 rows, which 4 shards do not divide (computed replicated)
    settings = "batch_size:32,drop_remainder:false,shard:params"
    arrays = resumed(tmp_path, "simple_ann_regression.nn", 138, "1,2", settings)
    for run in ("on1", "on2"):
        assert_bitwise(arrays, run)
