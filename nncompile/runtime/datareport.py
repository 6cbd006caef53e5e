"""`nncompile data`: what a data block holds, read through training's own loading path.

`data_report(spec)` loads the source as training does (`registry.sources.load_raw`, then
`runtime.data.split_raw`: classes, windows, split, subset) but in the loader's lenient mode, so that
missing and non-finite values are counted instead of refused; statistics are in the data's own units
(before normalisation). It reports rows per split, shapes and dtypes, per-feature
min/mean/max/std/missing, class counts per split, the target range, and findings, each with a hint:

    nonfinite   missing (NaN) or infinite values in the features or targets
    constant    features with one value in every train row
    duplicates  rows repeated inside a split
    leakage     val/test rows whose features also appear in train
    imbalance   the largest class has >= IMBALANCE times the rows of the smallest
    weights     sample weights that are missing (NaN), infinite or negative

Pure numpy; the picture is drawn by runtime.dataplot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..registry.lenient import lenient
from ..registry.several import SEVERAL
from ..registry.sources import load_raw
from .data import DataSpec, check_split, split_raw
from .several import several_index, target_tasks

IMBALANCE = 3.0  # largest / smallest class count from which imbalance is reported
IMAGES = {"digits": (8, 8)}  # scikit-learn datasets whose flat features are images
SHOWN = 20  # features listed in the text report (json lists all)


@dataclass(frozen=True)
class Finding:
    kind: str  # nonfinite | constant | duplicates | leakage | imbalance | weights
    message: str
    hint: str


@dataclass
class DataReport:
    """A data block described: `summary` (JSON-ready), `findings`, and the arrays the picture
    draws (`x`/`y` named arrays over all rows, `index` the rows of each split)."""

    name: str
    summary: dict
    findings: list[Finding]
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    index: dict[str, np.ndarray]
    task: str
    labels: list | None = None
    vocab: tuple[str, ...] | None = None
    image_shape: tuple[int, ...] | None = None
    feature_names: dict[str, list[str]] = field(default_factory=dict)

    def json(self) -> dict:
        return {**self.summary, "findings": [f.__dict__ for f in self.findings]}


def data_report(spec: DataSpec) -> DataReport:
    """Describe the data block `spec` (see the module docstring)."""
    with lenient():
        raw = load_raw(spec)
        if raw.task == SEVERAL:
            index = several_index(spec, raw, check_split(spec))
            named: Any = raw  # x and y are dicts of named arrays, or plain arrays
            xs = named.x if isinstance(named.x, dict) else {"x": named.x}
            ys = {} if named.y is None else named.y if isinstance(named.y, dict) else {"y": named.y}
            tasks = target_tasks(ys)
            task = "several"
        else:
            raw, x, y, index = split_raw(spec, raw)
            xs, ys = {"x": x}, {} if y is None else {"y": y}
            tasks = dict.fromkeys(ys, raw.task)
            task = raw.task
    names = {"x": feature_names(spec)} if raw.task != SEVERAL else {}
    report = DataReport(
        spec.name,
        {},
        [],
        xs,
        ys,
        index,
        task,
        labels=raw.labels,
        vocab=raw.vocab,
        image_shape=image_shape(spec, xs),
        feature_names={k: v for k, v in names.items() if v},
    )
    series = spec.windows is not None
    summary: dict[str, Any] = {
        "data": spec.name,
        "source": spec.source,
        "args": dict(spec.args),
        "task": task,
        "rows": {k: len(i) for k, i in index.items()},
        "inputs": {k: array_info(a) for k, a in xs.items()},
        "targets": {k: {**array_info(a), "task": tasks[k]} for k, a in ys.items()},
        "features": {},
        "classes": {},
        "target_range": {},
    }
    for k, a in xs.items():
        if np.issubdtype(a.dtype, np.integer):  # token ids: their range, not per-feature moments
            summary["features"][k] = {"token_ids": True, "min": int(a.min()), "max": int(a.max())}
            continue
        columns = report.feature_names.get(k) or [str(i) for i in range(features(a, series))]
        table = feature_table(a, series, columns)
        summary["features"][k] = table
        report.findings += nonfinite(k, a, table, "features")
        report.findings += constant(k, a[index["train"]], series, columns)
    for k, a in ys.items():
        if tasks[k] == "classification" or (tasks[k] == "sequence" and a.dtype.kind in "iu"):
            counts = class_counts(a, index, class_names(raw) if k == "y" else None)
            summary["classes"][k] = counts
            if tasks[k] == "classification":
                report.findings += imbalance(k, counts)
        elif np.issubdtype(a.dtype, np.floating):
            table = feature_table(a, series and a.ndim > 2, [str(i) for i in range(a.shape[-1])])
            summary["target_range"][k] = table
            report.findings += nonfinite(k, a, table, "targets")
    report.findings += repeated(xs, index)
    if raw.weights is not None:  # `sample_weight=`: each split's weights
        summary["sample_weights"] = {k: weight_stats(raw.weights[i]) for k, i in index.items()}
        report.findings += bad_weights(raw.weights)
    report.summary = summary
    return report


# ---- statistics ----------------------------------------------------------------------------------
def weight_stats(w: np.ndarray) -> dict:
    """A split's sample weights: the range and mean of the valid ones (finite, >= 0), how many
    leave their example out (0), and, when there are any, how many are missing (NaN), infinite or
    negative (training refuses them; the report counts them: `bad_weights`)."""
    counts = weight_problems(w)
    good = w[np.isfinite(w) & (w >= 0)]
    if not len(good):
        return {"min": None, "mean": None, "max": None, "zeros": 0, **counts}
    return {
        "min": float(good.min()),
        "mean": float(good.mean()),
        "max": float(good.max()),
        "zeros": int((good == 0).sum()),
        **counts,
    }


def weight_problems(w: np.ndarray) -> dict[str, int]:
    """The weights training refuses, counted by kind (only the kinds there are)."""
    counts = {
        "missing": int(np.isnan(w).sum()),
        "infinite": int(np.isinf(w).sum()),
        "negative": int((np.isfinite(w) & (w < 0)).sum()),
    }
    return {k: n for k, n in counts.items() if n}


def bad_weights(w: np.ndarray) -> list[Finding]:
    """Sample weights that are missing, infinite or negative, like other bad values: counted,
    with the first one's row (of the source, counting from 0)."""
    counts = weight_problems(w)
    if not counts:
        return []
    rows = np.flatnonzero(~np.isfinite(w) | (w < 0))
    nan = " (NaN)"
    parts = " and ".join(f"{n} {k}{nan if k == 'missing' else ''}" for k, n in counts.items())
    return [
        Finding(
            "weights",
            f"{parts} sample weight(s) ({len(rows)} row(s); the first: row {int(rows[0])}, "
            "counting from 0)",
            "training refuses them: weights must be finite numbers >= 0 (0 leaves an example "
            "out of the loss); fill them in or drop those rows",
        )
    ]


