"""The standalone loader of each data source, for `nncompile eject` (data.py of an ejected folder).

`STANDALONE[source](args, windows, seed, base, task)` is a `Loader`: fixed code (`Snippet`s written
here, the same steps as the source's runtime loader) and a call whose arguments are the data block's
values rendered as literals, so no spec text becomes code. The call gives (x, y, task) as the
runtime's `Raw` holds them. (The lead moves these onto the source entries.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..expr import Expr, Snippet, Sym, call, t

SUPERVISED = Snippet(
    "supervised",
    '''
def supervised(x, y, task):
    """float32 features (n, ...) with int32 class ids (n,) or float32 targets (n, k, ...)."""
    x = np.asarray(x, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    if task == "classification":
        return x, np.asarray(y).astype(np.int32).reshape(len(y)), task
    y = np.asarray(y, dtype=np.float32)
    return x, y[:, None] if y.ndim == 1 else y, task
''',
)

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

LOAD_CSV = Snippet(
    "load_csv",
    '''
def load_csv(path, target, delimiter=",", task=None):
    """A csv file with a header row: numeric feature columns and the `target` column.

    Non-numeric targets, and integer ones with at most 20 distinct values, are class labels (class
    ids in sorted label order); other targets are regression targets. `task` forces either.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [[cell.strip() for cell in row] for row in reader if any(cell.strip() for cell in row)]
    header, columns = rows[0], list(zip(*rows[1:]))
    names = [h for h in header if h != target]
    x = np.stack([np.array(columns[header.index(h)], dtype=np.float64) for h in names], axis=1)
    values = columns[header.index(target)]
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

LOAD_NPZ = Snippet(
    "load_npz",
    '''
def load_npz(path, x="x", y="y"):
    """Arrays of a .npz archive, loaded without pickle: integer targets are class ids."""
    with np.load(path, allow_pickle=False) as archive:
        features, targets = archive[x], archive[y]
    task = "classification" if targets.dtype.kind in "biu" else "regression"
    return supervised(features, targets, task)
''',
    (SUPERVISED,),
)

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

SINE = Snippet(
    "sine",
    '''
def sine(n, noise, seed, window=None):
    """A noisy sine series (period 50 steps, random phase): the series itself when it is cut into
    windows (`window` = (length, horizon)), otherwise (value, next value) pairs."""
    rng = np.random.default_rng([seed, 0])
    steps = n + window[0] + window[1] - 1 if window else n + 1
    t = np.arange(steps)
    phase = rng.uniform(0, 2 * np.pi)
    series = np.sin(2 * np.pi * t / 50 + phase) + noise * rng.standard_normal(steps)
    series = series[:, None]
    if window:
        return supervised(series, series, "regression")
    return supervised(series[:-1], series[1:], "regression")
''',
    (SUPERVISED,),
)

SINE_PARAMS = Snippet(
    "sine_params",
    '''
def sine_params(n, noise, seed, length):
    """x = (frequency, phase), y = sin(frequency * t + phase) + noise for t < length."""
    rng = np.random.default_rng([seed, 0])
    params = np.stack([rng.uniform(0.1, 1.0, n), rng.uniform(0, 2 * np.pi, n)], axis=1)
    y = np.sin(params[:, :1] * np.arange(length) + params[:, 1:])
    y = y + noise * rng.standard_normal((n, length))
    return supervised(params, y[:, :, None], "regression")
''',
    (SUPERVISED,),
)

XOR = Snippet(
    "xor",
    '''
def xor(n, noise, seed):
    """Two noisy bits; the class is their exclusive or."""
    rng = np.random.default_rng([seed, 0])
    bits = rng.integers(0, 2, (n, 2))
    x = bits + noise * rng.standard_normal((n, 2))
    return supervised(x, bits[:, 0] ^ bits[:, 1], "classification")
''',
    (SUPERVISED,),
)

