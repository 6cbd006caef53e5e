"""Reading data leniently, for reports: `nncompile data` reads data as training does, but
describes missing and non-finite values instead of refusing them. Inside `lenient()`,
`loading.check_finite` lets them through and empty csv cells (and NA, NaN, ?, null) read as NaN."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

LENIENT: contextvars.ContextVar[bool] = contextvars.ContextVar("lenient", default=False)
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})


@contextmanager
def lenient() -> Iterator[None]:
    """Load data with its missing and non-finite values kept as NaN/inf (for reports only)."""
    token = LENIENT.set(True)
    try:
        yield
    finally:
        LENIENT.reset(token)
