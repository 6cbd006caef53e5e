"""Writes crowd_digits.npz, the data of crowd_digits.nn: scikit-learn's digits labelled by two
sources of unequal trust, with a sample weight per row that says how much each label is trusted.

One row in four (chosen with a fixed seed) is labelled by an expert: its label is the true digit,
weight 1. The other rows are labelled by a crowd whose annotators confuse look-alike digits: with
probability CONFUSED a 1 is labelled 7 (and a 7 as 1), 3 as 8, 4 as 9 and 5 as 6 (and back); the
other digits they label right. Crowd labels weigh CROWD_WEIGHT. For the confused digits the crowd's
wrong label outnumbers every right one (0.75 x 0.7 of the rows against 0.25 + 0.75 x 0.3): trained
unweighted, a model learns the crowd's mistakes; weighted, the expert labels decide.

x: the 8x8 images as 64 pixel values 0..16 (float32: integers would be token ids), y: the label
(uint8, as given: true for the expert rows), w: the weight (float32), expert: 1 for the expert
rows (for checking results only; the spec reads x, y and w). Deterministic: run
`python specs/data/make_crowd_digits.py` to write the same file again.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

EXPERT = 0.25  # the share of rows an expert labels
CONFUSED = 0.7  # how often a crowd annotator swaps a look-alike pair
CROWD_WEIGHT = 0.1
PAIRS = ((1, 7), (3, 8), (4, 9), (5, 6))


def crowd_digits(seed: int = 0) -> dict[str, np.ndarray]:
    x, digit = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    expert = rng.random(len(digit)) < EXPERT
    swap = np.arange(10)
    for a, b in PAIRS:
        swap[a], swap[b] = b, a
    confused = ~expert & (rng.random(len(digit)) < CONFUSED)
    y = np.where(confused, swap[digit], digit)
    w = np.where(expert, 1.0, CROWD_WEIGHT)
    return {
        "x": x.astype(np.float32),
        "y": y.astype(np.uint8),
        "w": w.astype(np.float32),
        "expert": expert.astype(np.uint8),
    }


if __name__ == "__main__":
    np.savez_compressed(Path(__file__).with_name("crowd_digits.npz"), **crowd_digits())
