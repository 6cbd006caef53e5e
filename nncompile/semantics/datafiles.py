"""The headers of a train block's data files (read by registry.datafiles, never their data) against
its model and losses: targets of the number of values per example each loss reads (class ids one
per example or one per output step, regression targets one per output value), targets that are
missing, and csv column groups against the inputs they feed (windowed data: semantics.windowed).
What the data block alone shows (an array or a column that is not there, object arrays, lengths)
is reported at the data block."""

from __future__ import annotations

import math
from typing import Any

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry import Ref
from ..registry.datafiles import array_names, csv_columns, npz_arrays
from ..registry.losses import LOSSES
from ..registry.sources import SOURCES
from ..shapes import fmt
from . import ir
from .windowed import check_windowed

Shape = tuple[int, ...]


def check_data_files(train: ir.Train, out: Collector, where) -> None:
    model, data = train.model, train.data
    if data.given:  # arrays given to fit(): checked when they are given
        return
    _label_properties(data, out)
    source = data.props.source
    if model is None or SOURCES[source.name].check_files(source.params, data.base_dir):
        return  # (reported at the data block)
    if source.name == "npz":
        _npz(train, model, source.params, out)
    elif data.props.windows is not None:  # windows make examples of rows
        check_windowed(train, out)
    elif source.name == "csv":
        _csv(train, model, source.params, out)


def _label_properties(data: ir.Data, out: Collector) -> None:
    """`one_hot` and `classes` read class ids: not real-valued targets (when the source tells).
    `classes` picks examples by the source's own labels, before `target: input` replaces them."""
    source = data.props.source
    raw = SOURCES[source.name].info(source.params, data.base_dir).task
    for key, given, fits, task in (
        (
            "one_hot: true",
            data.props.one_hot and data.props.target != "input",
            ("classification", "sequence"),
            data.info.task,
        ),
        ("classes", data.props.classes is not None, ("classification",), raw),
    ):
        if given and task is not None and task not in fits:
            kind = "real values" if task == "regression" else "class ids per step"
            need = "class ids" if key == "one_hot: true" else "one class id per example"
            fix = ", or store the targets as integer class ids" if task == "regression" else ""
            out.error(
                D.BAD_VALUE,
                f"data {data.name} has `{key}`, but its targets are {kind}, not {need}",
                data.span,
                f"remove `{key.split(':')[0]}`{fix}",
            )


def _npz(train: ir.Train, model: ir.Model, p: Any, out: Collector) -> None:
    headers = npz_arrays(p, train.data.base_dir)
    if headers is None or train.data.props.target == "input":
        return
    named = isinstance(p.y, list) or isinstance(p.x, list)
    losses = train.output_losses()
    if p.y == "y" and not named and "y" not in headers:  # no targets: unsupervised data
        loss = next(iter(losses.values()), None)
        if loss is not None and LOSSES[loss.name].task in ("classification", "regression"):
            out.error(
                D.DATA_MODEL,
                f"data {train.data.name} has no targets ({p.path} has no array 'y'), but "
                f"{loss.name} compares the model's outputs with targets",
                train.data.props.source.span,
                'name the targets\' array: npz(..., y="labels"), or add `target: input` to '
                "the data block for a reconstruction",
            )
        return
    if train.data.props.windows is not None:  # windows make examples of rows
        check_windowed(train, out)
        return
    if isinstance(p.y, str) and len(model.outputs) == 1:
        h = headers.get(p.y)
        loss = losses.get(model.outputs[0].name)
        if h is None or loss is None:
            return
        if named and not h.ids and _float_class_ids(train, loss, p.y, out):
            return  # (not named: the source's task, a float `y`, refuses the loss)
        _targets(train, model.outputs[0], loss, p.y, h.example, h.ids, out)
    elif isinstance(p.y, list):
        for t in model.outputs:
            h, loss = headers.get(t.name), losses.get(t.name)
            if h is not None and loss is not None and h.ids:  # (float ones: semantics.several)
                _targets(train, t, loss, t.name, h.example, True, out)


