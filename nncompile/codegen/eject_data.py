"""`data.py` of an ejected folder: nncompile's data pipeline for one data block as plain numpy code.

It reproduces `runtime/data.py` step by step for the block's settings -- load the source, keep
`classes`, cut windows, the seeded (stratified) split, the train subset, normalisation with train
statistics, reshape, one-hot -- so an ejected program trains on exactly the arrays `nncompile train`
uses. Only the steps a block uses are written: fixed code (`Snippet`s written here) called with the
block's values rendered as literals, so no spec text becomes code. The source's own loader is the
source entry's standalone form (`Source.standalone`, registry/sources.py).
"""

from __future__ import annotations

from ..expr import Snippet, in_order, pretty, render
from ..registry.standalone import StandaloneLoader
from ..runconfig import Data
from .eject_weights import read_lines

# ---- the pipeline's steps -----------------------------------------------------------------------
KEEP_CLASSES = Snippet(
    "keep_classes",
    '''
def keep_classes(x, y, wanted):
    """Only the rows of the `wanted` classes, relabelled 0..K-1 in the listed order."""
    relabel = np.full(int(y.max()) + 1, -1, dtype=np.int32)
    relabel[wanted] = np.arange(len(wanted))
    keep = relabel[y] >= 0
    return x[keep], relabel[y[keep]]
''',
)

WINDOWS = Snippet(
    "windows",
    '''
def windows(x, y, length, horizon, targets, cap, stride=1):
    """Sliding windows x[i:i+length], one every `stride` rows; targets "last":
    y[i+length-1+horizon], "sequence": y[i+horizon:i+horizon+length]. At most `cap` windows, with
    evenly spaced starts."""
    count = len(x) - length - horizon + 1
    starts = np.arange(0, count, stride)
    if len(starts) > cap:
        starts = starts[np.linspace(0, len(starts) - 1, cap).round().astype(np.int64)]
    steps = np.arange(length)
    if targets == "last":
        return x[starts[:, None] + steps], y[starts + length - 1 + horizon]
    return x[starts[:, None] + steps], y[starts[:, None] + steps + horizon]
''',
)

SHARES = Snippet(
    "shares",
    '''
def shares(n, fractions):
    """Split n items by fractions (largest remainder), each part at least 1 when n allows."""
    exact = np.asarray(fractions) * n
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact, kind="stable")[: max(0, n - counts.sum())]] += 1
    while n >= len(counts) and counts.min() == 0:
        counts[counts.argmax()] -= 1
        counts[counts.argmin()] += 1
    return counts
''',
)

SPLIT = Snippet(
    "split_indices",
    '''
def split_indices(n, labels, shuffle):
    """Row indices of each split: a seeded shuffle, stratified by class when there are labels."""
    perm = np.random.default_rng([SEED, 1]).permutation(n) if shuffle else np.arange(n)
    groups = [np.arange(n)]
    if labels is not None:
        groups = [np.flatnonzero(labels[perm] == c) for c in np.unique(labels)]
    parts = {k: [] for k in SPLIT}
    for pos in groups:
        counts = shares(len(pos), list(SPLIT.values()))
        for k, chunk in zip(SPLIT, np.split(pos, np.cumsum(counts)[:-1])):
            parts[k].append(chunk)
    return {k: perm[np.sort(np.concatenate(v))] for k, v in parts.items()}
''',
    (SHARES,),
)

SUBSET = Snippet(
    "subset",
    '''
def subset(index, labels, fraction):
    """Keep `fraction` of the train rows, per class when there are labels (at least 1 each)."""
    rng = np.random.default_rng([SEED, 2])
    own = None if labels is None else labels[index]
    groups = [np.arange(len(index))]
    if own is not None:
        groups = [np.flatnonzero(own == c) for c in np.unique(own)]
    keep = [rng.permutation(g)[: max(1, round(len(g) * fraction))] for g in groups]
    return index[np.sort(np.concatenate(keep))]
''',
)

NORMALISE = Snippet(
    "fit",
    '''
def fit(a, method, axes):
    """(shift, scale) per feature over the first `axes` axes (all but the last if -1): "standard" =
    mean and standard deviation, "minmax" = minimum and range; a zero spread becomes 1."""
    a = a.astype(np.float64)
    over = tuple(range(a.ndim - 1 if axes < 0 else min(axes, a.ndim)))
    if method == "standard":
        shift, scale = a.mean(axis=over), a.std(axis=over)
    else:
        shift = a.min(axis=over)
        scale = a.max(axis=over) - shift
    scale = np.where(scale > 1e-12, scale, 1.0)
    return shift.astype(np.float32), scale.astype(np.float32)


def normalise(a, stats):
    shift, scale = stats
    return ((a - shift) / scale).astype(np.float32)
''',
)


