"""What the data sources share: what check knows of one before loading (`SourceInfo`), the raw
arrays the loaders return, errors that name the data block, reading files, parsing csv and npz.

Loaders take a `LoadRequest` (the runtime's DataSpec is one) and return a `Raw`. They are
deterministic for a given seed, use numpy only (scikit-learn is imported inside the sklearn loader)
and report every bad input as a `DataError` that names the data block and the file.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol

import numpy as np

from ..errors import DataError
from .archive_problems import array_problem, damaged, not_npy
from .lenient import LENIENT, MISSING

MAX_CSV_CLASSES = 20  # integer-valued csv targets with at most this many values are class labels


@dataclass(frozen=True)
class SourceInfo:
    """What check-time knows about a source: feature shape, classes, task (None = unknown)."""

    feature_shape: tuple[int, ...] | None
    num_classes: int | None
    task: str | None  # classification | regression | sequence | None
    vocab: int | None = None
    tokens: bool | None = None  # the features are integer ids (None: when the task is sequence)
    stream: bool = False  # one stream of tokens (text): examples exist only as `windows`

    @property
    def token_ids(self) -> bool:
        """Whether the source gives integer token ids as features."""
        return self.task == "sequence" if self.tokens is None else self.tokens


class LoadRequest(Protocol):
    """What a loader reads of a data block."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def args(self) -> Mapping[str, Any]: ...
    @property
    def windows(self) -> Mapping[str, Any] | None: ...
    @property
    def seed(self) -> int: ...
    @property
    def base_dir(self) -> str | None: ...


@dataclass
class Raw:
    """Loaded, unsplit data: one row per example (or per time step for series).

    x: float32 (N, *features), or int32 token ids (N,) for text.
    y: int32 class ids (N,), float32 targets (N, k, ...), or None (unsupervised).
    labels: the original class labels (position = class id) where they are not 0..K-1.
    origin: where the targets come from, for messages (a file and its column or array).
    """

    x: np.ndarray
    y: np.ndarray | None
    task: str
    num_classes: int | None = None
    vocab: tuple[str, ...] | None = None
    labels: list | None = None
    origin: str | None = None
    weights: np.ndarray | None = None  # float32 (N,): `sample_weight`, each example's loss weight


def fail(spec: LoadRequest, message: str, hint: str | None = None) -> NoReturn:
    """Raise a DataError whose message starts with the data block's name."""
    raise DataError(f"data '{spec.name}': {message}", hint)


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def resolve(spec: LoadRequest, path: Any) -> Path:
    """The file a relative `path` names, resolved against the spec's folder."""
    if not isinstance(path, str) or not path:
        fail(
            spec,
            f"source {spec.source} needs a `path` (got {path!r})",
            'add e.g. path: "data/train.csv"',
        )
    return data_path(path, None if spec.base_dir is None else Path(spec.base_dir))


def data_path(path: str, base: Path | None) -> Path:
    """A data file's path as `check`, training and eject all read it: `~` expanded, relative paths
    from the spec's folder `base`."""
    p = Path(path)
    # with no home directory to expand to (HOME unset, unknown user) `~` stays a name
    with contextlib.suppress(RuntimeError):
        p = p.expanduser()
    return p if p.is_absolute() or base is None else base / p


@contextmanager
def reading(spec: LoadRequest, path: Path) -> Iterator[None]:
    """Turn the ways opening or decoding a file can fail into DataErrors."""
    try:
        yield
    except FileNotFoundError:
        fail(
            spec,
            f"file {path} does not exist",
            "relative paths are resolved against the spec's folder",
        )
    except IsADirectoryError:
        fail(spec, f"{path} is a folder, not a file", "name the data file itself")
    except PermissionError:
        fail(spec, f"cannot read {path}: permission denied", "check the file's permissions")
    except UnicodeDecodeError as e:
        fail(
            spec,
            f"{path} is not UTF-8 text (bad byte at offset {e.start})",
            "save the file as UTF-8 text; binary files cannot be read as csv or text",
        )
    except OSError as e:
        fail(
            spec,
            f"cannot read {path}: {e.strerror or e}",
            "check that the file exists and is readable",
        )


def read_text(spec: LoadRequest, path: Path) -> str:
    """A UTF-8 text file's contents (a leading byte-order mark dropped); binary files refused."""
    with reading(spec, path):
        text = path.read_text(encoding="utf-8-sig")
    if "\x00" in text:
        fail(
            spec,
            f"{path} looks like a binary file (it contains NUL bytes)",
            "give a UTF-8 text file",
        )
    return text


def check_finite(
    spec: LoadRequest, a: np.ndarray, what: str, locate: Callable[[tuple], str]
) -> None:
    """Refuse NaN or infinite values, giving their count and the first one's location."""
    if not np.issubdtype(a.dtype, np.floating) or LENIENT.get():
        return
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        fail(
            spec,
            f"{int(bad.sum())} NaN or infinite value(s) in the {what}, the first at "
            f"{locate(first)}",
            "remove or fill in the missing/invalid values before training",
        )