BLOBS = Snippet(
    "blobs",
    '''
def blobs(n, noise, seed, classes, features):
    """Gaussian blobs (unit spread) around random centres, classes balanced."""
    rng = np.random.default_rng([seed, 0])
    centres = rng.normal(0, 5, (classes, features))
    y = rng.permutation(np.arange(n) % classes)
    return supervised(centres[y] + rng.standard_normal((n, features)), y, "classification")
''',
    (SUPERVISED,),
)


@dataclass(frozen=True)
class Loader:
    """How data.py loads a source: `call` gives (x, y, task); `files` are copied into data/."""

    call: Expr
    snippets: tuple[Snippet, ...]
    imports: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # what to pip install besides jax, flax, optax, numpy
    files: dict[str, Path] = field(default_factory=dict)  # name in data/ -> the file to copy


def data_file(args: dict, base: Path | None) -> tuple[Expr, dict[str, Path]]:
    """`DATA / "<name>"` for the source's `path` (relative paths: from the spec's folder)."""
    path = Path(str(args["path"])).expanduser()
    path = path if path.is_absolute() or base is None else base / path
    return t("DATA / {name}", name=path.name), {path.name: path}


def sklearn_loader(
    args: dict, windows: dict | None, seed: int, base: Path | None, task: str | None
) -> Loader:
    return Loader(
        call("load_sklearn", str(args["name"]), task or "classification"),
        (LOAD_SKLEARN,),
        requires=("scikit-learn",),
    )


def csv_loader(
    args: dict, windows: dict | None, seed: int, base: Path | None, task: str | None
) -> Loader:
    path, files = data_file(args, base)
    extra = {k: args[k] for k in ("delimiter", "task") if args.get(k) not in (None, ",")}
    return Loader(
        call("load_csv", path, str(args["target"]), **extra),
        (LOAD_CSV,),
        ("import csv", "import io", "from pathlib import Path"),
        files=files,
    )


def npz_loader(
    args: dict, windows: dict | None, seed: int, base: Path | None, task: str | None
) -> Loader:
    path, files = data_file(args, base)
    extra = {k: args[k] for k in ("x", "y") if args.get(k) not in (None, k)}
    return Loader(
        call("load_npz", path, **extra), (LOAD_NPZ,), ("from pathlib import Path",), files=files
    )


def text_loader(
    args: dict, windows: dict | None, seed: int, base: Path | None, task: str | None
) -> Loader:
    path, files = data_file(args, base)
    extra = {"level": args["level"]} if args.get("level") not in (None, "char") else {}
    return Loader(
        call("load_text", path, **extra), (LOAD_TEXT,), ("from pathlib import Path",), files=files
    )


def synthetic_loader(
    args: dict, windows: dict | None, seed: int, base: Path | None, task: str | None
) -> Loader:
    kind = str(args["kind"])
    common = {
        "n": int(args.get("n") or 1000),
        "noise": float(args.get("noise", 0.05)),
        "seed": Sym("SEED"),
    }
    if kind == "sine":
        window = (
            (int(windows.get("length", 1)), int(windows.get("horizon", 1))) if windows else None
        )
        return Loader(call("sine", **common, window=window), (SINE,))
    if kind == "sine_params":
        return Loader(
            call("sine_params", **common, length=int(args.get("length") or 20)), (SINE_PARAMS,)
        )
    if kind == "xor":
        return Loader(call("xor", **common), (XOR,))
    if kind == "blobs":
        shape = {
            "classes": int(args.get("classes") or 3),
            "features": int(args.get("features") or 2),
        }
        return Loader(call("blobs", **common, **shape), (BLOBS,))
    raise ValueError(f"unknown synthetic kind {kind!r}")


# The standalone loader of each source (the lead moves these onto the source entries).
STANDALONE: dict[str, Callable[[dict, dict | None, int, Path | None, str | None], Loader]] = {
    "sklearn": sklearn_loader,
    "csv": csv_loader,
    "npz": npz_loader,
    "text": text_loader,
    "synthetic": synthetic_loader,
}
