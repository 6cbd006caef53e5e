"""An epoch's batches of the train split, and their order (a function of (seed, epoch))."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

DATA_STREAM = 0x6E6E  # folded into the seed's key so data keys never equal parameter-init keys


@dataclass(frozen=True)
class Batching:
    """How an epoch of the train split is cut: `steps` full batches, then `remainder` examples."""

    size: int
    steps: int
    remainder: int  # examples in the last, smaller batch that is run (0 when dropped)
    dropped: int  # examples left out of each epoch (a different set every epoch)

    @property
    def examples(self) -> int:
        return self.size * self.steps + self.remainder

    @property
    def updates(self) -> int:
        return self.steps + (1 if self.remainder else 0)


def batching(batch_size: int | str, n: int, drop_remainder: bool) -> Batching:
    size = n if batch_size == "full" else max(1, min(int(batch_size), n))
    steps, rest = divmod(n, size)
    return Batching(size, steps, 0 if drop_remainder else rest, rest if drop_remainder else 0)


def oversized(batch_size: int | str, n: int) -> str | None:
    """The warning when `batch_size` is larger than the train split (it becomes full-batch)."""
    if batch_size == "full" or int(batch_size) <= n:
        return None
    return (
        f"warning: batch_size {batch_size} is larger than the train split ({n} examples): "
        f"every step uses the whole split (full-batch, batch size {n})"
    )


def epoch_order(b: Batching, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
    """An epoch's batches as row indices: (steps, size) full batches, the (1, r) remainder or None.

    A permutation of the train split drawn on the host from (seed, epoch): a few microseconds of
    numpy, and it keeps the threefry + sort of an on-device permutation out of the compiled epoch.
    """
    n = b.size * b.steps + b.remainder + b.dropped
    key = (seed % 2**64) << 64 | DATA_STREAM << 32 | epoch % 2**32  # Philox keyed by (seed, epoch)
    perm = philox(key).permutation(n).astype(np.int32)
    idx = perm[: b.size * b.steps].reshape(b.steps, b.size)
    rest = perm[b.size * b.steps :][None, : b.remainder] if b.remainder else None
    return idx, rest


_local = threading.local()  # a generator per thread


def philox(key: int) -> np.random.Generator:
    """`np.random.Generator(np.random.Philox(key=key))`, the same stream, from a generator kept per
    thread whose state is reset to the key (building a new one costs ~40 us, a tenth of a tiny
    epoch; setting the state ~4 us)."""
    generator = getattr(_local, "generator", None)
    if generator is None:
        generator = _local.generator = np.random.Generator(np.random.Philox(key=0))
        _local.state = generator.bit_generator.state
    state = _local.state
    state["state"]["key"] = np.array([key % 2**64, key >> 64 & (2**64 - 1)], np.uint64)
    state["state"]["counter"] = np.zeros(4, np.uint64)
    generator.bit_generator.state = state
    return generator
