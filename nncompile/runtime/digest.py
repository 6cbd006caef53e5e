"""Digests of state trees: the structure a checkpoint must match, and a checksum of its bytes."""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import numpy as np


def path_str(path) -> str:
    """A tree path as "a/b/0"."""
    return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def flat(tree) -> list[tuple[str, Any]]:
    """(path, leaf) of every leaf, sorted by path."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return sorted((path_str(path), leaf) for path, leaf in leaves)


def fingerprint(tree) -> list[list]:
    """[path, shape, dtype] of every leaf, sorted by path: what a checkpoint must match."""
    return [[path, list(np.shape(leaf)), str(np.dtype(leaf.dtype))] for path, leaf in flat(tree)]


def sha256(tree) -> str:
    """SHA-256 over every leaf's path, dtype, shape and bytes (sorted by path): bitwise equality."""
    h = hashlib.sha256()
    for path, leaf in flat(tree):
        a = np.ascontiguousarray(np.asarray(jax.device_get(leaf)))
        h.update(f"{path}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def differences(want: list[list], have: list[list], limit: int = 3) -> list[str]:
    """How fingerprint `have` (a checkpoint's) differs from `want` (this program's), in lines."""
    a, b = {p: (s, d) for p, s, d in want}, {p: (s, d) for p, s, d in have}
    out = []
    for path in sorted(set(a) | set(b)):
        if path not in b:
            out.append(f"{path} is missing from the checkpoint")
        elif path not in a:
            out.append(f"the checkpoint has {path}, which this program does not")
        elif a[path] != b[path]:
            out.append(
                f"{path} is {array_type(*b[path])} in the checkpoint but "
                f"{array_type(*a[path])} here"
            )
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def array_type(shape, dtype) -> str:
    """ "float32[64, 32]"."""
    return f"{dtype}[{', '.join(map(str, shape))}]"
