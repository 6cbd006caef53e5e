"""Data sources: what `check` can know about each before loading (`info`, the files it reads, the
shape of its regression targets) and its loader (`load`, run by the runtime; numpy only,
scikit-learn is imported inside the sklearn loader)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from . import Entry, Params, Registry
from .loading import (
    LoadRequest,
    Raw,
    SourceInfo,
    check_finite,
    csv_target,
    did_you_mean,
    fail,
    npz_array,
    npz_raw,
    numeric,
    open_npz,
    read_rows,
    read_text,
    resolve,
    supervised,
)
from .synthetic import Synthetic, load_synthetic, synthetic_info, synthetic_targets

Positive = Annotated[int, Field(ge=1)]


def unknown(p: Any, base: Path | None) -> SourceInfo:
    return SourceInfo(None, None, None)


@dataclass(frozen=True, kw_only=True)
class Source(Entry):
    """Everything the pipeline knows about one source name.

    - ``info(p, base)``: what is known before loading (``base``: the spec's folder, or None);
    - ``files``: the arguments that name files (check warns when they are missing);
    - ``target_shape(p, windows)``: the per-example regression target shape, when known;
    - ``load(spec) -> Raw``: the loader (the runtime calls it);
    - ``example`` (+ ``example_files(folder)``, writing the files it names): a tiny use, for the
      table tests.
    """

    info: Callable[[Any, Path | None], SourceInfo] = unknown
    files: tuple[str, ...] = ()
    target_shape: Callable[[Any, Any], tuple[int, ...] | None] = lambda p, windows: None
    load: Callable[[LoadRequest], Raw]
    example: Mapping[str, Any]
    example_files: Callable[[Path], object] | None = None


# --- sklearn ---------------------------------------------------------------------------------
# Bundled with scikit-learn: features, classes (None = regression).
SKLEARN = {
    "digits": (64, 10),
    "iris": (4, 3),
    "wine": (13, 3),
    "breast_cancer": (30, 2),
    "diabetes": (10, None),
}


class Sklearn(Params):
    name: Literal["digits", "iris", "wine", "breast_cancer", "diabetes"]


def sklearn_info(p: Sklearn, base: Path | None) -> SourceInfo:
    features, classes = SKLEARN[p.name]
    return SourceInfo((features,), classes, "classification" if classes else "regression")


def load_sklearn(spec: LoadRequest) -> Raw:
    """A dataset bundled with scikit-learn (nothing is downloaded)."""
    name = spec.args.get("name")
    if name not in SKLEARN:
        fail(
            spec,
            f"unknown scikit-learn dataset {name!r}",
            did_you_mean(str(name), list(SKLEARN)) + f"choose one of {', '.join(SKLEARN)}",
        )
    try:
        from sklearn import datasets
    except ImportError:
        fail(spec, "scikit-learn is not installed", "pip install scikit-learn")
    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return supervised(x, y, "classification" if SKLEARN[name][1] else "regression")


# --- csv -------------------------------------------------------------------------------------
class Csv(Params):
    path: Annotated[str, Field(min_length=1)]
    target: Annotated[str, Field(min_length=1)]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    task: Literal["classification", "regression"] | None = None


def load_csv(spec: LoadRequest) -> Raw:
    """A csv file with a header row: numeric feature columns and one target column."""
    path = resolve(spec, spec.args.get("path"))
    header, rows, lines = read_rows(spec, path, spec.args.get("delimiter") or ",")
    target = spec.args.get("target")
    if target not in header:
        fail(
            spec,
            f"{path} has no target column {target!r}; its columns are {', '.join(header)}",
            did_you_mean(str(target), header) + "set `target` to one of the columns",
        )
    columns = list(zip(*rows, strict=True))
    names = [h for h in header if h != target]
    if not names:
        fail(
            spec,
            f"{path} has no feature columns besides the target {target!r}",
            "add feature columns",
        )
    x = np.stack([numeric(spec, path, h, columns[header.index(h)], lines) for h in names], axis=1)
    check_finite(
        spec, x, f"features of {path}", lambda at: f"line {lines[at[0]]}, column '{names[at[1]]}'"
    )
    y, task, labels = csv_target(spec, path, target, columns[header.index(target)], lines)
    return supervised(x, y, task, labels)


# --- npz -------------------------------------------------------------------------------------
class Npz(Params):
    path: Annotated[str, Field(min_length=1)]
    x: str = "x"
    y: str | None = "y"


def load_npz(spec: LoadRequest) -> Raw:
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
                fail(
                    spec,
                    f"{path} has no array {key!r}; it holds {', '.join(keys) or 'nothing'}",
                    did_you_mean(key, keys) + "name one of its arrays",
                )
        x = npz_array(spec, path, archive, xkey)
        y = None if ykey is None else npz_array(spec, path, archive, ykey)
    return npz_raw(spec, path, x, y)


def npz_example(folder: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(folder / "example.npz", x=rng.normal(size=(12, 3)), y=np.arange(12) % 2)


# --- text ------------------------------------------------------------------------------------
class Text(Params):
    path: Annotated[str, Field(min_length=1)]
    level: Literal["char", "word"] = "char"
    max_windows: Positive = 20000


def text_info(p: Text, base: Path | None) -> SourceInfo:
    """The vocabulary size, read from the file when it is there (cheap, no imports)."""
    path = Path(p.path) if base is None else base / p.path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return SourceInfo(None, None, "sequence")
    tokens = set(text) if p.level == "char" else set(text.split())
    return SourceInfo(None, len(tokens), "sequence", len(tokens))


def load_text(spec: LoadRequest) -> Raw:
    """A UTF-8 text file as a stream of character or word ids (vocabulary sorted).

    x and y are the same id stream; windowing turns y into next-token targets.
    """
    path = resolve(spec, spec.args.get("path"))
    if spec.windows is None:
        fail(
            spec,
            "a text source needs `windows: {length: T}`",
            "add e.g. windows: {length: 32, targets: sequence}",
        )
    level = spec.args.get("level") or "char"
    if level not in ("char", "word"):
        fail(spec, f"unknown text level {level!r}", "use level: char or level: word")
    text = read_text(spec, path)
    tokens = list(text) if level == "char" else text.split()
    vocab, inverse = np.unique(np.array(tokens, dtype=str), return_inverse=True)
    ids = inverse.astype(np.int32).reshape(-1)
    return Raw(ids, ids, "sequence", len(vocab), tuple(str(v) for v in vocab))


SOURCES = Registry(
    "source",
    [
        Source(
            "sklearn",
            Sklearn,
            ("name",),
            "a dataset bundled with scikit-learn",
            info=sklearn_info,
            target_shape=lambda p, windows: (1,),
            load=load_sklearn,
            example={"name": "iris"},
        ),
        Source(
            "csv",
            Csv,
            ("path",),
            "a CSV file with a header row; `target` names the label column",
            info=lambda p, base: SourceInfo(None, None, p.task),
            files=("path",),
            load=load_csv,
            example={"path": "example.csv", "target": "y"},
            example_files=lambda folder: (folder / "example.csv").write_text(
                "a,b,y\n" + "".join(f"{i},{i % 3 * 0.5},{i % 2}\n" for i in range(12)),
                encoding="utf-8",
            ),
        ),
        Source(
            "npz",
            Npz,
            ("path",),
            "a NumPy .npz archive (loaded without pickle)",
            files=("path",),
            load=load_npz,
            example={"path": "example.npz"},
            example_files=npz_example,
        ),
        Source(
            "text",
            Text,
            ("path",),
            "a UTF-8 text file as a token stream (characters or words)",
            info=text_info,
            files=("path",),
            load=load_text,
            example={"path": "example.txt"},
            example_files=lambda folder: (folder / "example.txt").write_text(
                "abracadabra " * 4, encoding="utf-8"
            ),
        ),
        Source(
            "synthetic",
            Synthetic,
            ("kind",),
            "generated data: sine series, sine_params, xor, blobs",
            info=synthetic_info,
            target_shape=synthetic_targets,
            load=load_synthetic,
            example={"kind": "blobs", "n": 30},
        ),
    ],
)


def load_raw(spec: LoadRequest) -> Raw:
    """Load a data block's source, and check its arrays are finite and of equal length."""
    entry = SOURCES.get(spec.source)
    if entry is None:
        fail(
            spec,
            f"unknown source {spec.source!r}",
            did_you_mean(spec.source, list(SOURCES)) + f"choose one of {', '.join(SOURCES)}",
        )
    raw = entry.load(spec)
    check_finite(spec, raw.x, "features", lambda at: f"example {at[0]}, feature {list(at[1:])}")
    if raw.y is not None:
        check_finite(spec, raw.y, "targets", lambda at: f"example {at[0]}")
        if len(raw.y) != len(raw.x):
            fail(
                spec,
                f"{len(raw.x)} examples but {len(raw.y)} targets",
                "give one target per example",
            )
    return raw
