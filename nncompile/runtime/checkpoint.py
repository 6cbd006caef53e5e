"""Training checkpoints (`checkpoint: {every, keep}`), resuming, and loading another run's layers.

A run folder's checkpoints live in `<run>/checkpoints/<epoch>/`, written by Orbax's CheckpointManager:

    <epoch>/state/   the Trainer's state(): model (parameters, BatchNorm statistics, dropout RNG key and
                     count) and optimizer (optax state, step count) as plain dicts of arrays, PRNG keys
                     as raw key data; plus "best": the best epoch's state when `restore_best` needs it
    <epoch>/meta/    JSON: the epoch, the history so far, the early-stopping state, the seed and batch
                     layout (the data order is a function of (seed, epoch)), the freeze phase, a
                     fingerprint of the state's structure and the SHA-256 of its bytes

Why resuming is exact: the data order of epoch e is drawn from (seed, e), the dropout and
augmentation keys from (seed, e) and the model's RNG state, the learning-rate schedule's step
lives in the optimizer state. Restoring model + optimizer state, `epochs_done`, the early-stopping
counters and the history at an epoch boundary therefore continues the same computation; on CPU the
final parameters are bitwise those of an uninterrupted run.

Atomicity: Orbax writes each checkpoint into `<epoch>.orbax-checkpoint-tmp-*` and renames it into
place when complete; old checkpoints are retired by renaming them into `.deleted/` before they are
removed, so a process killed at any moment leaves every `<epoch>/` folder complete and readable.
SIGINT is held back while a checkpoint is written and delivered right after.

Safety: nothing is unpickled. Arrays are read by tensorstore into a target of known shapes and
dtypes, the metadata with `json`; the state's SHA-256 is checked after reading, so a corrupt,
truncated or foreign checkpoint is a CheckpointError (nothing in the run folder is changed).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from ..errors import NncompileError

FORMAT = "nncompile-checkpoint"
VERSION = 1
DELETED = ".deleted"

_absl_quiet = logging.getLogger("absl")


class CheckpointError(NncompileError):
    """A checkpoint cannot be written, found or read back."""


class TransferError(NncompileError):
    """`init: checkpoint(...)` cannot load what it names. `problems` holds one (message, hint) per layer."""

    def __init__(self, message: str, hint: str | None = None, problems: list[tuple[str, str | None]] | None = None):
        super().__init__(message, hint)
        self.problems = problems or [(message, hint)]


# ---- state digests ----------------------------------------------------------------------------------
def _flat(tree) -> list[tuple[str, Any]]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return sorted(("/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path), leaf) for path, leaf in leaves)


def fingerprint(tree) -> list[list]:
    """[path, shape, dtype] of every leaf, sorted by path: what a checkpoint must match to be restored."""
    return [[path, list(np.shape(leaf)), str(np.dtype(leaf.dtype))] for path, leaf in _flat(tree)]


def sha256(tree) -> str:
    """SHA-256 over every leaf's path, dtype, shape and bytes (sorted by path): equal iff bitwise equal."""
    h = hashlib.sha256()
    for path, leaf in _flat(tree):
        a = np.ascontiguousarray(np.asarray(jax.device_get(leaf)))
        h.update(f"{path}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _differences(want: list[list], have: list[list], limit: int = 3) -> list[str]:
    a, b = {p: (s, d) for p, s, d in want}, {p: (s, d) for p, s, d in have}
    out = []
    for path in sorted(set(a) | set(b)):
        if path not in b:
            out.append(f"{path} is missing from the checkpoint")
        elif path not in a:
            out.append(f"the checkpoint has {path}, which this program does not")
        elif a[path] != b[path]:
            out.append(f"{path} is {_fmt(*b[path])} in the checkpoint but {_fmt(*a[path])} here")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def _fmt(shape, dtype) -> str:
    return f"{dtype}[{', '.join(map(str, shape))}]"


# ---- where checkpoints are ------------------------------------------------------------------------
def steps(directory: str | os.PathLike) -> list[int]:
    """Epochs with a complete checkpoint in `directory` (renamed into place), oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit() and p.is_dir())


def read_meta(step_dir: Path) -> dict:
    """The JSON metadata of one checkpoint (CheckpointError when it is missing or not ours)."""
    path = step_dir / "meta" / "metadata"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{step_dir} is not a readable checkpoint: its metadata cannot be read ({e})",
                              _older_hint(step_dir)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{step_dir} is not an nncompile training checkpoint", _older_hint(step_dir))
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{step_dir} has checkpoint format version {meta.get('version')}; this nncompile "
                              f"reads version {VERSION}")
    return meta


def _older_hint(step_dir: Path) -> str | None:
    older = [s for s in steps(step_dir.parent) if str(s) != step_dir.name and s < int(step_dir.name or 0)] \
        if step_dir.name.isdigit() else []
    if older:
        return (f"move {step_dir} out of the way to resume from the checkpoint of epoch {older[-1]}, "
                "or train from the start without --resume")
    return "train from the start without --resume"


@contextlib.contextmanager
def sigint_deferred():
    """Hold back Ctrl-C while the block runs (a checkpoint write); deliver it when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:          # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


# ---- writing -------------------------------------------------------------------------------------------
def _supported(trainer) -> bool:
    from .loop import Trainer
    return isinstance(trainer, Trainer)


def _meta(trainer, history, state: dict, best: dict | None) -> dict:
    import flax
    import optax

    from .. import __version__
    cfg, b = trainer.config, trainer.batching
    stopping = trainer.stopping
    return {
        "format": FORMAT, "version": VERSION,
        "spec": cfg.get("spec"), "train": cfg.get("train"), "model": cfg.get("model"),
        "epoch": trainer.epochs_done, "epochs": int(cfg["epochs"]), "seed": trainer.seed,
        "train_examples": len(trainer.splits["train"][0]), "batch_size": b.size, "steps_per_epoch": b.updates,
        "frozen": trainer.frozen,
        "history": history.epochs if history is not None else [],
        "best_epoch": history.best_epoch if history is not None else None,
        "stopping": None if stopping is None else {"key": stopping.key, "best": stopping.best,
                                                  "best_epoch": stopping.best_epoch, "wait": stopping.wait},
        "fingerprint": fingerprint(state),
        "sha256": {"state": sha256(state), **({"best": sha256(best)} if best is not None else {})},
        "versions": {"nncompile": __version__, "jax": jax.__version__, "flax": flax.__version__,
                     "optax": optax.__version__},
    }


class Checkpointer:
    """A Trainer callback writing `<directory>/<epoch>/` every `every` epochs, keeping the newest `keep`.

    `every=None` writes only when training is interrupted (Ctrl-C), so that any run can be resumed.
    A fresh (not resumed) fit replaces the checkpoints of an earlier run in `directory` when it
    writes its first one. `restore(trainer)` loads the newest checkpoint to continue from it.
    """

    def __init__(self, directory: str | os.PathLike, every: int | None = None, keep: int = 3,
                 log: Callable[[str], None] | None = None):
        self.directory = Path(directory).absolute()
        self.every = every
        self.keep = max(int(keep), 1)
        self.log = log or (lambda line: None)
        self.history = None
        self.saved: int | None = None          # the epoch of the newest checkpoint this object wrote
        self.resumed: int | None = None        # the epoch restore() continued from
        self._manager = None
        self._enabled = True

    @classmethod
    def for_config(cls, run_dir: str | os.PathLike, config: dict, log=None) -> "Checkpointer":
        """The checkpointer of a run folder: `checkpoint: {every, keep}` from CONFIG, else interrupt-only."""
        spec = config.get("checkpoint") or {}
        return cls(Path(run_dir) / "checkpoints", spec.get("every"), spec.get("keep", 3), log)

    # ---- callback hooks ------------------------------------------------------------------------------
    def on_fit_start(self, trainer, history) -> None:
        self.history = history
        if not _supported(trainer):
            self._enabled = False
            if self.every:
                self.log("checkpoints are written for supervised programs only; this run writes none")

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        if self._enabled and self.every and epoch % self.every == 0:
            self.save(trainer)

    def on_fit_end(self, trainer, history) -> None:
        if self._enabled and history.interrupted and trainer.epochs_done > 0 and self.saved != trainer.epochs_done:
            self.save(trainer)
        self.close()

    # ---- saving ----------------------------------------------------------------------------------------
    def save(self, trainer) -> Path:
        """Write the trainer's state at the end of epoch `trainer.epochs_done`; returns its folder."""
        import orbax.checkpoint as ocp

        epoch = trainer.epochs_done
        with sigint_deferred():
            manager = self._open()
            if epoch in manager.all_steps():     # already written (e.g. just before an interrupt)
                self.saved = epoch
                return self.directory / str(epoch)
            state = trainer.state()
            best = self._best(trainer, epoch)
            meta = _meta(trainer, self.history, state, best)
            items = {"state": ocp.args.StandardSave(state), "meta": ocp.args.JsonSave(meta)}
            if best is not None:
                items["best"] = ocp.args.StandardSave(best)
            manager.save(epoch, args=ocp.args.Composite(**items), force=True)
            manager.wait_until_finished()
            write_manifest(self.directory / str(epoch))
            shutil.rmtree(self.directory / DELETED, ignore_errors=True)
        self.saved = epoch
        return self.directory / str(epoch)

    def _best(self, trainer, epoch: int) -> dict | None:
        """The best epoch's state, when `restore_best` will need it and it is not the current state."""
        history = self.history
        if trainer.best_state is None or history is None or history.best_epoch in (None, epoch):
            return None
        from flax import nnx

        from .loop import to_pure
        best = trainer.best_state
        best = best if isinstance(best, nnx.State) else trainer._state_of(best)
        return {"model": to_pure(best[0]), "optimizer": to_pure(best[1])}

    def _open(self):
        import orbax.checkpoint as ocp

        if self._manager is None:
            if self.resumed is None and steps(self.directory):
                self.log(f"replacing the checkpoints of an earlier run in {self.directory} (epochs "
                         f"{', '.join(map(str, steps(self.directory)))}); `--resume` continues a run instead")
                _retire(self.directory)
            options = ocp.CheckpointManagerOptions(
                preservation_policy=ocp.checkpoint_managers.LatestN(self.keep),
                enable_async_checkpointing=False, todelete_subdir=DELETED, create=True)
            self._manager = ocp.CheckpointManager(self.directory, options=options)
        return self._manager

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    # ---- resuming ------------------------------------------------------------------------------------------
    def restore(self, trainer, epochs: int | None = None) -> dict:
        """Load the newest complete checkpoint into `trainer` (see `restore`); later saves go on from it."""
        meta = restore(trainer, self.directory, epochs=epochs, log=self.log)
        self.resumed = self.saved = meta["epoch"]
        return meta


def _retire(directory: Path) -> None:
    """Remove a checkpoints folder: renamed away first (one atomic step), then deleted."""
    gone = directory.with_name(f".{directory.name}-replaced-{os.getpid()}")
    os.replace(directory, gone)
    shutil.rmtree(gone, ignore_errors=True)


# ---- restoring ------------------------------------------------------------------------------------------
def restore(trainer, directory: str | os.PathLike, *, step: int | None = None, epochs: int | None = None,
            log: Callable[[str], None] | None = None) -> dict:
    """Load checkpoint `step` (default: the newest complete one) of `directory` into `trainer`.

    The trainer must be freshly built from the same program and data. Afterwards `trainer.fit()`
    continues from the end of that epoch up to `epochs` in all (default: CONFIG["epochs"]).
    Returns the checkpoint's metadata. Raises CheckpointError, leaving the directory untouched.
    """
    from .loop import Resume, Stopping

    log = log or (lambda line: None)
    directory = Path(directory).absolute()
    if not _supported(trainer):
        raise CheckpointError("resuming is supported for supervised programs only, not GANs")
    found = steps(directory)
    if not found:
        raise CheckpointError(f"no checkpoint to resume from in {directory}",
                              "train without --resume first (Ctrl-C writes a checkpoint; `checkpoint: {every: N}` "
                              "in the train block writes one every N epochs)")
    step = found[-1] if step is None else step
    if step not in found:
        raise CheckpointError(f"no complete checkpoint of epoch {step} in {directory}",
                              f"the complete ones are epochs {', '.join(map(str, found))}")
    step_dir = directory / str(step)
    meta = read_meta(step_dir)
    _check_compatible(trainer, meta, step_dir)
    if meta.get("frozen") is False and trainer.frozen:
        trainer.unfreeze()                 # the checkpoint is past `unfreeze_after`
    target = trainer.state()
    have = fingerprint(target)
    if meta.get("fingerprint") != have:
        written = f"train {meta.get('train')} of {meta.get('spec')} (model {meta.get('model')})"
        raise CheckpointError(f"{step_dir} was written by {written} and does not fit this program: "
                              + "; ".join(_differences(have, meta.get("fingerprint") or [])),
                              "resume with the spec (and --set values) that wrote it, or train from the start "
                              "without --resume")
    verify_manifest(step_dir)
    state = _read(step_dir / "state", target)
    if sha256(state) != meta.get("sha256", {}).get("state"):
        raise CheckpointError(f"{step_dir} is corrupt: its arrays do not match the checksum written with them",
                              _older_hint(step_dir))
    best = None
    if "best" in meta.get("sha256", {}):
        best = _read(step_dir / "best", target)
        if sha256(best) != meta["sha256"]["best"]:
            raise CheckpointError(f"{step_dir} is corrupt: its best-epoch state does not match its checksum",
                                  _older_hint(step_dir))
    trainer.load_state(state)
    trainer.epochs_done = int(meta["epoch"])
    total = int(trainer.config["epochs"]) if epochs is None else int(epochs)
    if total != meta["epochs"]:
        log(f"the checkpoint's run had {meta['epochs']} epochs; continuing to {total} (a learning-rate schedule "
            "over the epochs keeps the original length)")
    s = meta.get("stopping") or {}
    resume = Resume(epochs=[dict(e) for e in meta.get("history") or []], best_epoch=meta.get("best_epoch"),
                    best=s.get("best"), stopping_epoch=s.get("best_epoch"), wait=int(s.get("wait") or 0),
                    best_state=best)
    trainer.resume = resume
    es = trainer.config.get("early_stopping") or {}
    exhausted = Stopping(s.get("key") or "loss", es.get("patience"), best=s.get("best"),
                         best_epoch=s.get("best_epoch"), wait=int(s.get("wait") or 0)).exhausted
    trainer.epochs = 0 if exhausted else max(total - trainer.epochs_done, 0)
    log(f"resuming from the checkpoint of epoch {trainer.epochs_done} in {directory}"
        + ("" if trainer.epochs else " (the run had already finished)"))
    return meta


def _check_compatible(trainer, meta: dict, step_dir: Path) -> None:
    """The data order and batches depend on the seed and the train split: they must be the same."""
    b = trainer.batching
    here = {"seed": trainer.seed, "train_examples": len(trainer.splits["train"][0]), "batch_size": b.size}
    for key, value in here.items():
        if meta.get(key) != value:
            raise CheckpointError(f"{step_dir} was written with {key.replace('_', ' ')} {meta.get(key)}, but this "
                                  f"run has {value}: resuming would not continue the same training",
                                  "resume with the spec and data that wrote it, or train from the start without --resume")


MANIFEST = "files.json"


def _file_digests(step_dir: Path) -> dict[str, str]:
    return {str(f.relative_to(step_dir)): hashlib.sha256(f.read_bytes()).hexdigest()
            for part in ("state", "best") if (step_dir / part).is_dir()
            for f in sorted((step_dir / part).rglob("*")) if f.is_file()}


def write_manifest(step_dir: Path) -> None:
    """SHA-256 of every array file, written (atomically) after Orbax committed the step: damage is then
    found before any array is read, instead of inside Orbax's concurrent reads."""
    tmp = step_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(_file_digests(step_dir), indent=1))
    os.replace(tmp, step_dir / MANIFEST)


