"""Source text and spans: where every node, value and diagnostic came from."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    """A region of one source file; lines and columns are 1-based, ``end_column`` exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}-{self.end_line}:{self.end_column}"

    def __lt__(self, other: Span) -> bool:
        return (self.line, self.column) < (other.line, other.column)

    def cover(self, other: Span) -> Span:
        """The smallest span holding both."""
        start = min(self, other)
        end = max((self.end_line, self.end_column), (other.end_line, other.end_column))
        return Span(start.line, start.column, *end)


NOWHERE = Span(1, 1, 1, 1)


@dataclass(frozen=True)
class Source:
    """The text of one spec and the path it was read from (``<string>`` when none)."""

    text: str
    path: str = "<string>"
    lines: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.text.splitlines()))

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def end(self) -> Span:
        """A zero-width span just after the last character (where 'end of file' points)."""
        if not self.lines:
            return NOWHERE
        last = len(self.lines)
        column = len(self.lines[-1]) + 1
        return Span(last, column, last, column + 1)


class NotRegular(OSError):
    """A path that names no regular file: what it is instead."""


def read_regular(path: str | Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file (so that the caller sees it is too large).
    A FIFO, a device (/dev/zero), a socket raise NotRegular instead of blocking or never ending:
    opened without blocking, and checked on the open file (no swap between a check and the open)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
            raise NotRegular(kind)
        return f.read(limit + 1)


SPEC_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


class Bare(str):
    """A sweep value written as a name (`grid: {act: [relu, tanh]}`), not as a string: a trial's
    `let` gets the name back (semantics.sweepvalues)."""

    __slots__ = ()


def as_text(value: Any) -> str:
    """A Python value as spec text for a `let` override."""
    if isinstance(value, Bare):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # the spec's own escapes (not JSON's: "\u00e9" is not one)
        return '"' + "".join(SPEC_ESCAPES.get(ch, ch) for ch in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(as_text(v) for v in value) + "]"
    return repr(value)
