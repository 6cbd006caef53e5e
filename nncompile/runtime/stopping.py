"""Two collaborators of a fit: early stopping (`Stopping`) and restore-best (`BestState`).

Both carry over a resume: a checkpoint records the stopping state and, with `restore_best`, the best
epoch's state; `Trainer.resume_from` hands them back at the start of the next fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..runconfig import EarlyStopping
from .blocks import concrete
from .metrics import better


@dataclass
class Stopping:
    """Early stopping: the best value of `key` and the epochs since (patience None: never stop)."""

    key: str
    patience: int | None = None
    min_delta: float = 0.0
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0

    @classmethod
    def for_config(cls, config: EarlyStopping | None, resolve: Callable[[str], str]) -> Stopping:
        """The rule of a fit: early stopping as configured; without it, it only finds the best epoch
        of the default monitor (and never stops). `resolve` maps a monitor to a history key."""
        if config is None:
            return cls(resolve(EarlyStopping().monitor))
        return cls(resolve(config.monitor), config.patience, config.min_delta)

    @property
    def mode(self) -> str:
        return better(self.key)

    def update(self, logs: dict) -> bool:
        """Record an epoch; True when it is the new best."""
        value = logs[self.key]
        if self.best is None or (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        ):
            self.best, self.best_epoch, self.wait = value, logs["epoch"], 0
            return True
        self.wait += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.wait > 0 and self.wait >= self.patience

    def reason(self) -> str:
        return (
            f"early stopping: {self.key} did not improve by more than {self.min_delta:g} for "
            f"{self.wait} "
            f"epochs (best {self.best:.6g} at epoch {self.best_epoch})"
        )

    def state(self) -> dict:
        """What a checkpoint records (and `resume` takes back)."""
        return {
            "key": self.key,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
        }

    def resume(self, state: dict | None) -> None:
        state = state or {}
        self.best, self.best_epoch, self.wait = (
            state.get("best"),
            state.get("best_epoch"),
            int(state.get("wait") or 0),
        )


def resolve_monitor(
    monitor: str, keys: list[str], has_val: bool, log: Callable[[str], None]
) -> str:
    """The history key to monitor: `monitor`, or its train key when there is no validation split."""
    if monitor.startswith("val_") and not has_val:
        log(f"no validation split: monitoring {monitor[4:]!r} instead of {monitor!r}")
        monitor = monitor[4:]
    known = keys + ([f"val_{k}" for k in keys] if has_val else [])
    if monitor not in known:
        raise ValueError(f"cannot monitor {monitor!r}: the history has {', '.join(known)}")
    return monitor


class BestState:
    """`restore_best`: the state (flat leaves) at the end of the best epoch so far, and the state a
    fit ends with. No copies: the state at the end of epoch e is the input of epoch e + 1, which
    strategy "scan" leaves intact and strategy "step" copies anyway: it is taken as e + 1 starts."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.leaves: list | None = None
        # the latest completed epoch is the best: take its state as the next one starts
        self.pending = False

    def start(self, leaves: list | None, latest_is_best: bool) -> None:
        """A fit begins (from a resume: the best epoch's state when it is not the latest epoch)."""
        self.leaves, self.pending = leaves, latest_is_best and self.enabled

    def epoch_start(self, state: list) -> None:
        if self.pending:
            self.leaves, self.pending = state, False

    def improved(self) -> None:
        """The epoch just completed is the new best."""
        self.pending = self.enabled

    def final(self) -> list | None:
        """The state to go back to as the fit ends (None: keep the current one, the best)."""
        keep = self.enabled and self.leaves is not None and not self.pending
        return concrete(self.leaves) if keep else None

    def relayout(self, convert: Callable[[list], list]) -> None:
        """Convert the kept state to a new layout (after unfreezing)."""
        if self.leaves is not None:
            self.leaves = convert(concrete(self.leaves))
