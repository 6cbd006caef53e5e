"""Writes specs/data/reverse.npz for specs/encoder_decoder.nn (deterministic; run from anywhere).

The task: read a sequence of symbols, write it backwards. Token ids: 0 is the start token the
decoder reads first, 1..SYMBOLS the symbols. Arrays (one row per example):
  source  int [n, LENGTH]  the sequence to reverse (the encoder's input)
  shifted int [n, LENGTH]  the start token, then the answer without its last symbol (the
                           decoder's input: teacher forcing)
  answer  int [n, LENGTH]  the reversed sequence: a class id per step (the decoder's target)
"""

from pathlib import Path

import numpy as np

ROWS, LENGTH, SYMBOLS, START = 3000, 6, 9, 0


def make(rows: int = ROWS, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    source = rng.integers(1, SYMBOLS + 1, size=(rows, LENGTH)).astype(np.uint8)
    answer = source[:, ::-1]
    shifted = np.concatenate([np.full((rows, 1), START, np.uint8), answer[:, :-1]], axis=1)
    return {"source": source, "shifted": shifted, "answer": np.ascontiguousarray(answer)}


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "reverse.npz"
    np.savez_compressed(out, **make())
    print(f"wrote {out} ({out.stat().st_size} bytes)")
