"""Per-source loaders: each turns a data block's `args` into raw, unsplit arrays.

Every loader takes the `DataSpec` and returns a `Raw`; `SOURCES` maps source names to
loaders. Loaders are deterministic for a given seed, use numpy only (scikit-learn is
imported inside the sklearn loader) and report every bad input as a `DataError` that
names the data block and the file.
"""
from __future__ import annotations

import csv
import difflib
import io
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:
    from .data import DataSpec

SKLEARN = {"digits": "classification", "iris": "classification", "wine": "classification",
           "breast_cancer": "classification", "diabetes": "regression"}
MAX_CSV_CLASSES = 20  # integer-valued csv targets with at most this many values are class labels
SINE_PERIOD = 50  # steps per period of the synthetic sine series


@dataclass
class Raw:
    """Loaded, unsplit data: one row per example (or per time step for series).

    x: float32 (N, *features), or int32 token ids (N,) for text.
    y: int32 class ids (N,), float32 targets (N, k, ...), or None (unsupervised).
    labels: the original class labels (position = class id) where they are not 0..K-1.
    """

    x: np.ndarray
    y: np.ndarray | None
    task: str
    num_classes: int | None = None
    vocab: tuple[str, ...] | None = None
    labels: list | None = None


def fail(spec: DataSpec, message: str, hint: str | None = None) -> NoReturn:
    """Raise a DataError whose message starts with the data block's name."""
    raise DataError(f"data '{spec.name}': {message}", hint)


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def resolve(spec: DataSpec, path: Any) -> Path:
    """The file a relative `path` names, resolved against the spec's folder."""
    if not isinstance(path, str) or not path:
        fail(spec, f"source {spec.source} needs a `path` (got {path!r})", "add e.g. path: \"data/train.csv\"")
    p = Path(path).expanduser()
    return p if p.is_absolute() or spec.base_dir is None else Path(spec.base_dir) / p


@contextmanager
def reading(spec: DataSpec, path: Path):
    """Turn the ways opening or decoding a file can fail into DataErrors."""
    try:
        yield
    except FileNotFoundError:
        fail(spec, f"file {path} does not exist", "relative paths are resolved against the spec's folder")
    except IsADirectoryError:
        fail(spec, f"{path} is a folder, not a file", "name the data file itself")
    except PermissionError:
        fail(spec, f"cannot read {path}: permission denied", "check the file's permissions")
    except UnicodeDecodeError as e:
        fail(spec, f"{path} is not UTF-8 text (bad byte at offset {e.start})",
             "save the file as UTF-8 text; binary files cannot be read as csv or text")
    except OSError as e:
        fail(spec, f"cannot read {path}: {e.strerror or e}", "check that the file exists and is readable")


def read_text(spec: DataSpec, path: Path) -> str:
    """A UTF-8 text file's contents (a leading byte-order mark dropped); binary files refused."""
    with reading(spec, path):
        text = path.read_text(encoding="utf-8-sig")
    if "\x00" in text:
        fail(spec, f"{path} looks like a binary file (it contains NUL bytes)", "give a UTF-8 text file")
    return text


def check_finite(spec: DataSpec, a: np.ndarray, what: str, locate: Callable[[tuple], str]) -> None:
    """Refuse NaN or infinite values, giving their count and the first one's location."""
    if not np.issubdtype(a.dtype, np.floating):
        return
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        fail(spec, f"{int(bad.sum())} NaN or infinite value(s) in the {what}, the first at {locate(first)}",
             "remove or fill in the missing/invalid values before training")


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


# --- sklearn ---------------------------------------------------------------------------------

def load_sklearn(spec: DataSpec) -> Raw:
    """A dataset bundled with scikit-learn (nothing is downloaded)."""
    name = spec.args.get("name")
    if name not in SKLEARN:
        fail(spec, f"unknown scikit-learn dataset {name!r}",
             did_you_mean(str(name), list(SKLEARN)) + f"choose one of {', '.join(SKLEARN)}")
    try:
        from sklearn import datasets
    except ImportError:
        fail(spec, "scikit-learn is not installed", "pip install scikit-learn")
    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return supervised(x, y, SKLEARN[name])


# --- csv -------------------------------------------------------------------------------------

def load_csv(spec: DataSpec) -> Raw:
    """A csv file with a header row: numeric feature columns and one target column."""
    path = resolve(spec, spec.args.get("path"))
    header, rows, lines = read_rows(spec, path, spec.args.get("delimiter") or ",")
    target = spec.args.get("target")
    if target not in header:
        fail(spec, f"{path} has no target column {target!r}; its columns are {', '.join(header)}",
             did_you_mean(str(target), header) + "set `target` to one of the columns")
    columns = list(zip(*rows))
    names = [h for h in header if h != target]
    if not names:
        fail(spec, f"{path} has no feature columns besides the target {target!r}", "add feature columns")
    x = np.stack([numeric(spec, path, h, columns[header.index(h)], lines) for h in names], axis=1)
    check_finite(spec, x, f"features of {path}", lambda at: f"line {lines[at[0]]}, column '{names[at[1]]}'")
    y, task, labels = csv_target(spec, path, target, columns[header.index(target)], lines)
    return supervised(x, y, task, labels)