def data_py(title: str, d: Data, seed: int, loader: StandaloneLoader, tokens: bool) -> str:
    """data.py for a RunConfig's data block and its source's loader (`title`: safe text; `tokens`:
    the source gives token ids, task "sequence": not normalised, windows' targets sequences)."""
    windowed = d.windows is not None
    steps: list[Snippet] = []
    body = [f"    x, y, task = {render(loader.call)}"]
    weighing, weight_steps, weight_imports = read_lines(d, loader)  # `sample_weight`
    body += weighing
    steps += weight_steps
    if d.classes:
        steps.append(KEEP_CLASSES)
        if weighing:
            body.append(f"    w = w[np.isin(y, {render([int(c) for c in d.classes])})]")
        body.append(f"    x, y = keep_classes(x, y, {render([int(c) for c in d.classes])})")
    if d.one_hot:
        body.append("    classes = int(y.max()) + 1")
    if d.windows is not None:
        w = d.windows
        targets = w.targets or ("sequence" if tokens else "last")
        cap = int(d.args.get("max_windows") or 20000)
        steps.append(WINDOWS)
        body.append(
            f"    x, y = windows(x, y, {render(int(w.length))}, {render(int(w.horizon))}, "
            f"{render(str(targets))}, {render(cap)}"
            + (f", stride={render(int(w.stride))})" if w.stride != 1 else ")")
        )
        body.append("    labels = None  # windows are split in time order, not by class")
    else:
        body.append('    labels = y if task == "classification" else None  # stratify by class')
    shuffle = bool(d.shuffle) and not windowed
    steps.append(SPLIT)
    body.append(f"    index = split_indices(len(x), labels, shuffle={render(shuffle)})")
    if float(d.subset) != 1.0:
        steps.append(SUBSET)
        body.append(
            f'    index["train"] = subset(index["train"], labels, {render(float(d.subset))})'
        )
    body.append("    splits = {k: (x[i], y[i]) for k, i in index.items()}")
    if weighing:
        body += ["    global WEIGHTS", "    WEIGHTS = {k: w[i] for k, i in index.items()}"]
    normalize, target = str(d.normalize), str(d.normalize_target)
    if normalize != "none" and not tokens:
        steps.append(NORMALISE)
        axes = 2 if windowed else 1
        body.append(
            f'    stats = fit(splits["train"][0], {render(normalize)}, axes={axes})  # train only'
        )
        body.append("    splits = {k: (normalise(a, stats), b) for k, (a, b) in splits.items()}")
    if target != "none":
        steps.append(NORMALISE)
        body.append('    if task == "regression":')
        body.append(f'        stats = fit(splits["train"][1], {render(target)}, axes=-1)')
        body.append("        global TARGET_SCALE")
        body.append("        TARGET_SCALE = stats[1]")
        body.append(
            "        splits = {k: (a, normalise(b, stats)) for k, (a, b) in splits.items()}"
        )
    if d.reshape:
        shape = tuple(int(n) for n in d.reshape)
        body.append(
            f"    splits = {{k: (a.reshape(len(a), *{render(shape)}), b)"
            " for k, (a, b) in splits.items()}"
        )
    if d.one_hot:
        body.append("    eye = np.eye(classes, dtype=np.float32)")
        body.append("    splits = {k: (a, eye[b]) for k, (a, b) in splits.items()}")
    if d.target == "input":
        body.append("    # target: input")
        body.append("    splits = {k: (a, a.copy()) for k, (a, _) in splits.items()}")
    body.append("    return splits")

    imports = sorted(
        set(loader.imports)
        | set(weight_imports)
        | ({"from pathlib import Path"} if loader.files else set())
    )
    lines = [
        f'"""{title}',
        "",
        "`load()` returns the splits {name: (x, y)}: the same rows, in the same order and with the",
        "same normalisation as nncompile's runtime prepares them.",
        '"""',
        *[i for i in imports if i.startswith("import")],
        *[i for i in imports if i.startswith("from")],
        *([""] if imports else []),
        "import numpy as np",
        "",
        *(
            ['DATA = Path(__file__).resolve().parent / "data"  # copied by nncompile eject']
            if loader.files
            else []
        ),
        f"SEED = {render(seed)}  # the train block's seed: the split is drawn from it",
        f"SPLIT = {pretty({str(k): float(v) for k, v in d.split.items()})}",
        *(
            ["TARGET_SCALE = 1.0  # set by load(): the spread normalize_target divided targets by"]
            if target != "none"
            else []
        ),
        *(["WEIGHTS = None  # set by load(): each split's sample weights"] if weighing else []),
        "",
        "",
    ]
    for snippet in in_order(list(loader.snippets)) + in_given_order(steps):
        lines += [snippet.code.strip("\n"), "", ""]
    lines += [
        "def load():",
        '    """The splits {"train"|"val"|"test": (x, y)}, ready for the model."""',
        *body,
    ]
    return "\n".join(lines) + "\n"


def in_given_order(snippets: list[Snippet]) -> list[Snippet]:
    """The snippets in the given order, each after what it needs, each once."""
    out: list[Snippet] = []

    def visit(s: Snippet) -> None:
        if s not in out:
            for dep in s.needs:
                visit(dep)
            out.append(s)

    for s in snippets:
        visit(s)
    return out
