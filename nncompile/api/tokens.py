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
from ..semantics.values import token_limits as token_limits


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
