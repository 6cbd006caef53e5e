"""Writes digits_halves.npz for specs/multi_io.nn: scikit-learn's bundled 8x8 digits (1797 images,
nothing downloaded) cut into two inputs and given two targets.

    left  [32]  the left half of each image (columns 0-3), pixel values 0..16 (float32)
    right [32]  the right half (columns 4-7)
    digit       the digit, 0..9 (class ids)
    big         1 when the digit is 5 or more, else 0 (class ids)

Run from the repository root: python specs/data/make_digits_halves.py (deterministic)."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

digits = load_digits()
images = digits.images.astype(np.float32)  # (1797, 8, 8), values 0..16 (float: features)
np.savez_compressed(
    Path(__file__).with_name("digits_halves.npz"),
    left=images[:, :, :4].reshape(len(images), 32),
    right=images[:, :, 4:].reshape(len(images), 32),
    digit=digits.target.astype(np.int64),
    big=(digits.target >= 5).astype(np.int64),
)
