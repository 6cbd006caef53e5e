"""Opening a run folder for training: never destroying a run, or anything that is not a run.

    open_run(DIR)   checks before any training: DIR is a folder (not a file), writable, and new,
                    empty or a run folder (refused otherwise: nothing that is not provably
                    nncompile's own is touched); takes the folder's lock (a second `train` on it is
                    refused: "in use by PID n"); decides where the new run is written.
    RunFolder.work  where training writes (checkpoints/) and the final save writes every file:
                    DIR itself when DIR holds no complete run (nothing to lose), else the sibling
                    `.DIR.nncompile-next/`.
    commit()        marks the new run complete (`.nncompile-run`, written last) and, for a re-run,
                    swaps it with the old run in one atomic rename (renameat2 RENAME_EXCHANGE;
                    elsewhere two renames, repaired by the next open_run), then deletes the old
                    run's own files. A kill at any moment leaves DIR holding either the complete
                    old run or the complete new one.

The lock is `.DIR.nncompile-lock` next to DIR (flock; it holds the owner's PID). Leftovers of a
killed process (`.DIR.nncompile-next`, `.DIR.nncompile-old`) are ours by their marker file and are
cleaned up by the next open_run; a killed re-run's checkpoints in `.DIR.nncompile-next/` are what
`--resume` continues.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path

from ..errors import NncompileError
from ..registry.runpaths import FORMAT as FORMAT
from ..registry.runpaths import MARKER as MARKER
from ..registry.runpaths import is_complete_run as is_complete_run
from ..registry.runpaths import read_marker as read_marker
from .checkpoint_files import sigint_deferred
from .identity import changes, other_program, program_identity
from .safefiles import LockFile, atomic_write

# what `runtime.outputs.write_run` writes in a run folder
FILES = (
    "program.py",
    "spec.json",
    "metrics.csv",
    "metrics.jsonl",
    "curves.png",
    "params",
    "summary.json",
)
# every name nncompile writes in a run folder: FILES and what api/gan, checkpoints and the run
# record (runtime.runrecord) add
OWN = frozenset(
    {*FILES, "data.json", "samples", "samples.png", "checkpoints", "run.json", "spec.nn", MARKER}
    | {"tensorboard", "tracking.json"}  # registry.tracking: the trackers' files
)


# what a run folder holds before its training kept anything: the marker and the run's record
PRELIMINARY = frozenset({MARKER, "run.json", "spec.nn"})


class RunFolderError(NncompileError):
    """A run folder cannot be used: not a folder, not a run, read-only, in use."""


class RunFolder:
    """An opened run folder (see the module docstring); `open_run` makes one."""

    def __init__(self, path: Path, lock: LockFile, staged: bool):
        self.path = path
        self.lock = lock
        self.staged = staged
        self.work = sibling(path, "next") if staged else path
        self.resume_from = self.work / "checkpoints"  # the checkpoints `--resume` continues
        self.fresh = False  # `work` was made by this open (nothing of an earlier re-run in it)
        self.created: list[Path] = []  # the folders open_run made (the run folder, its parents)
        self._finalizer = weakref.finalize(self, lock.release)

    def commit(self, identity: dict | None = None) -> Path:
        """The run in `work` is complete: mark it, put it in place, release the folder."""
        atomic_write(self.work / MARKER, _marker(True, identity))
        if self.staged:
            swap_into_place(self.work, self.path)
        self.release()
        return self.path

    def release(self) -> None:
        self._finalizer()

    def abandon(self) -> None:
        """Training failed: remove a staging folder this open made, release the folder."""
        if self.staged and self.fresh:
            discard(self.work)
        if self.path in self.created and set(os.listdir(self.path)) <= PRELIMINARY:
            for name in os.listdir(self.path):
                (self.path / name).unlink()
        self.release()
        for folder in self.created:  # deepest first; only empty ones go
            with contextlib.suppress(OSError):
                folder.rmdir()


def open_run(run_dir: str | os.PathLike, *, resume: bool = False, log=None) -> RunFolder:
    """Check, lock and prepare `run_dir` for a training run; RunFolderError (nothing changed) when
    it cannot be used."""
    log = log or (lambda line: None)
    path = Path(os.path.realpath(run_dir))
    if path.exists() and not path.is_dir():
        raise RunFolderError(
            f"{path} is a file, not a folder: a run folder cannot be written there",
            "give --out a new folder, an empty one or an earlier run folder",
        )
    parent = path.parent
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"cannot create {parent}: {e.strerror}") from None
    _writable(parent)
    lock = LockFile(sibling(path, "lock"))
    try:
        lock.acquire(path)  # (inside: an interrupt just after it releases the lock too)
        repair(path)
        folder = _prepare(path, lock, resume, log)
    except BaseException:
        lock.release()
        raise
    folder.created = created
    return folder


def _prepare(path: Path, lock: LockFile, resume: bool, log) -> RunFolder:
    entries = sorted(os.listdir(path)) if path.is_dir() else []
    ours = read_marker(path) is not None
    if entries and not ours and not is_complete_run(path):
        shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise RunFolderError(
            f"{path} is not empty and is not an nncompile run folder (it holds {shown}); "
            "nothing was changed",
            "give --out a new or empty folder, or a folder an earlier `nncompile train` wrote",
        )
    if path.is_dir():
        _writable(path)
    staged = is_complete_run(path)
    nxt = sibling(path, "next")
    if not staged:
        path.mkdir(exist_ok=True)
        if not ours:
            atomic_write(path / MARKER, _marker(False))
        elif not resume and _steps(path / "checkpoints"):  # an unfinished run, started over
            log(f"discarding the checkpoints of an unfinished run in {path / 'checkpoints'}")
            gone = path / f".checkpoints-replaced-{os.getpid()}"
            os.replace(path / "checkpoints", gone)
            shutil.rmtree(gone, ignore_errors=True)
        discard(nxt)
        return RunFolder(path, lock, staged=False)
    # a complete one there was killed in its swap (old or new run): not a re-run to continue
    unfinished = [] if (read_marker(nxt) or {}).get("complete") else _steps(nxt / "checkpoints")
    if resume and unfinished:
        log(f"resuming the unfinished re-run in {nxt} (epochs {', '.join(map(str, unfinished))})")
        return RunFolder(path, lock, staged=True)
    if nxt.exists():
        if unfinished:
            log(f"discarding the checkpoints of an unfinished re-run in {nxt}")
        discard(nxt)
    nxt.mkdir(mode=0o755)
    atomic_write(nxt / MARKER, _marker(False))
    folder = RunFolder(path, lock, staged=True)
    folder.fresh = True
    if resume:  # continue the run's own checkpoints (none: `restore` says so, naming the folder)
        folder.resume_from = path / "checkpoints"
        if folder.resume_from.is_dir():
            shutil.copytree(path / "checkpoints", nxt / "checkpoints")
    return folder


# ---- swapping and cleaning up --------------------------------------------------------------------
def sibling(path: Path, role: str) -> Path:
    """`.NAME.nncompile-ROLE` next to the run folder NAME (next, old, lock)."""
    return path.with_name(f".{path.name}.nncompile-{role}")


def swap_into_place(new: Path, path: Path) -> None:
    """Put the complete run `new` at `path` in one atomic step, the old run going away."""
    old = sibling(path, "old")
    discard(old)
    if not path.exists():
        os.rename(new, path)
        return
    if exchange(new, path):
        os.rename(new, old)  # `new` now holds the old run
    else:  # two renames; a kill between them is repaired by `repair`
        os.rename(path, old)
        os.rename(new, path)
    discard(old, keep_into=path)


def repair(path: Path) -> None:
    """Finish what a killed `swap_into_place` left: `path` missing between two renames (the new
    run goes in place when complete, else the old one goes back), or the replaced run not yet
    deleted."""
    old, new = sibling(path, "old"), sibling(path, "next")
    if path.is_dir() and old.is_dir():  # killed while deleting the replaced run
        discard(old, keep_into=path)
    if path.exists() or not old.is_dir():
        return
    if new.is_dir() and (read_marker(new) or {}).get("complete"):
        os.rename(new, path)
    elif read_marker(old) is not None or is_complete_run(old):
        os.rename(old, path)


def discard(folder: Path, keep_into: Path | None = None) -> None:
    """Delete a folder of ours (it has our marker): the names nncompile writes. Anything else in it
    is moved into `keep_into`, or left where it is."""
    if not folder.is_dir() or folder.is_symlink():
        return
    if read_marker(folder) is None and not is_complete_run(folder):
        return  # not provably ours
    for name in os.listdir(folder):
        entry = folder / name
        if _ours(name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
        elif keep_into is not None and not (keep_into / name).exists():
            with contextlib.suppress(OSError):
                os.rename(entry, keep_into / name)
    with contextlib.suppress(OSError):
        folder.rmdir()


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@functools.cache
def _renameat2():
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None


# ---- helpers -------------------------------------------------------------------------------------
def _marker(complete: bool, identity: dict | None = None) -> str:
    from ..version import __version__

    marker = {"format": FORMAT, "version": 1, "complete": complete, "nncompile": __version__}
    if identity is not None:
        marker["program"] = identity
    return json.dumps(marker, indent=1) + "\n"


def _writable(folder: Path) -> None:
    """Prove that files can be created in `folder` (a read-only folder or file system fails)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".nncompile-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RunFolderError(
            f"cannot write in {folder}: {e.strerror}; nothing was trained",
            "make the folder writable, or give --out a folder that is",
        ) from None