def supervised(x: np.ndarray, y: np.ndarray | None, task: str, labels: list | None = None) -> Raw:
    """A Raw with the dtypes fixed: float32 features, int32 ids or float32 (N, k) targets."""
    x = np.asarray(x, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    if y is None:
        return Raw(x, None, "unsupervised")
    if task == "classification":
        y = np.asarray(y).astype(np.int32).reshape(len(y))
        return Raw(x, y, task, int(y.max()) + 1 if len(y) else 0, labels=labels)
    y = np.asarray(y, dtype=np.float32)
    return Raw(x, y[:, None] if y.ndim == 1 else y, task)


# --- csv -------------------------------------------------------------------------------------
def read_rows(
    spec: LoadRequest, path: Path, delimiter: str
) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the non-blank data rows and each row's line number."""
    reader = csv.reader(io.StringIO(read_text(spec, path)), delimiter=delimiter)
    header, rows, lines = None, [], []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            row = [cell.strip() for cell in row]
            if header is None:
                header = row
                unique_columns(spec, path, header)
            elif len(row) != len(header):
                fail(
                    spec,
                    f"{path} line {reader.line_num} has {len(row)} fields, but the header has "
                    f"{len(header)}",
                    f"check the delimiter (currently {delimiter!r}) and quoting on that line",
                )
            else:
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as e:
        fail(
            spec,
            f"{path} line {reader.line_num} is not valid csv: {e}",
            "check quoting on that line",
        )
    if header is None or not rows:
        fail(
            spec,
            f"{path} is empty" if header is None else f"{path} has a header but no data rows",
            "a csv source needs a header row and at least one data row",
        )
    return header, rows, lines


def unique_columns(spec: LoadRequest, path: Path, header: list[str]) -> None:
    """Refuse a header that names two columns alike (one would silently shadow the other)."""
    for i, name in enumerate(header):
        if name in header[:i]:
            first = header.index(name)
            fail(
                spec,
                f"{path} has two columns named {name!r} (columns {first + 1} and {i + 1})",
                "give every column its own name in the header row",
            )


def numeric(
    spec: LoadRequest,
    path: Path,
    column: str,
    values: tuple[str, ...],
    lines: list[int],
    hint: str = "feature columns must be numeric; fill in empty cells and encode categories as "
    "numbers",
) -> np.ndarray:
    """A column as float64; a non-numeric value is reported with its line and column."""
    if LENIENT.get():
        values = tuple("nan" if v.strip().lower() in MISSING else v for v in values)
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        for value, line in zip(values, lines, strict=True):
            try:
                float(value)
            except ValueError:
                fail(
                    spec, f"{path} line {line}, column '{column}': {value!r} is not a number", hint
                )
        raise


def csv_target(
    spec: LoadRequest, path: Path, column: str, values: tuple[str, ...], lines: list[int]
):
    """The target column as (y, task, labels).

    `args.task` forces classification or regression. Otherwise non-numeric targets, and
    integer-valued ones with at most 20 distinct values, are class labels; class ids are
    the positions of the sorted distinct labels. Anything else is a regression target.
    """
    forced = spec.args.get("task")
    try:
        nums = np.array(values, dtype=np.float64)
    except ValueError:
        if forced == "regression":
            numeric(
                spec,
                path,
                column,
                values,
                lines,
                "a regression target must be numeric; "
                "remove `task: regression` to treat it as class labels",
            )
        nums = None
    if nums is not None:
        check_finite(
            spec, nums, f"target column '{column}' of {path}", lambda at: f"line {lines[at[0]]}"
        )
        if csv_task(nums, forced) == "regression":
            return nums, "regression", None
    ids, labels = class_labels(values, nums)
    return ids, "classification", labels


def csv_task(nums: np.ndarray | None, forced: str | None) -> str:
    """A csv target column's task: `forced` (the source's `task:`) when given; else text (`nums`
    None) and integer values with at most MAX_CSV_CLASSES distinct values are class labels, other
    numbers regression targets."""
    if forced is not None or nums is None:
        return forced or "classification"
    integral = bool(np.all(nums == np.round(nums)))
    few = integral and len(np.unique(nums)) <= MAX_CSV_CLASSES
    return "classification" if few else "regression"


def class_labels(values: tuple[str, ...], nums: np.ndarray | None) -> tuple[np.ndarray, list]:
    """Class labels' ids (the positions of the sorted distinct labels) and those labels."""
    distinct, ids = np.unique(np.array(values) if nums is None else nums, return_inverse=True)
    if nums is None:
        return ids, [str(v) for v in distinct]
    return ids, [int(v) if v == round(v) else float(v) for v in distinct]


def csv_steps(spec: LoadRequest, path: Path, names: list, values: list, lines: list[int]) -> Raw:
    """Target columns, one per step: integer values are class ids as they are, text values class
    ids in sorted label order (over all the columns); other numbers regression targets (n, k)."""
    cells = np.array(values).T  # (n, k) strings
    try:
        nums = cells.astype(np.float64)
    except ValueError:
        nums = None
    forced = spec.args.get("task")
    if nums is not None:
        check_finite(spec, nums, f"target columns of {path}", lambda at: f"line {lines[at[0]]}")
        if forced == "regression" or not np.all(nums == np.round(nums)):
            return Raw(np.zeros((len(nums), 0)), nums.astype(np.float32), "regression")
        if nums.min() < 0 or nums.max() > np.iinfo(np.int32).max:
            fail(
                spec,
                f"{path}: target columns {names} hold class ids outside 0..2**31-1",
                "number the classes 0..K-1",
            )
        ids = nums.astype(np.int32)
        return Raw(np.zeros((len(ids), 0)), ids, "sequence", int(ids.max()) + 1)
    if forced == "regression":
        numeric(spec, path, names[0], tuple(cells.ravel()), lines * len(names))
    labels, inverse = np.unique(cells, return_inverse=True)
    ids = inverse.reshape(cells.shape).astype(np.int32)
    return Raw(np.zeros((len(ids), 0)), ids, "sequence", len(labels), labels=labels.tolist())


def csv_tokens(spec: LoadRequest, path: Path, x: np.ndarray, names: list[str]) -> np.ndarray:
    """Feature columns of integer token ids (`tokens: true`) as int32."""
    bad = (x != np.round(x)) | (x < 0) | (x > np.iinfo(np.int32).max)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        fail(
            spec,
            f"{path}: column '{names[col]}' of data row {row + 1} holds {x[row, col]:g}, not a "
            "token id",
            "token ids are integers 0..V-1; remove `tokens: true` for numeric features",
        )
    return x.astype(np.int32)


# --- npz -------------------------------------------------------------------------------------
def open_npz(spec: LoadRequest, path: Path) -> np.lib.npyio.NpzFile:
    """Open an archive without pickle; anything else (a .npy, garbage, a pickle) is refused."""
    with reading(spec, path):
        try:
            archive = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, zipfile.BadZipFile):
            fail(
                spec,
                f"{path} is not a readable .npz archive (pickled files are refused)",
                "save the arrays with numpy.savez(path, x=..., y=...)",
            )
    if not isinstance(archive, np.lib.npyio.NpzFile):
        fail(
            spec,
            f"{path} holds a single array, not a .npz archive",
            "save with numpy.savez(path, x=..., y=...)",
        )
    return archive


