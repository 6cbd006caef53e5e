"""Diagnostics: one format for every error the compiler reports, and did-you-mean."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import NncompileError
from .source import NOWHERE, Source, Span

# Codes are stable (tests and editors match on them); the family is the stage that found it.
SYNTAX = "E100"  # unexpected token
BAD_CHARACTER = "E101"  # a character that starts no token
UNCLOSED = "E102"  # end of file inside a block, list, dict or call
BAD_ENCODING = "E103"  # not UTF-8 text, or too large
UNKNOWN_NAME = "E200"  # a layer, activation, loss, optimizer ... that does not exist
UNKNOWN_REFERENCE = "E201"  # a model, data block, tensor or train block that does not exist
DUPLICATE = "E202"  # a name defined twice
UNKNOWN_PROPERTY = "E203"  # a block property that does not exist
MISSING_PROPERTY = "E204"  # a required block property is absent
BAD_NAME = "E205"  # a name the emitted code cannot use (a keyword, a leading _, ...)
BAD_VALUE = "E300"  # wrong type or out of range
MISSING_ARGUMENT = "E301"
UNKNOWN_ARGUMENT = "E302"
TOO_MANY_ARGUMENTS = "E303"
REPEATED_ARGUMENT = "E304"
SHAPE = "E400"  # a layer cannot take the shape it receives
MERGE_SHAPES = "E401"  # add/multiply/concat of incompatible shapes
NO_INPUT = "E402"  # a model without input
GRAPH = "E403"  # unused inputs, bad outputs, cycles
DATA_MODEL = "E500"  # data features vs model input
LOSS_OUTPUT = "E501"  # loss vs model output / data targets
NEEDS_VALIDATION = "E502"  # monitoring val_* without a validation split
GAN_SHAPES = "E503"
DATA_FILE = "E504"  # a data file that cannot be read at check time
TRANSFER = "E505"  # init/freeze references
STUDY = "E506"  # a sweep's study: its storage cannot be opened, or it is another sweep's


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where (path + span), what (code + message) and what to do (hint)."""

    code: str
    message: str
    span: Span = NOWHERE
    hint: str | None = None
    path: str = "<string>"
    severity: str = "error"

    def sort_key(self) -> tuple:
        return (self.path, self.span.line, self.span.column, self.code, self.message)

    def render(self, source: Source | None = None) -> str:
        """``path:line:col: error[CODE]: message``, the source line, a caret, and the hint."""
        s = self.span
        where, message = printable(self.path), printable(self.message)
        out = [f"{where}:{s.line}:{s.column}: {self.severity}[{self.code}]: {message}"]
        text = source.line(s.line) if source is not None and source.path == self.path else ""
        if text.strip():
            text = text.expandtabs(1)
            width = s.end_column - s.column if s.end_line == s.line else len(text) - s.column + 1
            before = printable(text[: s.column - 1])  # the caret counts escaped characters
            marked = printable(text[s.column - 1 : s.column - 1 + max(1, width)])
            gutter = " " * len(str(s.line))
            out.append(f" {s.line} | {printable(text)}")
            out.append(f" {gutter} | {' ' * len(before)}{'^' * max(1, len(marked))}")
        if self.hint:
            out.append(f"  hint: {printable(self.hint)}")
        return "\n".join(out)

    def to_json(self) -> dict:
        s = self.span
        return {
            "path": self.path,
            "line": s.line,
            "column": s.column,
            "end": {"line": s.end_line, "column": s.end_column},
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class CompileError(NncompileError):
    """Raised when a stage found errors; carries them all, sorted by position (rendered as its
    message)."""

    def __init__(self, diagnostics: Iterable[Diagnostic], source: Source | None = None):
        self.diagnostics = sorted(
            set(diagnostics), key=Diagnostic.sort_key
        )  # a let used twice reports once
        self.source = source
        super().__init__(render(self.diagnostics, source))


def printable(text: str) -> str:
    """Text from a spec or a file name as it may reach a terminal: control, format (bidi
    overrides, zero-width) and line/paragraph separator characters written as escapes."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


def render(diagnostics: Iterable[Diagnostic], source: Source | None = None) -> str:
    return "\n\n".join(d.render(source) for d in diagnostics)


def to_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, or None when nothing is close.

    Typos first (fewest edits, a swap of neighbours counting as one: 'adma' -> 'adam', not
    'adamax'), then difflib's similarity for longer differences.
    """
    pool = sorted(set(candidates))
    scored = sorted((_edits(name.lower(), c.lower()), c) for c in pool)
    if scored and scored[0][0] <= (max(1, len(name) // 4) if len(name) > 2 else 0):
        close = [scored[0][1]]
    else:
        close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    if abs(len(a) - len(b)) > 3:
        return 99
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if (
                prev2 is not None
                and i > 1
                and j > 1
                and a[i - 1] == b[j - 2]
                and a[i - 2] == b[j - 1]
            ):
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def one_of(candidates: Iterable[str], limit: int = 12) -> str:
    """'a', 'b' or 'c' -- for messages listing the valid choices."""
    names = sorted(set(candidates))
    shown = [f"'{n}'" for n in names[:limit]]
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + f" or {shown[-1]}{more}"


class Collector:
    """Accumulates the diagnostics of one stage for one source."""

    def __init__(self, path: str):
        self.path = path
        self.items: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, message, span, hint, self.path))

    def warning(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, message, span, hint, self.path, "warning"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    def raise_if_errors(self, source: Source | None = None) -> None:
        if self.errors:
            raise CompileError(self.items, source)