def array_info(a: np.ndarray) -> dict:
    return {"shape": list(a.shape[1:]), "dtype": str(a.dtype)}


def features(a: np.ndarray, series: bool) -> int:
    """The number of features of an array: the last axis of windows, else every value of a row."""
    if a.ndim == 1:
        return 1
    return int(a.shape[-1]) if series and a.ndim > 2 else math.prod(a.shape[1:])


def flat(a: np.ndarray, series: bool) -> np.ndarray:
    """Rows (examples, or time steps of windows) by features, as float64."""
    return np.asarray(a, np.float64).reshape(-1, features(a, series))


def feature_table(a: np.ndarray, series: bool, names: list[str]) -> list[dict]:
    """Per feature: min, mean, max, std over the finite values, and the missing/non-finite count."""
    v = flat(a, series)
    finite = np.isfinite(v)
    masked = np.where(finite, v, np.nan)
    with np.errstate(all="ignore"), _quiet():
        lo, mean, hi, std = (
            np.nanmin(masked, 0),
            np.nanmean(masked, 0),
            np.nanmax(masked, 0),
            np.nanstd(masked, 0),
        )
    return [
        {
            "feature": names[i] if i < len(names) else str(i),
            "min": _num(lo[i]),
            "mean": _num(mean[i]),
            "max": _num(hi[i]),
            "std": _num(std[i]),
            "missing": int(np.isnan(v[:, i]).sum()),
            "infinite": int(np.isinf(v[:, i]).sum()),
        }
        for i in range(v.shape[1])
    ]


