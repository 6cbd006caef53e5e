"""The data layer: load a data block's source, window, split, subset, normalise and reshape it.

`load_dataset(spec)` runs the steps in this order, each a small function: load raw (the source's
loader, `registry.sources`) -> keep `classes` -> windows -> split -> subset of train -> normalise x
with train statistics -> normalise regression targets -> reshape -> one-hot -> targets = inputs
(`target: input`, a reconstruction).

Shapes: x is float32 (n, *feature_shape), or int32 token ids (text, integer npz arrays). y is
int32 class ids of shape (n,) (or (n, T): one per step, task "sequence"), float32 regression
targets with a trailing feature axis ((n, 1) for a single target, (n, T, 1) for a sequence), float32
one-hot vectors (n, K) when `one_hot`, or None when unsupervised. Pure numpy, no JAX.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast, overload

import numpy as np

from ..errors import DataError, ResourceError
from ..registry.loading import Raw, fail
from ..registry.sources import load_raw
from ..runconfig import Data

SPLITS = ("train", "val", "test")
NORMALISERS = ("standard", "minmax", "none")
_DEFAULT = Data.model_fields


@dataclass(frozen=True)
class DataSpec:
    """What a data block asks for: a source with its arguments, and how to prepare it; `seed` draws
    the splits, relative paths are read against `base_dir`."""

    name: str
    source: str
    args: Mapping[str, Any]
    # the defaults of a data block (runconfig.Data)
    split: Mapping[str, float] = field(default_factory=lambda: dict(_DEFAULT["split"].default))
    normalize: str = _DEFAULT["normalize"].default
    normalize_target: str = _DEFAULT["normalize_target"].default
    reshape: tuple[int, ...] | None = None
    one_hot: bool = _DEFAULT["one_hot"].default
    shuffle: bool = _DEFAULT["shuffle"].default
    windows: Mapping[str, Any] | None = None
    classes: tuple[int, ...] | None = None
    subset: float = _DEFAULT["subset"].default
    target: str = _DEFAULT["target"].default
    pad: int | None = None
    seed: int = 0
    base_dir: str | None = None

    @classmethod
    def from_config(cls, data: Data, seed: int, base_dir: str | None) -> DataSpec:
        """The spec of CONFIG["data"] (a RunConfig's `data`)."""
        return cls(
            name=data.name,
            source=data.source,
            args=dict(data.args),
            split=dict(data.split),
            normalize=data.normalize,
            normalize_target=data.normalize_target,
            reshape=data.reshape,
            one_hot=data.one_hot,
            shuffle=data.shuffle,
            windows=data.windows.model_dump() if data.windows is not None else None,
            classes=data.classes,
            subset=data.subset,
            target=data.target,
            pad=data.pad,
            seed=seed,
            base_dir=base_dir,
        )


@dataclass(frozen=True)
class Dataset:
    """Prepared splits plus what a model and `predict` need to know about them.

    stats holds json-serialisable lists: "x" and "y" ({"method", "shift", "scale"} or None,
    applied as (v - shift) / scale), "input_shape" (per-example shape before reshape) and,
    for csv class labels, "labels" (the original label of each class id).
    """

    splits: dict[str, tuple[np.ndarray, np.ndarray | None]]
    feature_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    num_classes: int | None
    task: str
    vocab: tuple[str, ...] | None
    stats: dict
    origin: str | None = None  # where the targets come from (file and column), for messages
    # `sample_weight=`: each split's weights, float32 (n,), split like its targets (None: all 1)
    weights: dict[str, np.ndarray] | None = None

    def transform_inputs(self, x: np.ndarray) -> np.ndarray:
        """Apply the stored normalisation and reshape to a batch of raw features.

        Accepts a batch shaped like the raw features or already like `feature_shape`.
        """
        x = np.asarray(x)
        raw = tuple(self.stats["input_shape"])
        if x.shape[1:] == self.feature_shape and x.shape[1:] != raw:
            x = x.reshape(len(x), *raw)
        if x.shape[1:] != raw:
            raise DataError(
                f"inputs of shape {list(x.shape[1:])} do not match the data's feature shape "
                f"{list(raw)}",
                "give a batch (n, ...) of examples shaped like the training features",
            )
        if self.tokens:
            x = x.astype(np.int32)
        else:
            x = apply(x.astype(np.float32), self.stats["x"])
        return x.reshape(len(x), *self.feature_shape)

    def predictions(self, out: np.ndarray) -> np.ndarray:
        """The model's predictions in the data's units (regression targets denormalised)."""
        return self.inverse_targets(out) if self.task == "regression" else out

    @property
    def tokens(self) -> bool:
        """Whether the inputs are integer token ids (runs written before `stats["tokens"]`
        existed: text data)."""
        return bool(self.stats.get("tokens", self.task == "sequence"))

    def inverse_targets(self, y: np.ndarray) -> np.ndarray:
        """Undo the target normalisation (regression predictions back in the data's units)."""
        stat = self.stats["y"]
        y = np.asarray(y, dtype=np.float32)
        return (
            y
            if stat is None
            else (y * np.float32(stat["scale"]) + np.float32(stat["shift"])).astype(np.float32)
        )


def load_dataset(spec: DataSpec, raw: Raw | None = None) -> Dataset:
    """Load and prepare a data block: see the module docstring for the steps (`raw`: the source's
    arrays when they are loaded already)."""
    raw, x, y, index = split_raw(spec, raw if raw is not None else load_raw(spec))
    splits = {k: (x[i], None if y is None else y[i]) for k, i in index.items()}
    tokens = bool(np.issubdtype(x.dtype, np.integer))
    stats: dict[str, Any] = {"input_shape": list(x.shape[1:]), "labels": raw.labels}
    stats["tokens"] = tokens  # integer ids (text, integer npz arrays) are never normalised
    stats["x"] = (
        None if tokens else fit(spec, splits["train"][0], spec.normalize, 2 if spec.windows else 1)
    )
    targets = spec.normalize_target if raw.task == "regression" else "none"
    stats["y"] = fit(spec, splits["train"][1], targets, -1)
    splits = {k: (apply(a, stats["x"]), apply(b, stats["y"])) for k, (a, b) in splits.items()}
    splits = reshape(spec, splits)
    splits = one_hot(spec, splits, raw) if spec.one_hot else splits
    task = raw.task
    classes = raw.num_classes if task in ("classification", "sequence") else None
    if spec.target == "input":
        splits, task, classes = reconstruction(spec, splits, tokens, raw)
        stats["y"] = None
    xt, yt = splits["train"]
    target_shape = () if yt is None else tuple(yt.shape[1:])
    shape = tuple(xt.shape[1:])
    weights = split_weights(raw, index)
    return Dataset(
        splits, shape, target_shape, classes, task, raw.vocab, stats, raw.origin, weights
    )


def split_weights(raw: Raw, index: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """The sample weights of each split: the rows its targets come from."""
    return None if raw.weights is None else {k: raw.weights[i] for k, i in index.items()}


def split_raw(spec: DataSpec, raw: Raw) -> tuple[Raw, np.ndarray, np.ndarray | None, dict]:
    """The first steps, before any normalisation: keep `classes`, windows, split, subset of train.
    Returns (raw with only the kept classes, x, y, the row indices of each split into x and y)."""
    fractions = check_split(spec)
    raw = keep_classes(spec, raw)
    if spec.windows is not None and raw.weights is not None:  # (check refuses it first)
        fail(spec, "`sample_weight` weighs examples; windows have none", "remove `sample_weight`")
    x, y = windowed(spec, raw) if spec.windows is not None else (raw.x, raw.y)
    labels = y if raw.task == "classification" and spec.windows is None else None
    index = split_indices(spec, fractions, len(x), labels)
    index["train"] = subset(spec, index["train"], labels)
    return raw, x, y, index


def reconstruction(spec: DataSpec, splits: dict, tokens: bool, raw: Raw):
    """`target: input`: every split's targets are its (prepared) inputs; token ids stay class ids
    per step (task "sequence"), features are regression targets. Returns (splits, task, classes)."""
    if spec.one_hot:
        fail(spec, "`one_hot` and `target: input` do not go together", "remove `one_hot`")
    splits = {k: (a, a.copy()) for k, (a, _) in splits.items()}
    if not tokens:
        return splits, "regression", None
    top = max(int(a.max()) for a, _ in splits.values() if a.size)
    return splits, "sequence", max(top + 1, raw.num_classes or 0)


def check_split(spec: DataSpec) -> dict[str, float]:
    """The split fractions in train/val/test order; bad keys or sums are DataErrors."""
    split = dict(spec.split)
    unknown = sorted(set(split) - set(SPLITS))
    if unknown or "train" not in split:
        fail(
            spec,
            f"split has unknown part {unknown[0]!r}" if unknown else "split has no 'train' part",
            "use the parts train, val and test, e.g. {train: 0.8, test: 0.2}",
        )
    if any(not v > 0 for v in split.values()) or abs(sum(split.values()) - 1) > 1e-6:
        fail(
            spec,
            f"split fractions must be > 0 and add up to 1 (got {split})",
            "e.g. {train: 0.8, test: 0.2}",
        )
    return {k: float(split[k]) for k in SPLITS if k in split}


def keep_classes(spec: DataSpec, raw: Raw) -> Raw:
    """Keep only the listed classes, relabelled 0..K-1 in the listed order."""
    if spec.classes is None:
        return raw
    if raw.task != "classification":
        fail(spec, f"`classes` needs class labels, but this data is {raw.task}", "remove `classes`")
    wanted = [int(c) for c in spec.classes]
    assert raw.y is not None  # classification data has labels
    present = set(np.unique(raw.y).tolist())
    missing = [c for c in wanted if c not in present]
    if missing or len(set(wanted)) != len(wanted):
        what = f"class {missing[0]} does not exist" if missing else "classes are listed twice"
        fail(
            spec,
            f"{what} (the data has classes {sorted(present)})",
            "list distinct existing class ids",
        )
    relabel = np.full(max(present) + 1, -1, dtype=np.int32)
    relabel[wanted] = np.arange(len(wanted))
    keep = relabel[raw.y] >= 0
    labels = None if raw.labels is None else [raw.labels[c] for c in wanted]
    y = relabel[raw.y[keep]]
    weights = None if raw.weights is None else raw.weights[keep]
    return Raw(raw.x[keep], y, raw.task, len(wanted), raw.vocab, labels, raw.origin, weights)


def windowed(spec: DataSpec, raw: Raw) -> tuple[np.ndarray, np.ndarray | None]:
    """Sliding windows over the rows, one every `stride` rows: x[i:i+T], with targets from y.

    targets "last": y[i+T-1+H], the value H steps after the window; "sequence":
    y[i+H:i+H+T], the window shifted by H. At most `args.max_windows` (default 20000)
    windows are kept, with evenly spaced starts.
    """
    w = dict(spec.windows or {})
    sizes = (w.get("length"), w.get("horizon", 1), w.get("stride", 1))
    targets = w.get("targets") or ("sequence" if raw.task == "sequence" else "last")
    if not all(isinstance(v, int) and v >= 1 for v in sizes) or targets not in ("last", "sequence"):
        fail(
            spec,
            f"bad windows {w}",
            "use windows: {length: T >= 1, horizon: H >= 1, stride: S >= 1, "
            "targets: last | sequence}",
        )
    length, horizon, stride = (cast(int, v) for v in sizes)
    count = len(raw.x) - length - horizon + 1
    if count < 1:
        unit = "tokens" if raw.task == "sequence" else "rows"
        where = f" ({spec.args['path']})" if "path" in spec.args else ""
        fail(
            spec,
            f"the data{where} has {len(raw.x)} {unit}, too few for one window: length {length} "
            "with "
            f"horizon {horizon} needs {length + horizon}",
            "use more data or a smaller windows.length",
        )
    cap = int(spec.args.get("max_windows") or 20000)
    starts = np.arange(0, count, stride)
    if len(starts) > cap:
        starts = starts[np.linspace(0, len(starts) - 1, cap).round().astype(np.int64)]
    steps = np.arange(length)
    window = length * math.prod(raw.x.shape[1:]) * raw.x.itemsize  # bytes of one window and
    if raw.y is not None:  # its targets
        window += math.prod(raw.y.shape[1:]) * raw.y.itemsize * (1 if targets == "last" else length)
    fits(spec, f"{len(starts)} windows of length {length}", len(starts) * window)
    x = raw.x[starts[:, None] + steps]
    if raw.y is None:
        return x, None
    y = (
        raw.y[starts + length - 1 + horizon]
        if targets == "last"
        else raw.y[starts[:, None] + steps + horizon]
    )
    return x, y


def shares(n: int, fractions: list[float]) -> np.ndarray:
    """Split n items by fractions (largest remainder), each part at least 1 when n allows."""
    exact = np.asarray(fractions) * n
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact, kind="stable")[: max(0, n - counts.sum())]] += 1
    while n >= len(counts) and counts.min() == 0:
        counts[counts.argmax()] -= 1
        counts[counts.argmin()] += 1
    return counts


