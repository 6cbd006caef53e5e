"""Token ids against the layer that reads them: an `embedding(V, ...)` (or `one_hot(V)`) taking an
integer input reads ids 0..V-1. A larger id is no error to JAX: the embedding's lookup returns NaN
(training stopped at its first step with advice about learning rates) and one_hot a row of zeros.
The api checks the arrays it is given (fit, evaluate, predict) before anything is compiled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import DataError
from ..semantics import ir

READERS = {"embedding": "vocab", "one_hot": "classes"}  # layer kind -> its id-count argument


def token_limits(model: ir.Model | None) -> dict[str, tuple[ir.Node, int]]:
    """Each integer input an embedding or one_hot layer reads directly: (that layer, its count)."""
    if model is None:
        return {}
    ints = {t.name for t in model.inputs if t.dtype == "int32"}
    out: dict[str, tuple[ir.Node, int]] = {}
    for node in model.nodes:
        field = READERS.get(node.kind)
        for name in node.inputs if field else ():
            if name in ints and name not in out:
                out[name] = (node, int(getattr(node.params, str(field))))
    return out


def check_token_ids(x: Any, limits: Mapping[str, tuple[ir.Node, int]], where: str) -> None:
    """Refuse ids outside 0..count-1 of the layer reading each integer input."""
    for name, (node, count) in limits.items():
        a = x.get(name) if isinstance(x, Mapping) else x
        if a is None:
            continue
        a = np.asarray(a)
        if a.dtype.kind not in "iu" or a.size == 0:
            continue
        low, high = int(a.min()), int(a.max())
        if low >= 0 and high < count:
            continue
        bad = int(((a < 0) | (a >= count)).sum())
        more = ", ..." if node.kind == "embedding" else ""
        raise DataError(
            f"{where}: input {name} holds {bad} token id(s) outside 0..{count - 1} (from {low} to "
            f"{high}), but {node.kind}({count}{more}) ({node.name}) reads ids 0..{count - 1}",
            f"give it {high + 1} ids, {node.kind}({high + 1}{more}), or renumber the tokens"
            if low >= 0
            else "token ids start at 0: renumber the tokens",
        )
