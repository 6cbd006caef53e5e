"""scikit-learn's bundled datasets read from its data files with numpy: the arrays of
`sklearn.datasets.load_<name>(return_X_y=True)`, bit for bit, without importing scikit-learn.

Importing `sklearn.datasets` costs ~1 CPU-second (scipy and most of the package) to read a file of
at most 100 KB: as much as a population of 16 W1 trials spends on its run folders, and paid by
every process that trains on `sklearn("digits")`. The files are read as scikit-learn's own loaders
read them (`load_gzip_compressed_csv_data`, `load_csv_data`); diabetes's features are scaled as
`load_diabetes` scales them (`sklearn.preprocessing.scale`, then divided by the square root of the
number of rows), with the same numpy operations in the same order. `read_bundled` gives None when a
file is not where scikit-learn keeps it, does not read, or does not have the dataset's shape: the
caller then imports scikit-learn and uses its loader.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from pathlib import Path

import numpy as np

# dataset: its file in sklearn/datasets/data/ (scikit-learn 1.x)
FILES = {
    "digits": "digits.csv.gz",
    "iris": "iris.csv",
    "wine": "wine_data.csv",
    "breast_cancer": "breast_cancer.csv",
    "diabetes": "diabetes_data_raw.csv.gz",
}
DIABETES_TARGET = "diabetes_target.csv.gz"  # next to its features


def read_bundled(name: str, features: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(x float64 [n, features], y int; diabetes: y float64) of a bundled dataset, or None (use
    scikit-learn)."""
    path = data_file(name)
    if path is None:
        return None
    try:
        if name == "digits":
            x, y = _digits(path)
        elif name == "diabetes":
            x, y = _diabetes(path)
        else:
            x, y = _headed_csv(path)
    except (OSError, ValueError, IndexError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None
    if x.ndim != 2 or x.shape[1] != features or y.shape != (len(x),) or not len(x):
        return None
    return x, y


def data_file(name: str) -> Path | None:
    """Where the installed scikit-learn keeps a dataset's file (found without importing it)."""
    if name not in FILES:
        return None
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / FILES[name]
    return path if path.is_file() else None


def _digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    # load_digits: the pixels then the digit, comma-separated, gzipped
    with gzip.open(path, mode="rt", encoding="utf-8") as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :-1], data[:, -1].astype(int, copy=False)


def _diabetes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    # load_diabetes(scaled=True): two whitespace-separated gzipped files; the features centred and
    # scaled to unit variance by sklearn.preprocessing.scale, then divided by sqrt(n_samples)
    with gzip.open(path, mode="rt", encoding="utf-8") as f:
        x = np.loadtxt(f)
    with gzip.open(path.with_name(DIABETES_TARGET), mode="rt", encoding="utf-8") as f:
        y = np.loadtxt(f)
    return _scale(x) / x.shape[0] ** 0.5, y


def _scale(x: np.ndarray) -> np.ndarray:
    """sklearn.preprocessing.scale(x, copy=False) of a dense float array without NaN: the same
    operations in the same order (nanmean and nanstd, its second centring where the first leaves
    a mean not close to zero, a near-constant column's scale 1), so the same bits."""
    mean = np.nanmean(x, axis=0)
    scale = np.nanstd(x, axis=0)
    x -= mean
    mean_1 = np.nanmean(x, axis=0)
    if not np.allclose(mean_1, 0):
        x -= mean_1
    scale[scale < 10 * np.finfo(scale.dtype).eps] = 1.0
    x /= scale
    mean_2 = np.nanmean(x, axis=0)
    if not np.allclose(mean_2, 0):
        x -= mean_2
    return x


def _headed_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    # load_csv_data: a first row "n_samples,n_features,<class names>", then features and class
    with path.open("r", encoding="utf-8") as f:
        rows = csv.reader(f)
        head = next(rows)
        n, d = int(head[0]), int(head[1])
        x = np.empty((n, d))
        y = np.empty((n,), dtype=int)
        count = 0
        for i, row in enumerate(rows):
            x[i] = np.asarray(row[:-1], dtype=np.float64)
            y[i] = np.asarray(row[-1], dtype=int)
            count = i + 1
    if count != n:
        raise ValueError(f"{path.name}: {count} rows, its header says {n}")
    return x, y
