"""What a fit reports (History, with a typed StopReason) and the callbacks it calls."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class StopReason(Enum):
    """Why a fit ended before its last epoch (History.stop; None when it ran every epoch)."""

    EARLY_STOPPING = "early_stopping"  # the monitored value stopped improving
    NONFINITE = "nonfinite"  # the loss became nan or inf: the last good epoch's state is kept
    CALLBACK = "callback"  # a callback set `trainer.stop_training = True`
    INTERRUPTED = "interrupted"  # KeyboardInterrupt (Ctrl-C): the last completed epoch is kept


@dataclass
class History:
    """What a fit did: one dict per epoch (epoch, loss, metrics, val_*, lr when known, seconds),
    the best epoch of the monitored value, and why it stopped (`stop`; `reason` in words)."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stop: StopReason | None = None
    reason: str | None = None
    monitor: str | None = None
    seconds: float = 0.0
    steps_per_epoch: int = 0
    examples_per_epoch: int = 0

    @property
    def stopped_early(self) -> bool:
        return self.stop is not None

    @property
    def interrupted(self) -> bool:
        return self.stop is StopReason.INTERRUPTED

    def stopped(self, why: StopReason, reason: str) -> None:
        self.stop, self.reason = why, reason

    def recorded(self) -> list[str]:
        """The keys the epochs recorded (loss, metrics, val_*, layer loss terms), in their order:
        not epoch, seconds or lr."""
        seen = dict.fromkeys(k for e in self.epochs for k in e)
        return [k for k in seen if k not in ("epoch", "seconds", "lr")]

    def series(self, key: str) -> list[float]:
        """The values of one history key, one per epoch (missing values as nan)."""
        return [e.get(key, math.nan) for e in self.epochs]

    def examples_per_second(self) -> float | None:
        """Training throughput over epochs 2..N (epoch 1 holds compilation), or of epoch 1 alone."""
        timed = self.epochs[1:] or self.epochs
        seconds = sum(e["seconds"] for e in timed)
        return self.examples_per_epoch * len(timed) / seconds if timed and seconds > 0 else None


@dataclass(frozen=True)
class Resume:
    """Where a fit continues from: read from a checkpoint (`runtime.checkpoint.read`), applied by
    `Trainer.resume_from`."""

    epoch: int  # the epochs completed
    state: dict  # {"model", "optimizer"} as Trainer.state() gives them
    frozen: bool | None  # the freeze phase (False: past `unfreeze_after`)
    epochs: list[dict]  # the history so far
    best_epoch: int | None
    stopping: dict | None  # Stopping.state()
    best_state: dict | None = None  # restore_best: the best epoch's state (not the latest one)
    plateau: dict | None = None  # Plateau.state() (reduce_on_plateau)
    meta: dict = field(default_factory=dict)  # the checkpoint's metadata


def nonfinite_reason(acc: dict, epoch: int, updates: int) -> str:
    """Why a fit stopped at a non-finite loss, from the epoch's accumulators (loss, first_bad)."""
    step = int(acc["first_bad"])
    where = f"epoch {epoch}" + (f", step {step + 1} of {updates}" if step >= 0 else "")
    kept = (
        f"the end of epoch {epoch - 1}" if epoch > 1 else "before training (the initial parameters)"
    )
    return (
        f"the training loss became non-finite ({'nan' if math.isnan(acc['loss']) else 'inf'}) in "
        f"{where}; "
        f"stopped and kept the parameters from {kept}. Try a lower learning rate, gradient "
        f"clipping (clip_norm), or check that the data is normalised"
    )


class Callback:
    """The hooks a fit calls; a callback may define any subset of them (duck typing: it need not
    derive from this class). Defining `on_step_end` makes strategy "scan" run epochs in chunks."""

    def on_fit_start(self, trainer: Any, history: History) -> None: ...
    def on_step_end(
        self, trainer: Any, epoch: int, step: int, steps: int
    ) -> None: ...  # after a step or chunk
    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict) -> None: ...
    def reads_state(self, epoch: int) -> bool:  # on_epoch_end reads the state at `epoch`:
        return False  # a fused block of tiny epochs ends there (runtime.blocks)

    def on_fit_end(self, trainer: Any, history: History) -> None: ...


def notify(callbacks: list, hook: str, *args: Any) -> None:
    """Call `hook(*args)` on every callback that defines it, in order."""
    for cb in callbacks:
        method = getattr(cb, hook, None)
        if method is not None:
            method(*args)


def step_hooks(callbacks: list) -> list:
    """The callbacks that watch steps (`on_step_end`)."""
    return [cb for cb in callbacks if hasattr(cb, "on_step_end")]
