"""Cross checks between blocks: data vs model input, loss vs output, augmentations, metrics,
monitors, GAN, transfer. What depends on a loss, metric, source or augmentation is read from its
registry entry."""

from __future__ import annotations

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry import Ref
from ..registry.augmentations import AUGMENTATIONS
from ..registry.losses import LOSSES, Output
from ..registry.metrics import METRICS
from ..registry.sources import SOURCES
from ..registry.training import NOISES, Gan
from ..shapes import fmt
from ..syntax import ast
from . import ir


def cross_check(train: ir.Train, out: Collector, block: ast.TrainBlock) -> None:
    spans = train.property_spans
    where = lambda key: spans.get(key, block.name_span)
    if train.model is not None:
        _input_vs_data(train, train.model, out, where("model"))
        _loss_vs_output(train, train.model, out, where("loss"))
        _names_in_model(train, train.model, out, where)
    else:
        _gan(train, out, where)
    _augmentations(train, out)
    _metrics(train, out, where("metrics"))
    _monitor(train, out, spans.get("early_stopping.monitor", where("early_stopping")))


def _input_vs_data(train: ir.Train, model: ir.Model, out: Collector, span) -> None:
    data = train.data
    shape = data.info.feature_shape
    if len(model.inputs) != 1 or shape is None:
        return
    x = model.inputs[0]
    if x.shape != shape:
        hint = f"declare `input {x.name}: {fmt(shape)}`"
        if len(shape) == 1 and len(x.shape) > 1:
            hint = f"add `reshape: {fmt(x.shape)}` to data {data.name}, or {hint}"
        out.error(
            D.DATA_MODEL,
            f"model {model.name} takes {x.name}: {fmt(x.shape)}, but data {data.name} "
            f"gives examples of shape {fmt(shape)}",
            span,
            hint,
        )
    tokens = data.info.task == "sequence"
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


def _last_activation(model: ir.Model) -> str | None:
    last = model.last
    if last is None:
        return None
    if isinstance(last.params, Ref):  # a bare activation statement
        return last.params.name
    if last.submodel is not None:
        return _last_activation(last.submodel)
    act = getattr(last.params, "activation", None)
    return act.name if act is not None else None


def _loss_vs_output(train: ir.Train, model: ir.Model, out: Collector, span) -> None:
    loss = train.props.loss
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
    # a text source's targets are token ids: class labels too (found by the generated specs of
    # tests/test_lang_fuzz_specs.py: `check` passed, loading the data refused)
    labels = info.task == "classification" or (info.task == "sequence" and info.vocab is not None)
    if entry.task == "regression" and labels and not train.data.props.one_hot:
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
            "use mse, mae or huber for regression",
        )
        return
    last = model.last
    output = Output(
        model.name,
        train.data.name,
        model.outputs[0].shape,
        info.num_classes,
        last.kind if last else None,
        _last_activation(model),
        _regression_target(train),
    )
    problem = entry.check_output(loss.params, output)
    if problem is not None:
        out.error(D.LOSS_OUTPUT, problem[0], last.span if last else span, problem[1])


def _regression_target(train: ir.Train) -> tuple[int, ...] | None:
    """The per-example target shape when it is known before loading (one-hot rows, or the source's
    rule)."""
    props, info = train.data.props, train.data.info
    if info.feature_shape is None:
        return None
    if props.one_hot and info.num_classes:
        return (info.num_classes,)
    return SOURCES[props.source.name].target_shape(props.source.params, props.windows)


def _augmentations(train: ir.Train, out: Collector) -> None:
    """Image augmentations need images: examples of shape [height, width, channels]."""
    data = train.data
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
    for metric in train.props.metrics:
        entry = METRICS[metric.name]
        have = "classification" if task == "sequence" else task
        if (
            have is not None
            and entry.task != have
            and not (entry.task == "regression" and train.data.props.one_hot)
        ):
            named = lambda want: "/".join(e.name for e in METRICS.entries() if e.task == want)
            out.error(
                D.LOSS_OUTPUT,
                f"metric {metric.name} is for {entry.task}, but data {train.data.name} is {task}",
                metric.span,
                f"{named('classification')} need classes; {named('regression')} need real targets",
            )
        problem = entry.check_classes(metric.params, classes) if classes else None
        if problem is not None:
            out.error(D.BAD_VALUE, problem[0], metric.span, problem[1])


def _monitor(train: ir.Train, out: Collector, span) -> None:
    stop = train.props.early_stopping
    if stop is None:
        return
    known = ["loss", *(m.name for m in train.props.metrics)]
    name = stop.monitor
    base = name[4:] if name.startswith("val_") else name
    if base not in known:
        choices = f"monitor one of {D.one_of([*known, *(f'val_{k}' for k in known)])}"
        hint = (
            f"add {base} to `metrics: [...]`, or {choices}"
            if base in METRICS
            else D.did_you_mean(name, [*known, *(f"val_{k}" for k in known)]) or choices
        )
        out.error(
            D.UNKNOWN_REFERENCE,
            f"early_stopping monitors '{name}', which is not recorded",
            span,
            hint,
        )
    elif name.startswith("val_") and "val" not in train.data.props.split:
        out.error(
            D.NEEDS_VALIDATION,
            f"early_stopping monitors {name}, but data {train.data.name} has no validation split",
            span,
            "add one: `split: {train: 0.7, val: 0.15, test: 0.15}`",
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
        for name in listed:
            if name not in names:
                out.error(
                    D.TRANSFER,
                    f"{key} names '{name}', which is not a layer with parameters of "
                    f"model {model.name}",
                    where(key),
                    D.did_you_mean(name, names) or f"its layers are {D.one_of(names)}",
                )


def _gan(train: ir.Train, out: Collector, where) -> None:
    g, d, objective = train.generator, train.discriminator, train.props.objective
    if g is None or d is None or objective is None:
        return
    assert isinstance(objective.params, Gan)
    noise_ref = objective.params.noise
    noise = NOISES[noise_ref.name].shape(noise_ref.params)
    span = where("objective")
    if len(g.inputs) != 1 or g.inputs[0].shape != noise:
        out.error(
            D.GAN_SHAPES,
            f"generator {g.name} takes {fmt(g.inputs[0].shape)}, but the noise is {fmt(noise)}",
            noise_ref.span,
            f"use noise={noise_ref.name}({fmt(g.inputs[0].shape)})",
        )
    g_out = g.outputs[0].shape
    if d.inputs[0].shape != g_out:
        out.error(
            D.GAN_SHAPES,
            f"generator {g.name} makes {fmt(g_out)}, but discriminator {d.name} takes "
            f"{fmt(d.inputs[0].shape)}",
            span,
            "the generator's output must have the discriminator's input shape",
        )
    data_shape = train.data.info.feature_shape
    if data_shape is not None and data_shape != g_out:
        out.error(
            D.GAN_SHAPES,
            f"generator {g.name} makes {fmt(g_out)}, but data {train.data.name} has "
            f"examples of shape {fmt(data_shape)}",
            span,
            "the generator must produce examples like the data",
        )
    if d.outputs[0].shape != (1,):
        out.error(
            D.GAN_SHAPES,
            f"discriminator {d.name} outputs {fmt(d.outputs[0].shape)}; it must output one score",
            d.last.span if d.last else span,
            "end it with dense(1)",
        )
    loss = train.props.loss
    if LOSSES[loss.name].task != "adversarial":
        out.error(
            D.LOSS_OUTPUT,
            f"adversarial training needs a GAN loss, not {loss.name}",
            where("loss"),
            f"use {D.one_of(e.name for e in LOSSES.entries() if e.task == 'adversarial')}",
        )
