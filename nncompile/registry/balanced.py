"""`class_weight: balanced`, written once: runtime.classweight calls these functions on the training
split's targets, and an ejected train.py holds their source (BALANCED, read with inspect: numpy
only, no nncompile name), so the weights of `nncompile train` and of an ejected folder cannot
drift apart. scikit-learn's "balanced" rule, `n / (classes * count)`."""

from __future__ import annotations

import inspect

import numpy as np

from ..expr import Snippet


def one_hot_rows(y: np.ndarray) -> bool:
    """Targets given as one-hot rows: floats whose last axis has more than one entry."""
    return bool(np.issubdtype(y.dtype, np.floating) and y.ndim >= 2 and y.shape[-1] > 1)


def target_class_ids(y: np.ndarray) -> np.ndarray:
    """The class id of every target, flattened: one-hot rows by their largest entry, ids (or the
    0/1 floats of a binary target) as whole numbers."""
    y = np.asarray(y)
    return y.argmax(-1).ravel() if one_hot_rows(y) else np.rint(y).astype(np.int64).ravel()


def balanced_class_weight(y: np.ndarray) -> tuple[float, ...]:
    """One weight per class id 0..max (one-hot rows: per column): n / (classes present * count),
    where `classes` counts the classes present; a class that never occurs weighs 1."""
    y = np.asarray(y)
    ids = target_class_ids(y)
    counts = np.bincount(ids, minlength=y.shape[-1] if one_hot_rows(y) else 0)
    present = counts > 0
    weights = np.where(present, ids.size / (present.sum() * np.maximum(counts, 1)), 1.0)
    return tuple(float(w) for w in weights)


BALANCED = Snippet(
    "balanced_class_weight",
    "\n"
    + "\n\n".join(
        inspect.getsource(f) for f in (one_hot_rows, target_class_ids, balanced_class_weight)
    ),
)
