"""What every rule of the plan reads: a decision (its value and its reason) and the facts about a
model (its layer nodes, looking into blocks; its layer entries; its final activation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ..registry.layers import LAYERS, Layer
from ..semantics import ir

FUSABLE_HEADS = ("softmax", "sigmoid")  # output activations a loss can take as logits
T = TypeVar("T")


@dataclass(frozen=True)
class Decision(Generic[T]):
    """One decision: its value and the reason it was taken."""

    value: T
    why: str


def layer_nodes(model: ir.Model) -> list[ir.Node]:
    """The layer nodes of a model and of the models it uses as blocks."""
    return [n for _, n in model.layer_paths()]


def model_layers(model: ir.Model) -> list[Layer]:
    """The layer entries of a model's layer nodes (bare activations are not layers)."""
    return [LAYERS[n.kind] for n in layer_nodes(model) if n.kind in LAYERS]


def last_activation(model: ir.Model) -> str | None:
    """The activation the model's output goes through last (looking into a final block)."""
    last = model.last
    if last is None:
        return None
    if last.kind == "activation":
        return last.params.name  # type: ignore[union-attr]
    if last.kind == "model" and last.submodel is not None:
        return last_activation(last.submodel)
    act = getattr(last.params, "activation", None)
    return act.name if act is not None else None


def head_activation(model: ir.Model) -> str | None:
    """The model's final activation when a loss can fuse it (not inside a block: it is emitted
    there)."""
    last = model.last
    if last is None or last.kind == "model":
        return None
    name = last_activation(model)
    return name if name in FUSABLE_HEADS else None