def class_counts(y: np.ndarray, index: Mapping[str, np.ndarray], labels: list | None) -> dict:
    """{split: {class label: rows}} (every class of the data in every split, 0 when absent)."""
    ids = np.unique(y)
    name = lambda c: str(labels[c]) if labels is not None and c < len(labels) else str(int(c))
    out = {}
    for split, i in index.items():
        found = dict(zip(*np.unique(y[i], return_counts=True), strict=True))
        out[split] = {name(int(c)): int(found.get(c, 0)) for c in ids}
    return out


def class_names(raw) -> list | None:
    """The original class labels, or the vocabulary of text (spaces and newlines made visible)."""
    if raw.labels is not None:
        return raw.labels
    if raw.vocab is None:
        return None
    return [{" ": "\u2423", "\n": "\u00b6", "\t": "\u21e5"}.get(v, v) for v in raw.vocab]


# ---- findings ------------------------------------------------------------------------------------
def nonfinite(name: str, a: np.ndarray, table: list[dict], what: str) -> list[Finding]:
    missing = sum(t["missing"] for t in table)
    infinite = sum(t["infinite"] for t in table)
    if not missing and not infinite:
        return []
    bad = [t["feature"] for t in table if t["missing"] or t["infinite"]]
    rows = np.flatnonzero(~np.isfinite(np.asarray(a, np.float64).reshape(len(a), -1)).all(1))
    parts = [f"{missing} missing (NaN)"] if missing else []
    parts += [f"{infinite} infinite"] if infinite else []
    return [
        Finding(
            "nonfinite",
            f"{' and '.join(parts)} value(s) in {_of(name, what, bad)} ({len(rows)} row(s); the "
            f"first: row {int(rows[0])}, counting from 0)",
            "training refuses them: fill them in (e.g. with the column's train median) or drop "
            "those rows",
        )
    ]


def constant(name: str, train: np.ndarray, series: bool, names: list[str]) -> list[Finding]:
    v = flat(train, series)
    if len(v) < 2:
        return []
    with np.errstate(all="ignore"):
        same = np.all((v == v[:1]) | (np.isnan(v) & np.isnan(v[:1])), axis=0)
    if not same.any():
        return []
    cols = [names[i] if i < len(names) else str(i) for i in np.flatnonzero(same)]
    values = sorted({_fmt(float(v[0, i])) for i in np.flatnonzero(same)})
    value = (
        f"the value {values[0]}" if len(values) == 1 else f"one value each ({', '.join(values)})"
    )
    return [
        Finding(
            "constant",
            f"constant {_of(name, 'features', cols)}: {value} in every train row",
            "a constant feature carries no information (normalisation maps it to 0): drop it",
        )
    ]


def imbalance(name: str, counts: dict) -> list[Finding]:
    total: dict[str, int] = {}
    for per in counts.values():
        for c, n in per.items():
            total[c] = total.get(c, 0) + n
    if len(total) < 2:
        return []
    small = min(total, key=lambda c: total[c])
    large = max(total, key=lambda c: total[c])
    ratio = total[large] / max(total[small], 1)
    if ratio < IMBALANCE:
        return []
    return [
        Finding(
            "imbalance",
            f"{_of(name, 'classes', [])} are imbalanced: class {large} has {total[large]} rows, "
            f"class {small} has {total[small]} ({ratio:.1f}x)",
            "accuracy can look good while the rare class is always missed: add f1 (or precision "
            "and recall) to `metrics`, and weigh the rare class (`class_weight: balanced` in the "
            "train block) or collect more of its rows",
        )
    ]


