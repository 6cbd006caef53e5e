"""An audit hook for the hostile tests: while armed, running a program or spawning a process, an
emitted program's own call of exec/eval/compile, or writing, renaming or deleting a file outside
the run folder raises ``Hostile`` (which stops the operation) and is recorded."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EMITTED = "<nncompile:"  # the file name codegen.load gives an emitted module
SPAWN = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty"}
SPAWN |= {"subprocess.Popen", "pty.spawn", "os.startfile", "ctypes.dlopen", "webbrowser.open"}
FILE_CHANGES = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link"}
FILE_CHANGES |= {"os.truncate", "os.chmod", "os.chown", "shutil.rmtree", "shutil.move"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class Hostile(Exception):
    """Something an emitted program must never do."""


def _caller() -> str:
    """The file of the Python code that triggered the event (libraries may compile annotations)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return "" if frame is None else frame.f_code.co_filename


class _Guard:
    def __init__(self) -> None:
        self.root: Path | None = None
        self.seen: list[str] = []

    def inside(self, path: object) -> bool:
        if isinstance(path, int) or self.root is None:
            return isinstance(path, int)
        p = Path(os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path))
        return p.resolve().is_relative_to(self.root)

    def __call__(self, event: str, args: tuple) -> None:
        if self.root is None:
            return
        why = None
        if event in SPAWN:
            why = f"{event}{args!r}"
        elif event in ("exec", "compile") and _caller().startswith(EMITTED):
            why = f"{event} called by the emitted program: {args[0]!r:.200}"
        elif event == "open":
            path, mode, flags = args
            writes = any(c in str(mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
            if writes and not self.inside(path):
                why = f"write to {path!r}"
        elif event in FILE_CHANGES and not all(
            self.inside(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))
        ):
            why = f"{event}{args!r}"
        if why is not None:
            self.seen.append(why)
            raise Hostile(why)

    @contextlib.contextmanager
    def armed(self, root: Path) -> Iterator[list[str]]:
        """Armed while the block runs; yields the list of what was stopped."""
        self.seen = []
        self.root = root.resolve()
        try:
            yield self.seen
        finally:
            self.root = None


GUARD = _Guard()
sys.addaudithook(GUARD)  # audit hooks cannot be removed: it does nothing while not armed


@pytest.fixture(scope="session")
def guard() -> _Guard:
    return GUARD
