"""x and y of a model with several inputs or outputs: dicts of arrays keyed by name (pytrees).

The per-array code of the runtime (batching, evaluation, prediction, checks) reads one array; these
helpers map it over the named arrays, and leave a plain array (one input, one output) as it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np


def rows(v: Any) -> int:
    """The number of examples of an array or of a dict of arrays (its first)."""
    if isinstance(v, Mapping):
        return len(next(iter(v.values()))) if v else 0
    return len(v)


def each(fn: Callable[[Any], Any], v: Any) -> Any:
    """`fn` applied to an array, or to every array of a dict (a new dict, same keys)."""
    if isinstance(v, Mapping):
        return {k: fn(a) for k, a in v.items()}
    return fn(v)


def as_arrays(v: Any, dtype=None) -> Any:
    return each(lambda a: np.asarray(a, dtype) if dtype else np.asarray(a), v)


def take(v: Any, index: Any) -> Any:
    """Rows `index` (an index array or a slice) of an array or a dict of arrays (traceable)."""
    return jax.tree.map(lambda a: a[index], v)


def concat(parts: list) -> Any:
    """Row-wise concatenation of a list of arrays or of dicts of arrays."""
    if parts and isinstance(parts[0], Mapping):
        return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
    return np.concatenate([np.asarray(p) for p in parts])


def first(v: Any) -> np.ndarray:
    """The array, or the first array of a dict (for what every array shares: the row count)."""
    return next(iter(v.values())) if isinstance(v, Mapping) else v


def fetch(tree: Any, cpu: bool) -> Any:
    """The device arrays of `tree` as host numpy arrays (None leaves kept): on a CPU backend
    `np.array` of each (a copy of the buffer), elsewhere `jax.device_get` (all transfers started,
    then waited for). On XLA:CPU, device_get's asynchronous copies cost ~35 us CPU and ~80 us wall
    more than np.array for two scalars: a quarter of a tiny epoch (W3)."""
    return jax.tree.map(np.array, tree) if cpu else jax.device_get(tree)
