"""The files of a checkpoints folder: which steps are complete, their metadata and file manifest,
reading arrays without pickle, and holding Ctrl-C (and SIGTERM) back while a checkpoint is
written; SIGTERM handled like Ctrl-C (`sigterm_as_interrupt`).

    <dir>/<epoch>/state/       arrays (Orbax StandardSave of plain dicts)
    <dir>/<epoch>/best/        the best epoch's arrays, when `restore_best` needs them
    <dir>/<epoch>/meta/        JSON metadata (`read_meta`)
    <dir>/<epoch>/files.json   SHA-256 of every array file (`write_manifest`, `verify_manifest`)
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
from typing import Any

import jax

from ..errors import NncompileError
from .safefiles import atomic_write

FORMAT = "nncompile-checkpoint"
VERSION = 1
DELETED = ".deleted"
MANIFEST = "files.json"

_absl_quiet = logging.getLogger("absl")


class CheckpointError(NncompileError):
    """A checkpoint cannot be written, found or read back."""


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
        raise CheckpointError(
            f"{step_dir} is not a readable checkpoint: its metadata cannot be read ({e})",
            older_hint(step_dir),
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{step_dir} is not an nncompile training checkpoint", older_hint(step_dir)
        )
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{step_dir} has checkpoint format version {meta.get('version')}; this nncompile "
            f"reads version {VERSION}"
        )
    if problem := meta_problem(meta, step_dir.name):
        raise CheckpointError(
            f"{step_dir} is corrupt: its metadata (meta/metadata) {problem}; it was changed since "
            "the checkpoint was written",
            older_hint(step_dir),
        )
    return meta


# the metadata a resume reads, by the JSON type it was written with (None: may be null); a key an
# older checkpoint lacks is not checked
_WHOLE = "a whole number"
META_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "epoch": ((int,), _WHOLE),
    "epochs": ((int,), _WHOLE),
    "seed": ((int,), _WHOLE),
    "train_examples": ((int,), _WHOLE),
    "batch_size": ((int,), _WHOLE),
    "steps_per_epoch": ((int,), _WHOLE),
    "devices": ((int, type(None)), _WHOLE),
    "shards": ((int, type(None)), _WHOLE),
    "best_epoch": ((int, type(None)), _WHOLE),
    "frozen": ((bool, type(None)), "true, false or null"),
    "history": ((list,), "a list of epochs"),
    "stopping": ((dict, type(None)), "an object"),
    "plateau": ((dict, type(None)), "an object"),
    "fingerprint": ((list,), "a list of arrays"),
    "sha256": ((dict,), "an object"),
    "samples": ((list,), "a list"),
}


def meta_problem(meta: dict, name: str) -> str | None:
    """What is wrong with a checkpoint's metadata (hand-edited, or damaged so that it still parses),
    before any of it is used; None when it has the types and the epoch it was written with."""
    if "epoch" not in meta:
        return "has no epoch"
    for key, (types, what) in META_FIELDS.items():
        if key not in meta:
            continue
        value = meta[key]
        wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        if wrong or (what == _WHOLE and isinstance(value, int) and value < 0):
            return f"gives {key} {json.dumps(value)[:40]}, not {what}"
    if name.isdigit() and meta["epoch"] != int(name):
        return f"gives epoch {meta['epoch']}, but it is the checkpoint of epoch {name}"
    if not all(isinstance(e, dict) for e in meta.get("history") or []):
        return "gives a history that is not a list of epochs"
    if len(meta.get("history") or []) > meta["epoch"]:
        return f"gives a history of {len(meta['history'])} epochs for epoch {meta['epoch']}"
    if not all(
        isinstance(f, list) and len(f) == 3 and isinstance(f[1], list)
        for f in meta.get("fingerprint") or []
    ):
        return "gives a fingerprint that is not a list of [path, shape, dtype]"
    return None


def older_hint(step_dir: Path) -> str | None:
    """What to do when the checkpoint in `step_dir` cannot be used: an older one, or start over."""
    older = (
        [
            s
            for s in steps(step_dir.parent)
            if str(s) != step_dir.name and s < int(step_dir.name or 0)
        ]
        if step_dir.name.isdigit()
        else []
    )
    if older:
        return (
            f"move {step_dir} out of the way to resume from the checkpoint of epoch {older[-1]}, "
            "or train from the start without --resume"
        )
    return "train from the start without --resume"


DEFERRED = (signal.SIGINT, signal.SIGTERM)
_terminated: list[int] = []  # SIGTERM received while `sigterm_as_interrupt` was on


@contextlib.contextmanager
def sigint_deferred():
    """Hold Ctrl-C and SIGTERM back while the block runs (a checkpoint or run-folder write); deliver
    them when it ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous: dict[int, Any] = {}
    try:
        for signum in DEFERRED:
            previous[signum] = signal.signal(signum, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        for number, before in previous.items():
            signal.signal(number, before)
        for number in dict.fromkeys(caught):
            handler = previous[number]
            if callable(handler):
                handler(number, None)
            elif handler == signal.SIG_DFL:
                if number == signal.SIGINT:
                    raise KeyboardInterrupt
                signal.raise_signal(number)


signals_deferred = sigint_deferred


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM (timeout, container runtimes, Slurm, systemd) handled like Ctrl-C: it raises
    KeyboardInterrupt, so training stops at a safe point and checkpoints; `terminated()` then says
    the exit status is 143."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        _terminated.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def terminated() -> bool:
    """Whether a SIGTERM stopped the work (exit status 143 instead of Ctrl-C's 130)."""
    return bool(_terminated)


def retire(directory: Path) -> None:
    """Remove a checkpoints folder: renamed away first (one atomic step), then deleted."""
    gone = directory.with_name(f".{directory.name}-replaced-{os.getpid()}")
    os.replace(directory, gone)
    shutil.rmtree(gone, ignore_errors=True)


def _file_digests(step_dir: Path) -> dict[str, str]:
    return {
        str(f.relative_to(step_dir)): hashlib.sha256(f.read_bytes()).hexdigest()
        for part in ("state", "best")
        if (step_dir / part).is_dir()
        for f in sorted((step_dir / part).rglob("*"))
        if f.is_file()
    }


def write_manifest(step_dir: Path) -> None:
    """SHA-256 of every array file, written (atomically) after Orbax committed the step: damage is
    then found before any array is read, instead of inside Orbax's concurrent reads."""
    atomic_write(step_dir / MANIFEST, json.dumps(_file_digests(step_dir), indent=1))


def verify_manifest(step_dir: Path) -> None:
    """Raise CheckpointError when a file of the step is missing, changed or added since it was
    written. (A step without a manifest, killed between commit and manifest, is checked by the
    checksums of its arrays.)"""
    path = step_dir / MANIFEST
    if not path.is_file():
        return
    try:
        want = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CheckpointError(
            f"{step_dir} is corrupt: its file manifest is unreadable", older_hint(step_dir)
        ) from None
    have = _file_digests(step_dir)
    bad = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if bad:
        raise CheckpointError(
            f"{step_dir} is corrupt or truncated: {bad[0]}"
            + (f" and {len(bad) - 1} more file(s)" if len(bad) > 1 else "")
            + " changed since the checkpoint was written",
            older_hint(step_dir),
        )


def read_arrays(path: Path, target: dict) -> dict:
    """Orbax restore into the shapes and dtypes of `target` (no pickle); errors: CheckpointError."""
    import orbax.checkpoint as ocp

    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    checkpointer = ocp.StandardCheckpointer()
    try:
        with quiet():
            return jax.device_get(checkpointer.restore(path, abstract))
    except Exception as e:  # tensorstore/orbax raise many types for truncated or garbled files
        detail = (str(e).splitlines() or [""])[0].split(" See full TensorStore details")[0][:200]
        raise CheckpointError(
            f"{path.parent} is corrupt or truncated ({type(e).__name__}: {detail})",
            older_hint(path.parent),
        ) from None
    finally:
        checkpointer.close()


@contextlib.contextmanager
def quiet():
    """Orbax's logging off; and when a damaged file fails one of its concurrent reads, the reads
    still in flight fail too and their coroutines report "Exception ignored ..." with a traceback as
    they are collected: collect them here, with the unraisable-exception hook silenced."""
    import gc
    import sys

    level = _absl_quiet.level
    _absl_quiet.setLevel(logging.ERROR)
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    failed = True
    try:
        yield
        failed = False
    finally:
        gc.collect()
        sys.unraisablehook = _without_closed_loop(hook) if failed else hook
        _absl_quiet.setLevel(level)


def _without_closed_loop(hook):
    """After a failed restore, reads still in flight finish later, on tensorstore's threads, and
    their callbacks find the event loop Orbax ran the restore in closed ("RuntimeError: Event loop
    is closed", reported as unraisable, even at exit): drop those, pass on everything else."""

    def filtered(unraisable) -> None:
        e = unraisable.exc_value
        if isinstance(e, RuntimeError) and str(e) == "Event loop is closed":
            return
        hook(unraisable)

    filtered.nncompile_filter = True  # type: ignore[attr-defined]
    return hook if getattr(hook, "nncompile_filter", False) else filtered
