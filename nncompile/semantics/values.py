"""What `check` finds in a train block's data *values* (the headers are semantics.datafiles's): the
values registry.datavalues reads, cheaply and only from files up to its size limit, against the
model and the losses. Each rule is one entry of RULES; each finding is one the loader or the
program's data checks would stop at after loading (runtime.fit_checks, api.tokens), reported at the
data block's source instead, before anything is compiled or trained. Those checks stay: the data can
change after `check`.

Examples can leave the data before training (`subset:`, `windows:`, `classes:` pick some or
renumber them): the rules about class ids say nothing then, rather than refuse a spec that trains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry import Ref
from ..registry.datavalues import CsvTarget, csv_target, npz_ids
from ..registry.layers import LAYERS
from ..registry.loading import MAX_CSV_CLASSES
from ..registry.losses import LOSSES
from ..registry.metrics import METRICS, fits_task, task_hint
from . import ir
from .initrun import check_init_run

SHOWN = 5


@dataclass(frozen=True)
class Rule:
    """One check of values: its name, what it finds, and the check."""

    name: str
    doc: str
    check: Callable[[ir.Train, Collector], None]


def check_values(train: ir.Train, out: Collector) -> None:
    """Every rule of RULES on one train block."""
    for rule in RULES:
        rule.check(train, out)


def token_limits(model: ir.Model | None) -> dict[str, tuple[ir.Node, int]]:
    """Each integer input a layer with a `token_count` (embedding, one_hot) reads directly: (that
    layer, its count)."""
    if model is None:
        return {}
    ints = {t.name for t in model.inputs if t.dtype == "int32"}
    out: dict[str, tuple[ir.Node, int]] = {}
    for node in model.nodes:
        entry = LAYERS.get(node.kind)
        field = entry.token_count if entry is not None else None
        for name in node.inputs if field else ():
            if name in ints and name not in out:
                out[name] = (node, int(getattr(node.params, str(field))))
    return out


def shown(values) -> str:
    values = list(values)
    text = ", ".join(repr(v) if isinstance(v, str) else f"{v:g}" for v in values[:SHOWN])
    return text + (f", ... ({len(values)} values)" if len(values) > SHOWN else "")


# --- which arrays and columns -----------------------------------------------------------------
def _params(train: ir.Train) -> Any:
    """The data source's arguments (of the registry entry the source names)."""
    return train.data.props.source.params


def _checked(train: ir.Train) -> bool:
    """A model trained on a data block's files (not arrays given to fit())."""
    return train.model is not None and not train.data.given


def _npz_targets(train: ir.Train) -> Iterator[tuple[ir.Tensor, Ref, str]]:
    """(output, its loss, the npz array of its targets) for each output whose targets are an
    array of the archive (`target: input`: the input array)."""
    p, model = _params(train), train.model
    assert model is not None
    losses = train.output_losses()
    if train.data.props.target == "input":
        arrays = {model.outputs[0].name: p.x} if isinstance(p.x, str) else {}
    elif isinstance(p.y, list):
        arrays = {t.name: t.name for t in model.outputs if t.name in p.y}
    else:
        one = isinstance(p.y, str) and len(model.outputs) == 1
        arrays = {model.outputs[0].name: p.y} if one else {}
    for t in model.outputs:
        if t.name in arrays and t.name in losses:
            yield t, losses[t.name], arrays[t.name]


def _npz_inputs(train: ir.Train) -> dict[str, str]:
    """Each model input's npz array."""
    p, model = _params(train), train.model
    assert model is not None
    if isinstance(p.x, list):
        return {t.name: t.name for t in model.inputs if t.name in p.x}
    return {model.inputs[0].name: p.x} if len(model.inputs) == 1 else {}


def _picks_examples(data: ir.Data) -> bool:
    """`classes`, `subset` or `windows`: not every example's target is trained on as it is."""
    props = data.props
    return props.classes is not None or props.subset < 1 or props.windows is not None


# --- the rules ----------------------------------------------------------------------------------
def _negative_ids(train: ir.Train, out: Collector) -> None:
    """Integer npz arrays are ids: class ids (targets) and token ids (features) start at 0."""
    source = train.data.props.source
    if not _checked(train) or source.name != "npz":
        return
    p = _params(train)
    named = isinstance(p.x, list) or isinstance(p.y, list)
    keys = [(k, "class ids", "classes") for k in ([p.y] if isinstance(p.y, str) else p.y or [])]
    if not named:  # (named inputs: their layers' ranges, below)
        keys.insert(0, (p.x, "token ids", "tokens"))
    for key, what, things in keys:
        found = npz_ids(p, train.data.base_dir, key)
        if found is not None and found.low < 0:
            out.error(
                D.DATA_FILE,
                f"{_where(train, f'array {key!r}')}: {what} start at 0, but the smallest is "
                f"{found.low}",
                source.span,
                f"number the {things} 0, 1, 2, ...",
            )


