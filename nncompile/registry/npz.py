"""The `npz` source: arrays of a NumPy .npz archive, loaded without pickle. Integer arrays are ids
(token ids as features, class ids as targets, one per example or one per step), float arrays values.
`check` reads the arrays' headers (shapes and dtypes), never their data."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from ..expr import Snippet, call
from . import Params
from .loading import (
    LoadRequest,
    Raw,
    SourceInfo,
    data_path,
    did_you_mean,
    fail,
    npz_array,
    npz_raw,
    open_npz,
    resolve,
)
from .lowering import changed
from .several import load_npz_named, names
from .standalone import SUPERVISED, EjectRequest, StandaloneLoader, data_file


class Npz(Params):
    path: Annotated[str, Field(min_length=1)]
    # an array name, or a list of names: one array per model input / output, named like them
    x: str | Annotated[list[str], Field(min_length=1)] = "x"
    y: str | Annotated[list[str], Field(min_length=1)] | None = "y"
    sample_weight: str | None = None  # the array of each example's weight in the training loss


def npz_header(path: Path, key: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """An archived array's shape and dtype, read from its header (the data is not read)."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as f:
        major, _ = np.lib.format.read_magic(f)
        fmt = np.lib.format
        read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
        shape, _, dtype = read(f)
    return tuple(shape), dtype


def npz_info(p: Npz, base: Path | None) -> SourceInfo:
    """Shapes and kinds from the arrays' headers, when the archive is there: integer features are
    token ids; integer targets class ids (per step when they have more than one axis)."""
    path = data_path(p.path, base)
    if not isinstance(p.x, str) or not (p.y is None or isinstance(p.y, str)):
        return SourceInfo(None, None, None)  # named arrays: checked by name against the model
    try:
        if not path.is_file():
            return SourceInfo(None, None, None)
        x = npz_header(path, p.x)
        with zipfile.ZipFile(path) as archive:
            has_y = p.y is not None and f"{p.y}.npy" in archive.namelist()
        y = npz_header(path, p.y) if has_y and p.y is not None else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return SourceInfo(None, None, None)  # load reports what is wrong
    if x is None or not x[0] or x[1].kind not in "biuf":
        return SourceInfo(None, None, None)
    shape = x[0][1:] or (1,)
    task = None
    if y is not None and y[0] and y[1].kind in "biuf":
        ids = y[1].kind in "biu"
        per_step = ids and math.prod(y[0][1:]) != 1
        task = ("sequence" if per_step else "classification") if ids else "regression"
    return SourceInfo(tuple(shape), None, task, tokens=x[1].kind in "iu")


def load_npz(spec: LoadRequest) -> Raw:
    """Arrays from a .npz archive, loaded with allow_pickle=False (object arrays refused).

    `y` names the target array; when it is None, or the default name "y" is absent, the
    data is unsupervised. Integer (or boolean) targets are class ids, float ones regression.
    """
    path = resolve(spec, spec.args.get("path"))
    xkey, ykey = spec.args.get("x") or "x", spec.args.get("y", "y")
    if names(xkey) or names(ykey):  # several named inputs or targets
        return load_npz_named(spec, path, xkey, ykey)
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
    raw = npz_raw(spec, path, x, y)
    raw.origin = f"{path}, array {ykey!r}" if ykey is not None else str(path)
    return raw


LOAD_NPZ = Snippet(
    "load_npz",
    '''
def load_npz(path, x="x", y="y"):
    """Arrays of a .npz archive, loaded without pickle: integer features are token ids, integer
    targets class ids (one per example, or one per step: task "sequence")."""
    with np.load(path, allow_pickle=False) as archive:
        features, targets = archive[x], archive[y]
    if targets.dtype.kind in "biu" and targets.size != len(targets):
        x, _, _ = supervised(features, targets[:, 0], "classification")
        y, task = targets.astype(np.int32), "sequence"
    else:
        task = "classification" if targets.dtype.kind in "biu" else "regression"
        x, y, task = supervised(features, targets, task)
    if features.dtype.kind in "iu":
        x = features.astype(np.int32).reshape(x.shape)
    return x, y, task
''',
    (SUPERVISED,),
)


def npz_standalone(p: Npz, request: EjectRequest) -> StandaloneLoader:
    path, files = data_file(p.path, request.base)
    extra = changed(x=(p.x, "x"), y=(p.y, "y"))
    return StandaloneLoader(call("load_npz", path, **extra), (LOAD_NPZ,), files=files)


def npz_example(folder: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(folder / "example.npz", x=rng.normal(size=(12, 3)), y=np.arange(12) % 2)
