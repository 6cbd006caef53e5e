"""W5's arrays (the reference suite's noisy sine windows) as bench/data/w5_sine.npz.

    python bench/w5_data.py [PATH]

The same arrays as ../shared/bench/benchcommon.py's `sine_windows()` (the reference programs'
data): n = 2000 series y = sin(f t + phase) + N(0, 0.05^2), t = 0..50, f ~ U[0.5, 2],
phase ~ U[0, 2pi) from numpy's default_rng(0) drawn in that order; x = the first 50 values
[2000, 50, 1], y = the 51st [2000, 1], float32. The npz holds x, y (train rows then test rows:
bench/specs/w5_lstm.nn cuts them unshuffled 80/20, exactly at the references' split) and
x_train, y_train, x_test, y_test. Generated (not committed: 800 KB); bench/nncompile_workload.py
writes it when missing. tests/test_perf_bench.py checks it equals benchcommon's where that exists.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PATH = Path(__file__).resolve().parent / "data" / "w5_sine.npz"


def sine_windows(n: int = 2000, steps: int = 50, noise: float = 0.05, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    f = rng.uniform(0.5, 2.0, n)
    phase = rng.uniform(0.0, 2 * np.pi, n)
    t = np.arange(steps + 1)
    noisy = noise * rng.standard_normal((n, steps + 1))
    s = np.sin(f[:, None] * t[None, :] + phase[:, None]) + noisy
    x, y = s[:, :steps, None].astype(np.float32), s[:, steps:].astype(np.float32)
    k = round(0.8 * n)
    return {"x": x, "y": y, "x_train": x[:k], "y_train": y[:k], "x_test": x[k:], "y_test": y[k:]}


def write(path: Path = PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **sine_windows())
    return path


def ensure(path: Path = PATH) -> Path:
    return path if path.exists() else write(path)


if __name__ == "__main__":
    print(write(Path(sys.argv[1]) if len(sys.argv) > 1 else PATH))
