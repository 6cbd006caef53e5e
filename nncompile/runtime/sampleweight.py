"""Sample weights in a fit (Keras' `fit(sample_weight=...)`): each training example's weight in the
training loss, from the data source (`sample_weight=` of npz and csv: runtime.data splits them with
the targets) or given to `Program.fit(sample_weight=...)`.

On the device a split's targets travel with their weights as one pytree, `Weighted(y,
w)`: batching gathers both with the same row indices (same shuffle, same batches, the remainder
batch too), and the compiled step (runtime.compiled) unpacks them, passing `w` to the emitted
`train_step(..., sample_weight=w)` (and `eval_step`). The validation and test losses are weighted
when the data carries their weights (a source's `sample_weight`: split like Keras'
`validation_split` splits the weights); arrays given to fit() for val/test come without weights
and are evaluated unweighted, as Keras' `validation_data=(x, y)`. The outputs' losses of a model
with several are weighted as the loss (`Metric.weighs`); metrics are not (Keras' `metrics=[...]`),
except `weighted_metrics` (runtime.metrics.weighted; see docs/language.md, "Sample weights").
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from ..errors import ConfigError, DataError
from .trees import rows


class Weighted(NamedTuple):
    """A split's targets `y` (an array, or a dict for several outputs) and their weights (n,)."""

    y: Any
    w: Any


def takes_weights(program: ModuleType) -> bool:
    """Whether the emitted program weighs examples: its train_step has a `sample_weight`."""
    step = getattr(program, "train_step", None)
    return step is not None and "sample_weight" in inspect.signature(step).parameters


def per_split(program: ModuleType, weights: Any, splits: Mapping[str, tuple]) -> dict:
    """Each split's weights as float32 (n,), checked against the program and the split: `weights`
    is the train split's array, a dict of some splits' (the data's), or None."""
    if weights is None:
        return {}
    if not takes_weights(program):
        raise ConfigError(
            "sample weights were given, but this program's loss weighs no examples",
            'name the weights in the data source (`sample_weight="w"` of npz or csv), or pass '
            "them to Program.fit(sample_weight=...), which compiles the program for them",
        )
    given = weights if isinstance(weights, Mapping) else {"train": weights}
    return {
        k: checked(w, rows(splits[k][0]), k)
        for k, w in given.items()
        if k in splits and splits[k][1] is not None
    }


def checked(weights: Any, examples: int, split: str = "train") -> np.ndarray:
    """One finite weight >= 0 per example of a split, as float32 (n,)."""
    what = "sample_weight" if split == "train" else f"the {split} split's sample_weight"
    w = np.asarray(weights)
    if w.ndim > 1 and w.size == len(w):
        w = w.reshape(len(w))
    if w.ndim != 1 or len(w) != examples:
        raise DataError(
            f"{what} has shape {list(w.shape)}, but the {split} split has {examples} "
            f"examples: give one weight per example, shape [{examples}]",
            "pass the weights of the training examples, in their order",
        )
    if not np.issubdtype(w.dtype, np.number) or np.issubdtype(w.dtype, np.complexfloating):
        raise DataError(f"{what} holds {w.dtype} values, not numbers", "pass floats >= 0")
    w = w.astype(np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{what}[{i}] is {w[i]:g}; {int(bad.sum())} weight(s) are negative or not finite",
            "weights must be finite numbers >= 0 (0 leaves an example out of the loss)",
        )
    return w.astype(np.float32)


def unpack(yb: Any) -> tuple[Any, dict]:
    """A batch's targets, and the keyword arguments that pass their weights to `train_step`."""
    if isinstance(yb, Weighted):
        return yb.y, {"sample_weight": yb.w}
    return yb, {}
