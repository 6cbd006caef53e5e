"""The files `nncompile predict` reads and writes: inputs from a .npy array, a .npz archive (one
array per input name) or a CSV file (one example per row, with or without a header; a header is
matched by name against the training data's feature columns, so its columns may come in any order
and the target column may stay in), and the name of the predictions file, checked before anything
is loaded. Every problem is a DataError saying where (file, line, column) and what to do. Numpy
only."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..registry.loading import did_you_mean
from .fit_checks import check_inputs

OUTPUTS = (".npy", ".npz", ".csv")  # what --output writes
NPY_HINT = "give a .npy array or a numeric CSV (a header line is optional), one example per row"


def check_output(output: str | None) -> None:
    """`predict --output`: a file of a known type in a folder that exists (before loading)."""
    if output is None:
        return
    path = Path(output)
    if path.is_dir():
        raise DataError(
            f"{path} is a folder; predictions are written to one file",
            f"name the file, e.g. --output {path / 'y.npy'}",
        )
    if path.suffix.lower() not in OUTPUTS:
        raise DataError(
            f"cannot write predictions to {path}: unknown file type {path.suffix or '(none)'}",
            "use .npy (an array), .npz (an archive keyed by output name) or .csv",
        )
    if not path.parent.is_dir():
        raise DataError(f"cannot write {path}: no folder {path.parent}", "create the folder first")


def read_named_inputs(path: str, columns: Sequence[str] | None = None, targets: Sequence[str] = ()):
    """Inputs for `predict`: a .npz archive gives one array per input name (a model with several
    inputs), anything else `read_inputs`'s one array."""
    if Path(path).suffix != ".npz":
        return read_inputs(path, columns, targets)
    try:
        with np.load(path, allow_pickle=False) as archive:
            x = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError) as e:
        raise DataError(
            f"cannot read inputs from {path}: {e}",
            "give a .npz archive with one array per model input, named like the inputs",
        ) from None
    if not x:
        raise DataError(
            f"{path} holds no arrays", "give a .npz archive with one array per model input"
        )
    for k, a in x.items():
        check_inputs(a, f"{path}, array {k!r}")
        _some_rows(a, f"{path}, array {k!r}")
    return x


def read_inputs(
    path: str, columns: Sequence[str] | None = None, targets: Sequence[str] = ()
) -> np.ndarray:
    """Inputs for `predict` from a .npy array or a CSV file (one example per row), checked.
    ``columns``: the training data's feature columns (a CSV's header is matched against them),
    ``targets``: its target columns (left out when a header names them)."""
    p = Path(path)
    try:
        if p.suffix == ".npy":
            x = np.load(p, allow_pickle=False)
        else:
            x = _csv(p, path, columns, targets)
    except (OSError, ValueError, EOFError, csv.Error) as e:
        why = "the file is empty" if isinstance(e, EOFError) else e
        raise DataError(f"cannot read inputs from {path}: {why}", NPY_HINT) from None
    check_inputs(x, path)
    _some_rows(x, path)
    return x


def _some_rows(x: np.ndarray, where: str) -> None:
    if x.ndim >= 1 and x.shape[0] == 0:
        raise DataError(f"{where} holds no examples (0 rows)", "give at least one example")


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _csv(p: Path, path: str, columns: Sequence[str] | None, targets: Sequence[str]) -> np.ndarray:
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not UTF-8 text (bad byte at offset {e.start})",
            "save the file as UTF-8 text, or give a .npy array",
        ) from None
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]  # no blank lines
    if not rows:
        raise DataError(f"{path} holds no examples (an empty file)", NPY_HINT)
    header = None
    if not all(_number(c) for c in rows[0][1]):
        header, rows = [c.strip() for c in rows[0][1]], rows[1:]
        if not rows:
            raise DataError(f"{path} has a header line but no examples", NPY_HINT)
    width = len(header) if header is not None else len(rows[0][1])
    values = []
    for line, row in rows:
        if len(row) != width:
            raise DataError(
                f"{path} line {line} has {len(row)} fields, but the "
                f"{'header' if header is not None else 'first row'} has {width}",
                "check the delimiter (a comma) and quoting on that line",
            )
        for i, cell in enumerate(row):
            if not _number(cell):
                name = repr(header[i]) if header is not None else str(i + 1)
                raise DataError(
                    f"{path} line {line}, column {name}: {cell.strip()!r} is not a number",
                    "feature columns must be numeric; fill in empty cells and encode categories "
                    "as numbers",
                )
        values.append([float(c) for c in row])
    x = np.asarray(values, np.float32)
    if header is None or not columns:
        return x
    return _by_name(x, header, list(columns), set(targets), path)


def _by_name(x: np.ndarray, header: list[str], columns: list[str], targets: set, path: str):
    """The header's columns in the training data's order (target columns left out)."""
    unknown = [h for h in header if h not in columns and h not in targets]
    if unknown:
        hint = did_you_mean(unknown[0], [c for c in columns if c not in header])
        raise DataError(
            f"{path}: column {unknown[0]!r} of its header is not a feature the run was trained "
            f"on (they are {', '.join(columns)})",
            f"{hint}name the columns like the training data's, or leave the header out (the "
            "columns in the training data's order)",
        )
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(
            f"{path} has no column {missing[0]!r}; the run was trained on {', '.join(columns)}",
            "give every feature column of the training data",
        )
    if len(set(header)) != len(header):
        twice = next(h for h in header if header.count(h) > 1)
        raise DataError(f"{path} names column {twice!r} twice", "give each column once")
    return x[:, [header.index(c) for c in columns]]
