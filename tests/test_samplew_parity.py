"""The sample_weight Keras parity workload (bench/specs/parity/sample_weight.nn): its data file is
what its script writes, and the weights reach the nncompile side's splits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import nncompile

PARITY = Path(__file__).resolve().parents[1] / "bench" / "specs" / "parity"


def test_noisy_diabetes_is_what_its_script_writes():
    path = PARITY / "data" / "make_noisy_diabetes.py"
    loaded = importlib.util.spec_from_file_location("make_noisy_diabetes", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    want = module.arrays()
    with np.load(PARITY / "data" / "noisy_diabetes.npz") as got:
        assert sorted(got.files) == ["w", "x", "y"]
        for name, array in want.items():
            assert got[name].dtype == array.dtype, name
            np.testing.assert_array_equal(got[name], array, err_msg=name)
    assert set(np.round(want["w"], 4)) == {np.float32(1.8824), np.float32(0.1176)}


def test_the_parity_spec_splits_its_weights():
    dataset = nncompile.compile(PARITY / "sample_weight.nn").load_data()
    assert dataset.weights is not None
    assert {k: len(w) for k, w in dataset.weights.items()} == {
        k: len(x) for k, (x, _) in dataset.splits.items()
    }
