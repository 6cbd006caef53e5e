"""`schedule: reduce_on_plateau(...)`: the runtime lowers the learning rate at epoch ends.

The rate lives in the optimizer state (the emitted optimizer is wrapped in
optax.inject_hyperparams): after each epoch, `Plateau.update` reads the monitored history key
(val_loss by default, like Keras' ReduceLROnPlateau) and, when it has not improved by more than
`min_delta` for `patience` epochs, returns the new rate, `factor` times the old one and never below
`min_lr`; the trainer writes it into the state (`with_rate`). The `cooldown` epochs after a drop
are not counted as epochs without improvement (a better value still becomes the best). Its
counters are part of a checkpoint, so a resumed run lowers the rate at the same epochs as an
uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from ..runconfig import Plateau as PlateauConfig
from .metrics import better


@dataclass
class Plateau:
    key: str  # the history key monitored (resolved: `val_` dropped without a validation split)
    patience: int
    factor: float
    min_lr: float = 0.0
    cooldown: int = 0
    min_delta: float = 0.0
    best: float | None = None
    wait: int = 0  # epochs without improvement (outside cooldowns)
    cooling: int = 0  # cooldown epochs left

    @classmethod
    def for_config(
        cls, config: PlateauConfig | None, resolve: Callable[[str], str], rate_path
    ) -> Plateau | None:
        """The rule of a fit (None without reduce_on_plateau); `resolve` maps the monitor to a
        history key, `rate_path` is where the optimizer state holds the rate (None: nowhere)."""
        if config is None:
            return None
        if not rate_path:
            raise ValueError(
                "reduce_on_plateau needs the learning rate in the optimizer state: wrap the "
                "optimizer in optax.inject_hyperparams (emitted programs do)"
            )
        return cls(
            resolve(config.monitor),
            config.patience,
            config.factor,
            config.min_lr,
            config.cooldown,
            config.min_delta,
        )

    def update(self, logs: dict, lr: float) -> float | None:
        """Record an epoch (its history entry, the rate it ended with); the new rate when it drops
        (None: unchanged)."""
        value = float(logs[self.key])
        cooling, self.cooling = self.cooling > 0, max(self.cooling - 1, 0)
        improved = np.isfinite(value) and (
            self.best is None
            or (
                value < self.best - self.min_delta
                if better(self.key) == "min"
                else value > self.best + self.min_delta
            )
        )
        if improved:
            self.best, self.wait = value, 0
            return None
        if cooling:  # an epoch of the cooldown after a drop: not counted
            return None
        self.wait += 1
        # float32 rates: compare as float32, or a rate at min_lr would look above it
        if self.wait < self.patience or np.float32(lr) <= np.float32(self.min_lr):
            return None
        self.wait, self.cooling = 0, self.cooldown
        return max(lr * self.factor, self.min_lr)

    def calm(self) -> int:
        """How many of the next epochs cannot lower the rate (the one after them may): a fused
        block of epochs ends there (runtime.blocks)."""
        return self.cooling + max(self.patience - self.wait, 1) - 1

    def reason(self, old: float, new: float) -> str:
        return (
            f"reduce_on_plateau: {self.key} did not improve for {self.patience} epochs "
            f"(best {self.best:.6g}): lr {old:.3g} -> {new:.3g}"
        )

    def state(self) -> dict:
        """What a checkpoint records (and `resume` takes back)."""
        return {"key": self.key, "best": self.best, "wait": self.wait, "cooling": self.cooling}

    def resume(self, state: dict | None) -> None:
        state = state or {}
        self.best = state.get("best")
        self.wait, self.cooling = int(state.get("wait") or 0), int(state.get("cooling") or 0)


def rate_leaves(treedef) -> list[int]:
    """Indices, in the flat (model, optimizer) state, of the learning rates held as state (one per
    optimizer branch: several with `freeze:` after unfreezing)."""
    numbered = jax.tree.unflatten(treedef, list(range(treedef.num_leaves)))
    return [
        i
        for path, i in jax.tree_util.tree_flatten_with_path(numbered)[0]
        if "'hyperparams'" in (text := jax.tree_util.keystr(path))
        and "'learning_rate'" in text.rsplit("'hyperparams'", 1)[1]
    ]


def with_rate(leaves: list, indices: list[int], lr: float) -> list:
    """The flat state with every rate at `indices` set to `lr` (same device, dtype, weak type)."""
    out = list(leaves)
    for i in indices:
        out[i] = jax.lax.full_like(out[i], lr)  # (a new placement or weak type would recompile)
    return out
