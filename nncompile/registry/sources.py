"""Data sources: what `check` can know about each before loading (`info`, the files it reads, the
shape of its regression targets), its loader (`load`, run by the runtime; numpy only, scikit-learn
is imported inside the sklearn loader) and its standalone form (`standalone`, the loader's code for
an ejected folder)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from ..expr import Snippet, call
from ..source import read_regular
from . import Entry, Params, Registry
from .bounds import MAX_EXAMPLES
from .bundled import read_bundled
from .datafiles import csv_features, csv_problems, npz_problems
from .loading import (
    LoadRequest,
    Raw,
    SourceInfo,
    check_finite,
    csv_steps,
    csv_target,
    csv_tokens,
    data_path,
    did_you_mean,
    fail,
    numeric,
    read_rows,
    read_text,
    resolve,
    supervised,
)
from .lowering import changed
from .npz import Npz, load_npz, npz_example, npz_info, npz_standalone
from .sampleweights import attach, excluded
from .several import SEVERAL, finite_named, load_csv_named
from .standalone import SUPERVISED, EjectRequest, StandaloneLoader, data_file
from .synthetic import (
    Synthetic,
    load_synthetic,
    synthetic_info,
    synthetic_standalone,
    synthetic_targets,
)

Positive = Annotated[int, Field(ge=1)]


def unknown(p: Any, base: Path | None) -> SourceInfo:
    return SourceInfo(None, None, None)


@dataclass(frozen=True, kw_only=True)
class Source(Entry):
    """Everything the pipeline knows about one source name.

    - ``info(p, base)``: what is known before loading (``base``: the spec's folder, or None);
    - ``files``: the arguments that name files (check warns when they are missing);
    - ``check_files(p, base)``: what the loader would refuse, read from the files' headers by
      `check` ((message, hint) pairs; registry.datafiles);
    - ``target_shape(p, windows)``: the per-example regression target shape, when known;
    - ``load(spec) -> Raw``: the loader (the runtime calls it);
    - ``standalone(p, request) -> StandaloneLoader``: the loader as code for `nncompile eject`
      (fixed snippets and a call on the arguments as literals; None: the source cannot be ejected);
    - ``example`` (+ ``example_files(folder)``, writing the files it names): a tiny use, for the
      table tests.
    """

    info: Callable[[Any, Path | None], SourceInfo] = unknown
    files: tuple[str, ...] = ()
    check_files: Callable[[Any, Path | None], list[tuple[str, str]]] = lambda p, base: []
    target_shape: Callable[[Any, Any], tuple[int, ...] | None] = lambda p, windows: None
    load: Callable[[LoadRequest], Raw]
    standalone: Callable[[Any, EjectRequest], StandaloneLoader] | None = None
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
    found = read_bundled(name, SKLEARN[name][0])  # its file read directly: no sklearn import
    if found is None:
        try:
            from sklearn import datasets
        except ImportError:
            fail(spec, "scikit-learn is not installed", "pip install scikit-learn")
        found = getattr(datasets, f"load_{name}")(return_X_y=True)
    x, y = found
    return supervised(x, y, "classification" if SKLEARN[name][1] else "regression")


LOAD_SKLEARN = Snippet(
    "load_sklearn",
    '''
def load_sklearn(name, task):
    """A dataset bundled with scikit-learn (nothing is downloaded)."""
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return supervised(x, y, task)
''',
    (SUPERVISED,),
)


def sklearn_standalone(p: Sklearn, request: EjectRequest) -> StandaloneLoader:
    task = sklearn_info(p, None).task
    return StandaloneLoader(
        call("load_sklearn", p.name, task), (LOAD_SKLEARN,), requires=("scikit-learn",)
    )


# --- csv -------------------------------------------------------------------------------------
class Csv(Params):
    path: Annotated[str, Field(min_length=1)]
    # one column; a list: one per step (targets per time step); a dict: one target per model
    # output, {output: column}
    target: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[str], Field(min_length=1)]
        | Annotated[dict[str, str], Field(min_length=1)]
    )
    inputs: dict[str, Annotated[list[str], Field(min_length=1)]] | None = None  # column groups
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    task: Literal["classification", "regression"] | None = None
    tokens: bool = False  # the feature columns are integer token ids
    sample_weight: str | None = None  # the column of each example's weight in the training loss


def csv_info(p: Csv, base: Path | None) -> SourceInfo:
    """The feature count from the header row, when the file is there (the task: from the values)."""
    features = csv_features(p, base)
    shape = (features,) if features is not None else None
    if isinstance(p.target, dict) or p.inputs:  # named arrays: checked by name (semantics.several)
        return SourceInfo(shape, None, p.task)
    per_step = isinstance(p.target, list) and p.task != "regression"
    return SourceInfo(shape, None, "sequence" if per_step else p.task, tokens=p.tokens)


def load_csv(spec: LoadRequest) -> Raw:
    """A csv file with a header row: numeric feature columns (or token ids, `tokens`) and one target
    column, or several (`target: [a, b, c]`: one per step); column groups (`inputs`) and one target
    per output (`target: {out: column}`) are read by registry.several."""
    if spec.args.get("inputs") or isinstance(spec.args.get("target"), dict):
        return load_csv_named(spec)
    path = resolve(spec, spec.args.get("path"))
    header, rows, lines = read_rows(spec, path, spec.args.get("delimiter") or ",")
    target = spec.args.get("target")
    targets = target if isinstance(target, list) else [target]
    for name in targets:
        if name not in header:
            fail(
                spec,
                f"{path} has no target column {name!r}; its columns are {', '.join(header)}",
                did_you_mean(str(name), header) + "set `target` to columns of the file",
            )
    columns = list(zip(*rows, strict=True))
    names = [h for h in header if h not in targets + excluded(spec)]
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
    if isinstance(target, list):
        values = [columns[header.index(name)] for name in target]
        raw = csv_steps(spec, path, target, values, lines)
    else:
        column = str(target)
        y, task, labels = csv_target(spec, path, column, columns[header.index(column)], lines)
        raw = supervised(x, y, task, labels)
    if spec.args.get("tokens"):
        raw.x = csv_tokens(spec, path, x, names)
    elif isinstance(target, list):
        raw.x = supervised(x, None, "unsupervised").x
    raw.origin = f"{path}, column{'s' if isinstance(target, list) else ''} {target!r}"
    return raw


CSV_TARGET = Snippet(
    "csv_target",
    '''
def csv_target(x, values, task=None):
    """Features with the target column's text values: non-numeric targets, and integer ones with at
    most 20 distinct values, are class labels (class ids in sorted label order); other targets are
    regression targets. `task` forces either."""
    try:
        nums = np.array(values, dtype=np.float64)
    except ValueError:
        nums = None
    if nums is not None and task != "classification":
        integral = np.all(nums == np.round(nums))
        if task == "regression" or not integral or len(np.unique(nums)) > 20:
            return supervised(x, nums, "regression")
    _, ids = np.unique(np.array(values) if nums is None else nums, return_inverse=True)
    return supervised(x, ids, "classification")
''',
    (SUPERVISED,),
)

LOAD_CSV = Snippet(
    "load_csv",
    '''
def load_csv(path, target, delimiter=",", task=None, tokens=False):
    """A csv file with a header row: numeric feature columns (token ids with `tokens`) and the
    `target` column, or a list of target columns (class ids per step)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [[cell.strip() for cell in row] for row in reader if any(cell.strip() for cell in row)]
    header, columns = rows[0], list(zip(*rows[1:]))
    targets = target if isinstance(target, list) else [target]
    names = [h for h in header if h not in targets]
    x = np.stack([np.array(columns[header.index(h)], dtype=np.float64) for h in names], axis=1)
    if not isinstance(target, list):
        x, y, task = csv_target(x, columns[header.index(target)], task)
    else:
        cells = np.array([columns[header.index(h)] for h in target]).T
        try:
            y = cells.astype(np.float64)
        except ValueError:
            y = np.unique(cells, return_inverse=True)[1].reshape(cells.shape)
        if task == "regression" or not np.all(y == np.round(y)):
            y, task = y.astype(np.float32), "regression"
        else:
            y, task = y.astype(np.int32), "sequence"
        x = x.astype(np.float32)
    return (x.astype(np.int32) if tokens else x), y, task
''',
    (CSV_TARGET,),
)


def csv_standalone(p: Csv, request: EjectRequest) -> StandaloneLoader:
    path, files = data_file(p.path, request.base)
    extra = changed(delimiter=(p.delimiter, ","), task=(p.task, None), tokens=(p.tokens, False))
    imports = ("import csv", "import io", "from pathlib import Path")
    return StandaloneLoader(
        call("load_csv", path, p.target, **extra), (LOAD_CSV,), imports, files=files
    )


# --- text ------------------------------------------------------------------------------------
class Text(Params):
    path: Annotated[str, Field(min_length=1)]
    level: Literal["char", "word"] = "char"
    max_windows: Annotated[int, Field(ge=1, le=MAX_EXAMPLES)] = 20000


CHECK_BYTES = 64 * 2**20  # `check` reads a text source to count its vocabulary up to this size


def text_info(p: Text, base: Path | None) -> SourceInfo:
    """The vocabulary size, read from the file when it is there (cheap, no imports)."""
    path = data_path(p.path, base)
    try:  # a FIFO or a device (/dev/zero) is not read; nor more than CHECK_BYTES
        data = read_regular(path, CHECK_BYTES)
        if len(data) > CHECK_BYTES:
            return SourceInfo(None, None, "sequence", stream=True)  # known when it is loaded
        text = data.decode("utf-8-sig")  # (as loading reads it: a BOM is no token)
    except (OSError, UnicodeDecodeError):
        return SourceInfo(None, None, "sequence", stream=True)
    tokens = set(text) if p.level == "char" else set(text.split())
    return SourceInfo(None, len(tokens), "sequence", len(tokens), stream=True)


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
    return Raw(ids, ids, "sequence", len(vocab), tuple(str(v) for v in vocab), origin=str(path))


LOAD_TEXT = Snippet(
    "load_text",
    '''
def load_text(path, level="char"):
    """A UTF-8 text file as a stream of character (or word) ids, the vocabulary sorted."""
    text = Path(path).read_text(encoding="utf-8-sig")
    tokens = list(text) if level == "char" else text.split()
    _, ids = np.unique(np.array(tokens, dtype=str), return_inverse=True)
    ids = ids.astype(np.int32).reshape(-1)
    return ids, ids, "sequence"
''',
)


def text_standalone(p: Text, request: EjectRequest) -> StandaloneLoader:
    path, files = data_file(p.path, request.base)
    extra = changed(level=(p.level, "char"))
    imports = ("from pathlib import Path",)
    return StandaloneLoader(call("load_text", path, **extra), (LOAD_TEXT,), imports, files=files)


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
            standalone=sklearn_standalone,
            example={"name": "iris"},
        ),
        Source(
            "csv",
            Csv,
            ("path",),
            "a CSV file with a header row; `target` names the label column (a list: one per step; "
            "`{out: column}`: one per output), `inputs={a: [columns], ...}` groups columns into "
            "named inputs, `sample_weight` names the column of each example's loss weight",
            info=csv_info,
            files=("path",),
            check_files=csv_problems,
            load=load_csv,
            standalone=csv_standalone,
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
            "a NumPy .npz archive (loaded without pickle): integer arrays are ids, float arrays "
            "values; `x`/`y` name its arrays (lists: one per model input / output, named like "
            "them), `sample_weight` the array of each example's loss weight",
            info=npz_info,
            files=("path",),
            check_files=npz_problems,
            load=load_npz,
            standalone=npz_standalone,
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
            standalone=text_standalone,
            example={"path": "example.txt"},
            example_files=lambda folder: (folder / "example.txt").write_text(
                "abracadabra " * 4, encoding="utf-8"
            ),
        ),
        Source(
            "synthetic",
            Synthetic,
            ("kind",),
            "generated data: sine series, sine_params, xor, blobs, addition (`features` digits "
            "per operand)",
            info=synthetic_info,
            target_shape=synthetic_targets,
            load=load_synthetic,
            standalone=synthetic_standalone,
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
    raw = attach(spec, entry.load(spec))  # `sample_weight=` (registry.sampleweights)
    if raw.task == SEVERAL:  # named arrays (registry.several)
        return finite_named(spec, raw)
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