def split_indices(
    spec: DataSpec, fractions: dict[str, float], n: int, labels: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Row indices of each split: shuffled and stratified by class, or contiguous.

    Windowed data is never shuffled here (train comes first in time, then val, then test).
    """
    names, fr = list(fractions), list(fractions.values())
    shuffled = spec.shuffle and spec.windows is None
    perm = np.random.default_rng([spec.seed, 1]).permutation(n) if shuffled else np.arange(n)
    groups = (
        {None: np.arange(n)}
        if labels is None
        else {int(c): np.flatnonzero(labels[perm] == c) for c in np.unique(labels)}
    )
    parts: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for cls, pos in groups.items():
        counts = shares(len(pos), fr)
        if counts.min() == 0:
            who = "the data has" if cls is None else f"class {cls} has"
            fail(
                spec,
                f"{who} {len(pos)} example(s), too few for the {len(names)} splits "
                f"{', '.join(names)}",
                "use fewer splits, more data, or drop rare classes with `classes: [...]`",
            )
        for k, chunk in zip(names, np.split(pos, np.cumsum(counts)[:-1]), strict=True):
            parts[k].append(chunk)
    return {k: perm[np.sort(np.concatenate(v))] for k, v in parts.items()}


def subset(spec: DataSpec, index: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """Keep `spec.subset` of the train rows, per class when classified (at least 1 each)."""
    if not 0 < spec.subset <= 1:
        fail(
            spec,
            f"subset must be in (0, 1] (got {spec.subset})",
            "e.g. subset: 0.1 keeps a tenth of train",
        )
    if spec.subset == 1:
        return index
    rng = np.random.default_rng([spec.seed, 2])
    own = None if labels is None else labels[index]
    groups = (
        [np.arange(len(index))]
        if own is None
        else [np.flatnonzero(own == c) for c in np.unique(own)]
    )
    keep = [rng.permutation(g)[: max(1, round(len(g) * spec.subset))] for g in groups]
    return index[np.sort(np.concatenate(keep))]


def fit(spec: DataSpec, a: np.ndarray | None, method: str, axes: int) -> dict | None:
    """Per-feature statistics of `a` (over its first `axes` axes, or all but the last if -1).

    "standard": mean and standard deviation; "minmax": minimum and range. Zero spreads become 1.
    """
    if method not in NORMALISERS:
        fail(spec, f"unknown normalisation {method!r}", f"use one of {', '.join(NORMALISERS)}")
    if a is None or method == "none":
        return None
    a = a.astype(np.float64)
    over = tuple(range(a.ndim - 1 if axes < 0 else min(axes, a.ndim)))
    if method == "standard":
        shift, scale = a.mean(axis=over), a.std(axis=over)
    else:
        shift = a.min(axis=over)
        scale = a.max(axis=over) - shift
    scale = np.where(scale > 1e-12, scale, 1.0)
    return {"method": method, "shift": shift.tolist(), "scale": scale.tolist()}


@overload
def apply(a: np.ndarray, stat: dict | None) -> np.ndarray: ...
@overload
def apply(a: None, stat: dict | None) -> None: ...
def apply(a: np.ndarray | None, stat: dict | None) -> np.ndarray | None:
    """(a - shift) / scale, broadcast over the trailing feature axes; None stats change nothing."""
    if a is None or stat is None:
        return a
    shift, scale = np.asarray(stat["shift"], np.float32), np.asarray(stat["scale"], np.float32)
    return ((a - shift) / scale).astype(np.float32)


def reshape(spec: DataSpec, splits: dict) -> dict:
    """Give every example the shape `spec.reshape`; the number of values must not change."""
    if spec.reshape is None:
        return splits
    shape = tuple(int(d) for d in spec.reshape)
    x = splits["train"][0]
    count = math.prod(x.shape[1:])
    if math.prod(shape) != count or min(shape) < 1:
        fail(
            spec,
            f"cannot reshape features of shape {list(x.shape[1:])} ({count} values) to "
            f"{list(shape)} "
            f"({math.prod(shape)} values)",
            f"choose a reshape whose sizes multiply to {count}",
        )
    return {k: (a.reshape(len(a), *shape), b) for k, (a, b) in splits.items()}


def one_hot(spec: DataSpec, splits: dict, raw: Raw) -> dict:
    """Class ids as float32 one-hot vectors over the last axis."""
    if raw.task not in ("classification", "sequence"):
        fail(spec, f"one_hot needs class labels, but this data is {raw.task}", "remove `one_hot`")
    assert raw.num_classes is not None  # set by the loaders of class labels
    ids = sum(int(np.size(b)) for _, b in splits.values() if b is not None)
    k = raw.num_classes
    fits(spec, f"one_hot of {ids} class ids over {k} classes", ids * k * 4)
    eye = np.eye(raw.num_classes, dtype=np.float32)
    return {k: (a, eye[b]) for k, (a, b) in splits.items()}


def fits(spec: DataSpec, what: str, nbytes: int) -> None:
    """Raise a ResourceError, before allocating, when `nbytes` exceed the host's free memory."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return
    if nbytes > free:
        raise ResourceError(
            f"data '{spec.name}': {what} need {nbytes / 2**30:.1f} GiB; the host has "
            f"{free / 2**30:.1f} GiB free",
            "use shorter windows, fewer of them (`max_windows`), fewer classes or less data",
        )
