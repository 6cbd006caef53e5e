"""Registries: one dict of entries per kind of name a spec can use.

An entry is data plus small pure functions: its argument model (pydantic), the order of its
positional arguments, its docs, its rules (layers: shapes and parameter counts) and its lowering
to Flax/Optax code as ``nncompile.expr`` objects, so that ``check`` never imports JAX. Each kind
has its own typed entry (``layers.Layer``, ``activations.Activation``, ...); docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from ..source import Span


class Params(BaseModel):
    """Base of every argument model: frozen, unknown keywords rejected."""

    # defer_build: a model's validator is built when a spec first uses it, not at import (of ~60
    # argument models a spec uses a few: `check`'s start -0.04 CPU s)
    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, defer_build=True
    )


class NoParams(Params):
    pass


@dataclass(frozen=True)
class RefTo:
    """Field metadata: the value names an entry of another registry (``activation=relu``)."""

    kind: str


@dataclass(frozen=True)
class BlockRef:
    """Field metadata: the value names a block of the spec (``model: DigitsMLP``)."""

    kind: str  # "model" | "data" | "train"


@dataclass(frozen=True)
class Ref:
    """A resolved registry reference: the entry's name and its validated arguments."""

    kind: str
    name: str
    params: Params
    span: Span

    def __str__(self) -> str:
        given = self.params.model_dump(exclude_defaults=True)
        if not given:
            return self.name
        return f"{self.name}({', '.join(f'{k}={_text(v)}' for k, v in given.items())})"


def _text(v: Any) -> str:
    if isinstance(v, Ref):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_text(x) for x in v) + "]"
    return repr(v)


@dataclass(frozen=True)
class Entry:
    """One name in a registry."""

    name: str
    params: type[Params] = NoParams
    positional: tuple[str, ...] = ()
    doc: str = ""


E = TypeVar("E", bound=Entry)


class Registry(Generic[E]):
    """An ordered, read-only mapping of names to entries of one kind."""

    def __init__(self, kind: str, entries: list[E]):
        self.kind = kind
        self._entries = {e.name: e for e in entries}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> E:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[E]:
        return list(self._entries.values())

    def get(self, name: str) -> E | None:
        return self._entries.get(name)


def registries() -> dict[str, Registry]:
    """Every registry by kind (the kinds RefTo can name)."""
    from . import (
        activations,
        augmentations,
        layers,
        losses,
        metrics,
        optimizers,
        schedules,
        sources,
        sweeps,
        tracking,
        training,
    )

    return {
        r.kind: r
        for r in (
            layers.LAYERS,
            activations.ACTIVATIONS,
            activations.INITIALIZERS,
            losses.LOSSES,
            optimizers.OPTIMIZERS,
            schedules.SCHEDULES,
            schedules.REGULARIZERS,
            metrics.METRICS,
            training.OBJECTIVES,
            training.NOISES,
            training.INITS,
            training.SWEEP_OBJECTIVES,
            sweeps.ENGINES,
            sweeps.SAMPLERS,
            sweeps.PRUNERS,
            sources.SOURCES,
            augmentations.AUGMENTATIONS,
            tracking.TRACKERS,
        )
    }
