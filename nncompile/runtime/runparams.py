"""Restoring a run folder's params/ into a trainer: checked before Orbax reads anything.

Three checks turn what Orbax would report as a tree comparison or a TensorStore error into one
NncompileError saying what differs and what to do:
  1. the files of params/ against the SHA-256 digests run.json recorded (damage, missing files);
  2. the arrays Orbax's metadata lists (names, shapes, dtypes) against the program's model;
  3. the restore itself (anything left, e.g. a run written before run.json), under
     `checkpoint_files.quiet` (no "Event loop is closed" reports from reads still in flight).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np

from ..errors import NncompileError
from .checkpoint_files import quiet
from .digest import flat
from .runrecord import read_record, verify_params


class RestoreError(NncompileError):
    """A run's parameters cannot be restored into this program."""


def restore_params(run_dir: str | os.PathLike, trainer, record: dict | None = None) -> None:
    """Load `run_dir/params` into `trainer` (runtime.outputs.Trainer); RestoreError otherwise."""
    import orbax.checkpoint as ocp

    run = Path(run_dir).absolute()
    path = run / "params"
    if record is None:
        record = read_record(run)
    verify_params(run, record)
    model = trainer.state()["model"]
    checkpointer = ocp.StandardCheckpointer()
    try:
        with quiet():
            try:
                meta = checkpointer.metadata(path).item_metadata
            except Exception as e:
                raise _damaged(run, e) from None
            if meta is None or getattr(meta, "tree", None) is None:
                raise _damaged(run, "its metadata is unreadable")
            tree = meta.tree
            check_structure(run, tree, model, recorded=record is not None)
            target = jax.tree.map(ocp.utils.to_shape_dtype_struct, model)
            try:
                restored = checkpointer.restore(path, target)
            except Exception as e:
                raise _damaged(run, e) from None
    finally:
        checkpointer.close()
    trainer.load_state({"model": restored})


def check_structure(run: Path, tree, model, recorded: bool = False) -> None:
    """The arrays of a run's params/ (Orbax metadata) against the model's state: RestoreError with
    the first differences."""
    have = {
        p: (tuple(m.shape), str(np.dtype(m.dtype))) for p, m in flat(tree) if hasattr(m, "shape")
    }
    want = {p: (tuple(np.shape(a)), str(np.dtype(a.dtype))) for p, a in flat(model)}
    problems = [f"{p} is not in the run" for p in sorted(set(want) - set(have))]
    problems += [f"the run has {p}, this model does not" for p in sorted(set(have) - set(want))]
    for p in sorted(set(want) & set(have)):
        if have[p] != want[p]:
            (hs, hd), (ws, wd) = have[p], want[p]
            problems.append(
                f"{p}: the run has {hd}{list(hs)}, this model {wd}{list(ws)}"
                if hd != wd
                else f"{p}: the run has shape {list(hs)}, this model {list(ws)}"
            )
    if problems:
        shown = "; ".join(problems[:4]) + (
            f"; and {len(problems) - 4} more" if len(problems) > 4 else ""
        )
        raise RestoreError(
            f"{run} was trained by another model: {shown}",
            (
                "leave out FILE and --set to use the spec the run recorded, or give "
                if recorded
                else "give "
            )
            + "the spec and --set values that trained it",
        )


def _damaged(run: Path, e: Exception | str) -> RestoreError:
    if isinstance(e, str):
        detail = e
    else:
        first = (str(e).splitlines() or [""])[0].split(" See full TensorStore details")[0]
        detail = f"{type(e).__name__}: {first[:200]}"
    return RestoreError(
        f"cannot read the parameters in {run / 'params'}: they are damaged or incomplete "
        f"({detail})",
        "train the run again (or restore the folder from a copy)",
    )
