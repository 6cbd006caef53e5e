"""Sources that deliver several named inputs or targets (a model with several inputs or outputs):
`npz("f.npz", x=["left", "right"], y=["digit", "big"])` reads one array per name, and the names
are the model's input and output names (checked by `check`). Raw.x and Raw.y are then dicts of
arrays keyed by name, and Raw.task is "several"; runtime.several splits and prepares them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .loading import LoadRequest, Raw, did_you_mean, fail, npz_array, open_npz

SEVERAL = "several"  # Raw.task of data with named arrays


def names(value) -> list[str] | None:
    """The array names of a source argument that lists several (None: it names one array)."""
    return list(value) if isinstance(value, (list, tuple)) else None


def load_npz_named(spec: LoadRequest, path: Path, xkeys, ykeys) -> Raw:
    """One array per name: inputs keep their dtype (integers are token ids, int32), targets are
    class ids (integers, shape (n,)) or float32 regression targets ((n, k), (n,) -> (n, 1))."""
    xs = names(xkeys) or [xkeys]
    ys = names(ykeys) if ykeys is not None else []
    ys = [ykeys] if ys is None else ys
    with open_npz(spec, path) as archive:
        keys = list(archive.keys())
        for key in [*xs, *ys]:
            if key not in keys:
                fail(
                    spec,
                    f"{path} has no array {key!r}; it holds {', '.join(keys) or 'nothing'}",
                    did_you_mean(key, keys) + "name one of its arrays",
                )
        x = {k: npz_array(spec, path, archive, k) for k in xs}
        y = {k: npz_array(spec, path, archive, k) for k in ys}
    counts = {k: len(a) for k, a in {**x, **y}.items()}
    if len(set(counts.values())) > 1:
        fail(
            spec,
            f"{path}: the arrays have different numbers of examples "
            f"({', '.join(f'{k}: {n}' for k, n in counts.items())})",
            "store one row per example in every array",
        )
    x = {
        k: a.astype(np.int32) if a.dtype.kind in "biu" else a.astype(np.float32)
        for k, a in x.items()
    }
    targets = {}
    for k, a in y.items():
        if a.dtype.kind in "biu":
            if a.ndim > 2:
                fail(
                    spec,
                    f"{path}: integer targets {k!r} must be class ids of shape (n,) or one per "
                    f"step (n, steps), not {a.shape}",
                    "store regression targets as floats",
                )
            if a.min() < 0:
                fail(spec, f"{path}: array {k!r} holds negative class ids", "number classes 0..K-1")
            # (n,) or (n, 1): a class id per example; (n, steps): one per step (a sequence)
            ids = a.astype(np.int32)
            targets[k] = ids.reshape(len(a)) if ids.shape[1:] in ((), (1,)) else ids
        else:
            a = a.astype(np.float32)
            targets[k] = a[:, None] if a.ndim == 1 else a
    # a name given as a string (not a list) is the one input or target: a plain array
    xs_out = x if names(xkeys) else x[xkeys]
    ys_out = targets if names(ykeys) else targets.get(ykeys) if ykeys is not None else None
    raw = Raw(xs_out, ys_out, SEVERAL)  # type: ignore[arg-type]
    raw.origin = str(path)
    return raw
