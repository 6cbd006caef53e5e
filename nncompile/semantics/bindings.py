"""Layer statements with more than one tensor on a side: tensor-valued arguments
(``lstm(64, initial_state=[h, c])``) and several bound names (``seq, h, c = lstm(...)``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Protocol

from .. import diagnostics as D
from ..diagnostics import Collector
from ..shapes import Shape
from ..syntax import ast
from . import ir


class Walk(Protocol):
    """What these helpers read of walk.ModelWalk."""

    out: Collector
    tensors: dict[str, ir.Tensor]
    failed: set[str]

    def unknown_tensor(self, n: ast.Name) -> None: ...


def tensor_arguments(
    walk: Walk, stmt: ast.LayerStmt, keys: tuple[str, ...], args: tuple[ast.Arg, ...]
) -> tuple[tuple[str, ...] | None, tuple[ast.Arg, ...]]:
    """The tensors named by the keyword arguments ``keys`` (further inputs of the layer, in order),
    and the arguments with those names as strings (what the layer's parameters validate)."""
    names: list[str] = []
    kept: list[ast.Arg] = []
    for a in args:
        if a.key not in keys:
            kept.append(a)
            continue
        items = a.value.items if isinstance(a.value, ast.List) else (a.value,)
        refs: list[ast.Name] = []
        for v in items:
            if not isinstance(v, ast.Name):
                walk.out.error(
                    D.BAD_VALUE,
                    f"{a.key} takes the names of tensors, e.g. {a.key}=[h, c]",
                    v.span,
                    "bind them earlier in the model: "
                    "`seq, h, c = lstm(64, return_sequences=true, return_state=true)`",
                )
                return None, args
            if v.id not in walk.tensors and v.id not in walk.failed:
                walk.unknown_tensor(v)
                return None, args
            refs.append(v)
        names.extend(r.id for r in refs)
        strings = tuple(ast.String(r.id, r.span) for r in refs)
        kept.append(replace(a, value=ast.List(strings, a.value.span)))
    return tuple(names), tuple(kept)


def bound_names(stmt: ast.LayerStmt) -> list[ast.Name]:
    if stmt.target is None or stmt.target_span is None:
        return []
    return [ast.Name(stmt.target, stmt.target_span), *stmt.more_targets]


def extra_outputs(
    walk: Walk,
    stmt: ast.LayerStmt,
    model: str,
    outputs: dict[str, Shape] | None,
    fields: frozenset[str] = frozenset(),
) -> tuple[ir.Tensor, ...] | None:
    """The tensors a statement binds besides its first (``h, c`` of ``seq, h, c = lstm(...)``),
    from the layer's ``outputs`` (``fields``: its parameters, for the hint); None after a
    diagnostic."""
    names = bound_names(stmt)
    labels = list(outputs or ())
    call = stmt.call.name
    if len(names) > 1 and len(labels) != len(names):
        if len(labels) == 1:  # gru/simple_rnn with return_state=true: the output is the state
            what = f"one tensor here ({labels[0]})"
            hint = (
                f"bind one name: `{labels[0]} = {call}(...)` (without return_sequences=true its "
                f"output is the final state {labels[0]}), or add return_sequences=true for the "
                f"steps too: `seq, {labels[0]} = {call}(...)`"
            )
        elif not labels:
            what = "one tensor"
            hint = (
                f"{call} yields its final states too with return_state=true"
                if "return_state" in fields
                else f"bind one name: `{names[0].id} = {call}(...)`"
            )
        else:
            what = f"{len(labels)} tensors here ({', '.join(labels)})"
            hint = f"bind {len(labels)} names: `{', '.join(labels)} = {call}(...)`"
            if "seq" not in labels:
                hint += "; without return_sequences=true its output is the final state h"
        walk.out.error(
            D.GRAPH,
            f"{call} yields {what}, but the statement binds {len(names)} names",
            stmt.span,
            hint,
        )
        return None
    if len(labels) > 1 and len(names) < 2:
        walk.out.warning(
            D.GRAPH,
            f"{call} yields {len(labels)} tensors ({', '.join(labels)}); only the first is used",
            stmt.span,
            f"bind them all: `{', '.join(labels)} = {call}(...)`",
        )
        return ()
    seen = {names[0].id} if names else set()
    for n in names[1:]:
        if n.id in walk.tensors or n.id in seen:
            walk.out.error(
                D.DUPLICATE,
                f"'{n.id}' is already defined in model {model}",
                n.span,
                "choose another name",
            )
            return None
        seen.add(n.id)
    assert outputs is not None or len(names) < 2
    shapes = list((outputs or {}).values())
    return tuple(ir.Tensor(n.id, s) for n, s in zip(names[1:], shapes[1:], strict=True))


def auto_name(kind: str, counts: Counter[str], block: bool, taken) -> str:
    """Keras-style names: dense_1, dense_2, ...; a model block used once keeps its own name."""
    counts[kind] += 1
    name = kind if block and counts[kind] == 1 else f"{kind}_{counts[kind]}"
    while name in taken:
        counts[kind] += 1
        name = f"{kind}_{counts[kind]}"
    return name