def verify_manifest(step_dir: Path) -> None:
    """Raise CheckpointError when a file of the step is missing, changed or added since it was written.
    A step without a manifest (killed between commit and manifest) is checked by its array checksums."""
    path = step_dir / MANIFEST
    if not path.is_file():
        return
    try:
        want = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CheckpointError(f"{step_dir} is corrupt: its file manifest is unreadable", _older_hint(step_dir)) from None
    have = _file_digests(step_dir)
    bad = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if bad:
        raise CheckpointError(f"{step_dir} is corrupt or truncated: {bad[0]}"
                              + (f" and {len(bad) - 1} more file(s)" if len(bad) > 1 else "")
                              + " changed since the checkpoint was written", _older_hint(step_dir))


def _read(path: Path, target: dict) -> dict:
    """Orbax restore into the shapes and dtypes of `target` (no pickle); errors become CheckpointError."""
    import orbax.checkpoint as ocp

    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    checkpointer = ocp.StandardCheckpointer()
    try:
        with _quiet():
            return jax.device_get(checkpointer.restore(path, abstract))
    except Exception as e:  # tensorstore/orbax raise many types for truncated or garbled files
        detail = (str(e).splitlines() or [""])[0].split(" See full TensorStore details")[0][:200]
        raise CheckpointError(f"{path.parent} is corrupt or truncated ({type(e).__name__}: {detail})",
                              _older_hint(path.parent)) from None
    finally:
        checkpointer.close()


