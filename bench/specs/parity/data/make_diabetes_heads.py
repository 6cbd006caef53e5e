"""Writes diabetes_heads.npz for bench/specs/parity/multi_io.nn: scikit-learn's bundled diabetes
data (442 patients, nothing downloaded) as two inputs and two targets, the shape of a Keras
functional model with a regression head and a classification head.

    person [4]   age, sex, body-mass index, mean blood pressure (raw units, float32)
    blood  [6]   the six blood serum measurements s1..s6 (raw units, float32)
    progression  disease progression one year later, in hundreds (float32: a regression target)
    high         1 when the progression is above 140 (about the median), else 0 (class ids)

Run from the repository root: python bench/specs/parity/data/make_diabetes_heads.py
(deterministic)."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes


def arrays() -> dict[str, np.ndarray]:
    data = load_diabetes(scaled=False)
    x = data.data.astype(np.float32)  # (442, 10)
    target = data.target.astype(np.float32)
    return {
        "person": x[:, :4],
        "blood": x[:, 4:],
        "progression": target / 100.0,
        "high": (target > 140).astype(np.int64),
    }


if __name__ == "__main__":
    np.savez_compressed(Path(__file__).with_name("diabetes_heads.npz"), **arrays())
