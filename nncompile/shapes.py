"""Tensor shapes (without the batch axis), how diagnostics print them, and ShapeError."""

from __future__ import annotations

Shape = tuple[int, ...]


class ShapeError(Exception):
    """A layer does not fit its inputs: a message, and a hint the diagnostic shows with it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def fmt(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"
