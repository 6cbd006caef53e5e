"""Cross checks between blocks: data vs model input, loss vs output, augmentations, metrics,
monitors, GAN, transfer. What depends on a loss, metric, source or augmentation is read from its
registry entry."""

from __future__ import annotations

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry import Ref
from ..registry.augmentations import AUGMENTATIONS
from ..registry.losses import LOSSES, Output
from ..registry.metrics import METRICS, fits_task, task_hint
from ..registry.schedules import SCHEDULES
from ..registry.sources import SOURCES
from ..shapes import fmt
from ..syntax import ast
from . import ir
from .classweight import check_class_weight
from .datafiles import check_data_files
from .decoding import check_decode
from .gan_checks import check_gan, layer_penalties_in_gan
from .history_keys import check_named
from .layerloss import check_layer_loss_keys
from .sampleweight import check_sample_weight, check_weighted_metrics
from .scale_checks import check_scale
from .several import check_several, recorded, several_losses
from .values import check_values


def cross_check(train: ir.Train, out: Collector, block: ast.TrainBlock) -> None:
    spans = train.property_spans
    where = lambda key: spans.get(key, block.name_span)
    if train.model is not None:
        _input_vs_data(train, train.model, out, where("model"))
        _loss_vs_output(train, train.model, out, where("loss"))
        _names_in_model(train, train.model, out, where)
        check_several(train, out, where)
        check_decode(train, out, where)
        check_data_files(train, out, where)
        check_values(train, out)
    else:
        check_gan(train, out, where)
        layer_penalties_in_gan(train, out)
    if not train.several:
        _augmentations(train, out)
        _metrics(train, out, where("metrics"))
    if train.data.props.pad is not None and train.model is not None:
        _padding(train, out, where("loss"))
    if train.data.props.target == "input" and train.data.props.one_hot:
        out.error(
            D.BAD_VALUE,
            f"data {train.data.name} has `target: input` and `one_hot: true`; `one_hot` turns "
            "class labels into rows, and a reconstruction has no labels",
            train.data.span,
            "remove `one_hot` (token ids are reconstructed as class ids per step)",
        )
    check_class_weight(train, out, where)
    check_sample_weight(train, out)
    check_weighted_metrics(train, out, where)
    check_layer_loss_keys(train.model, recorded(train), out, where("model"))
    _monitor(train, out, spans.get("early_stopping.monitor", where("early_stopping")))
    _schedule(train, out, where("schedule"))
    check_scale(train, out, where)


def _input_vs_data(train: ir.Train, model: ir.Model, out: Collector, span) -> None:
    data = train.data
    shape = data.info.feature_shape
    if len(model.inputs) != 1 or shape is None:
        return
    x = model.inputs[0]
    if x.shape != shape:
        kind = "int" if x.dtype == "int32" and data.info.token_ids else ""
        hint = f"declare `input {x.name}: {kind}{fmt(shape)}`"
        if len(shape) == 1 and len(x.shape) > 1:
            hint = f"add `reshape: {fmt(x.shape)}` to data {data.name}, or {hint}"
        out.error(
            D.DATA_MODEL,
            f"model {model.name} takes {x.name}: {'int' if x.dtype == 'int32' else ''}"
            f"{fmt(x.shape)}, but data {data.name} gives examples of shape {fmt(shape)}",
            span,
            hint,
        )
    tokens = data.info.token_ids
    if tokens != (x.dtype == "int32"):
        what = "token ids" if tokens else "float features"
        out.error(
            D.DATA_MODEL,
            f"data {data.name} gives {what}, but model {model.name} takes "
            f"{'int' if x.dtype == 'int32' else 'float'} input {x.name}",
            span,
            f"declare `input {x.name}: int[...]`"
            if tokens
            else "declare a float input: `input x: [...]`",
        )


def _last_activation(model: ir.Model, last: ir.Node | None = None) -> str | None:
    last = last or model.last
    if last is None:
        return None
    if isinstance(last.params, Ref):  # a bare activation statement
        return last.params.name
    if last.submodel is not None:
        return _last_activation(last.submodel)
    act = getattr(last.params, "activation", None)
    return act.name if act is not None else None


def _loss_vs_output(train: ir.Train, model: ir.Model, out: Collector, span) -> None:
    if len(model.outputs) > 1 or isinstance(train.props.loss, dict):
        for name, loss, node in several_losses(train, model, out, span):
            tensor = next(t for t in model.outputs if t.name == name)
            loss_vs_one(train, model, loss, tensor, node, out, loss.span)
        return
    loss_vs_one(train, model, train.loss, model.outputs[0], model.last, out, span)


