"""`init: checkpoint(run, layers=[...])` against the run folder it names, read as `check` can
(registry.runpaths: no checkpoint library): no trained run there is a warning (the pretraining may
come after `check`, as in specs/transfer_finetune.nn); a trained run without a listed layer is an
error (loading would stop at it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry.runpaths import missing_init_run, param_layers, resolve_run
from . import ir


def check_init_run(train: ir.Train, out: Collector) -> None:
    init = train.props.init
    if init is None or train.model is None:
        return
    params: Any = init.params
    span = train.property_spans.get("init", train.span)
    run = Path(params.run)
    for _, hint in missing_init_run(run, out.path):  # (a message naming no absolute path)
        message = (
            f"init: no trained run at {run} yet (the path is relative to the working directory)"
        )
        out.warning(D.TRANSFER, message, span, hint)
        return
    found = resolve_run(run)
    held = param_layers(found)
    listed = params.layers or []
    if held is None:
        return
    for i, name in enumerate(listed):
        if name not in held:
            out.error(
                D.TRANSFER,
                f"init: layer '{name}' is not in {found} (its layers: {', '.join(sorted(held))})",
                train.property_spans.get(f"init.{i}", span),
                f"leave '{name}' out of `layers`, or name the layer in this model as in the run",
            )
