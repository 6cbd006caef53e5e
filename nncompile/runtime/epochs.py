"""One epoch of training with a trainer's compiled functions (runtime.compiled).

strategy "scan": one call of the compiled loop over the epoch's batches, or, for chunked programs
when callbacks watch steps (`on_step_end`: progress, timing), chunks of about `chunk_s` seconds with
the hooks called between them. The first call of a trainer is then one step (its result is the first
feedback: compilation plus one step, not a whole epoch), then chunks double until a step's time is
known. strategy "step": one call per batch, the hooks after each.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from .batches import epoch_order
from .compiled import Compiled


class Epochs:
    """Runs the epochs of one trainer; `step_seconds`: the measured time of a step (for chunks)."""

    def __init__(self, fns: Compiled):
        self.fns, self.acc, self.batching = fns, fns.acc, fns.batching
        self.seed, self.strategy, self.chunked = fns.seed, fns.strategy, fns.chunked
        self.step_seconds: float | None = None
        self.warm = False  # a call has run: later calls hold no compilation
        self.compiling = True  # the latest epoch began with the call that compiled

    def run(self, state, epoch: int, x, y, hooks: list, trainer, chunk_s: float):
        """Train epoch `epoch` from `state`: (state, accumulators), both still on the device (packed
        for strategy "scan"). `hooks` get `on_step_end(trainer, epoch, step, steps)`."""
        self.compiling = not self.warm
        idx, rest = epoch_order(self.batching, self.seed, epoch)
        if self.strategy == "scan":
            return self._chunks(state, epoch, x, y, idx, rest, hooks, trainer, chunk_s)
        acc, i = self.acc.zero(), np.zeros((), np.int32)
        idx, rest = jax.device_put((idx, rest))  # once per epoch, not with every step
        key = jnp.asarray(epoch, jnp.int32)
        steps = self.batching.updates
        for s in range(self.batching.steps):
            state, acc, i = self.fns.step(state, acc, i, idx, x, y, key)
            for cb in hooks:
                cb.on_step_end(trainer, epoch, s + 1, steps)
        if rest is not None:
            state, acc, i = self.fns.step(state, acc, i, rest, x, y, key)
        return state, acc

    def timed(self, seconds: float) -> None:
        """A whole epoch took `seconds`: an estimate of a step's time for the next epochs' chunks
        (not from the epoch that compiled: its later chunks measured the step already)."""
        if not self.compiling:
            self.step_seconds = seconds / self.batching.updates
        self.warm = True

    def _chunks(self, state, epoch: int, x, y, idx, rest, hooks: list, trainer, chunk_s: float):
        steps = self.batching.steps
        if not self.chunked:
            state, _, packed = self.fns.epoch(state, None, epoch, x, y, idx, 0, steps, rest)
            return state, packed
        acc, lo = self.acc.zero(), 0
        size = steps if not hooks else 1 if self.step_seconds is None else self._chunk(chunk_s)
        while True:
            hi = min(steps, lo + size)
            t0 = time.perf_counter()
            state, acc, packed = self.fns.epoch(state, acc, epoch, x, y, idx, lo, hi, rest)
            if hi == steps:
                return state, packed
            jax.block_until_ready(acc["count"])
            if self.warm:  # the first call of all holds the compilation: no step time from it
                self.step_seconds = (time.perf_counter() - t0) / (hi - lo)
            self.warm = True
            for cb in hooks:
                cb.on_step_end(trainer, epoch, hi, self.batching.updates)
            lo = hi
            size = size * 2 if self.step_seconds is None else self._chunk(chunk_s)

    def _chunk(self, chunk_s: float) -> int:
        assert self.step_seconds is not None
        return max(1, round(chunk_s / self.step_seconds))
