"""Files written safely: temporary files created new (O_EXCL, never through a planted symlink)
and renamed into place; an exclusive lock file holding its owner's PID."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import NncompileError

_held: dict[str, list] = {}  # lock path -> [fd, count]: one lock per folder and process


class LockError(NncompileError):
    """The folder is locked by another process, or cannot be locked."""


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write `path` by a new temporary file beside it (O_EXCL: never an existing file or a planted
    symlink), fsynced, renamed into place (a symlink at `path` is replaced, not followed)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---- the lock ------------------------------------------------------------------------------------
@contextlib.contextmanager
def interrupts_deferred() -> Iterator[list]:
    """Ctrl-C (SIGINT) held back while the block runs and delivered when it ends: the lock's
    bookkeeping (an open file, its flock, `_held`) must not be cut in half. Where a SIGINT raises
    KeyboardInterrupt between `flock` and `_held`, the open file keeps the lock, unrecorded: the
    next save of this process found its own folder locked (LockError, "in use by PID ?": the file
    was still empty) -- the flaky kill test of tests/hostile/test_runs.py. Yields the list of
    signals held back (the block may look at it). Off the main thread signals are not delivered
    anyway."""
    pending: list = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    previous = signal.signal(signal.SIGINT, lambda number, frame: pending.append(number))
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if pending:
            signal.raise_signal(signal.SIGINT)  # with the handler there was (KeyboardInterrupt)


class LockFile:
    """An exclusive flock on a file holding the owner's PID; re-entrant within one process.
    Acquiring and releasing are whole or not at all, even under Ctrl-C (`interrupts_deferred`):
    an interrupted `acquire` leaves the lock free."""

    def __init__(self, path: Path):
        self.path = path
        self.held = False

    def acquire(self, folder: Path) -> None:
        with interrupts_deferred() as pending:
            self._acquire(folder)
            if pending:  # Ctrl-C came while locking: leave the lock as it was, then stop
                self._release()

    def release(self) -> None:
        with interrupts_deferred():
            self._release()

    def _acquire(self, folder: Path) -> None:
        key = str(self.path)
        if key in _held:
            _held[key][1] += 1
            self.held = True
            return
        while True:
            try:
                flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(self.path, flags, 0o644)
            except OSError as e:
                raise LockError(f"cannot lock {folder}: {self.path}: {e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise LockError(
                    f"{folder} is in use by PID {pid} (another `nncompile train` writes it)",
                    "wait for it to finish, or train into another folder (--out)",
                ) from None
            except BaseException:
                os.close(fd)
                raise
            try:
                here = os.fstat(fd)
                try:
                    there = os.stat(self.path, follow_symlinks=False)
                except FileNotFoundError:
                    there = None
                if there is not None and (here.st_dev, here.st_ino) == (
                    there.st_dev,
                    there.st_ino,
                ):
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                    break
            except BaseException:
                os.close(fd)  # (never an open file holding the lock that nothing records)
                raise
            os.close(fd)  # its owner removed it as we opened it: take a fresh one
        _held[key] = [fd, 1]
        self.held = True

    def _release(self) -> None:
        if not self.held:
            return
        self.held = False
        key = str(self.path)
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[key]
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(entry[0])
