"""Epoch fusion: tiny epochs run several to a compiled call (a "block"), then are replayed.

A W3-sized epoch (11 steps of a 64-unit MLP) computes for ~0.15 ms; the host's work around it (the
epoch's permutation, one dispatch, one transfer back, the history, callbacks) costs as much again.
Strategy "scan" with static bounds (runtime.compiled, `fuse` > 1) therefore compiles its epoch as
`epochs(state, first, n, ...)`: a loop of n <= `capacity` epochs around the epoch's own loop, each
epoch exactly the loop a single-epoch call runs (same batches from the host's permutations, passed
stacked, same keys: the same numbers, bit for bit). Every call of the trainer goes through it, a
single epoch as n = 1 (epoch 1, which holds the compilation, is always its own call): no second
program. Fits without a validation split use it when it pays for its longer compilation (`worth`:
MIN_EPOCHS epochs with the compilation cache, MIN_EPOCHS_UNCACHED without); once an epoch's
time is measured, a block takes about BLOCK_S seconds of epochs (`size`): epochs under BLOCK_S / 2
fuse.

The fit then replays the block's epochs one by one from the stacked accumulators: the same history,
logs, callbacks, early stopping and plateau decisions as unfused epochs. The state at the end of an
epoch inside a block is not kept; it is an `EpochState`, computed when something reads it (a
callback reading the model, a rollback after a non-finite epoch, early stopping or a callback
stopping inside the block, restore-best, a plateau lowering the rate inside the block) by running
the block again from its start state (kept: strategy "scan" does not donate) for the epochs up to
it: the same numbers. A decision that changes the trajectory inside a block (a plateau drop, a
stop) discards the rest of the block. Blocks end before an `unfreeze_after` epoch, and at the epochs
whose state a callback says it reads (`reads_state(epoch)`: the checkpointer's `every`); a callback
that reads the model at another epoch end inside a block makes the rest of the fit unfused.
`NNCOMPILE_FUSE=0` turns fusion off.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The most epochs of one call (the fused program's capacity: its stacked batch indices and
# accumulators have this many rows)
CAPACITY = 64
# ... and at most this many bytes of stacked batch indices (transferred with every call)
INDEX_BYTES = 1 << 20
# A block runs about this long (measured epoch time x epochs): epochs under BLOCK_S / 2 fuse
BLOCK_S = 0.05
# Fits of fewer epochs keep one epoch per call. The fused program compiles ~20-30% longer than the
# single epoch's (W3: ~0.1-0.2 CPU s more) and saves ~0.3-0.4 ms of host work a tiny epoch: with
# JAX's persistent compilation cache (the default) it is compiled once and loaded after, so it pays
# over a few dozen epochs; without the cache every process compiles it again, and it pays only over
# several hundred
MIN_EPOCHS = 50
MIN_EPOCHS_UNCACHED = 500


def worth(epochs: int, cached: bool) -> bool:
    """Whether a fit of `epochs` epochs should use the fused program (the cost model above)."""
    return epochs >= (MIN_EPOCHS if cached else max(MIN_EPOCHS, MIN_EPOCHS_UNCACHED))


def capacity(examples: int) -> int:
    """The epochs of one call for a train split of `examples` rows per epoch (1: no fusion)."""
    if os.environ.get("NNCOMPILE_FUSE", "1") == "0":
        return 1
    return max(1, min(CAPACITY, INDEX_BYTES // max(4 * examples, 1)))


def size(capacity: int, epoch_s: float | None, first: int, last: int, ends: Callable) -> int:
    """The epochs of the block starting at `first`: about BLOCK_S seconds of epochs of `epoch_s`
    (1 while unmeasured), at most `capacity`, up to `last`, ending at the first epoch e where
    `ends(e)` (a callback reads its state, or the next one unfreezes)."""
    if capacity <= 1 or not epoch_s:
        return 1
    n = max(1, min(capacity, int(BLOCK_S / epoch_s), last - first + 1))
    for k in range(n - 1):
        if ends(first + k):
            return k + 1
    return n


@dataclass
class Block:
    """Epochs first..first+n-1 run by one call: the state before and after them (device arrays),
    their packed accumulators and rates (device, then host once fetched), and `rerun(state, e, m)`,
    the state after m epochs from `state` at the start of epoch e (None: an unfused epoch)."""

    start: Any
    first: int
    n: int
    state: Any
    accs: Any
    rates: Any
    rerun: Callable[[Any, int, int], list] | None = None
    reruns: int = 0  # states inside the block computed again (read by someone)
    _states: dict[int, list] = field(default_factory=dict)

    def after(self, k: int) -> Any:
        """The state at the end of the block's epoch k (0-based): the call's result for its last
        epoch, an EpochState (computed when read) for the others, the start state for k = -1."""
        if k < 0:
            return self.start
        return self.state if k == self.n - 1 else EpochState(self, k)

    def computed(self, k: int) -> list:
        """The state after epoch k, run again from the latest state known before it."""
        if k not in self._states:
            assert self.rerun is not None
            j = max((i for i in self._states if i < k), default=-1)
            base = self.start if j < 0 else self._states[j]
            self.reruns += 1
            self._states[k] = self.rerun(base, self.first + j + 1, k - j)
        return self._states[k]


class EpochState:
    """The state at the end of epoch `k` of a fused block, computed when read (`concrete`)."""

    __slots__ = ("block", "k")

    def __init__(self, block: Block, k: int):
        self.block, self.k = block, k

    def leaves(self) -> list:
        return self.block.computed(self.k)


def concrete(state: Any) -> Any:
    """A state as its list of arrays (an EpochState computed), or None."""
    return state.leaves() if isinstance(state, EpochState) else state