def _class_ids(train: ir.Train, out: Collector) -> None:
    """Class ids beyond those the output and its classification loss tell apart (or, with
    `one_hot: true`, a number of classes other than the output's units)."""
    data = train.data
    if not _checked(train) or _picks_examples(data):
        return
    source, p = data.props.source.name, _params(train)
    if source == "npz":
        for t, loss, key in _npz_targets(train):
            found = npz_ids(p, data.base_dir, key)
            if found is not None and found.low >= 0:
                where = _where(train, f"array {key!r}")
                _classes(train, t, loss, found.high + 1, where, None, out)
    elif source == "csv" and data.props.target != "input" and train.model is not None:
        facts = csv_target(p, data.base_dir)
        t = train.model.outputs[0]
        ref = train.output_losses().get(t.name)
        if facts is None or facts.task != "classification" or ref is None:
            return
        if len(train.model.outputs) == 1:
            where = _where(train, f"column {p.target!r}")
            _classes(train, t, ref, len(facts.labels), where, facts.labels, out)


def _where(train: ir.Train, what: str) -> str:
    """The data, as loading names it: `data d (d.csv, column 'label')`."""
    return f"data {train.data.name} ({_params(train).path}, {what})"


def _classes(
    train: ir.Train,
    t: ir.Tensor,
    loss: Ref,
    k: int,
    where: str,
    labels: tuple | None,
    out: Collector,
) -> None:
    """`k` classes (ids 0..k-1: `labels` in their order, None: ids as they are) against output
    `t` and its loss."""
    entry = LOSSES[loss.name]
    data, model = train.data, train.model
    if entry.task not in ("classification", "regression") or model is None:
        return
    units = t.shape[-1] if t.shape else 1
    source = data.props.source.span
    if data.props.one_hot:  # (rows regressed too: they must be shaped like the output)
        if k != units:
            out.error(
                D.LOSS_OUTPUT,
                f"{where}: with `one_hot: true` the targets are rows of {k} classes, but model "
                f"{model.name} ends with {units} unit(s)",
                source,
                f"end the model with {k} units, one per class",
            )
        return
    if entry.task != "classification":
        return
    count = entry.classes(units)
    pad = data.props.pad
    if k <= count or (pad is not None and labels is None and k - 1 == pad):
        return
    found = f"ids up to {k - 1}" if labels is None else shown(labels[count:])
    out.error(
        D.LOSS_OUTPUT,
        f"{where}: targets are outside the class ids 0..{count - 1} that model {model.name}'s "
        f"{units} {entry.head or 'output'} unit(s) and {loss.name} tell apart: {found}",
        source,
        f"the targets name {k} classes (ids 0..{k - 1}): end the model with dense({k}, "
        "activation=softmax) and use categorical_crossentropy, or keep some of the classes with "
        "`classes: [...]`",
    )


def _token_ids(train: ir.Train, out: Collector) -> None:
    """Token ids an embedding (or one_hot) layer has no row for: the range of an npz array, or the
    vocabulary a source tells (a text's distinct characters or words, a synthetic task's)."""
    source, p, model = train.data.props.source, _params(train), train.model
    if not _checked(train) or model is None:
        return
    vocab = train.data.info.vocab
    arrays = _npz_inputs(train) if source.name == "npz" else {}
    for name, (node, count) in token_limits(model).items():
        more = ", ..." if len(LAYERS[node.kind].positional) > 1 else ""  # (embedding's dim)
        reads = f"{node.kind}({count}{more}) ({node.name}) reads ids 0..{count - 1}"
        if source.name != "npz":
            if vocab is not None and vocab > count and len(model.inputs) == 1:
                out.error(
                    D.DATA_MODEL,
                    f"data {train.data.name} gives token ids 0..{vocab - 1} ({vocab} distinct "
                    f"tokens), but {reads}",
                    source.span,
                    f"give it {vocab} ids: {node.kind}({vocab}{more})",
                )
            continue
        key = arrays.get(name)
        found = npz_ids(p, train.data.base_dir, key) if key else None
        if found is None or (found.low >= 0 and found.high < count):
            continue
        if found.low < 0 and not isinstance(p.x, list):
            continue  # (negative ids of one array: _negative_ids)
        out.error(
            D.DATA_MODEL,
            f"{_where(train, f'array {key!r}')}: token ids outside 0..{count - 1} (from "
            f"{found.low} to {found.high}), but {reads}",
            source.span,
            f"give it {found.high + 1} ids, {node.kind}({found.high + 1}{more}), or renumber the "
            "tokens"
            if found.low >= 0
            else "token ids start at 0: renumber the tokens",
        )


