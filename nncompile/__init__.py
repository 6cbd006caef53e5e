"""nncompile: a declarative model-spec compiler (.nn -> Flax NNX + Optax training programs).

The public API; heavy modules (JAX, Flax) load only when a function that needs them is called,
so that ``check`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .diagnostics import CompileError, Diagnostic
from .version import __version__


def parse(text: str, path: str | None = None):
    """Parse spec text into its syntax tree (``nncompile.syntax.ast.Spec``); raises CompileError."""
    from .compiler import parse as _parse

    return _parse(text, path)


def check(
    spec: str | os.PathLike | None = None,
    *,
    text: str | None = None,
    path: str | os.PathLike | None = None,
    sets: Mapping[str, Any] | None = None,
) -> list[Diagnostic]:
    """Every diagnostic of a spec; [] when clean. Takes its spec like ``compile``: a file path, or
    the spec itself as ``text=`` (``path=`` then names it in messages); ``sets``: ``let``
    overrides, e.g. ``{"hidden": 256}``."""
    from .compiler import analyse, overrides, spec_source

    try:
        source = spec_source(spec, text, path, "check")
    except CompileError as e:  # an unreadable file: its diagnostic
        return e.diagnostics
    return analyse(source, overrides(sets))[1]


def load_spec(path: str):
    """Read, validate and shape a spec file: the ``ir.Program`` code generation reads."""
    from .compiler import load_spec as _load

    return _load(path)


def compile(spec=None, *, text=None, path=None, train=None, sets=None):
    """Compile a spec (path, or ``text=``) into a Program: ``.source``, ``.fit()``, ``.evaluate()``,
    ``.predict()``, ``.save()``. See ``nncompile.api.compile``."""
    from .api import compile as _compile

    return _compile(spec, text=text, path=path, train=train, sets=sets)


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