@contextlib.contextmanager
def _quiet():
    """Orbax's logging off; and when a damaged file fails one of its concurrent reads, the reads still
    in flight fail too and their coroutines report "Exception ignored ..." with a traceback as they are
    collected: collect them here, with the unraisable-exception hook silenced."""
    import gc
    import sys
    level = _absl_quiet.level
    _absl_quiet.setLevel(logging.ERROR)
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook = hook
        _absl_quiet.setLevel(level)


# ---- transfer learning -------------------------------------------------------------------------------
def read_params(run_dir: str | os.PathLike) -> dict:
    """A run folder's params/ as a nested dict of numpy arrays, read without knowing its program."""
    import orbax.checkpoint as ocp

    path = Path(run_dir).absolute() / "params"
    checkpointer = ocp.StandardCheckpointer()
    try:
        with _quiet():
            return jax.device_get(checkpointer.restore(path))
    except Exception as e:
        raise TransferError(f"cannot read the parameters in {path}: {type(e).__name__}: "
                            f"{str(e).splitlines()[0][:300] if str(e) else ''}",
                            "train that run again: its params/ folder is incomplete or damaged") from None
    finally:
        checkpointer.close()


def load_layers(trainer, run_dir: str | os.PathLike, layers: list[str] | None = None) -> list[str]:
    """Copy the parameters (and BatchNorm statistics) of `layers` from another run into `trainer`'s model.

    Layers are matched by their attribute name in the emitted model (`Features`, `dense_1`); every
    array inside a layer must have the same path and shape in both. `layers=None` loads every layer
    whose name and shapes match and skips the others. RNG state (dropout keys) is never copied.
    Returns the names loaded; raises TransferError (with one problem per layer) when a listed layer
    is missing from the run or does not fit.
    """
    from flax import nnx

    from .loop import to_pure

    run = Path(run_dir)
    source = read_params(run)
    model = trainer.model
    here = nnx.state(model)
    kinds = {"/".join(map(str, path)): v for path, v in nnx.to_flat_state(here)}
    target = to_pure(here)
    theirs = {p: a for p, a in _flat(source)}
    ours = {p: a for p, a in _flat(target)}
    names = [str(k) for k in target]
    wanted = names if layers is None else list(layers)
    problems, loaded, skipped = [], [], []
    updates: dict[str, np.ndarray] = {}
    for name in wanted:
        mine = {p: a for p, a in ours.items() if p.split("/")[0] == name and not _is_rng(kinds.get(p))}
        other = {p: a for p, a in theirs.items() if p.split("/")[0] == name and not _rng_path(p)}
        if not other:
            if layers is None:
                skipped.append(name)
                continue
            available = sorted({p.split("/")[0] for p in theirs if not _rng_path(p)})
            problems.append((f"layer '{name}' is not in {run} (its layers: {', '.join(available)})",
                             f"leave '{name}' out of `layers`, or name the layer in this model as in the run"))
            continue
        bad = _mismatch(name, mine, other, run, f"model {trainer.config.get('model')}", _describe(run))
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
    flat, treedef = jax.tree_util.tree_flatten_with_path(target)
    new = [updates.get(_path_str(path), leaf) for path, leaf in flat]
    new = [np.asarray(v).astype(np.asarray(old).dtype) if _path_str(p) in updates else v
           for (p, old), v in zip(flat, new)]
    trainer.load_state({"model": jax.tree_util.tree_unflatten(treedef, new)})
    if skipped:
        trainer.log(f"init: not loaded from {run} (no layer of that name and shape there): {', '.join(skipped)}")
    return loaded


