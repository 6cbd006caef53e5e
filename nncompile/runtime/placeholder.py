"""Splits of zeros shaped like a program's examples: what a trained run whose spec has no data block
(it trained on arrays given from Python) is rebuilt on for `predict` and `export` (`load(run)`).
Only shapes and dtypes matter: the trainer is built on them and the run's parameters are restored
into it; there is nothing to evaluate. Numpy only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .fit_checks import Fit

ROWS = 1  # examples per placeholder split


def target_zeros(fit: Fit, rows: int = ROWS) -> np.ndarray:
    """Zeros shaped like the targets `fit`'s loss reads (see `fit_checks.conform`)."""
    if fit.loss.task == "regression" or fit.one_hot:
        return np.zeros((rows, *fit.output), np.float32)
    return np.zeros((rows, *fit.output[:-1]), np.int32)


def placeholder_splits(
    inputs: Mapping[str, tuple[tuple[int, ...], str]], outputs: Mapping[str, Fit]
) -> dict:
    """{"train": (x, y)}: per input name its (shape, dtype), per output what its targets fit; a
    dict of arrays where the model has several inputs (outputs), else the one array."""
    xs = {k: np.zeros((ROWS, *shape), dtype) for k, (shape, dtype) in inputs.items()}
    ys = {k: target_zeros(fit) for k, fit in outputs.items()}
    x: Any = xs if len(xs) > 1 else next(iter(xs.values()))
    y: Any = ys if len(ys) > 1 else next(iter(ys.values()))
    return {"train": (x, y)}