def _steps(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and p.is_dir())


def _ours(name: str) -> bool:
    """A name nncompile writes in a run folder (files, temporary files, retired checkpoints)."""
    return (
        name in OWN
        or name.endswith(".tmp")
        or ".orbax-checkpoint-tmp" in name
        or name.startswith((".checkpoints-replaced-", ".nncompile-probe-"))
    )


# ---- the final save, and checking a run against a program ---------------------------------------
def save_run(folder: RunFolder, write: Callable[[Path], object], identity: dict) -> Path:
    """`write(work)` every file of the run, then `commit`: Ctrl-C and SIGTERM wait until the run is
    in place. When writing fails (full disk, ...), the trained run is written to a rescue folder
    instead and RunFolderError says where; the old run is untouched."""
    with sigint_deferred():
        try:
            write(folder.work)
        except Exception as e:
            folder.release()
            raise _rescue(folder, write, identity, e) from None
        return folder.commit(identity)


def _rescue(folder: RunFolder, write, identity: dict, error: Exception) -> RunFolderError:
    why = f"{type(error).__name__}: " + (str(error).splitlines() or [""])[0][:200]
    failed = f"could not write the run folder {folder.path} ({why})"
    name = f"nncompile-rescued-{folder.path.name}-{os.getpid()}"
    for base in ("~/.cache/nncompile/rescued", tempfile.gettempdir()):
        place = Path(os.path.expanduser(base)) / name
        try:
            place.mkdir(parents=True, exist_ok=False)
            write(place)
            atomic_write(place / MARKER, _marker(True, identity))
        except Exception:
            with contextlib.suppress(Exception):
                discard(place)
            continue
        return RunFolderError(
            f"{failed}; the trained run was saved to {place} instead",
            f"use it with `--run {place}`, or move it to {folder.path} once there is room",
        )
    checkpoints = folder.work / "checkpoints"
    return RunFolderError(
        f"{failed}, nor anywhere else: the trained parameters are lost"
        + (f"; checkpoints of this run are in {checkpoints}" if checkpoints.is_dir() else ""),
        "free some disk space (or fix the folder's permissions) and train again"
        + (" with --resume" if checkpoints.is_dir() else ""),
    )


