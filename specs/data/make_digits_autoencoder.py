"""Writes digits_autoencoder.npz: scikit-learn's 1797 digits as 8x8x1 images, pixels in [0, 1]
(the 0..16 grey levels / 16, exact in float16), one array `pixels` that a spec reads as both the
features and the targets of a reconstruction (`npz(..., x=pixels, y=pixels)`).

    python specs/data/make_digits_autoencoder.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    images = load_digits().images  # (1797, 8, 8), integer grey levels 0..16
    pixels = (images / 16.0).astype(np.float16)[..., None]
    np.savez_compressed(HERE / "digits_autoencoder.npz", pixels=pixels)
