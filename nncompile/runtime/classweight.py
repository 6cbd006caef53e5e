"""`class_weight: balanced`: the weight of each class from the training split, set as the program's
CLASS_WEIGHT before anything is compiled (the emitted train_step passes CLASS_WEIGHT to loss_fn;
eval_step passes nothing, so validation and test losses stay unweighted, as in Keras).

The weights are scikit-learn's "balanced" rule, `n / (classes * count)`, where `classes` counts
the classes present in the split; a class id below the largest one that never occurs weighs 1 (no
training example reads it). A `class_weight: {id: weight}` dict needs nothing here: its table is a
literal of the emitted program.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..registry.balanced import balanced_class_weight, one_hot_rows, target_class_ids
from ..runconfig import RunConfig

one_hot = one_hot_rows  # (the verdict's baseline reads one-hot targets the same way)


def balanced(y: np.ndarray) -> tuple[float, ...]:
    """One weight per class id 0..max (one-hot rows: per column): n / (classes present * count),
    by the rule an ejected train.py holds too (registry.balanced)."""
    y = np.asarray(y)
    ids = target_class_ids(y)
    if ids.size == 0 or ids.min() < 0:
        raise ConfigError(
            "`class_weight: balanced` needs class ids 0, 1, ... in the training split",
            "check the targets of the train split",
        )
    return balanced_class_weight(y)


def resolve(program: ModuleType, cfg: RunConfig, y: Any, log: Callable[[str], None]) -> None:
    """With CONFIG["class_weight"] == "balanced": the program's CLASS_WEIGHT from `y`, the
    training split's targets (set again by every fit: its own split decides)."""
    if cfg.class_weight != "balanced":
        return
    if isinstance(y, dict):
        raise ConfigError(
            "`class_weight: balanced` weighs the classes of a model with one output; this one has "
            f"{len(y)} ({', '.join(y)})",
            "remove `class_weight`, or weigh the outputs' losses with `loss_weights`",
        )
    weights = balanced(y)
    setattr(program, "CLASS_WEIGHT", weights)  # noqa: B010 (a module attribute, set at run time)
    log("class_weight: balanced: " + ", ".join(f"{i}: {w:.4g}" for i, w in enumerate(weights)))