def read_rows(spec: DataSpec, path: Path, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
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
            elif len(row) != len(header):
                fail(spec, f"{path} line {reader.line_num} has {len(row)} fields, but the header has {len(header)}",
                     f"check the delimiter (currently {delimiter!r}) and quoting on that line")
            else:
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as e:
        fail(spec, f"{path} line {reader.line_num} is not valid csv: {e}", "check quoting on that line")
    if header is None or not rows:
        fail(spec, f"{path} is empty" if header is None else f"{path} has a header but no data rows",
             "a csv source needs a header row and at least one data row")
    return header, rows, lines


def numeric(spec: DataSpec, path: Path, column: str, values: tuple[str, ...], lines: list[int],
            hint: str = "feature columns must be numeric; fill in empty cells and encode categories as numbers",
            ) -> np.ndarray:
    """A column as float64; a non-numeric value is reported with its line and column."""
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        for value, line in zip(values, lines):
            try:
                float(value)
            except ValueError:
                fail(spec, f"{path} line {line}, column '{column}': {value!r} is not a number", hint)
        raise


def csv_target(spec: DataSpec, path: Path, column: str, values: tuple[str, ...], lines: list[int]):
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
            numeric(spec, path, column, values, lines, "a regression target must be numeric; "
                    "remove `task: regression` to treat it as class labels")
        nums = None
    if nums is not None:
        check_finite(spec, nums, f"target column '{column}' of {path}", lambda at: f"line {lines[at[0]]}")
        integral = bool(np.all(nums == np.round(nums)))
        if forced != "classification" and (forced == "regression" or not integral
                                           or len(np.unique(nums)) > MAX_CSV_CLASSES):
            return nums, "regression", None
    labels, ids = np.unique(np.array(values) if nums is None else nums, return_inverse=True)
    if nums is not None:
        labels = [int(v) if v == round(v) else float(v) for v in labels]
    return ids, "classification", [str(v) if nums is None else v for v in labels]


# --- npz -------------------------------------------------------------------------------------

def load_npz(spec: DataSpec) -> Raw:
    """Arrays from a .npz archive, loaded with allow_pickle=False (object arrays refused).

    `y` names the target array; when it is None, or the default name "y" is absent, the
    data is unsupervised. Integer (or boolean) targets are class ids, float ones regression.
    """
    path = resolve(spec, spec.args.get("path"))
    xkey, ykey = spec.args.get("x") or "x", spec.args.get("y", "y")
    with open_npz(spec, path) as archive:
        keys = list(archive.keys())
        if ykey == "y" and "y" not in keys:
            ykey = None
        for key in (xkey, ykey):
            if key is not None and key not in keys:
                fail(spec, f"{path} has no array {key!r}; it holds {', '.join(keys) or 'nothing'}",
                     did_you_mean(key, keys) + "name one of its arrays")
        x = npz_array(spec, path, archive, xkey)
        y = None if ykey is None else npz_array(spec, path, archive, ykey)
    return npz_raw(spec, path, x, y)


def open_npz(spec: DataSpec, path: Path) -> np.lib.npyio.NpzFile:
    """Open an archive without pickle; anything else (a .npy, garbage, a pickle) is refused."""
    with reading(spec, path):
        try:
            archive = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, zipfile.BadZipFile):
            fail(spec, f"{path} is not a readable .npz archive (pickled files are refused)",
                 "save the arrays with numpy.savez(path, x=..., y=...)")
    if not isinstance(archive, np.lib.npyio.NpzFile):
        fail(spec, f"{path} holds a single array, not a .npz archive", "save with numpy.savez(path, x=..., y=...)")
    return archive


def npz_array(spec: DataSpec, path: Path, archive, key: str) -> np.ndarray:
    """One array of the archive; object (pickled) arrays are refused."""
    try:
        a = archive[key]
    except (zipfile.BadZipFile, EOFError):
        fail(spec, f"{path}: array {key!r} is damaged and cannot be read", "write the archive again")
    except ValueError:
        fail(spec, f"{path}: array {key!r} holds Python objects, and loading it would unpickle them (refused)",
             "store plain numeric arrays (int or float), never object arrays")
    if a.dtype.kind not in "biuf":
        fail(spec, f"{path}: array {key!r} has dtype {a.dtype}, not numbers", "store int or float arrays")
    if a.ndim == 0 or len(a) == 0:
        fail(spec, f"{path}: array {key!r} has no examples (shape {a.shape})", "store one row per example")
    return a


def npz_raw(spec: DataSpec, path: Path, x: np.ndarray, y: np.ndarray | None) -> Raw:
    """Check the arrays' lengths and class ids, and infer the task from y's dtype."""
    if y is None:
        return supervised(x, None, "unsupervised")
    if len(x) != len(y):
        fail(spec, f"{path}: x has {len(x)} examples but y has {len(y)}", "x and y need one row per example each")
    if y.dtype.kind in "biu":
        if y.size != len(y):
            fail(spec, f"{path}: integer targets must be class ids of shape (n,), not {y.shape}",
                 "store regression targets as floats")
        if y.min() < 0:
            fail(spec, f"{path}: class ids must be >= 0 (found {int(y.min())})", "number classes 0..K-1")
        return supervised(x, y, "classification")
    return supervised(x, y, "regression")


