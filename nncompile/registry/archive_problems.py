"""What makes an .npz archive's member unusable as data, in one wording for loading
(registry.loading) and for `nncompile check`, which reads only the members' headers
(registry.datafiles): each a (message, hint) pair."""

from __future__ import annotations

import numpy as np

DAMAGED_HINT = "write the archive again"


def damaged(shown: object, key: str) -> tuple[str, str]:
    """(message, hint) of an archive member that cannot be read (load and `check` alike)."""
    return f"{shown}: array {key!r} is damaged and cannot be read", DAMAGED_HINT


def not_npy(shown: object, key: str) -> tuple[str, str]:
    return (
        f"{shown}: member {key!r} is not a .npy array",
        "store arrays with numpy.savez(path, x=..., y=...)",
    )


def array_problem(shown: object, key: str, dtype: np.dtype, shape: tuple) -> tuple[str, str] | None:
    """(message, hint) of an archive array that cannot be data, from its dtype and shape (a loaded
    array's, or the header `check` reads), or None."""
    if dtype.hasobject:
        return (
            f"{shown}: array {key!r} holds Python objects, and loading it would unpickle them "
            "(refused)",
            "store plain numeric arrays (int or float), never object arrays",
        )
    if dtype.kind not in "biuf":
        return f"{shown}: array {key!r} has dtype {dtype}, not numbers", "store int or float arrays"
    if not shape or shape[0] == 0:
        return (
            f"{shown}: array {key!r} has no examples (shape {shape})",
            "store one row per example",
        )
    return None
