"""The terms layers add to the loss (`Layer.loss_term`, Keras' `add_loss`: gaussian_sample's KL
divergence): where they are in a model (blocks too) and the history keys they are recorded under."""

from __future__ import annotations

from dataclasses import dataclass

from .. import diagnostics as D
from ..diagnostics import Collector
from ..expr import Sym
from ..registry.layers import LAYERS, LossTerm
from . import ir


@dataclass(frozen=True)
class LayerLoss:
    """One layer's term: its history key (the entry's, prefixed with the layer's name when several
    layers add one), the term on the layer's attribute from `model`, and its spec line."""

    key: str
    term: LossTerm
    line: int


def layer_losses(model: ir.Model | None) -> list[LayerLoss]:
    found: list[tuple[str, LossTerm, int]] = []
    for path, node in model.layer_paths("model.") if model is not None else []:
        entry = LAYERS.get(node.kind)
        if entry is not None and entry.loss_term is not None:
            found.append((path, entry.loss_term(node.params, Sym(path)), node.span.line))
    several = len(found) > 1
    return [
        LayerLoss(
            f"{path.removeprefix('model.').replace('.', '_')}_{term.key}" if several else term.key,
            term,
            line,
        )
        for path, term, line in found
    ]


def recorded_keys(model: ir.Model | None) -> list[str]:
    """The history keys of the layers' terms (without `val_`)."""
    return [loss.key for loss in layer_losses(model)]


def check_layer_loss_keys(model: ir.Model | None, recorded: list[str] | None, out: Collector, span):
    """A layer's term must not share its history key with an output's loss (`recorded`: the keys
    of a model with several outputs): an output named `kl` records `kl_loss` too."""
    taken = set(recorded or ())
    for loss in layer_losses(model):
        if loss.key in taken:
            output = loss.key.removesuffix("_loss")
            out.error(
                D.DUPLICATE,
                f"output '{output}' records its loss as '{loss.key}', the history key of the "
                f"loss term the layer on line {loss.line} adds",
                span,
                f"rename the output (e.g. `output {output}_out`): the history keeps one "
                f"'{loss.key}'",
            )