def loss_vs_one(
    train: ir.Train,
    model: ir.Model,
    loss: Ref,
    tensor: ir.Tensor,
    last: ir.Node | None,
    out: Collector,
    span,
) -> None:
    """One output's loss against the output (its shape, activation) and the data."""
    entry = LOSSES[loss.name]
    info = train.data.info
    if entry.task == "adversarial":
        out.error(
            D.LOSS_OUTPUT,
            f"{loss.name} is a GAN loss",
            span,
            "use it with `objective: gan(...)`, or pick mse / categorical_crossentropy",
        )
        return
    if (
        entry.task == "regression"
        and info.task in ("classification", "sequence")
        and not train.data.props.one_hot
    ):
        out.error(
            D.LOSS_OUTPUT,
            f"{loss.name} is a regression loss, but data {train.data.name} has class labels",
            span,
            "use categorical_crossentropy (or binary_crossentropy), or set `one_hot: true` to "
            "regress one-hot targets",
        )
        return
    if entry.task == "classification" and info.task == "regression":
        out.error(
            D.LOSS_OUTPUT,
            f"{loss.name} needs class labels, but data {train.data.name} has real-valued targets",
            span,
            "use mse, mae or huber for regression"
            + (
                "; for one-hot rows stored as floats, store their class ids instead "
                "(np.savez(..., y=y.argmax(-1)))"
                if train.data.props.source.name == "npz"
                else ""
            ),
        )
        return
    several = len(model.outputs) > 1
    output = Output(
        model.name,
        train.data.name,
        tensor.shape,
        None if several else info.num_classes,
        last.kind if last else None,
        _last_activation(model, last),
        None if several else _regression_target(train),
    )
    problem = entry.check_output(loss.params, output)
    one_hot = train.data.props.one_hot and output.classes
    if problem is None and one_hot and tensor.shape[-1] != output.classes:  # (found when loading)
        problem = (
            f"data {train.data.name} has `one_hot: true`: its targets are rows of "
            f"{output.classes} values, but model {model.name} ends with {tensor.shape[-1]} unit(s)",
            f"end with dense({output.classes}), or remove `one_hot` (the losses read class ids)",
        )
    steps = info.feature_shape if train.data.props.target == "input" and info.token_ids else None
    if problem is None and steps and not several and tuple(tensor.shape[:-1]) != tuple(steps):
        problem = (  # (found when loading before: fuzz_mutate)
            f"data {train.data.name} has `target: input`: its targets are the input's "
            f"{fmt(steps)} token ids per example, but model {model.name} outputs "
            f"{fmt(tensor.shape)}",
            "end with a distribution per input step: an output of shape "
            f"[{', '.join(map(str, steps))}, tokens]",
        )
    if problem is not None:
        out.error(D.LOSS_OUTPUT, problem[0], last.span if last else span, problem[1])


def _regression_target(train: ir.Train) -> tuple[int, ...] | None:
    """The per-example target shape when it is known before loading (one-hot rows, or the source's
    rule)."""
    props, info = train.data.props, train.data.info
    if info.feature_shape is None:
        return None
    if props.target == "input":
        return info.feature_shape
    if props.one_hot and info.num_classes:
        return (info.num_classes,)
    return SOURCES[props.source.name].target_shape(props.source.params, props.windows)


def _augmentations(train: ir.Train, out: Collector) -> None:
    """Augmentations change real values, not token ids; image augmentations need images:
    examples of shape [height, width, channels]."""
    data = train.data
    model = train.model
    ints = (
        model is not None and bool(model.inputs) and all(i.dtype != "float32" for i in model.inputs)
    )
    if data.props.augment and (data.info.token_ids or ints):
        ref = data.props.augment[0]
        out.error(  # (it crashed the first step: noise drawn in int32, "must be a float dtype")
            D.DATA_MODEL,
            f"{ref.name} changes real values, but data {data.name} gives token ids (integers)",
            ref.span,
            "remove `augment`: augmentations work on real-valued features and images",
        )
        return
    shape = data.info.feature_shape
    if shape is None and train.model is not None and len(train.model.inputs) == 1:
        shape = train.model.inputs[0].shape
    if shape is None or len(shape) == 3:
        return
    anywhere = [entry.name for entry in AUGMENTATIONS.entries() if not entry.image_only]
    for ref in data.props.augment:
        if AUGMENTATIONS[ref.name].image_only:
            fix = (
                "reshape the features into images (`reshape: [height, width, channels]`) or "
                if len(shape) == 1
                else ""
            )
            out.error(
                D.DATA_MODEL,
                f"{ref.name} transforms images [height, width, channels], but data {data.name} "
                f"gives examples of shape {fmt(shape)}",
                ref.span,
                f"{fix}use an augmentation that works on any input: {D.one_of(anywhere)}",
            )


def _metrics(train: ir.Train, out: Collector, span) -> None:
    task, classes = train.data.info.task, train.data.info.num_classes
    model = train.model
    output = model.outputs[0].shape if model is not None and len(model.outputs) == 1 else None
    for metric in _scored(train):
        entry = METRICS[metric.name]
        if not fits_task(metric.name, task, train.data.props.one_hot, output):
            out.error(
                D.LOSS_OUTPUT,
                f"metric {metric.name} is for {entry.task}, but data {train.data.name} is {task}",
                metric.span,
                task_hint(),
            )
        problem = entry.check_classes(metric.params, classes) if classes else None
        if problem is not None:
            out.error(D.BAD_VALUE, problem[0], metric.span, problem[1])