def npz_array(spec: LoadRequest, path: Path, archive, key: str) -> np.ndarray:
    """One array of the archive; object (pickled) arrays are refused."""
    try:
        a = archive[key]
    except ValueError as e:  # ("Object arrays cannot be loaded when allow_pickle=False")
        problem = array_problem(path, key, np.dtype(object), ()) if "pickle" in str(e) else None
        fail(spec, *(problem or damaged(path, key)))
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError, zlib.error):
        fail(spec, *damaged(path, key))
    if not isinstance(a, np.ndarray):  # a member that is no .npy file: numpy gives its bytes
        fail(spec, *not_npy(path, key))
    if (problem := array_problem(path, key, a.dtype, a.shape)) is not None:
        fail(spec, *problem)
    return a


def npz_raw(spec: LoadRequest, path: Path, x: np.ndarray, y: np.ndarray | None) -> Raw:
    """Check the arrays' lengths and ids, and infer the task from the dtypes.

    Integer arrays hold ids: integer x are token ids (int32, never normalised), integer y class ids,
    one per example (n,) ("classification") or one per step (n, T, ...) ("sequence"). Float arrays
    hold values: features, and regression targets."""
    tokens = x.dtype.kind in "iu"
    if tokens:
        ids(spec, path, x, spec.args.get("x") or "x", "token ids", "number tokens 0..V-1")
    raw = npz_targets(spec, path, x, y)
    if tokens:
        raw.x = np.asarray(x, dtype=np.int32).reshape(raw.x.shape)
    return raw


def ids(spec: LoadRequest, path: Path, a: np.ndarray, key: str, what: str, hint: str) -> None:
    """Integer ids must be 0..2**31-1 (negative ids have no row of an embedding or a one-hot)."""
    if a.min() < 0 or a.max() > np.iinfo(np.int32).max:
        big = a[(a < 0) | (a > np.iinfo(np.int32).max)]
        fail(
            spec,
            f"{path}: array {key!r} holds {what} outside 0..2**31-1 "
            f"({', '.join(str(v) for v in np.unique(big)[:5])})",
            hint,
        )


def npz_targets(spec: LoadRequest, path: Path, x: np.ndarray, y: np.ndarray | None) -> Raw:
    if y is None:
        return supervised(x, None, "unsupervised")
    if len(x) != len(y):
        fail(
            spec,
            f"{path}: x has {len(x)} examples but y has {len(y)}",
            "x and y need one row per example each",
        )
    if y.dtype.kind in "biu":
        ids(spec, path, y, spec.args.get("y") or "y", "class ids", "number classes 0..K-1")
        if y.size == len(y):
            return supervised(x, y, "classification")
        steps = np.asarray(y, dtype=np.int32)  # a class id per step
        return Raw(supervised(x, None, "unsupervised").x, steps, "sequence", int(steps.max()) + 1)
    return supervised(x, y, "regression")
