"""Chains the stages; nothing else. Every stage can also be called on its own."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from . import diagnostics as D
from .diagnostics import Collector, CompileError, Diagnostic
from .semantics import ir
from .semantics.validate import validate
from .source import NotRegular, Source, read_regular
from .syntax import ast
from .syntax.parser import MAX_BYTES, decode, parse_all
from .syntax.parser import parse as parse_source


def read(path: str | Path) -> Source:
    """A spec file as Source; unreadable files become diagnostics."""
    try:
        data = read_regular(path, MAX_BYTES)
    except NotRegular as e:
        raise CompileError(
            [Diagnostic(D.DATA_FILE, f"'{path}' is {e}, not a spec file", path=str(path))]
        ) from None
    except IsADirectoryError:
        raise CompileError(
            [Diagnostic(D.DATA_FILE, f"'{path}' is a directory, not a spec file", path=str(path))]
        ) from None
    except FileNotFoundError:
        raise CompileError(
            [Diagnostic(D.DATA_FILE, f"no such file: '{path}'", path=str(path))]
        ) from None
    except OSError as e:
        raise CompileError(
            [Diagnostic(D.DATA_FILE, f"cannot read '{path}': {e.strerror}", path=str(path))]
        ) from None
    return decode(data, str(path))


def parse(text: str, path: str | None = None) -> ast.Spec:
    return parse_source(Source(text, path or "<string>"))


def override(spec: ast.Spec, sets: dict[str, str]) -> ast.Spec:
    """Replace `let` values with ``--set NAME=VALUE`` texts (each parsed as a spec value)."""
    lets = {i.name for i in spec.items if isinstance(i, ast.Let)}
    values: dict[str, ast.Value] = {}
    problems = []
    for name, text in sets.items():
        if name not in lets:
            hint = D.did_you_mean(name, lets) or (
                f"the let values are {D.one_of(lets)}" if lets else "this spec has no `let` values"
            )
            problems.append(
                Diagnostic(
                    D.UNKNOWN_REFERENCE,
                    f"--set {name}: no `let {name}` in the spec",
                    hint=hint,
                    path="--set",
                )
            )
            continue
        try:
            parsed = parse_source(Source(f"let {name} = {text}", f"--set {name}"))
        except CompileError as e:
            problems.extend(e.diagnostics)
            continue
        if len(parsed.items) != 1:  # `--set "h=4 let h = 8"`: never drop the rest silently
            problems.append(
                Diagnostic(
                    D.BAD_VALUE,
                    f"--set {name}: the value {text!r} is more than one value",
                    hint="give one value (a number, string, name, list or dict); quote a "
                    "string: --set name='\"text\"'",
                    path="--set",
                )
            )
            continue
        let = parsed.items[0]
        assert isinstance(let, ast.Let)  # the text parsed is `let NAME = VALUE`
        value = let.value
        original = next(i for i in spec.items if isinstance(i, ast.Let) and i.name == name)
        if isinstance(
            value, (ast.Number, ast.String, ast.Bool, ast.Name, ast.BinOp, ast.Neg)
        ):  # point errors at the let (every part of an expression too)
            value = _respan(value, original.value.span)
        values[name] = value
    if problems:
        raise CompileError(problems)
    items = tuple(
        ast.Let(i.name, i.name_span, values[i.name], i.span)
        if isinstance(i, ast.Let) and i.name in values
        else i
        for i in spec.items
    )
    return ast.Spec(items, spec.path)


def _respan(value: ast.Value, span) -> ast.Value:
    """``value`` (from a --set text) with its spans, and its operands', set to ``span``."""
    if isinstance(value, ast.BinOp):
        return ast.BinOp(value.op, _respan(value.left, span), _respan(value.right, span), span)
    if isinstance(value, ast.Neg):
        return ast.Neg(_respan(value.operand, span), span)
    return dataclasses.replace(value, span=span)


def analyse(
    source: Source, sets: dict[str, str] | None = None
) -> tuple[ir.Program | None, list[Diagnostic]]:
    """Parse and validate (after ``--set`` overrides); returns the program (None on errors) and
    every diagnostic."""
    _, program, diagnostics = front_end(source, sets)
    return program, diagnostics


def front_end(
    source: Source, sets: dict[str, str] | None = None, parsed: ast.Spec | None = None
) -> tuple[ast.Spec | None, ir.Program | None, list[Diagnostic]]:
    """`analyse`, also returning the syntax tree (None when the text does not parse): what the
    language server needs from one pass. ``parsed``: the text's tree when the caller has it
    (the language server parses only the lines an edit touched)."""
    out = Collector(source.path)
    spec = parsed
    try:
        if spec is None:
            result = parse_all(source)
            if result.diagnostics:
                return None, None, _with_partial_checks(result, source)
            spec = result.spec
        if sets:
            spec = override(spec, sets)
        program = validate(spec, source, out)
    except CompileError as e:
        return spec, None, e.diagnostics
    except RecursionError:
        return (
            None,
            None,
            [Diagnostic(D.SYNTAX, "the spec is nested too deeply to analyse", path=source.path)],
        )
    return spec, program, sorted(set(out.items), key=Diagnostic.sort_key)


def _with_partial_checks(parsed, source: Source) -> list[Diagnostic]:
    """Syntax errors, plus the semantic checks of the items that parsed, less their complaints
    about the items that did not (an unknown model that only failed to parse is no news)."""
    out = Collector(source.path)
    try:
        validate(parsed.spec, source, out)
    except CompileError:
        pass
    except RecursionError:
        out.items.clear()
    quoted = [f"'{name}'" for name in parsed.broken] + [f"`{name}`" for name in parsed.broken]
    follow_on = [d for d in out.items if any(q in d.message for q in quoted)]
    kept = [d for d in out.items if d not in follow_on]
    return sorted(set(parsed.diagnostics + kept), key=Diagnostic.sort_key)


def load_spec(path: str | Path, sets: dict[str, str] | None = None) -> ir.Program:
    """Read, parse and validate a spec file; raises CompileError on errors."""
    source = read(path)
    program, diagnostics = analyse(source, sets)
    if program is None:
        raise CompileError(diagnostics, source)
    return program


def spec_source(
    spec: str | os.PathLike | None, text: str | None, path: str | os.PathLike | None, caller: str
) -> Source:
    """The spec that ``nncompile.compile`` and ``nncompile.check`` take, the same way: a file path
    (positional, or ``path=``), or the text itself (``text=``; ``path=`` then names it)."""
    if text is not None:
        if spec is not None:
            raise TypeError(f"{caller}() takes a spec path or text=, not both")
        return Source(text, str(path) if path is not None else "<string>")
    if spec is not None and path is not None:
        raise TypeError(f"{caller}() takes the spec's path once (positional or path=)")
    where = spec if spec is not None else path
    if where is None:
        raise TypeError(f"{caller}() takes a spec path or text=")
    if isinstance(where, str) and ("\n" in where or "{" in where):
        raise TypeError(
            f"{caller}() reads its first argument as a file path; pass the spec itself as "
            f"{caller}(text=...)"
        )
    return read(Path(where))


def overrides(sets: Mapping[str, object] | None) -> dict[str, str]:
    """``let`` overrides as ``--set`` takes them: ``{"hidden": 256, "bn": True}`` -> strings."""
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (sets or {}).items()}