def _float_class_ids(train: ir.Train, loss: Ref, array: str, out: Collector) -> bool:
    """A classification loss reading a named float array (the loader would refuse its values)."""
    if LOSSES[loss.name].task != "classification" or train.data.props.one_hot:
        return False
    out.error(
        D.LOSS_OUTPUT,
        f"{loss.name} needs class ids, but array {array!r} of data {train.data.name} holds floats",
        loss.span,
        "store class ids as integers (np.savez(..., y=y.astype(int)); one-hot rows: "
        "y.argmax(-1)), or use mse",
    )
    return True


def _csv(train: ir.Train, model: ir.Model, p: Any, out: Collector) -> None:
    header = csv_columns(p, train.data.base_dir)
    if header is None:
        return
    for name, columns in (p.inputs or {}).items():
        t = next((t for t in model.inputs if t.name == name), None)
        if t is not None and t.shape != (len(columns),) and all(c in header for c in columns):
            out.error(
                D.DATA_MODEL,
                f"model {model.name} takes {t.name}: {fmt(t.shape)}, but data "
                f"{train.data.name} gives it {len(columns)} column(s) ({', '.join(columns)})",
                train.data.props.source.span,
                f"declare `input {t.name}: [{len(columns)}]`, or list {math.prod(t.shape)} "
                "column(s) for it",
            )
    if train.data.props.target == "input":
        return
    losses = train.output_losses()
    targets = p.target if isinstance(p.target, dict) else {model.outputs[0].name: p.target}
    if not isinstance(p.target, dict) and len(model.outputs) != 1:
        return  # (one target for several outputs: semantics.several)
    for t in model.outputs:
        column, loss = targets.get(t.name), losses.get(t.name)
        if column is None or loss is None or not set(array_names(column)) <= set(header):
            continue
        values: Shape = (len(column),) if isinstance(column, list) else ()
        what = f"column{'s' if isinstance(column, list) else ''} {', '.join(array_names(column))}"
        _targets(train, t, loss, what, values, None, out)


def _targets(
    train: ir.Train,
    output: ir.Tensor,
    loss: Ref,
    what: str,
    example: Shape,
    ids: bool | None,
    out: Collector,
) -> None:
    """Targets of shape `example` per example (`ids`: class ids or values; None: unknown before
    loading) against the values `loss` reads of `output`: a class id per example or per step, or
    one value per output value. (Values for a classification loss and ids for a regression loss
    are reported by the loss checks.)"""
    task = LOSSES[loss.name].task
    data, model = train.data, train.model.name if train.model is not None else ""
    if data.props.one_hot or task not in ("classification", "regression"):
        return
    given = math.prod(example)
    name = repr(what) if ids is not None else what
    source = f"{'array' if ids is not None else ''} {name} of data {data.name}".lstrip()
    if task == "classification" and ids is not False:
        want = output.shape[:-1]
        if given == math.prod(want):
            return
        reads = "one class id per example" if not want else f"a class id per step, {fmt(want)}"
        holds = f"{fmt(example)} class ids per example" if example else "one per example"
        out.error(
            D.LOSS_OUTPUT,
            f"{loss.name} reads {reads} (model {model} outputs "
            f"{fmt(output.shape)}), but {source} holds {holds}",
            loss.span,
            "end the model with a class per step: a [steps, classes] output "
            "(dense(classes, activation=softmax) on a sequence)"
            if not want
            else f"store {fmt(want)} class ids per example, or end the model with an output "
            "of one class per example",
        )
    elif task == "regression" and ids is not True:
        if given == math.prod(output.shape):
            return
        out.error(
            D.LOSS_OUTPUT,
            f"model {model} outputs {fmt(output.shape)} per example, but {source} has "
            f"{given} target value(s) per example"
            + (f" (shape {fmt(example)})" if len(example) > 1 else ""),
            loss.span,
            f"end the model with dense({given}), or store {math.prod(output.shape)} value(s) "
            "per example",
        )
