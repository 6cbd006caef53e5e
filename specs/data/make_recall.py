"""Writes recall.npz, the data of transformer_classifier.nn: a random-access recall task.

Each example is a sequence of 9 one-hot steps over 8 symbols: 8 random symbols, then a pointer
(a symbol read as a position, 0..7). The class is the symbol stored at that position. The pointer
comes last, so a recurrent network must keep all 8 symbols in its state until it knows which one
is asked for; attention looks the position up directly. Deterministic: run
`python specs/data/make_recall.py` to write the same file again.
"""

from pathlib import Path

import numpy as np

SYMBOLS = 8  # symbols, and positions a pointer can name
EXAMPLES = 4000


def recall(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, SYMBOLS, (n, SYMBOLS))
    pointer = rng.integers(0, SYMBOLS, n)
    steps = np.concatenate([symbols, pointer[:, None]], axis=1)  # (n, 9)
    x = np.eye(SYMBOLS, dtype=np.float32)[steps]  # one-hot (n, 9, 8): floats (integers are ids)
    y = symbols[np.arange(n), pointer].astype(np.uint8)
    return x, y


if __name__ == "__main__":
    x, y = recall(EXAMPLES)
    np.savez_compressed(Path(__file__).with_name("recall.npz"), x=x, y=y)
