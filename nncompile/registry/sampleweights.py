"""`sample_weight=` of the npz and csv sources: the array or column holding each example's weight in
the training loss (Keras' `fit(sample_weight=...)`). Read after the source's own loader, checked
(one finite weight >= 0 per example, the first bad one named by its row) and kept in `Raw.weights`:
the runtime splits, subsets and shuffles the weights with the targets (runtime.data).

A weights column of a csv file is no feature: the csv loaders leave it out of x (`excluded`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .lenient import LENIENT
from .loading import (
    LoadRequest,
    Raw,
    did_you_mean,
    fail,
    npz_array,
    numeric,
    open_npz,
    read_rows,
    resolve,
)

WEIGHTED_SOURCES = ("npz", "csv")  # the sources with a `sample_weight` argument


def weight_name(spec: LoadRequest) -> str | None:
    """The array or column `sample_weight=` names (None: every example weighs 1)."""
    name = spec.args.get("sample_weight")
    return str(name) if name is not None and spec.source in WEIGHTED_SOURCES else None


def excluded(spec: LoadRequest) -> list[str]:
    """The csv columns that are no features besides the targets: the weights column."""
    name = weight_name(spec)
    return [] if name is None else [name]


def attach(spec: LoadRequest, raw: Raw) -> Raw:
    """`raw` with its `weights` read from the source's file (unchanged without `sample_weight`)."""
    name = weight_name(spec)
    if name is None:
        return raw
    path = resolve(spec, spec.args.get("path"))
    if spec.source == "npz":
        with open_npz(spec, path) as archive:
            keys = list(archive.keys())
            if name not in keys:
                fail(
                    spec,
                    f"{path} has no array {name!r} for `sample_weight`; it holds {', '.join(keys)}",
                    did_you_mean(name, keys) + "name the array of the examples' weights",
                )
            a = npz_array(spec, path, archive, name)
        where = f"array {name!r} of {path}"
        locate: Callable[[int], str] = lambda i: f"row {i}"
    else:
        header, rows, lines = read_rows(spec, path, spec.args.get("delimiter") or ",")
        if name not in header:
            fail(
                spec,
                f"{path} has no column {name!r} for `sample_weight`; its columns are "
                f"{', '.join(header)}",
                did_you_mean(name, header) + "name the column of the examples' weights",
            )
        column = tuple(row[header.index(name)] for row in rows)
        a = numeric(spec, path, name, column, lines, "sample weights must be numbers >= 0")
        where = f"column {name!r} of {path}"
        locate = lambda i: f"line {lines[i]}"
    n = len(next(iter(raw.x.values()))) if isinstance(raw.x, dict) else len(raw.x)
    raw.weights = checked(spec, a, n, where, locate)
    return raw


def given(spec: LoadRequest, raw: Raw, weights: object) -> Raw:
    """`raw` with the weights given to Program.fit(sample_weight=...), one per row of the source."""
    if weights is None:
        return raw
    if raw.weights is not None:
        fail(
            spec,
            f"the source names its sample weights already (`sample_weight={weight_name(spec)!r}`); "
            "fit(sample_weight=...) would replace them",
            "give the weights in one place",
        )
    n = len(next(iter(raw.x.values()))) if isinstance(raw.x, dict) else len(raw.x)
    where = "the sample_weight given to fit()"
    raw.weights = checked(spec, np.asarray(weights), n, where, lambda i: f"row {i}")
    return raw


def checked(
    spec: LoadRequest, a: np.ndarray, n: int, where: str, locate: Callable[[int], str]
) -> np.ndarray:
    """One finite weight >= 0 per example, as float32 (n,); a bad one is named by its row."""
    a = np.asarray(a)
    if a.ndim > 1 and a.size == len(a):
        a = a.reshape(len(a))
    if a.ndim != 1:
        fail(
            spec,
            f"the sample weights ({where}) have shape {list(a.shape)}; they need one weight per "
            "example, shape [n]",
            "store one number per example",
        )
    if len(a) != n:
        fail(
            spec,
            f"{n} examples but {len(a)} sample weights ({where})",
            "give one weight per example",
        )
    if a.dtype.kind not in "biuf":
        fail(spec, f"the sample weights ({where}) are {a.dtype}, not numbers", "store floats")
    w = a.astype(np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any() and not LENIENT.get():  # (`nncompile data` counts them: runtime.datareport)
        i = int(np.flatnonzero(bad)[0])
        what = "negative" if np.isfinite(w[i]) else "not finite"
        fail(
            spec,
            f"sample weight {w[i]:g} at {locate(i)} ({where}) is {what}; "
            f"{int(bad.sum())} weight(s) are negative or not finite",
            "weights must be finite numbers >= 0 (0 leaves an example out of the loss)",
        )
    return w.astype(np.float32)