def check_program(path: Path, identity: dict) -> None:
    """Refuse to use the run folder `path` with a program other than the one that trained it (same
    parameter shapes, but another activation, learning rate, normalisation...)."""
    from ..version import __version__

    marker = read_marker(path) or {}
    written = marker.get("program")
    same_version = marker.get("nncompile") == __version__ and written is not None
    if written is None and (path / "program.py").is_file():
        try:
            written = program_identity((path / "program.py").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return
    if written is None:
        return
    changed = changes(written, identity, code=same_version)
    if changed:
        other = other_program(written, identity, _recorded_spec(path))
        lead = f"{other}: " if other else ""
        raise RunFolderError(
            f"{path} was trained by a different program: {lead}" + "; ".join(changed),
            "leave out FILE and --set to use the spec the run recorded, or give the spec (and "
            f"--set values) that trained it; its program is {path / 'program.py'}",
        )


def _recorded_spec(path: Path) -> str | None:
    """The file name of the spec that trained the run (run.json), if it says."""
    with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
        spec = json.loads((path / "run.json").read_text(encoding="utf-8")).get("spec") or {}
        return Path(spec["path"]).name if isinstance(spec.get("path"), str) else None
    return None


def same_folder(folder: RunFolder, run_dir: str | os.PathLike) -> bool:
    """Whether `run_dir` names the run folder `folder` opened."""
    return folder.path == Path(os.path.realpath(run_dir))
