"""nncompile: a declarative model-spec compiler (.nn -> Flax NNX + Optax training programs).

The public API; heavy modules (JAX, Flax) load only when a function that needs them is called,
so that ``check`` stays fast.
"""

from __future__ import annotations

from .diagnostics import CompileError, Diagnostic
from .version import __version__


def parse(text: str, path: str | None = None):
    """Parse spec text into its syntax tree (``nncompile.syntax.ast.Spec``); raises CompileError."""
    from .compiler import parse as _parse

    return _parse(text, path)


def check(text: str | None = None, *, path: str | None = None) -> list[Diagnostic]:
    """Every diagnostic for a spec given as text, or read from ``path``; [] when clean."""
    from .compiler import analyse, read
    from .source import Source

    if text is None:
        if path is None:
            raise TypeError("check() needs spec text or path=")
        try:
            source = read(path)
        except CompileError as e:
            return e.diagnostics
    else:
        source = Source(text, path or "<string>")
    return analyse(source)[1]


def load_spec(path: str):
    """Read, validate and shape a spec file: the ``ir.Program`` code generation reads."""
    from .compiler import load_spec as _load

    return _load(path)


def compile(spec=None, *, text=None, train=None, sets=None):
    """Compile a spec (path, or ``text=``) into a Program: ``.source``, ``.fit()``, ``.evaluate()``,
    ``.predict()``, ``.save()``. See ``nncompile.api.compile``."""
    from .api import compile as _compile

    return _compile(spec, text=text, train=train, sets=sets)


def load(run_dir, *, log=None):
    """A trained run folder (``runs/<spec>-<train>`` means its latest run) as a Program with its
    trained parameters, rebuilt from the spec and ``--set`` values the run recorded: ``.predict()``,
    ``.evaluate()``, ``.export()``, ``.fit(run_dir=..., resume=True)``. See ``nncompile.runs``."""
    from .runs import load as _load

    return _load(run_dir, log=log)


__all__ = [
    "CompileError",
    "Diagnostic",
    "__version__",
    "check",
    "compile",
    "load",
    "load_spec",
    "parse",
]
