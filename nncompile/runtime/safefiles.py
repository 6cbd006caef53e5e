"""Files written safely: temporary files created new (O_EXCL, never through a planted symlink)
and renamed into place; an exclusive lock file holding its owner's PID."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
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
class LockFile:
    """An exclusive flock on a file holding the owner's PID; re-entrant within one process."""

    def __init__(self, path: Path):
        self.path = path
        self.held = False

    def acquire(self, folder: Path) -> None:
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
            here = os.fstat(fd)
            try:
                there = os.stat(self.path, follow_symlinks=False)
            except FileNotFoundError:
                there = None
            if there is not None and (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino):
                break
            os.close(fd)  # its owner removed it as we opened it: take a fresh one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[key] = [fd, 1]
        self.held = True

    def release(self) -> None:
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