def _csv_facts(train: ir.Train) -> CsvTarget | None:
    """What the one target column of a csv source without `task:` holds, when its values are the
    targets of the model's one output as they are (no windows, no `target: input`)."""
    data, model = train.data, train.model
    source, p = data.props.source, _params(train)
    if not _checked(train) or source.name != "csv" or p.task is not None or model is None:
        return None
    if len(model.outputs) != 1 or data.props.windows or data.props.target == "input":
        return None
    return csv_target(p, data.base_dir)


def _csv_task(train: ir.Train, out: Collector) -> None:
    """A csv target column's values decide its task (when `task:` does not): real values for a
    classification loss (or `one_hot`, `classes`), class labels for a regression loss."""
    data, model, p = train.data, train.model, _params(train)
    source = data.props.source
    facts = _csv_facts(train)
    if facts is None or model is None:
        return
    loss = train.output_losses().get(model.outputs[0].name)
    task = LOSSES[loss.name].task if loss is not None else None
    where = _where(train, f"column {p.target!r}")
    if facts.task == "regression":
        for key, given in (("one_hot", data.props.one_hot), ("classes", data.props.classes)):
            if given:
                out.error(
                    D.BAD_VALUE,
                    f"data {data.name} has `{key}`, but its targets ({p.path}, column "
                    f"{p.target!r}) are real-valued ({_real(facts)}), not class labels",
                    source.span,
                    f"remove `{key}`, or set `task: classification` on the source if the values "
                    "are class labels",
                )
                return
        if task == "classification" and loss is not None:
            out.error(
                D.LOSS_OUTPUT,
                f"{where}: {loss.name} needs class labels, but the targets are real-valued "
                f"({_real(facts)})",
                source.span,
                "use mse, mae or huber for real-valued targets; if the values are class labels, "
                "set `task: classification` on the source",
            )
    elif task == "regression" and not data.props.one_hot:
        assert loss is not None
        out.error(
            D.LOSS_OUTPUT,
            f"{where}: {loss.name} is a regression loss, but the targets are class labels "
            f"({shown(facts.labels)})",
            source.span,
            "use categorical_crossentropy (or binary_crossentropy); if the numbers are real "
            "targets, set `task: regression` on the source",
        )


def _csv_metrics(train: ir.Train, out: Collector) -> None:
    """Metrics of the other task than a csv target column's values (when the loss fits them: else
    the loss is the error to fix)."""
    facts, model = _csv_facts(train), train.model
    if facts is None or model is None:
        return
    loss = train.output_losses().get(model.outputs[0].name)
    one_hot, labelled = train.data.props.one_hot, facts.task == "classification"
    wants = LOSSES[loss.name].task if loss is not None else None
    if labelled:
        fits = wants == "classification" or (wants == "regression" and one_hot)
    else:
        fits = wants == "regression" and not one_hot and train.data.props.classes is None
    if not fits:
        return
    where = _where(train, f"column {_params(train).target!r}")
    holds = f"class labels ({shown(facts.labels)})" if labelled else f"real-valued ({_real(facts)})"
    for _, metric in train.metric_refs():
        if not fits_task(metric.name, facts.task, one_hot, model.outputs[0].shape):
            out.error(
                D.LOSS_OUTPUT,
                f"{where}: metric {metric.name} is for {METRICS[metric.name].task}, but the "
                f"targets are {holds}",
                metric.span,
                task_hint("class labels", "real-valued targets"),
            )


def _real(facts: CsvTarget) -> str:
    """Real values as the loader reads them (a few), or why integers are read so."""
    if facts.integral:
        return (
            f"{facts.distinct} distinct integers; class labels are text or at most "
            f"{MAX_CSV_CLASSES} distinct integers"
        )
    return f"e.g. {shown(facts.examples)}"


RULES: tuple[Rule, ...] = (
    Rule("negative_ids", "integer npz arrays holding negative class or token ids", _negative_ids),
    Rule(
        "class_ids",
        "class ids (npz integer targets, csv class labels) beyond the classes the output and "
        "its loss tell apart; with `one_hot: true`, a number of classes other than the units",
        _class_ids,
    ),
    Rule("token_ids", "token ids beyond the vocabulary of the embedding reading them", _token_ids),
    Rule(
        "csv_task",
        "csv targets whose values are real for a classification loss (or `one_hot`, `classes`), "
        "or class labels for a regression loss",
        _csv_task,
    ),
    Rule(
        "csv_metrics",
        "metrics of the other task than a csv target column's values",
        _csv_metrics,
    ),
    Rule(
        "init_run",
        "`init: checkpoint(run)` naming no trained run, or layers its parameters do not hold",
        check_init_run,
    ),
)
