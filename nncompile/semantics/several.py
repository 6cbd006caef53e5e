"""Cross checks of a model with several inputs or outputs (issue 11): per-output `loss: {...}` and
`loss_weights: {...}` name the model's outputs, a source's named arrays (`npz(x=[...], y=[...])`)
are the model's inputs and outputs, metrics fit some output, and the history keys of per-output
metrics (`<output>_<metric>`) can be monitored."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry import Ref
from ..registry.loading import data_path
from ..registry.losses import LOSSES
from ..registry.metrics import METRICS
from ..registry.several import npz_headers
from ..shapes import fmt
from . import ir


def several_losses(
    train: ir.Train, model: ir.Model, out: Collector, span
) -> Iterator[tuple[str, Ref, ir.Node | None]]:
    """Each output with its loss and the node that makes it, after checking the names of
    `loss: {...}` and `loss_weights: {...}` against the model's outputs."""
    names = [t.name for t in model.outputs]
    spans = train.property_spans
    for key in ("loss", "loss_weights"):
        given = train.props.loss if key == "loss" else train.props.loss_weights
        if not isinstance(given, dict):
            continue
        for k in given:
            if k not in names:
                out.error(
                    D.UNKNOWN_REFERENCE,
                    f"{key} names '{k}', which is not an output of model {model.name}",
                    spans.get(f"{key}.{k}", spans.get(key, span)),
                    D.did_you_mean(k, names) or f"its outputs are {D.one_of(names)}",
                )
    losses = train.output_losses()
    for name in names:
        if name not in losses:
            out.error(
                D.LOSS_OUTPUT,
                f"output {name} of model {model.name} has no loss",
                spans.get("loss", span),
                f"add `{name}: ...` to `loss: {{...}}` (or give one loss for every output)",
            )
            continue
        yield name, losses[name], next((n for n in model.nodes if n.output == name), None)


def output_tasks(train: ir.Train) -> dict[str, str]:
    """Each output's task: its loss's."""
    if train.model is None:
        return {}
    return {n: LOSSES[r.name].task for n, r in train.output_losses().items()}


def recorded(train: ir.Train) -> list[str] | None:
    """The history keys (without `val_`) of a model with several outputs, None for one output."""
    if train.model is None or len(train.model.outputs) < 2:
        return None
    tasks = output_tasks(train)
    keys = ["loss", *(f"{name}_loss" for name in tasks)]
    for name, task in tasks.items():
        for out, m in train.metric_refs():
            entry = METRICS[m.name]
            if out == name or (out is None and entry.task == task):
                keys.append(f"{name}_{entry.history_key(m.params)}")
    return keys


def source_names(params) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """What a source's arguments say about its inputs and targets: (argument, a name or a list of
    names or None) each. npz: `x`, `y`; csv: `inputs` (column groups), `target` (a dict names the
    outputs: `target={out: column}`; a list is one output's columns, one per step)."""
    if hasattr(params, "target"):
        groups = getattr(params, "inputs", None)
        target = params.target
        named = list(target) if isinstance(target, dict) else target
        named = (
            "the target columns"
            if isinstance(named, list) and not isinstance(target, dict)
            else named
        )
        return ("inputs", list(groups) if groups else "the feature columns"), ("target", named)
    return ("x", getattr(params, "x", None)), ("y", getattr(params, "y", None))


def _listed(arg: str, names: list[str]) -> str:
    """How a source lists these names: `x=["a", "b"]`, or csv's `inputs={a: [...], b: [...]}`."""
    if arg == "inputs":
        return "inputs={" + ", ".join(f"{n}: [columns]" for n in names) + "}"
    if arg == "target":
        return "target={" + ", ".join(f'{n}: "column"' for n in names) + "}"
    return f"{arg}=[" + ", ".join(f'"{n}"' for n in names) + "]"


