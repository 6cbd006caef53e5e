"""Transfer learning: another run's parameters, loaded layer by layer (`init: checkpoint(...)`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from ..errors import NncompileError
from ..registry.runpaths import missing_init_run as missing_init_run
from ..registry.runpaths import pretrain_hint as pretrain_hint
from .checkpoint_files import quiet
from .digest import array_type, flat, path_str
from .runrecord import resolve_run


class TransferError(NncompileError):
    """`init: checkpoint(...)` cannot load what it names. `problems`: (message, hint) per layer."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        problems: list[tuple[str, str | None]] | None = None,
    ):
        super().__init__(message, hint)
        self.problems = problems or [(message, hint)]


@dataclass(frozen=True)
class Loaded:
    """What `load_layers` found: the model's state with the loaded layers replaced (as
    Trainer.state() gives "model"; load it with `trainer.load_state({"model": ...})`), the layers
    loaded and those skipped."""

    state: dict
    loaded: list[str]
    skipped: list[str]


def read_params(run_dir: str | os.PathLike) -> dict:
    """A run folder's params/ as a nested dict of numpy arrays, read without knowing its program."""
    import orbax.checkpoint as ocp

    path = resolve_run(run_dir).absolute() / "params"
    checkpointer = ocp.StandardCheckpointer()
    try:
        with quiet():
            return jax.device_get(checkpointer.restore(path))
    except Exception as e:
        raise TransferError(
            f"cannot read the parameters in {path}: {type(e).__name__}: "
            f"{str(e).splitlines()[0][:300] if str(e) else ''}",
            "train that run again: its params/ folder is incomplete or damaged",
        ) from None
    finally:
        checkpointer.close()


def load_layers(
    model, run_dir: str | os.PathLike, layers: list[str] | None = None, *, here: str = "this model"
) -> Loaded:
    """The parameters (and BatchNorm statistics) of `layers` of another run, in `model`'s state.

    Layers are matched by their attribute name in the emitted model (`Features`, `dense_1`); every
    array inside a layer must have the same path and shape in both. `layers=None` loads every layer
    whose name and shapes match and skips the others. RNG state (dropout keys) is never copied.
    Raises TransferError (with one problem per layer) when a listed layer is missing from the run or
    does not fit; `here` names the model in those messages.
    """
    from flax import nnx

    from .state import to_pure

    run = Path(run_dir)
    source = read_params(run)
    current = nnx.state(model)
    kinds = {"/".join(map(str, path)): v for path, v in nnx.to_flat_state(current)}
    target = to_pure(current)
    theirs = dict(flat(source))
    ours = dict(flat(target))
    wanted = [str(k) for k in target] if layers is None else list(layers)
    problems: list[tuple[str, str | None]] = []
    loaded, skipped = [], []
    updates: dict[str, np.ndarray] = {}
    for name in wanted:
        mine = {
            p: a
            for p, a in ours.items()
            if p.split("/")[0] == name and not isinstance(kinds.get(p), nnx.RngState)
        }
        other = {p: a for p, a in theirs.items() if p.split("/")[0] == name and not _rng_path(p)}
        if not other:
            if layers is None:
                skipped.append(name)
                continue
            available = sorted({p.split("/")[0] for p in theirs if not _rng_path(p)})
            problems.append(
                (
                    f"layer '{name}' is not in {run} (its layers: {', '.join(available)})",
                    f"leave '{name}' out of `layers`, or name the layer in this model as in the "
                    "run",
                )
            )
            continue
        bad = _mismatch(name, mine, other, run, here, _describe(run))
        if bad:
            if layers is None:
                skipped.append(name)
                continue
            problems.append(bad)
            continue
        updates.update({p: other[p] for p in mine})
        loaded.append(name)
    if problems:
        raise TransferError(problems[0][0], problems[0][1], problems)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(target)
    new = [
        np.asarray(updates[path_str(p)]).astype(np.asarray(old).dtype)
        if path_str(p) in updates
        else old
        for p, old in leaves
    ]
    return Loaded(jax.tree_util.tree_unflatten(treedef, new), loaded, skipped)


def _describe(run: Path) -> str:
    """ "model X of spec.nn" from a run folder's spec.json, when it has one."""
    try:
        config = json.loads((run / "spec.json").read_text())["config"]
        return f"model {config['model']} of {config['spec']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its model"


def _rng_path(path: str) -> bool:
    parts = path.split("/")
    return "rngs" in parts and parts[-1] in ("key", "count")


def _mismatch(
    name: str, mine: dict, other: dict, run: Path, here: str, there: str
) -> tuple[str, str] | None:
    hint = (
        f"'{name}' of {run} is a different layer: give the new layer another name (bind it, e.g. "
        f"`head = dense(...)`) or leave '{name}' out of `layers`"
    )
    diffs = []
    for path in sorted(set(mine) | set(other), key=lambda p: (-np.ndim({**other, **mine}[p]), p)):
        a, b = mine.get(path), other.get(path)
        short = path.split("/", 1)[1] if "/" in path else path
        if a is None or b is None:
            diffs.append(f"{short} exists only in {'this model' if a is not None else run}")
        elif tuple(np.shape(a)) != tuple(np.shape(b)):
            diffs.append(
                f"{short} is {array_type(np.shape(a), np.asarray(a).dtype)} here but "
                f"{array_type(np.shape(b), np.asarray(b).dtype)} there"
            )
    if not diffs:
        return None
    return (
        f"layer '{name}' of {here} does not fit '{name}' of {run} ({there}): " + "; ".join(diffs),
        hint,
    )
