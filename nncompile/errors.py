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


class HintedValueError(ValueError):
    """A validator's refusal (pydantic turns a ValueError into a validation error) with a hint,
    which `check` shows under the message."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


class DataError(NncompileError):
    """A data source cannot be read or does not fit the spec (missing file, NaN, wrong shape...)."""


class ConfigError(NncompileError):
    """A program's CONFIG is not a run configuration this nncompile reads (nncompile.runconfig)."""


class ResourceError(NncompileError):
    """A run needs more memory than the device (or host) has free: raised with the estimate, before
    anything is allocated when the estimate shows it, or when XLA runs out of memory
    (RESOURCE_EXHAUSTED)."""


def out_of_memory(e: BaseException) -> bool:
    """Whether an exception is an allocator's out-of-memory (XLA's RESOURCE_EXHAUSTED,
    MemoryError)."""
    return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in str(e)[:2000]
