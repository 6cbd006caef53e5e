"""Sample weights in an ejected folder (`sample_weight=` of an npz or csv source): data.py reads
them next to the source's loader and splits them with the targets into `WEIGHTS`; train.py passes
each batch's weights to model.py's `train_step(..., sample_weight=...)` and each split's to
`eval_step`, as nncompile's runtime does (runtime.sampleweight).
"""

from __future__ import annotations

from typing import Any

from ..expr import Call, Snippet, render
from ..registry.standalone import StandaloneLoader
from ..runconfig import Data

NPZ_WEIGHTS = Snippet(
    "npz_weights",
    '''
def npz_weights(path, name):
    """The archive's array of each example's weight in the training loss (`sample_weight`)."""
    with np.load(path, allow_pickle=False) as archive:
        return archive[name].astype(np.float32).reshape(-1)
''',
)

CSV_WEIGHTS = Snippet(
    "csv_weights",
    '''
def csv_weights(path, name, targets, delimiter=","):
    """The column of each example's weight in the training loss (`sample_weight`), and its place
    among the columns load_csv read as features (it is no feature: load() removes it from x)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [[cell.strip() for cell in row] for row in reader if any(cell.strip() for cell in row)]
    header = rows[0]
    features = [h for h in header if h not in targets]
    column = header.index(name)
    weights = np.array([row[column] for row in rows[1:]], dtype=np.float64).astype(np.float32)
    return weights, features.index(name)
''',
)


def weight_name(d: Data) -> str | None:
    name = d.args.get("sample_weight")
    return str(name) if name is not None else None


def read_lines(d: Data, loader: StandaloneLoader) -> tuple[list[str], list[Snippet], list[str]]:
    """data.py's lines that read the weights `w` after the loader, their snippets and imports."""
    name = weight_name(d)
    if name is None:
        return [], [], []
    assert isinstance(loader.call, Call)  # load_npz(path, ...), load_csv(path, ...)
    path = loader.call.args[0]  # the source file's path expression (`DATA / "<file>"`)
    if d.source == "npz" and isinstance(d.args.get("x") or "x", str):
        return [f"    w = npz_weights({render(path)}, {render(name)})"], [NPZ_WEIGHTS], []
    target: Any = d.args.get("target")
    if d.source == "csv" and not isinstance(target, dict) and not d.args.get("inputs"):
        targets = list(target) if isinstance(target, list) else [str(target)]
        delimiter = str(d.args.get("delimiter") or ",")
        call = f"csv_weights({render(path)}, {render(name)}, {render(targets)}"
        call += f", {render(delimiter)})" if delimiter != "," else ")"
        lines = [f"    w, at = {call}", "    x = np.delete(x, at, axis=1)  # no feature"]
        return lines, [CSV_WEIGHTS], ["import csv", "import io", "from pathlib import Path"]
    # named arrays: a model with several inputs or outputs, which eject refuses before this
    raise AssertionError(f"sample weights of {d.source} with named arrays are not ejected")


TRAIN_BATCH = """def train_batch(model, optimizer, x, y, key, i):
    return train_step(model, optimizer, x, y, jax.random.fold_in(key, i))"""
WEIGHED_BATCH = """def train_batch(model, optimizer, x, y, key, i, w):
    # sample_weight: each example's weight in the training loss (data.py's WEIGHTS)
    return train_step(model, optimizer, x, y, jax.random.fold_in(key, i), sample_weight=w)"""
EVAL_BATCH = """def eval_batch(model, x, y):
    return eval_step(model, x, y)"""
WEIGHED_EVAL = """def eval_batch(model, x, y, w):
    return eval_step(model, x, y, sample_weight=w)"""
EVALUATE = """def evaluate(model, x, y, size=4096):
    \"\"\"Loss and metrics of a split in evaluation mode (dropout off).\"\"\"
    model.eval()
    results = [eval_batch(model, x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]"""
WEIGHED_EVALUATE = """def evaluate(model, x, y, w, size=4096):
    \"\"\"Loss (each example weighed by w) and metrics of a split in evaluation mode.\"\"\"
    model.eval()
    results = [
        eval_batch(model, x[i:i + size], y[i:i + size], w[i:i + size])
        for i in range(0, len(x), size)
    ]"""
STEP_CALL = "train_batch(model, optimizer, x[batch], y[batch], key, i)"
WEIGHED_CALL = "train_batch(model, optimizer, x[batch], y[batch], key, i, w[batch])"
TAKE = '    w = data.WEIGHTS["train"]  # sample_weight: the training examples\' weights\n'


def weighed_loop(text: str) -> str:
    """train.py's functions or main loop with each batch's weights passed to train_step."""
    assert TRAIN_BATCH in text or STEP_CALL in text, "train.py's loop changed"
    for plain, weighed in (
        (TRAIN_BATCH, WEIGHED_BATCH),
        (STEP_CALL, WEIGHED_CALL),
        (EVAL_BATCH, WEIGHED_EVAL),
        (EVALUATE, WEIGHED_EVALUATE),
        ('*splits["val"])', '*splits["val"], data.WEIGHTS["val"])'),
        ('*splits["test"])', '*splits["test"], data.WEIGHTS["test"])'),
    ):
        text = text.replace(plain, weighed)
    return text
