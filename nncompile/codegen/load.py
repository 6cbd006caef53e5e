"""Python source -> a live module, registered so tracebacks show the generated lines."""

from __future__ import annotations

import itertools
import linecache
import types

_counter = itertools.count(1)


def load_module(source: str, origin: str) -> types.ModuleType:
    """Compile and execute emitted source in a fresh module named after its spec."""
    filename = f"<nncompile:{origin}#{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType("nncompile_program")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module