def _scored(train: ir.Train) -> list[Ref]:
    """The metrics of `metrics:` and `weighted_metrics:`."""
    return [*(m for _, m in train.metric_refs()), *train.props.weighted_metrics]


def _padding(train: ir.Train, out: Collector, span) -> None:
    """`pad:` masks class ids: the loss and every metric must leave padding out."""
    data = train.data
    pad = data.props.pad
    if data.props.one_hot:
        out.error(
            D.BAD_VALUE,
            f"data {data.name} has `pad: {pad}` and `one_hot: true`; padding is a class id",
            data.span,
            "remove `one_hot` (the losses read class ids) or remove `pad`",
        )
    masking = lambda entries: D.one_of(e.name for e in entries if e.masks)
    labelled = data.info.task in ("classification", "sequence")
    for loss in {r.name: r for r in train.output_losses().values()}.values():
        if not LOSSES[loss.name].masks and not (
            LOSSES[loss.name].task == "regression" and labelled
        ):
            # (a regression loss on class ids is reported as such)
            out.error(
                D.LOSS_OUTPUT,
                f"{loss.name} cannot leave out the padding of data {data.name} (`pad: {pad}`)",
                span,
                f"padding masks class ids: use {masking(LOSSES.entries())}",
            )
    for metric in _scored(train):
        if not METRICS[metric.name].masks:
            out.error(
                D.LOSS_OUTPUT,
                f"metric {metric.name} does not leave out the padding of data {data.name} "
                f"(`pad: {pad}`)",
                metric.span,
                f"use {masking(METRICS.entries())}",
            )


def _monitor(train: ir.Train, out: Collector, span) -> None:
    stop = train.props.early_stopping
    if stop is not None:
        _monitored(train, out, span, "early_stopping", stop.monitor)


def _monitored(train: ir.Train, out: Collector, span, what: str, name: str) -> None:
    """`what` monitors history key `name`: recorded, with a validation split for val_ keys."""
    check_named(
        train,
        out,
        span,
        name,
        f"{what} monitors '{name}', which is not recorded",
        "monitor",
        f"{what} monitors {name}, but data {train.data.name} has no validation split",
    )


def _schedule(train: ir.Train, out: Collector, span) -> None:
    """Composed schedules: only the last phase may run to the end; reduce_on_plateau is not
    composed, watches a recorded value, and needs a supervised run."""
    phases = train.props.schedule
    for i, ref in enumerate(phases):
        entry = SCHEDULES[ref.name]
        if entry.adapts:
            if len(phases) > 1:
                out.error(
                    D.BAD_VALUE,
                    f"{ref.name} cannot be a phase of a composed schedule: it changes the rate "
                    "from a monitored value, not from the step",
                    ref.span,
                    f"use `schedule: {ref.name}(...)` alone",
                )
            elif train.model is None:
                out.error(
                    D.BAD_VALUE,
                    f"{ref.name} is for supervised training, not `objective: gan(...)`",
                    ref.span,
                    "use a schedule of steps, e.g. `schedule: cosine()`",
                )
            elif "monitor" in ref.params.model_fields_set or "val" in train.data.props.split:
                # (the default val_loss falls back to loss without a validation split)
                _monitored(train, out, ref.span, ref.name, getattr(ref.params, "monitor", ""))
        elif i < len(phases) - 1 and entry.length(ref.params) is None:
            lasting = [e.name for e in SCHEDULES.entries() if "steps" in e.params.model_fields]
            out.error(
                D.BAD_VALUE,
                f"{ref.name} runs to the end of training, so it can only be the last phase of "
                "a composed schedule",
                ref.span,
                f"move it to the end, or give the phase a length: "
                f"{' or '.join(f'{n}(steps=N)' for n in lasting)}",
            )


def _layer_names(model: ir.Model) -> list[str]:
    return [n.name for n in model.nodes if n.param_count or n.kind == "model"]


def _names_in_model(train: ir.Train, model: ir.Model, out: Collector, where) -> None:
    names = _layer_names(model)
    init = train.props.init
    for key, listed in (
        ("freeze", train.props.freeze),
        ("init", (getattr(init.params, "layers", None) or []) if init is not None else []),
    ):
        for i, name in enumerate(listed):
            if name not in names:
                out.error(
                    D.TRANSFER,
                    f"{key} names '{name}', which is not a layer with parameters of "
                    f"model {model.name}",
                    train.property_spans.get(f"{key}.{i}") or where(key),  # (the name listed)
                    D.did_you_mean(name, names) or f"its layers are {D.one_of(names)}",
                )
