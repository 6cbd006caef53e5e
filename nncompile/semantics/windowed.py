"""The targets of `windows` data against the model's output and its loss, before loading: a
window's targets are the row after it (`targets: last`) or a row per step (`targets: sequence`),
and a row's target is known from the file headers (an npz archive's `y` header: its shape and
whether it holds class ids; a csv file's target column; a text source's next token). The loader
would stop at the same mismatch after reading the whole file (runtime.data's target shapes)."""

from __future__ import annotations

import math
from typing import Any

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry import Ref
from ..registry.datafiles import csv_columns, npz_arrays
from ..registry.losses import LOSSES
from ..shapes import fmt
from . import ir

Shape = tuple[int, ...]
RECURRENT = "the last recurrent layer"


def check_windowed(train: ir.Train, out: Collector) -> None:
    """A windowed source's rows (enough for one window) and targets per window against the one
    output's loss."""
    data, model = train.data, train.model
    w = data.props.windows
    if w is not None and not _enough_rows(data, w, out):
        return
    if w is None or model is None or len(model.outputs) != 1 or data.props.target == "input":
        return
    loss = train.output_losses().get(model.outputs[0].name)
    if loss is None or data.props.one_hot:
        return
    task = LOSSES[loss.name].task
    row = _row_target(data)
    if row is None or task not in ("classification", "regression"):
        return
    per_row, ids, origin = row
    if task == "regression" and not per_row:
        per_row = (1,)  # (values of shape (n,) are read as (n, 1))
    example = per_row if w.targets == "last" else (w.length, *per_row)
    output = model.outputs[0].shape
    if task == "classification" and ids is not False:
        _classes(train, loss, output, example, per_row, origin, out)
    elif task == "regression" and ids is not True:
        _values(train, loss, output, example, per_row, origin, out)


def _enough_rows(data: ir.Data, w: Any, out: Collector) -> bool:
    """An npz archive's rows (its `x` header) hold at least one window, and a window for each
    split (windows are split in time order)."""
    p: Any = data.props.source.params
    if data.props.source.name != "npz" or not isinstance(p.x, str):
        return True
    h = (npz_arrays(p, data.base_dir) or {}).get(p.x)
    if h is None:
        return True
    rows, need = h.shape[0], w.length + w.horizon
    where = f"data {data.name} has {rows} rows ({p.path}, array {p.x!r})"
    if rows < need:
        out.error(
            D.DATA_MODEL,
            f"{where}, too few for one window: length {w.length} with horizon {w.horizon} "
            f"needs {need}",
            data.props.source.span,
            "use more data or a smaller windows.length",
        )
        return False
    windows = len(range(0, rows - need + 1, w.stride))
    splits = list(data.props.split)
    if windows < len(splits):
        out.error(
            D.DATA_MODEL,
            f"{where}: {windows} window(s) of length {w.length} (horizon {w.horizon}, stride "
            f"{w.stride}), too few for the {len(splits)} splits {', '.join(splits)}",
            data.props.source.span,
            "use more data, shorter windows or a smaller stride, or fewer splits",
        )
        return False
    return True


def _row_target(data: ir.Data) -> tuple[Shape, bool | None, str] | None:
    """One row's target as the headers tell: (its shape, class ids or values or None when unknown
    before loading, where it comes from); None when they do not tell."""
    source = data.props.source
    p: Any = source.params
    if data.info.stream:  # text: a window of tokens, its targets the next tokens
        return (), True, "from the text's tokens"
    if source.name == "npz" and isinstance(p.x, str) and isinstance(p.y, str):
        h = (npz_arrays(p, data.base_dir) or {}).get(p.y)
        if h is None:
            return None
        return h.example, h.ids, f"from array {p.y!r}"
    if source.name == "csv" and not p.inputs and isinstance(p.target, str):
        header = csv_columns(p, data.base_dir)
        if header is None or p.target not in header:
            return None
        return (), None, f"from column {p.target!r}"
    return None


def _says(data: ir.Data, origin: str) -> str:
    w = data.props.windows
    assert w is not None
    return f"data {data.name}'s windows (`targets: {w.targets}`, {origin})"


def _classes(
    train: ir.Train,
    loss: Ref,
    output: Shape,
    example: Shape,
    per_row: Shape,
    origin: str,
    out: Collector,
) -> None:
    want = output[:-1]
    if math.prod(example) == math.prod(want):
        return
    data, model = train.data, train.model
    assert model is not None and data.props.windows is not None
    length, targets = data.props.windows.length, data.props.windows.targets
    reads = "one class id per example" if not want else f"a class id per step, {fmt(want)}"
    holds = "one class id" if not example else f"{fmt(example)} class ids"
    if targets == "last" and not per_row and want == (length,):
        hint = (
            "set `targets: sequence` in the windows for a class id per step, or end the model "
            f"with one output per window (return_sequences=false on {RECURRENT})"
        )
    elif targets == "sequence" and not want:
        hint = (
            f"end the model with a class per step (return_sequences=true on {RECURRENT}, then "
            "dense(classes, activation=softmax)), or set `targets: last` for one class id per "
            "window"
        )
    else:
        hint = f"end the model with an output of {fmt(example)} class ids per example"
    out.error(
        D.LOSS_OUTPUT,
        f"{loss.name} reads {reads} (model {model.name} outputs {fmt(output)}), but "
        f"{_says(data, origin)} give {holds} per window",
        loss.span,
        hint,
    )


def _values(
    train: ir.Train,
    loss: Ref,
    output: Shape,
    example: Shape,
    per_row: Shape,
    origin: str,
    out: Collector,
) -> None:
    given, outputs = math.prod(example), math.prod(output)
    if given == outputs:
        return
    data, model = train.data, train.model
    assert model is not None and data.props.windows is not None
    length, targets = data.props.windows.length, data.props.windows.targets
    row = math.prod(per_row)
    if targets == "sequence" and outputs == row:
        hint = (
            f"end the model with a value per step ({fmt(example)}: return_sequences=true on "
            f"{RECURRENT}, then dense({row})), or set `targets: last` for the row after the "
            "window"
        )
    elif targets == "last" and outputs == length * row:
        hint = f"set `targets: sequence` for a row per step, or end the model with dense({row})"
    elif targets == "last":
        hint = f"end the model with dense({given})"
    else:
        hint = f"end the model with an output of shape {fmt(example)}, a value per step"
    out.error(
        D.LOSS_OUTPUT,
        f"model {model.name} outputs {fmt(output)} per example, but {_says(data, origin)} give "
        f"targets of shape {fmt(example)} per window",
        loss.span,
        hint,
    )
