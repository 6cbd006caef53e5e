"""How an epoch's steps are cut into calls of a compiled loop: one scheduler for the supervised
trainer (runtime/epochs.py) and the GAN trainer (runtime/gan_epochs.py).

A loop compiled with static bounds (`chunked` False) runs an epoch in one call. A loop with traced
bounds runs it in one call too unless callbacks watch steps (`on_step_end`: progress, timing); then
in chunks of about `chunk_s` seconds with the hooks called between them. The first call of a
trainer is then one step (its result is the first feedback: compilation plus one step, not a whole
epoch), then chunks double until a step's time is known. A step's time comes from a chunk that held
no compilation, or from a whole epoch's wall time (`timed`), except the epoch that compiled: its
later chunks measured the step already, and its wall time would make the next chunks needlessly
small. Only the chunks wait for the device (to call the hooks); the epoch's last call is returned
unread, for the trainer's one host sync per epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax


def traced_bounds(batch: int, params: list, min_work: float) -> bool:
    """Whether an epoch's loop compiles with traced bounds (one compilation for any range, so
    chunks): on a CPU, when a step has at least `min_work` of work, batch size x parameters (the
    trainers pass loop.CHUNK_MIN_WORK)."""
    work = batch * sum(a.size for a in params)
    return jax.default_backend() == "cpu" and work >= min_work


class ChunkScheduler:
    """The chunks of one trainer's epochs; `step_seconds`: the measured time of a step.

    `steps`: the loop's trip count per epoch; `updates`: the steps the hooks are told of (with a
    remainder batch, run by the last call, one more than `steps`)."""

    def __init__(self, steps: int, updates: int, chunked: bool):
        self.steps, self.updates, self.chunked = steps, updates, chunked
        self.step_seconds: float | None = None
        self.warm = False  # a call has run: later calls hold no compilation
        self.compiling = True  # the latest epoch began with the call that compiled

    def start(self) -> None:
        """An epoch starts: it compiles if no call ran before it."""
        self.compiling = not self.warm

    def chunks(
        self,
        carry: Any,
        call: Callable[[Any, int, int], Any],
        ready: Callable[[Any], Any],
        hooks: list,
        trainer,
        epoch: int,
        chunk_s: float,
    ) -> Any:
        """Epoch `epoch` as calls `carry = call(carry, lo, hi)` (steps lo..hi-1), from the first
        `carry`; `ready(carry)`: what to wait for before a chunk's hooks
        (`on_step_end(trainer, epoch, step, updates)`). The last call's carry, not waited for."""
        self.start()
        lo, steps = 0, self.steps
        if not self.chunked or not hooks:
            size = steps
        else:
            size = 1 if self.step_seconds is None else self._chunk(chunk_s)
        while True:
            hi = min(steps, lo + size)
            t0 = time.perf_counter()
            carry = call(carry, lo, hi)
            if hi == steps:
                return carry
            jax.block_until_ready(ready(carry))
            if self.warm:  # the first call of all holds the compilation: no step time from it
                self.step_seconds = (time.perf_counter() - t0) / (hi - lo)
            self.warm = True
            for cb in hooks:
                cb.on_step_end(trainer, epoch, hi, self.updates)
            lo = hi
            size = size * 2 if self.step_seconds is None else self._chunk(chunk_s)

    def timed(self, seconds: float) -> None:
        """A whole epoch took `seconds`: a step's time for the next epochs' chunks (not from the
        epoch that compiled)."""
        if not self.compiling:
            self.step_seconds = seconds / max(self.updates, 1)
        self.warm = True

    def _chunk(self, chunk_s: float) -> int:
        assert self.step_seconds is not None
        return max(1, round(chunk_s / self.step_seconds))
