"""`sample_weight=` of a data source (npz, csv): each example's weight in the training loss. It
needs examples with a loss of their own: a supervised model (a GAN's losses have no examples to
weigh), and rows that are examples (`windows` cut each series into windows, which have no weight
of their own). Whether the array or column is in the file is read from its header
(registry.datafiles)."""

from __future__ import annotations

from .. import diagnostics as D
from ..diagnostics import Collector
from . import ir


def check_sample_weight(train: ir.Train, out: Collector) -> None:
    source = train.data.props.source
    name = getattr(source.params, "sample_weight", None)
    if name is None:
        return
    data = train.data
    if train.model is None:
        out.error(
            D.BAD_VALUE,
            f"data {data.name} names sample weights ({name!r}), but train {train.name} is a GAN "
            "(`objective: gan(...)`), whose losses weigh no examples",
            source.span,
            f"remove `sample_weight={name!r}`",
        )
    elif data.props.windows is not None:
        out.error(
            D.BAD_VALUE,
            f"data {data.name} names sample weights ({name!r}) and cuts its rows into `windows`; "
            "a window has no weight of its own",
            source.span,
            f"remove `sample_weight={name!r}` or `windows`",
        )


def check_weighted_metrics(train: ir.Train, out: Collector, where) -> None:
    """`weighted_metrics: [...]` (Keras'): metrics of the one output of a supervised model, each
    example counted by its sample weight (each metric's own task checks: checks._metrics)."""
    if not train.props.weighted_metrics:
        return
    span = where("weighted_metrics")
    model = train.model
    if model is None:
        out.error(
            D.BAD_VALUE,
            f"weighted_metrics score the outputs of a supervised model; train {train.name} is a "
            "GAN (`objective: gan(...)`), which records no metrics",
            span,
            "remove `weighted_metrics`",
        )
    elif train.several:
        out.error(
            D.BAD_VALUE,
            f"weighted_metrics are for a model with one input and one output; model "
            f"{model.name} has {len(model.inputs)} input(s) and {len(model.outputs)} output(s)",
            span,
            "give unweighted metrics per output (`metrics: {...}`), or remove `weighted_metrics`",
        )
