"""bench/ for W5 and W6: the generated W5 arrays equal the references' file, and run.py's table
names the fastest reference of any framework as W5's and W6's target."""

from __future__ import annotations

import numpy as np
import pytest
from bench_modules import BENCH, bench_module

REFS_NPZ = BENCH.parents[1] / "shared" / "bench" / "data" / "w5_sine.npz"


def test_w5_arrays_split_like_the_references():
    d = bench_module("w5_data").sine_windows()
    assert d["x"].shape == (2000, 50, 1) and d["y"].shape == (2000, 1)
    assert d["x"].dtype == np.float32
    np.testing.assert_array_equal(d["x"][:1600], d["x_train"])
    np.testing.assert_array_equal(d["y"][1600:], d["y_test"])
    # the target is the next value of the same series: close to the window's continuation
    assert np.abs(d["y"][:, 0] - d["x"][:, -1, 0]).mean() < 1.0


@pytest.mark.skipif(not REFS_NPZ.exists(), reason="no ../shared/bench reference data here")
def test_w5_arrays_equal_the_reference_file(tmp_path):
    path = bench_module("w5_data").write(tmp_path / "w5.npz")
    ours, refs = np.load(path), np.load(REFS_NPZ)
    for key in refs.files:
        np.testing.assert_array_equal(ours[key], refs[key])


def record(name, wl, thr, **more):
    return {
        "name": name,
        "workload": wl,
        "throughput_ex_s": thr,
        "time_to_first_step_s": 1.0,
        "process_start_to_first_step_s": 2.0,
        "peak_rss_mib": 400.0,
        "foreign_load_cores": 0.0,
        **more,
    }


def test_run_table_targets_the_fastest_reference_for_w5_and_w6():
    run = bench_module("run")
    records = [
        record("nncompile:api", "W5", 20_000.0, test_mse=0.005),
        record("a_flax_nnx:jit", "W5", 12_000.0, test_mse=0.007),
        record("c_jax_scan:scan", "W5", 14_000.0, test_mse=0.007),
        record("e_torch:eager", "W5", 21_000.0, test_mse=0.006),
        record("nncompile:api", "W6", 120_000.0, final_d_loss=0.3, final_g_loss=2.6),
        record("a_flax_nnx:jit", "W6", 48_000.0, final_d_loss=0.2, final_g_loss=2.9),
        record("c_jax_scan:scan", "W6", 110_000.0, final_d_loss=0.2, final_g_loss=2.9),
    ]
    text = run.table(records)
    assert "[MISSED] W5 throughput / fastest reference (e_torch:eager) >= 1.0: 0.952" in text
    assert "[ met ] W6 throughput / fastest reference (c_jax_scan:scan) >= 1.0: 1.09" in text
    assert "D 0.300 G 2.600" in text and "MSE 0.005" in text
