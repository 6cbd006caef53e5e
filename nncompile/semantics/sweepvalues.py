"""A sweep's values written as names stay names in its trials.

`grid: {act: [relu, tanh]}` over `let act = relu`: the values are activation names, but the
validated sweep holds them as Python strings, and a trial's `let` written back from a string is
`"relu"`, a string, which every name property refuses ("relu is written without quotes"): every
trial failed while `check` passed (found by bench/fuzz_mutate.py's sweeps, package fuzz). Here the
values the block wrote as names (not `let` names, which the validation resolved to their values)
become ``source.Bare`` strings, which ``source.as_text`` writes without quotes.
"""

from __future__ import annotations

from typing import Any

from ..source import Bare
from ..syntax import ast


def keep_names(props: Any, block: ast.SweepBlock, lets: dict[str, ast.Value]) -> Any:
    """``props`` (SweepProps) with its grid/random values that ``block`` wrote as names (not
    `let` names) as ``Bare`` strings."""
    update = {}
    for prop in block.properties:
        space = getattr(props, prop.key, None) if prop.key in ("grid", "random") else None
        if not isinstance(space, dict) or not isinstance(prop.value, ast.Dict):
            continue
        new = dict(space)
        for pair in prop.value.pairs:
            written = pair.value
            if isinstance(written, ast.Name) and isinstance(lets.get(written.id), ast.List):
                written = lets[written.id]  # `grid: {act: acts}` with `let acts = [relu, tanh]`
            values = new.get(pair.key)
            if not isinstance(written, ast.List) or not isinstance(values, list):
                continue
            if len(written.items) != len(values):
                continue
            new[pair.key] = [
                Bare(v)
                if isinstance(item, ast.Name) and item.id not in lets and v == item.id
                else v
                for item, v in zip(written.items, values, strict=True)
            ]
        update[prop.key] = new
    return props.model_copy(update=update) if update else props
