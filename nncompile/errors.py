"""Errors that cross module boundaries. Each carries a message a user can act on."""

from __future__ import annotations


class NncompileError(Exception):
    """Base of every error nncompile raises on purpose; the CLI prints it without a traceback."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class DataError(NncompileError):
    """A data source cannot be read or does not fit the spec (missing file, NaN, wrong shape...)."""


class ConfigError(NncompileError):
    """A program's CONFIG is not a run configuration this nncompile reads (nncompile.runconfig)."""
