"""Writes digit_tokens.npz: scikit-learn's handwritten digits as integer token sequences.

Each 8x8 image is averaged over 2x2 blocks (a 4x4 image) and read row by row: 16 tokens, each an
intensity 0..16 (a vocabulary of 17 ids). x: int8 (1797, 16) token ids; y: int8 (1797,) the digit.
Deterministic: `python specs/data/make_digit_tokens.py` rewrites the same file.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits


def tokens() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    images = digits.images.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4))  # 2x2 blocks
    return np.rint(images).astype(np.int8).reshape(len(images), 16), digits.target.astype(np.int8)


if __name__ == "__main__":
    x, y = tokens()
    np.savez_compressed(Path(__file__).with_name("digit_tokens.npz"), x=x, y=y)
