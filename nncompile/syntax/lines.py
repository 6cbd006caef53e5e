"""Reading one line of a spec as text: its code outside strings, and where its comment starts."""

from __future__ import annotations

from collections.abc import Iterator


def code_chars(line: str) -> Iterator[tuple[int, str]]:
    """(0-based column, character) of each character of a line's code: outside strings, before
    its `#` comment (the comment's `#` itself is yielded last, as (column, "#"))."""
    in_string = escaped = False
    for column, ch in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        else:
            yield column, ch
            if ch == "#":
                return


def scan(line: str) -> tuple[str, int | None]:
    """A line's code (its characters outside strings and before its comment) and the 0-based
    column of its `#` comment (None when it has none)."""
    code: list[str] = []
    for column, ch in code_chars(line):
        if ch == "#":
            return "".join(code), column
        code.append(ch)
    return "".join(code), None