# --- text ------------------------------------------------------------------------------------

def load_text(spec: DataSpec) -> Raw:
    """A UTF-8 text file as a stream of character or word ids (vocabulary sorted).

    x and y are the same id stream; windowing turns y into next-token targets.
    """
    path = resolve(spec, spec.args.get("path"))
    if spec.windows is None:
        fail(spec, "a text source needs `windows: {length: T}`", "add e.g. windows: {length: 32, targets: sequence}")
    level = spec.args.get("level") or "char"
    if level not in ("char", "word"):
        fail(spec, f"unknown text level {level!r}", "use level: char or level: word")
    text = read_text(spec, path)
    tokens = list(text) if level == "char" else text.split()
    vocab, ids = np.unique(np.array(tokens, dtype=str), return_inverse=True)
    ids = ids.astype(np.int32).reshape(-1)
    return Raw(ids, ids, "sequence", len(vocab), tuple(str(v) for v in vocab))


# --- synthetic -------------------------------------------------------------------------------

def load_synthetic(spec: DataSpec) -> Raw:
    """Generated data (seeded): see SYNTHETIC for the kinds."""
    kind = spec.args.get("kind")
    if kind not in SYNTHETIC:
        fail(spec, f"unknown synthetic kind {kind!r}",
             did_you_mean(str(kind), list(SYNTHETIC)) + f"choose one of {', '.join(SYNTHETIC)}")
    n = int(spec.args.get("n") or 1000)
    if n < 1:
        fail(spec, f"synthetic n must be at least 1 (got {n})", "set n: 1000")
    rng = np.random.default_rng([spec.seed, 0])
    return SYNTHETIC[kind](spec, n, float(spec.args.get("noise", 0.05)), rng)


def sine(spec: DataSpec, n: int, noise: float, rng) -> Raw:
    """A noisy sine series of n examples: windows of it, or (value, next value) pairs."""
    w = spec.windows or {}
    steps = n + int(w.get("length", 1)) + int(w.get("horizon", 1)) - 1 if w else n + 1
    t = np.arange(steps)
    series = np.sin(2 * np.pi * t / SINE_PERIOD + rng.uniform(0, 2 * np.pi)) + noise * rng.standard_normal(steps)
    series = series[:, None]
    return supervised(series, series, "regression") if w else supervised(series[:-1], series[1:], "regression")


def sine_params(spec: DataSpec, n: int, noise: float, rng) -> Raw:
    """One-to-many: x = (frequency, phase), y = sin(frequency * t + phase) for t < length."""
    length = int(spec.args.get("length") or 20)
    params = np.stack([rng.uniform(0.1, 1.0, n), rng.uniform(0, 2 * np.pi, n)], axis=1)
    y = np.sin(params[:, :1] * np.arange(length) + params[:, 1:]) + noise * rng.standard_normal((n, length))
    return supervised(params, y[:, :, None], "regression")


def xor(spec: DataSpec, n: int, noise: float, rng) -> Raw:
    """Two noisy bits; the class is their exclusive or."""
    bits = rng.integers(0, 2, (n, 2))
    return supervised(bits + noise * rng.standard_normal((n, 2)), bits[:, 0] ^ bits[:, 1], "classification")


def blobs(spec: DataSpec, n: int, noise: float, rng) -> Raw:
    """Gaussian blobs (unit spread) around random centres, classes balanced."""
    k, f = int(spec.args.get("classes") or 3), int(spec.args.get("features") or 2)
    centres = rng.normal(0, 5, (k, f))
    y = rng.permutation(np.arange(n) % k)
    return supervised(centres[y] + rng.standard_normal((n, f)), y, "classification")


SYNTHETIC = {"sine": sine, "sine_params": sine_params, "xor": xor, "blobs": blobs}

SOURCES: dict[str, Callable[[DataSpec], Raw]] = {
    "sklearn": load_sklearn, "csv": load_csv, "npz": load_npz, "text": load_text, "synthetic": load_synthetic,
}


def load_raw(spec: DataSpec) -> Raw:
    """Load a data block's source, and check its arrays are finite and of equal length."""
    if spec.source not in SOURCES:
        fail(spec, f"unknown source {spec.source!r}",
             did_you_mean(spec.source, list(SOURCES)) + f"choose one of {', '.join(SOURCES)}")
    raw = SOURCES[spec.source](spec)
    check_finite(spec, raw.x, "features", lambda at: f"example {at[0]}, feature {list(at[1:])}")
    if raw.y is not None:
        check_finite(spec, raw.y, "targets", lambda at: f"example {at[0]}")
        if len(raw.y) != len(raw.x):
            fail(spec, f"{len(raw.x)} examples but {len(raw.y)} targets", "give one target per example")
    return raw
