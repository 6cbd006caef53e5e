"""The syntax tree: frozen dataclasses, every node with the span it came from.

``dump(node)`` prints a tree in a stable text form (used by golden files and ``nncompile parse``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..source import Span


# ---- values ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Number:
    value: int | float
    span: Span


@dataclass(frozen=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True)
class List:
    items: tuple[Value, ...]
    span: Span


@dataclass(frozen=True)
class Pair:
    key: str
    key_span: Span
    value: Value
    span: Span


@dataclass(frozen=True)
class Dict:
    pairs: tuple[Pair, ...]
    span: Span


@dataclass(frozen=True)
class Arg:
    """One argument of a call: positional when ``key`` is None."""

    key: str | None
    key_span: Span | None
    value: Value
    span: Span


@dataclass(frozen=True)
class Call:
    name: str
    name_span: Span
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True)
class BinOp:
    """Arithmetic ``left op right`` (op: ``+ - * / //``), evaluated at compile time."""

    op: str
    left: Value
    right: Value
    span: Span


@dataclass(frozen=True)
class Neg:
    """Unary minus of a value that is not a number literal (``-rate``, ``-(a + 1)``)."""

    operand: Value
    span: Span


Value = Number | String | Bool | Name | List | Dict | Call | BinOp | Neg


# ---- statements and blocks ---------------------------------------------------------------
@dataclass(frozen=True)
class Property:
    key: str
    key_span: Span
    value: Value
    span: Span


@dataclass(frozen=True)
class Let:
    name: str
    name_span: Span
    value: Value
    span: Span


@dataclass(frozen=True)
class DataBlock:
    name: str
    name_span: Span
    properties: tuple[Property, ...]
    span: Span


@dataclass(frozen=True)
class TrainBlock:
    name: str  # "main" when the block is unnamed
    name_span: Span
    properties: tuple[Property, ...]
    span: Span


@dataclass(frozen=True)
class SweepBlock:
    name: str
    name_span: Span
    properties: tuple[Property, ...]
    span: Span


@dataclass(frozen=True)
class Input:
    name: str
    name_span: Span
    dims: tuple[Value, ...]  # each a whole-number expression (checked in semantics)
    dtype: str  # "float32" or "int32"
    span: Span


@dataclass(frozen=True)
class LayerStmt:
    """``[target =] call [(inputs)]``; a bare name is a call with ``bare=True`` and no args.
    ``seq, h, c = lstm(...)`` (a layer with several outputs): ``target`` is the first name,
    ``more_targets`` the others."""

    target: str | None
    target_span: Span | None
    call: Call
    bare: bool
    inputs: tuple[Name, ...] | None
    span: Span
    more_targets: tuple[Name, ...] = ()


@dataclass(frozen=True)
class Output:
    names: tuple[Name, ...]
    span: Span


@dataclass(frozen=True)
class ModelParam:
    name: str
    default: Value | None
    span: Span


@dataclass(frozen=True)
class ModelBlock:
    name: str
    name_span: Span
    params: tuple[ModelParam, ...]
    body: tuple[Input | LayerStmt | Output, ...]
    span: Span


Item = Let | DataBlock | ModelBlock | TrainBlock | SweepBlock


@dataclass(frozen=True)
class Spec:
    items: tuple[Item, ...]
    path: str


# ---- printing ----------------------------------------------------------------------------
def dump(node, indent: int = 0) -> str:
    """A stable, indented text form of a node: one line per node, spans in brackets."""
    pad = "  " * indent
    if isinstance(node, tuple):
        return "\n".join(dump(n, indent) for n in node)
    simple = {
        f.name: getattr(node, f.name)
        for f in fields(node)
        if getattr(node, f.name) is not None
        and not isinstance(getattr(node, f.name), (tuple, Span))
        and not _is_node(getattr(node, f.name))
    }
    head = " ".join(f"{k}={v!r}" for k, v in simple.items())
    span = getattr(node, "span", None)
    lines = [f"{pad}{type(node).__name__} {head}".rstrip() + (f" @{span}" if span else "")]
    for f in fields(node):
        value = getattr(node, f.name)
        if _is_node(value) or (isinstance(value, tuple) and value):
            lines.append(f"{pad}  {f.name}:")
            lines.append(dump(value, indent + 2))
    return "\n".join(lines)


def _is_node(value) -> bool:
    return hasattr(value, "__dataclass_fields__") and not isinstance(value, Span)
