"""What a block property or a call argument expects, read from the pydantic models: a registry
(``RefTo``), a block of the spec (``BlockRef``), nested properties (a ``Params`` model: dicts such
as ``early_stopping: {...}``), a choice of symbols (``Literal``) or a bool. Completion and hover
use it; the registries and the block schema stay the one place that says it."""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass

from ..registry import BlockRef, Entry, Params, RefTo, registries
from ..semantics.schema import BLOCKS


@dataclass(frozen=True)
class Expect:
    """What a value in one place may be."""

    registry: str | None = None  # a registry kind: 'activation', 'loss', ...
    block: str | None = None  # 'model' | 'data' | 'train'
    nested: type[Params] | None = None  # a dict of these properties
    symbols: tuple[str, ...] = ()  # Literal choices and true/false


def _walk(annotation) -> typing.Iterator:
    """Every type inside an annotation (unions, lists, dicts, Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _walk(typing.get_args(annotation)[0])
        return
    if origin in (typing.Union, types.UnionType, list, dict, tuple):
        for arg in typing.get_args(annotation):
            yield from _walk(arg)
        return
    yield annotation


def expect(model: type[Params] | None, key: str) -> Expect:
    """What the field ``key`` of ``model`` takes."""
    info = model.model_fields.get(key) if model is not None else None
    if info is None:
        return Expect()
    meta = next((m for m in info.metadata if isinstance(m, (RefTo, BlockRef))), None)
    if isinstance(meta, RefTo):
        return Expect(registry=meta.kind)
    if isinstance(meta, BlockRef):
        return Expect(block=meta.kind)
    nested = None
    symbols: list[str] = []
    for t in _walk(info.annotation):
        if typing.get_origin(t) is typing.Literal:
            symbols += [str(v) for v in typing.get_args(t) if isinstance(v, str)]
        elif t is bool:
            symbols += ["true", "false"]
        elif isinstance(t, type) and issubclass(t, Params):
            nested = t
        else:  # Annotated inside a list (`list[Annotated[Ref, ...]]`): its metadata
            for m in getattr(t, "__metadata__", ()):
                if isinstance(m, RefTo):
                    return Expect(registry=m.kind)
    return Expect(nested=nested, symbols=tuple(symbols))


def block_model(keyword: str) -> type[Params] | None:
    """The properties of a `data`, `train` or `sweep` block."""
    return BLOCKS.get(keyword)


# a call's name is looked up in these registries, in this order, when the place does not say
ORDER = (
    "layer",
    "activation",
    "loss",
    "optimizer",
    "schedule",
    "metric",
    "source",
    "regularizer",
    "initializer",
    "augmentation",
    "objective",
    "noise",
    "init",
    "sweep_objective",
)


@functools.cache
def entry(name: str, kind: str | None = None) -> tuple[str, Entry] | None:
    """The registry entry a name refers to: in ``kind`` when known, else the first registry (in
    ORDER) that has it."""
    regs = registries()
    if kind is not None and kind in regs and name in regs[kind]:
        return kind, regs[kind][name]
    for k in ORDER:
        if k in regs and name in regs[k]:
            return k, regs[k][name]
    return None
