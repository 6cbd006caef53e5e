"""One open document analysed: its diagnostics, syntax tree and validated program, and the
conversion between the compiler's spans (1-based, code points) and LSP positions (0-based, UTF-16
code units)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lsprotocol import types as lsp

from ..compiler import front_end
from ..diagnostics import Diagnostic
from ..semantics import ir
from ..source import Source, Span
from ..syntax import ast
from .incremental import reparse
from .symbols import Index, index


def utf16_column(line: str, column: int) -> int:
    """The 0-based UTF-16 offset of the 1-based code-point column ``column`` of ``line``."""
    prefix = line[: max(column - 1, 0)]
    return len(prefix.encode("utf-16-le")) // 2 + max(column - 1 - len(line), 0)


def code_point_column(line: str, character: int) -> int:
    """The 1-based code-point column of the 0-based UTF-16 offset ``character`` of ``line``."""
    units = 0
    for i, c in enumerate(line):
        if units >= character:
            return i + 1
        units += 2 if ord(c) > 0xFFFF else 1
    return len(line) + 1 + max(character - units, 0)


@dataclass
class Analysis:
    """What the server knows of one version of a document."""

    source: Source
    diagnostics: list[Diagnostic]
    program: ir.Program | None
    spec: ast.Spec | None  # the syntax tree; the last one that parsed when this text does not
    index: Index
    seconds: float = 0.0  # the time the front end took
    stale: bool = False  # ``spec``/``index`` come from an older text (this one has syntax errors)
    lines: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = tuple(self.source.text.split("\n"))

    def line(self, number: int) -> str:
        """The text of 1-based line ``number`` ('' past the end)."""
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def range(self, span: Span) -> lsp.Range:
        return lsp.Range(
            start=lsp.Position(
                line=span.line - 1, character=utf16_column(self.line(span.line), span.column)
            ),
            end=lsp.Position(
                line=span.end_line - 1,
                character=utf16_column(self.line(span.end_line), span.end_column),
            ),
        )

    def at(self, position: lsp.Position) -> tuple[int, int]:
        """(line, column), 1-based code points, of an LSP position."""
        line = position.line + 1
        return line, code_point_column(self.line(line), position.character)

    def offset(self, position: lsp.Position) -> int:
        """The index into the text of an LSP position."""
        line, column = self.at(position)
        return sum(len(x) + 1 for x in self.lines[: line - 1]) + column - 1

    def whole(self) -> lsp.Range:
        """The range of the whole text."""
        last = len(self.lines)
        return lsp.Range(
            start=lsp.Position(line=0, character=0),
            end=lsp.Position(
                line=last - 1, character=utf16_column(self.lines[-1], len(self.lines[-1]) + 1)
            ),
        )


def analyse_text(text: str, path: str, previous: Analysis | None = None) -> Analysis:
    """Run the front end on ``text`` (exactly what `check` runs); when it does not parse, keep the
    previous syntax tree so that navigation and hover keep working while the user types."""
    started = time.perf_counter()
    source = Source(text, path)
    parsed = None
    if previous is not None and not previous.stale:
        parsed = reparse(previous.source.text, previous.spec, text, path)
    spec, program, found = front_end(source, parsed=parsed)
    stale = spec is None and previous is not None
    if spec is None and previous is not None:
        spec = previous.spec
    seconds = time.perf_counter() - started
    return Analysis(source, found, program, spec, index(spec), seconds, stale)


def to_lsp(d: Diagnostic, doc: Analysis) -> lsp.Diagnostic:
    """A compiler diagnostic as LSP's: the exact range, the code, the hint in the message."""
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    here = d.path == doc.source.path
    if not here:  # about another file (a data file, `--set`): said at the top, with its path
        message = f"{d.path}:{d.span.line}:{d.span.column}: {message}"
    severity = {
        "error": lsp.DiagnosticSeverity.Error,
        "warning": lsp.DiagnosticSeverity.Warning,
    }.get(d.severity, lsp.DiagnosticSeverity.Information)
    return lsp.Diagnostic(
        range=doc.range(d.span) if here else doc.range(Span(1, 1, 1, 1)),
        message=message,
        severity=severity,
        code=d.code,
        source="nncompile",
    )


def diagnostics(doc: Analysis) -> list[lsp.Diagnostic]:
    """The document's diagnostics."""
    return [to_lsp(d, doc) for d in doc.diagnostics]
