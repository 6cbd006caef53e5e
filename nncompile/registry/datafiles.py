"""What `check` reads of a data source's files without loading them: an npz archive's member names
and its arrays' .npy headers (shape and dtype, read by numpy's format header reader: no data, and
never a pickle), a csv file's header row. Each problem found is one the loader would stop at (the
same words), reported by `check` at the data block's source instead, before anything is trained.
A file that is not there is none of these: `check` warns about it (it may be written later)."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..source import read_regular
from .archive_problems import array_problem, damaged, not_npy
from .loading import data_path, did_you_mean

Problem = tuple[str, str]  # (message, hint)
NPY_MAGIC = b"\x93NUMPY"
HEADER_BYTES = 1 << 20  # a csv header row is read from at most this much of the file
USE_TARGET = "set `target` to columns of the file"
LISTED = 20  # at most this many member or column names in a message
DAMAGED = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, NotImplementedError)


class Unreadable(Exception):
    """A data file its source cannot read: the message and its hint."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class Header:
    """One archived array as its .npy header tells: its whole shape and its dtype."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def example(self) -> tuple[int, ...]:
        """The shape of one example (the first axis counts the examples)."""
        return self.shape[1:]

    @property
    def ids(self) -> bool:
        """Integer (or boolean) values: ids (token ids as features, class ids as targets)."""
        return self.dtype.kind in "biu"


def listing(names: list[str]) -> str:
    more = len(names) - LISTED
    return ", ".join(names[:LISTED]) + (f" and {more} more" if more > 0 else "") or "nothing"


# --- npz -------------------------------------------------------------------------------------
def array_names(value: Any) -> list[str]:
    """The array names an `x` / `y` argument gives (a name, a list of names, or None: none)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def read_npz(path: Path, shown: str, wanted: list[str]) -> tuple[list[str], dict[str, Header]]:
    """The archive's array names (as numpy.load lists them) and the headers of the `wanted` ones it
    holds; Unreadable when the loader would refuse the file or one of those arrays."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {
                (i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i
                for i in archive.infolist()
            }
            headers = {
                key: member_header(archive, members[key], shown, key)
                for key in dict.fromkeys(wanted)
                if key in members
            }
    except (zipfile.BadZipFile, ValueError, EOFError, OverflowError):  # (a damaged directory)
        single = False
        with contextlib.suppress(OSError):
            single = read_regular(path, len(NPY_MAGIC))[: len(NPY_MAGIC)] == NPY_MAGIC
        if single:
            raise Unreadable(
                f"{shown} holds a single array, not a .npz archive",
                "save with numpy.savez(path, x=..., y=...)",
            ) from None
        raise Unreadable(
            f"{shown} is not a readable .npz archive (pickled files are refused)",
            "save the arrays with numpy.savez(path, x=..., y=...)",
        ) from None
    except OSError as e:
        raise Unreadable(
            f"cannot read {shown}: {e.strerror or e}", "check that the file exists and is readable"
        ) from None
    return list(members), headers


def member_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, key: str) -> Header:
    """An array's header; a member that is no .npy array, or that is shorter than its header says
    (a truncated file), is refused. Object arrays are pickles: their header is read, not their
    data."""
    broken = Unreadable(*damaged(shown, key))
    try:
        with archive.open(info) as f:
            if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise Unreadable(*not_npy(shown, info.filename))
            f.seek(0)
            major, _ = np.lib.format.read_magic(f)
            read = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read(f)
            offset = f.tell()
    except (*DAMAGED, RuntimeError):  # (RuntimeError: an encrypted member)
        raise broken from None
    header = Header(tuple(int(n) for n in shape), dtype)
    if not dtype.hasobject and info.file_size < offset + math.prod(header.shape) * dtype.itemsize:
        raise broken
    return header


def npz_problems(p: Any, base: Path | None) -> list[Problem]:
    """What the loader would refuse in the archive, from its headers: an array the source names
    that is not there, object or non-numeric arrays, arrays without examples, arrays of different
    lengths, integer targets of more than two axes (named arrays)."""
    path = data_path(p.path, base)
    if not path.is_file():
        return []  # check warns that the file is missing
    named = isinstance(p.x, (list, tuple)) or isinstance(p.y, (list, tuple))
    xs, ys = array_names(p.x), array_names(p.y)
    weights = array_names(getattr(p, "sample_weight", None))  # (registry.sampleweights)
    try:
        members, headers = read_npz(path, p.path, xs + ys + weights)
    except Unreadable as e:
        return [(e.message, e.hint)]
    problems = [
        (
            f"{p.path} has no array {key!r} for `sample_weight`; it holds {listing(members)}",
            did_you_mean(key, members) + "name the array of the examples' weights",
        )
        for key in weights
        if key not in members
    ]
    for key in dict.fromkeys(xs + ys):
        if key not in members and not (key == "y" == p.y and not named):  # no y: unsupervised
            problems.append(
                (
                    f"{p.path} has no array {key!r}; it holds {listing(members)}",
                    did_you_mean(key, members) + "name one of its arrays",
                )
            )
    for key, h in headers.items():
        problem = array_problem(p.path, key, h.dtype, h.shape)
        if problem is None and key in weights and math.prod(h.shape[1:]) != 1:
            problem = (
                f"{p.path}: the sample weights {key!r} have shape {list(h.shape)}; they need one "
                "weight per example, shape [n]",
                "store one number per example",
            )
        if problem is None and named and key in ys and h.ids and len(h.shape) > 2:
            problem = (
                f"{p.path}: integer targets {key!r} must be class ids of shape (n,) or one per "
                f"step (n, steps), not {h.shape}",
                "store regression targets as floats",
            )
        if problem is not None:
            problems.append(problem)
    if problems:
        return problems
    counts = {
        key: headers[key].shape[0] for key in dict.fromkeys(xs + ys + weights) if key in headers
    }
    if len(set(counts.values())) > 1:
        problems.append(
            (
                f"{p.path}: the arrays have different numbers of examples "
                f"({', '.join(f'{k}: {n}' for k, n in counts.items())})",
                "store one row per example in every array",
            )
        )
    return problems


def npz_arrays(p: Any, base: Path | None) -> dict[str, Header] | None:
    """The headers of the arrays the source names (those the archive holds), None when the file
    is not there or cannot be read so (`npz_problems` says why)."""
    path = data_path(p.path, base)
    if not path.is_file():
        return None
    try:
        return read_npz(path, p.path, array_names(p.x) + array_names(p.y))[1]
    except Unreadable:
        return None


# --- csv -------------------------------------------------------------------------------------
def csv_header(path: Path, shown: str, delimiter: str) -> list[str] | None:
    """The header row (cells stripped), read from the start of the file (None: no whole line in
    it); Unreadable when the loader would refuse the file: binary, not UTF-8, no header, no data
    row, two columns of one name."""
    try:
        data = read_regular(path, HEADER_BYTES)
    except OSError as e:
        raise Unreadable(
            f"cannot read {shown}: {e.strerror or e}", "check that the file exists and is readable"
        ) from None
    whole = len(data) <= HEADER_BYTES
    if not whole:  # cut after the last whole line (a UTF-8 character never holds a newline byte)
        end = data.rfind(b"\n", 0, HEADER_BYTES)
        if end < 0:
            return None
        data = data[: end + 1]
    if b"\x00" in data:
        raise Unreadable(
            f"{shown} looks like a binary file (it contains NUL bytes)", "give a UTF-8 text file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise Unreadable(
            f"{shown} is not UTF-8 text (bad byte at offset {e.start})",
            "save the file as UTF-8 text; binary files cannot be read as csv or text",
        ) from None
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append([cell.strip() for cell in row])
                if len(rows) == 2:
                    break
    except csv.Error as e:
        raise Unreadable(
            f"{shown} line {reader.line_num} is not valid csv: {e}", "check quoting on that line"
        ) from None
    if not rows or (len(rows) == 1 and whole):
        raise Unreadable(
            f"{shown} is empty" if not rows else f"{shown} has a header but no data rows",
            "a csv source needs a header row and at least one data row",
        )
    header = rows[0]
    for i, name in enumerate(header):
        if name in header[:i]:
            raise Unreadable(
                f"{shown} has two columns named {name!r} (columns {header.index(name) + 1} and "
                f"{i + 1})",
                "give every column its own name in the header row",
            )
    return header


def csv_problems(p: Any, base: Path | None) -> list[Problem]:
    """What the loader would refuse, from the header row: a column the source names that is not
    there, no feature columns, and the file errors of `csv_header`."""
    named = bool(p.inputs) or isinstance(p.target, dict)
    if named and isinstance(p.target, list):
        return [
            (
                "a target per step (`target: [columns]`) cannot be read with column groups "
                "(`inputs`)",
                "store one target column, or use npz with named arrays",
            )
        ]
    path = data_path(p.path, base)
    if not path.is_file():
        return []
    try:
        header = csv_header(path, p.path, p.delimiter)
    except Unreadable as e:
        return [(e.message, e.hint)]
    if header is None:
        return []
    columns = ", ".join(header)
    targets = list(p.target.values()) if isinstance(p.target, dict) else array_names(p.target)
    problems = []
    for name in targets:
        if name not in header:
            problems.append(
                (
                    f"{p.path} has no {'' if named else 'target '}column {name!r}; its columns "
                    f"are {columns}",
                    did_you_mean(name, header)
                    + ("name one of its columns" if named else USE_TARGET),
                )
            )
    if p.sample_weight is not None and p.sample_weight not in header:
        problems.append(
            (
                f"{p.path} has no column {p.sample_weight!r} for `sample_weight`; its columns are "
                f"{columns}",
                did_you_mean(p.sample_weight, header) + "name the column of the examples' weights",
            )
        )
    for name in (c for cols in (p.inputs or {}).values() for c in cols):
        if name not in header:
            problems.append(
                (
                    f"{p.path} has no column {name!r}; its columns are {columns}",
                    did_you_mean(name, header) + "name one of its columns",
                )
            )
    skip = [*targets, *array_names(p.sample_weight)]
    if not problems and not p.inputs and not [h for h in header if h not in skip]:
        besides = "the targets" if named else f"the target {p.target!r}"
        problems.append(
            (f"{p.path} has no feature columns besides {besides}", "add feature columns")
        )
    return problems


def csv_columns(p: Any, base: Path | None) -> list[str] | None:
    """The header row of the file, None when it is not there or cannot be read so."""
    path = data_path(p.path, base)
    if not path.is_file():
        return None
    try:
        return csv_header(path, p.path, p.delimiter)
    except Unreadable:
        return None


def csv_features(p: Any, base: Path | None) -> int | None:
    """How many feature columns the one input gets (None: unknown, or column groups)."""
    header = None if p.inputs else csv_columns(p, base)
    if header is None:
        return None
    targets = set(p.target.values()) if isinstance(p.target, dict) else set(array_names(p.target))
    targets |= {p.sample_weight} if getattr(p, "sample_weight", None) else set()
    if not targets <= set(header):
        return None
    return len([h for h in header if h not in targets]) or None