def repeated(xs: dict[str, np.ndarray], index: Mapping[str, np.ndarray]) -> list[Finding]:
    """Rows repeated inside a split, and val/test rows whose features also appear in train."""
    keys = _row_keys(xs)
    seen = {split: set(keys[i].tolist()) for split, i in index.items()}
    found = []
    dupes = {split: len(i) - len(seen[split]) for split, i in index.items()}
    if any(dupes.values()):
        where = ", ".join(f"{n} in {s}" for s, n in dupes.items() if n)
        found.append(
            Finding(
                "duplicates",
                f"repeated rows (same features as an earlier row of the split): {where}",
                "repeated rows weigh more in training; drop them unless they are real repeats",
            )
        )
    train = seen.get("train", set())
    for split, i in index.items():
        if split == "train":
            continue
        shared = sum(k in train for k in keys[i])
        if shared:
            found.append(
                Finding(
                    "leakage",
                    f"leakage: {shared} of {len(i)} {split} rows also appear in train (same "
                    "features)",
                    f"{split} metrics overstate how well the model does on new data: remove "
                    "duplicate rows before splitting",
                )
            )
    return found


def _row_keys(xs: dict[str, np.ndarray]) -> np.ndarray:
    """One hashable key per row of every input together (bytes of its values)."""
    parts = [np.ascontiguousarray(a).reshape(len(a), -1) for a in xs.values()]
    joined = [np.ascontiguousarray(p).view(np.uint8).reshape(len(p), -1) for p in parts]
    rows = np.concatenate(joined, axis=1) if len(joined) > 1 else joined[0]
    return np.array([r.tobytes() for r in rows], dtype=object)


# ---- what the picture needs ---------------------------------------------------------------------
def image_shape(spec: DataSpec, xs: dict[str, np.ndarray]) -> tuple[int, ...] | None:
    """(H, W) or (H, W, C) when the examples are images: a `reshape` of rank 2-3, rows that are
    images already, or a scikit-learn dataset of images."""
    if len(xs) != 1 or spec.windows is not None:
        return None
    x = next(iter(xs.values()))
    if spec.reshape is not None and len(spec.reshape) in (2, 3):
        return tuple(int(d) for d in spec.reshape)
    if x.ndim in (3, 4) and np.issubdtype(x.dtype, np.floating):
        return tuple(x.shape[1:])
    if spec.source == "sklearn" and spec.args.get("name") in IMAGES:
        return IMAGES[str(spec.args["name"])]
    return None


def feature_names(spec: DataSpec) -> list[str] | None:
    """The feature names: a csv source's header without the target columns, a scikit-learn
    dataset's `feature_names` (numbers for images)."""
    if spec.source == "sklearn" and spec.args.get("name") not in IMAGES:
        from sklearn import datasets

        names = getattr(datasets, f"load_{spec.args['name']}")().get("feature_names")
        return [str(n) for n in names] if names is not None else None
    if spec.source != "csv" or not isinstance(spec.args.get("path"), str):
        return None
    import csv
    import io

    from ..registry.loading import read_text, resolve

    text = read_text(spec, resolve(spec, spec.args["path"]))
    delimiter = spec.args.get("delimiter") or ","
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    target = spec.args.get("target")
    targets = set(target) if isinstance(target, list) else {target}
    return [h.strip() for h in header if h.strip() not in targets]


def _of(name: str, what: str, items: list[str]) -> str:
    """'features 0, 3', "column 'bmi'", "the targets", "features 2 of input 'a'"."""
    if not items:
        where = f"the {what}"
    elif all(i.isdigit() for i in items):
        noun = "feature" if what == "features" else "target"
        where = f"{noun}{'s' if len(items) > 1 else ''} {_join(items)}"
    else:
        where = f"column{'s' if len(items) > 1 else ''} {_join([repr(i) for i in items])}"
    if name not in ("x", "y"):
        where += f" of {'input' if what == 'features' else 'target'} {name!r}"
    if what == "classes":
        where = where[0].upper() + where[1:]
    return where


def _join(items: list[str]) -> str:
    more = f" and {len(items) - 8} more" if len(items) > 8 else ""
    return ", ".join(items[:8]) + more


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _num(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


class _quiet:
    """Silence numpy's "All-NaN slice" warnings (a column of only NaN has no statistics)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)
