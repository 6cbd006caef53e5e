"""Donating fits: tiny epochs on a CPU consume their input state (runtime.compiled `epoch_donated`).

Strategy "scan" keeps an epoch's input intact: it is the rollback point of a non-finite epoch and of
Ctrl-C, and the state callbacks read while the next epoch runs ahead. Keeping it costs XLA:CPU a
copy of every state array into the epoch's loop and fresh output buffers: on W3 (epochs of
0.2-0.4 ms) ~60-90 us of CPU an epoch, more than running the next epoch ahead saves. A fit on a CPU
whose epochs run one call each (no fused blocks, static bounds, one device) therefore donates the
state to each epoch instead, when nothing needs an older state than the latest (no `restore_best`,
no callback that declares `reads_state`, such as checkpoints):
* no epoch runs ahead: when a callback runs, the latest state is not yet given to the next call;
* the model a callback reads holds copies (FitLoop._sync), never arrays the fit will donate (the
  model object's own arrays are donated by the first epoch; `trainer.model` syncs it first);
* every ANCHOR_EPOCHS epochs, or sooner once ANCHOR_SECONDS have passed since the last copy
  (epochs of a second keep one each: a rollback never runs long), the fit keeps a copy of its
  state (an `Anchor`: on the host, so the first epoch's time holds no compiled copy, or on the
  device when the state holds PRNG keys); the state before a non-finite epoch, or at the last
  completed epoch when a Ctrl-C lost it (interrupted while an epoch ran), is computed again from
  there by the same compiled epoch (XLA:CPU runs a program the same way every time: the same
  numbers, bit for bit), at most ANCHOR_EPOCHS epochs or about ANCHOR_SECONDS of them. The
  anchor is taken again after anything but an epoch changed the state (a plateau's lower rate,
  unfreezing).
`NNCOMPILE_DONATE=0` keeps the intact-input path (one epoch run ahead).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

# The most epochs between two kept copies of the state (and so the most a rollback runs again)
ANCHOR_EPOCHS = 64
# ... and the most seconds of epochs (a Ctrl-C or a non-finite epoch waits for them to run again)
ANCHOR_SECONDS = 0.25


def wanted() -> bool:
    """Whether the environment allows donating fits (`NNCOMPILE_DONATE` not 0)."""
    return os.environ.get("NNCOMPILE_DONATE", "1") != "0"


def deleted(state: Any) -> bool:
    """Whether an array of a flat state was donated (consumed by a call)."""
    return isinstance(state, list) and any(getattr(a, "is_deleted", bool)() for a in state)


class Anchor:
    """A copy of the state at the end of epoch `epoch`, and the epochs run again from it.

    `copy(state)`: new device arrays of a state (device or host arrays; compiled: called in the
    first epoch only for states with PRNG keys); `run(state, e)`: epoch e from `state` (consumed),
    the state after it."""

    def __init__(
        self,
        copy: Callable[[Any], Any],
        run: Callable[[Any, int], Any],
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.copy, self.run, self.clock = copy, run, clock
        self.epoch: int | None = None
        self.state: Any = None
        self.taken = 0.0  # the clock when the copy was taken

    def keep(self, done: int, state: Any) -> None:
        """Before epoch done + 1 consumes `state` (the state at the end of epoch `done`): a copy of
        it when there is no anchor or the anchor is ANCHOR_EPOCHS epochs or ANCHOR_SECONDS old."""
        now = self.clock()
        if (
            self.epoch is None
            or done - self.epoch >= ANCHOR_EPOCHS
            or (done > self.epoch and now - self.taken >= ANCHOR_SECONDS)
        ):
            self.epoch, self.state = done, host_copy(state) or self.copy(state)
            self.taken = now

    def drop(self) -> None:
        """The state changed outside an epoch: the next `keep` copies it."""
        self.epoch, self.state = None, None

    def state_at(self, epoch: int) -> Any:
        """The state at the end of `epoch` (not before the anchor's), run again from the anchor."""
        assert self.epoch is not None and self.epoch <= epoch
        state = self.copy(self.state)
        for e in range(self.epoch + 1, epoch + 1):
            state = self.run(state, e)
        return state


def host_copy(state: list) -> list | None:
    """numpy copies of a flat state's arrays, or None when it holds PRNG keys (no numpy form)."""
    if any(jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) for a in state):
        return None
    return [np.array(a) for a in state]


def distinct(state: list, copy: Callable[[Any], Any]) -> list:
    """`state`, or `copy(state)` when an array appears in it twice (unfreezing can share one)."""
    return copy(state) if len({id(a) for a in state}) < len(state) else state
