"""What `check` reads of a data file's values (registry.datafiles reads only the headers): the range
of an npz archive's integer arrays (class ids, token ids: their smallest and largest value) and what
a csv file's target column holds (class labels or real values, as the loader decides).

Reading stays cheap: an npz array is streamed in chunks of CHUNK bytes (compressed archives too:
never the whole array in memory; ~1 ms a MB, ~5 compressed), a csv file's target column is kept
and not its other cells. Only npz files and arrays up to VALUE_BYTES and csv files up to CSV_BYTES
are read; a bigger one, or one that cannot be read so, gives None (the loading-time checks stay,
and say what is wrong). Results are kept per file (path, size, modification time), so the
language server's re-checks read a file once.
"""

from __future__ import annotations

import csv
import io
import math
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..source import read_regular
from .datafiles import DAMAGED, NPY_MAGIC
from .loading import class_labels, csv_task, data_path

VALUE_BYTES = 50 << 20  # npz files (and their arrays, uncompressed) read for their values
CSV_BYTES = 10 << 20  # csv files read for their values (parsing: ~30 ms a MB)
CHUNK = 1 << 22
KEPT = 256  # files whose facts are kept (the oldest are forgotten first)
SHOWN = 5  # values shown in a message


@dataclass(frozen=True)
class IdRange:
    """An integer array's smallest and largest value."""

    low: int
    high: int


@dataclass(frozen=True)
class CsvTarget:
    """A csv target column as the loader reads it: its task (classification: class labels, numbered
    0..K-1 in `labels`' order; regression: real values) and, for real values, a few of them."""

    task: str
    labels: tuple[Any, ...] = ()
    examples: tuple[float, ...] = ()
    distinct: int = 0  # distinct values (for real values that are all integers)
    integral: bool = False


_FACTS: dict[tuple, Any] = {}


def _remembered(path: Path, key: tuple, limit: int, read):
    """`read()` once per file state: (path, size, modification time) and `key`; None for a file
    over `limit` bytes."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_size > limit:
        return None
    whole = (str(path.absolute()), st.st_size, st.st_mtime_ns, *key)
    if whole not in _FACTS:
        if len(_FACTS) >= KEPT:
            del _FACTS[next(iter(_FACTS))]
        _FACTS[whole] = read()
    return _FACTS[whole]


# --- npz -------------------------------------------------------------------------------------
def npz_ids(p: Any, base: Path | None, key: str) -> IdRange | None:
    """The range of the integer (or boolean) array `key` of the source's archive; None when it is
    not one, too large, or cannot be read (loading says why)."""
    path = data_path(p.path, base)
    return _remembered(path, ("npz", key), VALUE_BYTES, lambda: _read_ids(path, key))


def _read_ids(path: Path, key: str) -> IdRange | None:
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{key}.npy")
            if info.file_size > VALUE_BYTES + (1 << 16):
                return None
            with archive.open(info) as f:
                return _stream_range(f)
    except (*DAMAGED, KeyError, RuntimeError):
        return None


def _stream_range(f) -> IdRange | None:
    """The range of an open .npy stream's integer values, read CHUNK bytes at a time."""
    if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
        return None
    f.seek(0)
    major, _ = np.lib.format.read_magic(f)
    fmt = np.lib.format
    read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
    shape, _, dtype = read(f)
    if dtype.kind not in "biu" or dtype.hasobject:
        return None
    left = math.prod(shape) * dtype.itemsize
    step = max(CHUNK // dtype.itemsize, 1) * dtype.itemsize
    low: int | None = None
    high: int | None = None
    while left > 0:
        data = f.read(min(step, left))
        if not data or len(data) % dtype.itemsize:
            return None  # (a truncated member: loading reports it)
        left -= len(data)
        chunk = np.frombuffer(data, dtype=dtype)
        lo, hi = int(chunk.min()), int(chunk.max())
        low = lo if low is None else min(low, lo)
        high = hi if high is None else max(high, hi)
    return None if low is None or high is None else IdRange(low, high)


# --- csv -------------------------------------------------------------------------------------
BAD = object()  # a row of another number of fields than the header


def _column(rows: Iterator[list[str]], column: str) -> list[str] | None:
    """The cells (stripped) of `column` in the data rows, as the loader reads them: blank rows are
    skipped; None when the header has no such column or a row has another number of fields. Only
    the column's cells are kept."""
    header = next((row for row in rows if any(cell.strip() for cell in row)), None)
    if header is None or column not in [cell.strip() for cell in header]:
        return None
    at, width = [cell.strip() for cell in header].index(column), len(header)

    def other(row: list[str]) -> Any:
        if not any(cell.strip() for cell in row):
            return None  # (a blank row)
        return row[at].strip() if len(row) == width else BAD

    cells = [
        row[at].strip() if len(row) == width and row[at].strip() else other(row) for row in rows
    ]
    if any(cell is BAD for cell in cells):
        return None
    return [cell for cell in cells if cell is not None]


def csv_target(p: Any, base: Path | None) -> CsvTarget | None:
    """What the source's one target column holds (None: several columns or groups, a file too
    large or one the loader would refuse: it says why)."""
    if not isinstance(p.target, str) or p.inputs:
        return None
    path = data_path(p.path, base)
    key = ("csv", p.target, p.delimiter, p.task)
    return _remembered(
        path, key, CSV_BYTES, lambda: _read_target(path, p.target, p.delimiter, p.task)
    )


def _read_target(path: Path, column: str, delimiter: str, forced: str | None) -> CsvTarget | None:
    try:
        text = read_regular(path, CSV_BYTES).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    if "\x00" in text:
        return None
    try:
        values = _column(csv.reader(io.StringIO(text), delimiter=delimiter), column)
    except csv.Error:
        return None
    if not values:
        return None
    try:
        nums: np.ndarray | None = np.array(values, dtype=np.float64)
    except ValueError:
        nums = None
    if nums is not None and not np.all(np.isfinite(nums)):
        return None
    task = csv_task(nums, forced)
    if task == "classification":
        return CsvTarget(task, tuple(class_labels(tuple(values), nums)[1]))
    if nums is None:
        return None  # (text read as real values: the loader refuses it)
    distinct = np.unique(nums)
    integral = bool(np.all(distinct == np.round(distinct)))
    real = nums[nums != np.round(nums)]
    shown = real if len(real) else nums
    return CsvTarget(task, (), tuple(float(v) for v in shown[:3]), len(distinct), integral)
