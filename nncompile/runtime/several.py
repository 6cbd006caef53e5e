"""Preparing data with several named inputs or targets (registry.several): the steps of
`runtime.data.load_dataset` mapped over the named arrays. The splits are drawn once for all of them
(stratified by the first class-id target); every input is normalised with its own train
statistics (token ids are not), every regression target with `normalize_target`, class-id targets
become one-hot rows with `one_hot`. x (y) is a dict keyed by name when the source lists several
names, else a plain array. Numpy only."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError
from ..registry.loading import Raw, fail
from ..registry.sampleweights import given
from ..registry.several import SEVERAL, UNSUPPORTED
from ..registry.sources import load_raw
from .data import (
    Dataset,
    DataSpec,
    apply,
    check_split,
    fit,
    load_dataset,
    split_indices,
    split_weights,
    subset,
)
from .trees import each, first


def _named(v: Any) -> dict:
    return v if isinstance(v, dict) else {"": v}


def _back(named: dict, like: Any) -> Any:
    return named if isinstance(like, dict) else named[""]


def load_any(spec: DataSpec, sample_weight: Any = None) -> Dataset:
    """A data block's dataset: `load_dataset`'s, or, for named arrays, `load_several`'s;
    `sample_weight`: a weight per row of the source (Program.fit(sample_weight=...))."""
    raw = given(spec, load_raw(spec), sample_weight)
    if raw.task != SEVERAL:
        return load_dataset(spec, raw)
    return load_several(spec, raw, check_split(spec))


def load_several(spec: DataSpec, raw: Raw, fractions: dict[str, float]) -> Dataset:
    for option in UNSUPPORTED:
        if getattr(spec, option) is not None:
            fail(
                spec,
                f"`{option}` is not supported yet for data with several named arrays",
                f"remove `{option}`, or prepare the arrays before saving them",
            )
    xs, ys = _named(raw.x), _named(raw.y) if raw.y is not None else {}
    tasks = target_tasks(ys)
    index = several_index(spec, raw, fractions)
    x_stats = {
        k: None if a.dtype.kind in "iu" else fit(spec, a[index["train"]], spec.normalize, 1)
        for k, a in xs.items()
    }
    y_stats = {
        k: fit(spec, a[index["train"]], spec.normalize_target, -1)
        if tasks[k] == "regression"
        else None
        for k, a in ys.items()
    }
    classes = {k: int(a.max()) + 1 for k, a in ys.items() if tasks[k] == "classification"}
    if spec.one_hot and not classes:
        fail(spec, "one_hot needs class-id targets, but every target is real-valued", "remove it")

    def target(k: str, a: np.ndarray) -> np.ndarray:
        a = apply(a, y_stats[k])
        return np.eye(classes[k], dtype=np.float32)[a] if spec.one_hot and k in classes else a

    splits = {
        part: (
            _back({k: apply(a[i], x_stats[k]) for k, a in xs.items()}, raw.x),
            None if raw.y is None else _back({k: target(k, a[i]) for k, a in ys.items()}, raw.y),
        )
        for part, i in index.items()
    }
    stats: dict[str, Any] = {
        "x": None,
        "y": None,
        "input_shape": list(first(raw.x).shape[1:]),
        "inputs": {k: {"stat": x_stats[k], "shape": list(a.shape[1:])} for k, a in xs.items()},
        "targets": y_stats,
        "tasks": tasks,
        "labels": None,
    }
    xt, yt = splits["train"]
    return SeveralDataset(
        splits,
        tuple(first(xt).shape[1:]),
        () if yt is None else tuple(first(yt).shape[1:]),
        next(iter(classes.values()), None),
        "several",
        None,
        stats,
        raw.origin,
        split_weights(raw, index),
    )


def target_tasks(ys: dict) -> dict[str, str]:
    """Each named target's task: integer arrays are class ids, others regression targets."""
    return {k: "classification" if a.dtype.kind in "iu" else "regression" for k, a in ys.items()}


def several_index(spec: DataSpec, raw: Raw, fractions: dict[str, float]) -> dict[str, np.ndarray]:
    """The row indices of each split of named arrays, stratified by the first target with a class
    id per example (not one per step); train subset by `subset`."""
    ys = _named(raw.y) if raw.y is not None else {}
    tasks = target_tasks(ys)
    labels = next(
        (ys[k] for k, t in tasks.items() if t == "classification" and ys[k].ndim == 1), None
    )
    index = split_indices(spec, fractions, len(first(raw.x)), labels)
    index["train"] = subset(spec, index["train"], labels)
    return index


class SeveralDataset(Dataset):
    """A Dataset whose inputs and targets may be dicts of named arrays."""

    def transform_inputs(self, x):
        def one(k: str, a) -> np.ndarray:
            a = np.asarray(a)
            info = self.stats["inputs"][k]
            if list(a.shape[1:]) != info["shape"]:
                raise DataError(
                    f"input {k or 'x'} of shape {list(a.shape[1:])} does not match the data's "
                    f"{info['shape']}",
                    "give a batch (n, ...) of examples shaped like the training features",
                )
            if a.dtype.kind in "biu":
                return a.astype(np.int32)
            return apply(a.astype(np.float32), info["stat"])

        return _back({k: one(k, a) for k, a in _named(x).items()}, x)

    def predictions(self, out):
        stats = self.stats["targets"]

        def one(k: str, a):
            stat = stats.get(k)
            if stat is None:
                return a
            scale, shift = (np.asarray(stat[s], np.float32) for s in ("scale", "shift"))
            return (np.asarray(a, np.float32) * scale + shift).astype(np.float32)

        if isinstance(out, dict):
            return {k: one(k, a) for k, a in out.items()}
        return one("", out) if "" in stats else each(np.asarray, out)
