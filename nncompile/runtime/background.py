"""Work beside the main thread, on threads of its own, where a core or the main thread would
otherwise wait.

The fixed costs of writing runs are Python and waiting, not arithmetic: a sweep imports Orbax (the
trials' params/) and matplotlib (its curves.png) and draws that figure; every run folder waits for
Orbax's writer threads and for its files' fsyncs. While a population's members train (XLA computes
without the GIL, the members on one core) those imports can run on another core
(`prewarm`, nncompile.search); while a sweep's run folders are written its figure can be drawn
(runtime.sweep); while Orbax writes a run's params/ the run's other files can be written
(runtime.outputs.write_run): `Background`. Nothing here changes a number or a file: the same
modules, the same figure from the same data, the same files.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

# what a sweep imports after training: the run folders' Orbax, the figure's matplotlib
LATER_IMPORTS = (
    "orbax.checkpoint",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "matplotlib.colormaps",
)


_warming: list[threading.Thread] = []  # prewarm's threads not yet settled


def prewarm(modules: tuple[str, ...] = LATER_IMPORTS) -> threading.Thread:
    """Import `modules` on a thread of its own, started now (the import of the main thread later
    finds them loaded, or waits for the thread's import to finish). A module that fails to import
    is left to the code that needs it, which reports it as it does without the thread. Not a
    daemon: the interpreter does not end while a module is half imported.

    Two threads importing the same package's modules at once can deadlock on a circular import
    inside it (Python then raises in one of them), so: start it when the main thread imports
    nothing new (a population once its first epoch is compiled), and `settle()` before another
    thread of this module imports too."""

    def run() -> None:
        import importlib

        for name in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    thread = threading.Thread(target=run, name="nncompile-prewarm")
    thread.start()
    _warming.append(thread)
    return thread


def settle() -> None:
    """Wait until every `prewarm` thread has finished its imports."""
    while _warming:
        _warming.pop().join()


class Background:
    """`fn(*args)` on a thread of its own, started now; `result()` waits for it and returns its
    value or raises its exception, as the call in this thread would have."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "nncompile-background"):
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = fn(*args)
            except BaseException as e:  # handed to result(), in the caller's thread
                self._error = e

        self._thread = threading.Thread(target=run, name=name)
        self._thread.start()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
