"""Writes noisy_diabetes.npz for bench/specs/parity/sample_weight.nn: scikit-learn's bundled
diabetes data (442 patients, nothing downloaded) whose targets were measured with four times the
noise for half the patients, and the inverse-variance weights a statistician gives the rows (Keras:
`fit(sample_weight=w)`).

    x  [10]  age, sex, body-mass index, mean blood pressure, six blood serum measurements (float32)
    y  [1]   disease progression one year later, in hundreds, plus measurement noise: standard
             deviation 0.25 for the even rows, 1.0 for the odd ones (a seeded draw; float32)
    w        1 / variance, scaled to mean 1: 1.88 for the precise rows, 0.12 for the noisy ones

Run from the repository root: python bench/specs/parity/data/make_noisy_diabetes.py
(deterministic)."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes


def arrays() -> dict[str, np.ndarray]:
    data = load_diabetes(scaled=False)
    x = data.data.astype(np.float32)  # (442, 10)
    sigma = np.where(np.arange(len(x)) % 2 == 0, 0.25, 1.0)
    noise = np.random.default_rng(0).normal(size=len(x)) * sigma
    y = (data.target / 100.0 + noise).astype(np.float32)[:, None]
    w = 1.0 / sigma**2
    return {"x": x, "y": y, "w": (w / w.mean()).astype(np.float32)}


if __name__ == "__main__":
    np.savez_compressed(Path(__file__).with_name("noisy_diabetes.npz"), **arrays())
