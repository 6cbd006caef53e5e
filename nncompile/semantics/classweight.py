"""`class_weight:` of a train block: it weighs the classes of one classification output (Keras'
`fit(class_weight=...)`), so the loss must read class ids, the model must have one output, the
class ids must be classes of that output, and padding (which the weights would meet) is refused.
The weights' sign and type are the schema's (semantics.schema.ClassWeights)."""

from __future__ import annotations

from collections.abc import Callable

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry.losses import LOSSES
from ..source import Span
from . import ir
from .pydantic_errors import KEY


def check_class_weight(train: ir.Train, out: Collector, where: Callable[[str], Span]) -> None:
    given = train.props.class_weight
    if given is None:
        return
    span = where("class_weight")
    model = train.model
    if model is None:
        out.error(
            D.BAD_VALUE,
            "class_weight weighs the loss of a supervised model; `objective: gan(...)` has none",
            span,
            "remove `class_weight`",
        )
        return
    if len(model.outputs) > 1 or isinstance(train.props.loss, dict):
        names = ", ".join(t.name for t in model.outputs)
        out.error(
            D.BAD_VALUE,
            f"class_weight weighs the classes of one output; model {model.name} has "
            f"{len(model.outputs)} ({names})",
            span,
            "weigh the outputs' losses with `loss_weights: {...}` (Keras refuses class_weight "
            "for several outputs too)",
        )
        return
    loss = LOSSES[train.loss.name]
    if loss.task != "classification":
        takes = [e.name for e in LOSSES.entries() if e.task == "classification"]
        out.error(
            D.BAD_VALUE,
            f"class_weight weighs classes, but {train.loss.name} is a {loss.task} loss",
            span,
            f"use it with a classification loss: {D.one_of(takes)}",
        )
        return
    if train.data.props.pad is not None:
        out.error(
            D.BAD_VALUE,
            f"class_weight with `pad: {train.data.props.pad}` of data {train.data.name}: the "
            "padded targets would be weighed too",
            span,
            "remove `class_weight` or `pad`",
        )
        return
    if isinstance(given, str):
        return
    classes = loss.classes(model.outputs[0].shape[-1])
    for class_id in given:
        if class_id >= classes:
            out.error(
                D.BAD_VALUE,
                f"class_weight names class {class_id}, but model {model.name} tells {classes} "
                f"classes apart (ids 0 to {classes - 1})",
                train.property_spans.get(f"class_weight.{class_id}.{KEY}", span),
                f"give weights for the class ids 0 to {classes - 1} (the others weigh 1)",
            )
