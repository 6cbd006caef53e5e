"""Writes imbalanced_digits.npz, the data of imbalanced_digits.nn: scikit-learn's digits as a
one-vs-rest task with a rare positive class, "is it an 8?".

Every digit but 8 is kept (class 0) and one 8 in four (class 1, chosen with a fixed seed), so about
2.6% of the examples are positive: a classifier that never says "8" is already 97% accurate, and
an unweighted loss pays little for missing the 8s. x: the 8x8 images as 64 pixel values 0..16
(float32: integers would be token ids), y: the class (uint8). Deterministic: run
`python specs/data/make_imbalanced_digits.py` to write the same file again.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

POSITIVE = 8  # the rare class
KEEP = 4  # one positive in KEEP is kept


def imbalanced(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, digit = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    positives = np.flatnonzero(digit == POSITIVE)
    kept = rng.choice(positives, len(positives) // KEEP, replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(digit != POSITIVE), kept]))
    return x[rows].astype(np.float32), (digit[rows] == POSITIVE).astype(np.uint8)


if __name__ == "__main__":
    x, y = imbalanced()
    np.savez_compressed(Path(__file__).with_name("imbalanced_digits.npz"), x=x, y=y)