def check_several(train: ir.Train, out: Collector, where) -> None:
    """Named arrays of the source against the model; metrics and augmentations."""
    model = train.model
    if model is None:
        return
    if isinstance(train.props.metrics, dict) and len(model.outputs) < 2:
        out.error(
            D.BAD_VALUE,
            f"`metrics: {{...}}` names outputs, but model {model.name} has one output",
            train.property_spans.get("metrics", where("metrics")),
            "give a list: `metrics: [accuracy]`",
        )
    if train.props.loss_weights and len(model.outputs) < 2:
        out.error(
            D.BAD_VALUE,
            f"`loss_weights` weights the losses of several outputs, but model {model.name} has one",
            train.property_spans.get("loss_weights", where("loss_weights")),
            "remove `loss_weights`",
        )
    params = train.data.props.source.params
    (xarg, xs), (yarg, ys) = source_names(params)
    for what, arg, given, tensors in (
        ("input", xarg, xs, model.inputs),
        ("output", yarg, ys, model.outputs),
    ):
        want = [t.name for t in tensors]
        if train.data.given:  # fit(data=...) is checked against the model when it is called
            continue
        if given is None and len(want) > 1:
            source = train.data.props.source
            out.error(
                D.DATA_MODEL,
                f"model {model.name} has {len(want)} {what}s ({', '.join(want)}), but data "
                f"{train.data.name} ({source.name}) gives one {what} array",
                source.span,
                "use a source with named arrays: npz(path, x=[...], y=[...]) or "
                "csv(path, target={output: column, ...}, inputs={...})",
            )
            continue
        if given is None or (isinstance(given, str) and len(want) == 1):
            continue
        if isinstance(given, list) and len(want) == 1:
            out.error(
                D.DATA_MODEL,
                f"data {train.data.name} lists named arrays ({arg}: {', '.join(given)}), but "
                f"model {model.name} has one {what}",
                train.data.props.source.span,
                f'name one array: {arg}="{given[0]}"'
                if len(given) == 1
                else f"give the model one {what} per array",
            )
        elif isinstance(given, str):
            out.error(
                D.DATA_MODEL,
                f"model {model.name} has {len(want)} {what}s ({', '.join(want)}), but data "
                f"{train.data.name} gives one array ({arg}: {given})",
                train.data.props.source.span,
                f"list one array per {what}, named like them: {_listed(arg, want)}",
            )
        elif list(given) != want:
            missing = [n for n in want if n not in given]
            extra = [n for n in given if n not in want]
            why = (
                f"has no array for {what} '{missing[0]}'"
                if missing
                else f"names '{extra[0]}', which is not an {what} of model {model.name}"
                if extra
                else f"lists the {what}s in another order than model {model.name}"
            )
            out.error(
                D.DATA_MODEL,
                f"data {train.data.name} {why} (its {arg}: {', '.join(given)})",
                train.data.props.source.span,
                f"name the arrays after the model's {what}s, in order: {_listed(arg, want)}",
            )
    if not train.several:
        return
    _npz_shapes(train, model, out)
    if len(model.outputs) > 1:
        named = output_tasks(train)
        tasks = set(named.values())
        for output, metric in train.metric_refs():
            kind = METRICS[metric.name].task
            if output is not None and output not in named:
                out.error(
                    D.UNKNOWN_REFERENCE,
                    f"metrics names '{output}', which is not an output of model {model.name}",
                    train.property_spans.get(f"metrics.{output}", metric.span),
                    D.did_you_mean(output, list(named)) or f"its outputs are {D.one_of(named)}",
                )
            elif output is not None and kind != named[output]:
                out.error(
                    D.LOSS_OUTPUT,
                    f"metric {metric.name} is for {kind}, but output {output} is "
                    f"{named[output]} (its loss is {train.output_losses()[output].name})",
                    metric.span,
                    f"give output {output} metrics for {named[output]}",
                )
            for name in [output] if output is not None else [n for n in named if named[n] == kind]:
                tensor = next((t for t in model.outputs if t.name == name), None)
                units = tensor.shape[-1] if tensor is not None and tensor.shape else 1
                problem = METRICS[metric.name].check_classes(metric.params, max(units, 2))
                if problem is not None:
                    hint = (
                        problem[1]
                        if output is not None
                        else (
                            f"a listed metric applies to every {kind} output: give metrics "
                            f"per output, `metrics: {{{', '.join(f'{n}: [...]' for n in named)}}}`"
                        )
                    )
                    out.error(D.BAD_VALUE, f"{problem[0]} (output {name})", metric.span, hint)
            if output is None and kind not in tasks:
                out.error(
                    D.LOSS_OUTPUT,
                    f"metric {metric.name} is for {METRICS[metric.name].task}, but no output of "
                    f"model {model.name} is",
                    metric.span,
                    "a metric is computed on every output whose loss has its task",
                )
    if len(model.inputs) > 1:
        for ref in train.data.props.augment:  # (x is a dict of named arrays)
            out.error(
                D.DATA_MODEL,
                f"augmentations of a model with several inputs are not supported yet ({ref.name})",
                ref.span,
                "remove `augment`",
            )