def _describe(run: Path) -> str:
    """"model X of spec.nn" from a run folder's spec.json, when it has one."""
    try:
        config = json.loads((run / "spec.json").read_text())["config"]
        return f"model {config['model']} of {config['spec']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its model"


def _path_str(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def _is_rng(variable) -> bool:
    from flax import nnx
    return isinstance(variable, nnx.RngState)


def _rng_path(path: str) -> bool:
    parts = path.split("/")
    return "rngs" in parts and parts[-1] in ("key", "count")


def _mismatch(name: str, mine: dict, other: dict, run: Path, here: str, there: str) -> tuple[str, str] | None:
    hint = (f"'{name}' of {run} is a different layer: give the new layer another name (bind it, e.g. "
            f"`head = dense(...)`) or leave '{name}' out of `layers`")
    diffs = []
    for path in sorted(set(mine) | set(other), key=lambda p: (-np.ndim(mine.get(p, other.get(p))), p)):
        a, b = mine.get(path), other.get(path)
        short = path.split("/", 1)[1] if "/" in path else path
        if a is None or b is None:
            diffs.append(f"{short} exists only in {'this model' if a is not None else run}")
        elif tuple(np.shape(a)) != tuple(np.shape(b)):
            diffs.append(f"{short} is {_fmt(np.shape(a), np.asarray(a).dtype)} here but "
                         f"{_fmt(np.shape(b), np.asarray(b).dtype)} there")
    if not diffs:
        return None
    return (f"layer '{name}' of {here} does not fit '{name}' of {run} ({there}): " + "; ".join(diffs), hint)


def params_sha256(trainer) -> str:
    """SHA-256 of the trainer's model parameters (nnx.Param only)."""
    from flax import nnx
    return sha256(nnx.to_pure_dict(nnx.state(trainer.model, nnx.Param)))


__all__ = ["Checkpointer", "CheckpointError", "TransferError", "restore", "steps", "read_meta", "load_layers",
           "read_params", "fingerprint", "sha256", "params_sha256", "sigint_deferred"]
