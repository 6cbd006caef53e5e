"""Reading one line of a spec as text: its code outside strings, and where its comment starts."""

from __future__ import annotations


def scan(line: str) -> tuple[str, int | None]:
    """A line's code (its characters outside strings and before its comment) and the 0-based
    column of its `#` comment (None when it has none)."""
    code: list[str] = []
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
        elif ch == "#":
            return "".join(code), column
        else:
            code.append(ch)
    return "".join(code), None