def _npz_shapes(train: ir.Train, model: ir.Model, out: Collector) -> None:
    """An npz source's named arrays (their headers, read when the file is there) against the
    model's inputs (per-example shape, integer or float) and the outputs' losses (class ids)."""
    source = train.data.props.source
    p: Any = source.params
    if source.name != "npz" or not (isinstance(p.x, list) or isinstance(p.y, list)):
        return
    headers = npz_headers(data_path(p.path, train.data.base_dir))
    if headers is None:
        return
    for t in model.inputs if isinstance(p.x, list) else []:
        if t.name not in headers:
            continue
        shape, kind = headers[t.name]
        tokens = t.dtype == "int32"
        if tuple(shape[1:]) != t.shape:
            out.error(
                D.DATA_MODEL,
                f"model {model.name} takes {t.name}: {fmt(t.shape)}, but array {t.name!r} of "
                f"data {train.data.name} has examples of shape {fmt(tuple(shape[1:]))}",
                source.span,
                f"declare `input {t.name}: {fmt(tuple(shape[1:]))}`",
            )
        elif tokens != (kind in "biu"):
            out.error(
                D.DATA_MODEL,
                f"array {t.name!r} of data {train.data.name} holds "
                f"{'floats' if tokens else 'integers (token ids)'}, but model {model.name} takes "
                f"{'int' if tokens else 'float'} input {t.name}",
                source.span,
                f"declare `input {t.name}: int{fmt(t.shape)}`"
                if not tokens
                else "store token ids as integers",
            )
    if isinstance(p.y, list):
        shapes = {t.name: t.shape for t in model.outputs}
        for name, loss in train.output_losses().items():
            task = LOSSES[loss.name].task
            if name in headers and task == "regression" and not train.data.props.one_hot:
                given = tuple(headers[name][0][1:]) or (1,)  # (n,) is read as (n, 1)
                if math.prod(given) != math.prod(shapes[name]):
                    out.error(
                        D.LOSS_OUTPUT,
                        f"output {name} of model {model.name} is {fmt(shapes[name])}, but array "
                        f"{name!r} of data {train.data.name} has targets of shape {fmt(given)}",
                        loss.span,
                        f"end output {name} with dense({math.prod(given)}), or store "
                        f"{math.prod(shapes[name])} value(s) per example",
                    )
            if name in headers and task == "classification":
                shape, kind = headers[name]
                if kind not in "biu":
                    out.error(
                        D.LOSS_OUTPUT,
                        f"{loss.name} needs class ids, but array {name!r} of data "
                        f"{train.data.name} holds floats",
                        loss.span,
                        f"store class ids as integers, or use mse for output {name}",
                    )
