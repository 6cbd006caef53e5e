"""Sources that deliver several named inputs or targets (a model with several inputs or outputs):
`npz("f.npz", x=["left", "right"], y=["digit", "big"])` reads one array per name, and the names
are the model's input and output names (checked by `check`); `csv(path, target={a: "col", b: "col"},
inputs={left: [...columns], right: [...]})` reads column groups. Raw.x and Raw.y are then dicts of
arrays keyed by name, and Raw.task is "several"; runtime.several splits and prepares them."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .loading import (
    LoadRequest,
    Raw,
    check_finite,
    csv_target,
    did_you_mean,
    fail,
    npz_array,
    numeric,
    open_npz,
    read_rows,
    resolve,
)
from .sampleweights import excluded

SEVERAL = "several"  # Raw.task of data with named arrays
UNSUPPORTED = ("classes", "windows", "reshape")  # data properties named arrays do not take yet


def names(value) -> list[str] | None:
    """The array names of a source argument that lists several (None: it names one array)."""
    return list(value) if isinstance(value, (list, tuple)) else None


def named_arrays(source: str, args: Any) -> bool:
    """Whether a source's arguments make it load named arrays (the loaders below): an npz with a
    list of `x` or `y` names, a csv with column groups (`inputs`) or a target per output."""
    get = args.get if isinstance(args, dict) else lambda key: getattr(args, key, None)
    if source == "npz":
        return bool(names(get("x")) or names(get("y")))
    if source == "csv":
        return bool(get("inputs")) or isinstance(get("target"), dict)
    return False


def load_npz_named(spec: LoadRequest, path: Path, xkeys, ykeys) -> Raw:
    """One array per name: inputs keep their dtype (integers are token ids, int32), targets are
    class ids (integers, shape (n,)) or float32 regression targets ((n, k), (n,) -> (n, 1))."""
    xs = names(xkeys) or [xkeys]
    ys = names(ykeys) if ykeys is not None else []
    ys = [ykeys] if ys is None else ys
    with open_npz(spec, path) as archive:
        keys = list(archive.keys())
        for key in [*xs, *ys]:
            if key not in keys:
                fail(
                    spec,
                    f"{path} has no array {key!r}; it holds {', '.join(keys) or 'nothing'}",
                    did_you_mean(key, keys) + "name one of its arrays",
                )
        x = {k: npz_array(spec, path, archive, k) for k in xs}
        y = {k: npz_array(spec, path, archive, k) for k in ys}
    counts = {k: len(a) for k, a in {**x, **y}.items()}
    if len(set(counts.values())) > 1:
        fail(
            spec,
            f"{path}: the arrays have different numbers of examples "
            f"({', '.join(f'{k}: {n}' for k, n in counts.items())})",
            "store one row per example in every array",
        )
    x = {
        k: a.astype(np.int32) if a.dtype.kind in "biu" else a.astype(np.float32)
        for k, a in x.items()
    }
    targets = {}
    for k, a in y.items():
        if a.dtype.kind in "biu":
            if a.ndim > 2:
                fail(
                    spec,
                    f"{path}: integer targets {k!r} must be class ids of shape (n,) or one per "
                    f"step (n, steps), not {a.shape}",
                    "store regression targets as floats",
                )
            if a.min() < 0:
                fail(spec, f"{path}: array {k!r} holds negative class ids", "number classes 0..K-1")
            # (n,) or (n, 1): a class id per example; (n, steps): one per step (a sequence)
            ids = a.astype(np.int32)
            targets[k] = ids.reshape(len(a)) if ids.shape[1:] in ((), (1,)) else ids
        else:
            a = a.astype(np.float32)
            targets[k] = a[:, None] if a.ndim == 1 else a
    # a name given as a string (not a list) is the one input or target: a plain array
    xs_out = x if names(xkeys) else x[xkeys]
    ys_out = targets if names(ykeys) else targets.get(ykeys) if ykeys is not None else None
    raw = Raw(xs_out, ys_out, SEVERAL)  # type: ignore[arg-type]
    raw.origin = str(path)
    return raw


def load_csv_named(spec: LoadRequest) -> Raw:
    """A csv file with column groups: `inputs: {name: [columns]}` (one input per name; without it,
    every column that is not a target is the one input), `target`: one column or a list (one
    target per column, named like it). Each target column is read as csv's one target is."""
    path = resolve(spec, spec.args.get("path"))
    header, rows, lines = read_rows(spec, path, spec.args.get("delimiter") or ",")
    given = spec.args.get("target")
    if isinstance(given, list):
        fail(
            spec,
            "a target per step (`target: [columns]`) cannot be read with column groups (`inputs`)",
            "store one target column, or use npz with named arrays",
        )
    named = dict(given) if isinstance(given, dict) else {str(given): str(given)}
    targets = list(named.values())
    skip = [*targets, *excluded(spec)]
    groups = spec.args.get("inputs") or {"": [h for h in header if h not in skip]}
    if not any(groups.values()):
        fail(spec, f"{path} has no feature columns besides the targets", "add feature columns")
    for column in [*targets, *(c for cols in groups.values() for c in cols)]:
        if column not in header:
            fail(
                spec,
                f"{path} has no column {column!r}; its columns are {', '.join(header)}",
                did_you_mean(str(column), header) + "name one of its columns",
            )
    columns = list(zip(*rows, strict=True))
    read = lambda h: numeric(spec, path, h, columns[header.index(h)], lines)
    x = {
        k: np.stack([read(h) for h in cols], axis=1).astype(np.float32)
        for k, cols in groups.items()
    }
    y = {}
    for name, t in named.items():
        values, task, _ = csv_target(spec, path, t, columns[header.index(t)], lines)
        y[name] = (
            values.astype(np.int32)
            if task == "classification"
            else values.astype(np.float32)[:, None]
        )
    several_y = isinstance(given, dict)
    single = next(iter(y.values()))
    raw = Raw(x if spec.args.get("inputs") else x[""], y if several_y else single, SEVERAL)  # type: ignore[arg-type]
    raw.origin = str(path)
    return raw


def finite_named(spec: LoadRequest, raw: Raw) -> Raw:
    """Refuse NaN or infinite values in any named array (their counts are checked on loading)."""
    named: list[tuple[str, Any]] = [("features", raw.x), ("targets", raw.y)]
    for what, v in named:
        arrays: dict = v if isinstance(v, dict) else {"": v} if v is not None else {}
        for k, a in arrays.items():
            where = f"{what} {k!r}" if k else what
            check_finite(spec, a, where, lambda at: f"example {at[0]}")
    return raw


def npz_headers(path: Path, limit: int = 64) -> dict[str, tuple[tuple[int, ...], str]] | None:
    """Each array's shape and dtype kind ("f", "i", ...) of a .npz archive, from the .npy headers
    of its members only (fast, for `check`); None when the file cannot be read so."""
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist()[:limit]:
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read(f)
                out[info.filename[: -len(".npy")]] = (tuple(shape), dtype.kind)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    return out
