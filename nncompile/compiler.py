"""Chains the stages; nothing else. Every stage can also be called on its own."""
from __future__ import annotations

from pathlib import Path

from . import diagnostics as D
from .diagnostics import CompileError, Collector, Diagnostic
from .semantics import ir
from .semantics.validate import validate
from .source import Source
from .syntax import ast
from .syntax.parser import decode, parse as parse_source


def read(path: str | Path) -> Source:
    """A spec file as Source; unreadable files become diagnostics."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise CompileError([Diagnostic(D.DATA_FILE, f"'{path}' is a directory, not a spec file", path=str(path))]) from None
    except FileNotFoundError:
        raise CompileError([Diagnostic(D.DATA_FILE, f"no such file: '{path}'", path=str(path))]) from None
    except OSError as e:
        raise CompileError([Diagnostic(D.DATA_FILE, f"cannot read '{path}': {e.strerror}", path=str(path))]) from None
    return decode(data, str(path))


def parse(text: str, path: str | None = None) -> ast.Spec:
    return parse_source(Source(text, path or "<string>"))


def analyse(source: Source) -> tuple[ir.Program | None, list[Diagnostic]]:
    """Parse and validate; returns the program (None on errors) and every diagnostic."""
    out = Collector(source.path)
    try:
        spec = parse_source(source)
        program = validate(spec, source, out)
    except CompileError as e:
        return None, e.diagnostics
    except RecursionError:
        return None, [Diagnostic(D.SYNTAX, "the spec is nested too deeply to analyse", path=source.path)]
    return program, sorted(set(out.items), key=Diagnostic.sort_key)


def check_source(source: Source) -> list[Diagnostic]:
    return analyse(source)[1]


def load_spec(path: str | Path) -> ir.Program:
    """Read, parse and validate a spec file; raises CompileError on errors."""
    source = read(path)
    program, diagnostics = analyse(source)
    if program is None:
        raise CompileError(diagnostics, source)
    return program
