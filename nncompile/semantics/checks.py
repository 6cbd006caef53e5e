"""Cross checks between blocks: data vs model input, loss vs output, monitors, GAN, transfer."""
from __future__ import annotations

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry.layers import fmt
from ..registry.training import LOSSES, METRICS
from ..syntax import ast
from . import ir


def cross_check(train: ir.Train, out: Collector, block: ast.TrainBlock) -> None:
    spans = train.property_spans
    where = lambda key: spans.get(key, block.name_span)  # noqa: E731
    if train.model is not None:
        _input_vs_data(train, out, where("model"))
        _loss_vs_output(train, out, where("loss"))
        _names_in_model(train, out, where)
    else:
        _gan(train, out, where)
    _metrics(train, out, where("metrics"))
    _monitor(train, out, spans.get("early_stopping.monitor", where("early_stopping")))


def _input_vs_data(train: ir.Train, out: Collector, span) -> None:
    model, data = train.model, train.data
    shape = data.info.feature_shape
    if len(model.inputs) != 1 or shape is None:
        return
    x = model.inputs[0]
    if x.shape != shape:
        hint = f"declare `input {x.name}: {fmt(shape)}`"
        if len(shape) == 1 and len(x.shape) > 1:
            hint = f"add `reshape: {fmt(x.shape)}` to data {data.name}, or {hint}"
        out.error(D.DATA_MODEL, f"model {model.name} takes {x.name}: {fmt(x.shape)}, but data {data.name} "
                  f"gives examples of shape {fmt(shape)}", span, hint)
    tokens = data.info.task == "sequence"
    if tokens != (x.dtype == "int32"):
        what = "token ids" if tokens else "float features"
        out.error(D.DATA_MODEL, f"data {data.name} gives {what}, but model {model.name} takes "
                  f"{'int' if x.dtype == 'int32' else 'float'} input {x.name}", span,
                  f"declare `input {x.name}: int[...]`" if tokens else "declare a float input: `input x: [...]`")


def _last_activation(model: ir.Model) -> str | None:
    last = model.last
    if last is None:
        return None
    if last.kind == "activation":
        return last.params.name
    if last.kind == "model":
        return _last_activation(last.submodel)
    act = getattr(last.params, "activation", None)
    return act.name if act is not None else None


def _loss_vs_output(train: ir.Train, out: Collector, span) -> None:
    loss = train.props.loss
    entry = LOSSES[loss.name]
    task = entry.extra["task"]
    model, info = train.model, train.data.info
    shape = model.outputs[0].shape
    last = model.last
    if task == "adversarial":
        out.error(D.LOSS_OUTPUT, f"{loss.name} is a GAN loss", span,
                  "use it with `objective: gan(...)`, or pick mse / categorical_crossentropy")
        return
    if task == "regression" and info.task == "classification" and not train.data.props.one_hot:
        out.error(D.LOSS_OUTPUT, f"{loss.name} is a regression loss, but data {train.data.name} has class labels",
                  span, "use categorical_crossentropy (or binary_crossentropy), or set `one_hot: true` to regress "
                  "one-hot targets")
        return
    if task == "classification" and info.task == "regression":
        out.error(D.LOSS_OUTPUT, f"{loss.name} needs class labels, but data {train.data.name} has real-valued targets",
                  span, "use mse, mae or huber for regression")
        return
    classes = info.num_classes
    if loss.name == "categorical_crossentropy":
        if classes is not None and shape[-1] != classes:
            out.error(D.LOSS_OUTPUT, f"model {model.name} ends with {shape[-1]} unit(s), but data {train.data.name} "
                      f"has {classes} classes", last.span if last else span,
                      f"categorical_crossentropy needs one unit per class: dense({classes}, activation=softmax)")
        elif _last_activation(model) == "sigmoid":
            out.error(D.LOSS_OUTPUT, "categorical_crossentropy expects a softmax (or linear) output, not sigmoid",
                      last.span if last else span, "use activation=softmax")
    elif loss.name == "binary_crossentropy":
        if shape[-1] != 1 or (classes is not None and classes != 2):
            got = f"{classes} classes" if classes not in (None, 2) else f"{shape[-1]} output units"
            out.error(D.LOSS_OUTPUT, f"binary_crossentropy needs one sigmoid unit and two classes; here: {got}",
                      last.span if last else span,
                      "end with dense(1, activation=sigmoid)" if classes in (None, 2)
                      else "use categorical_crossentropy for more than two classes")
        elif _last_activation(model) == "softmax":
            out.error(D.LOSS_OUTPUT, "binary_crossentropy expects a sigmoid (or linear) output, not softmax",
                      last.span if last else span, "softmax over one unit is always 1: use activation=sigmoid")
    elif loss.name == "margin":
        if last is None or last.kind != "capsule_length":
            out.error(D.LOSS_OUTPUT, "the margin loss reads capsule lengths", last.span if last else span,
                      "end the model with capsules(count=C, dim=16) then capsule_length()")
        elif classes is not None and shape[-1] != classes:
            out.error(D.LOSS_OUTPUT, f"model {model.name} has {shape[-1]} output capsules, but data "
                      f"{train.data.name} has {classes} classes", last.span, f"use capsules(count={classes}, ...)")
    elif task == "regression" and info.feature_shape is not None:
        target = _regression_target(train)
        if target is not None and shape != target:
            out.error(D.LOSS_OUTPUT, f"model {model.name} outputs {fmt(shape)}, but data {train.data.name} has "
                      f"targets of shape {fmt(target)}", last.span if last else span,
                      f"end the model with an output of shape {fmt(target)}")


def _regression_target(train: ir.Train) -> tuple[int, ...] | None:
    props = train.data.props
    src = props.source
    if props.one_hot and train.data.info.num_classes:
        return (train.data.info.num_classes,)
    if src.name == "sklearn":
        return (1,)
    if src.name == "synthetic":
        kind = src.params.kind
        if kind == "sine_params":
            return (src.params.length, 1)
        if kind == "sine" and props.windows is not None:
            return (1,) if props.windows.targets == "last" else (props.windows.length, 1)
    return None


def _metrics(train: ir.Train, out: Collector, span) -> None:
    task = train.data.info.task
    for metric in train.props.metrics:
        want = METRICS[metric.name].extra["task"]
        have = "classification" if task == "sequence" else task
        if have is not None and want != have and not (want == "regression" and train.data.props.one_hot):
            out.error(D.LOSS_OUTPUT, f"metric {metric.name} is for {want}, but data {train.data.name} is {task}",
                      metric.span, "accuracy/top_k/precision/recall/f1 need classes; mae/mse/rmse need real targets")
        if metric.name == "top_k" and train.data.info.num_classes and metric.params.k >= train.data.info.num_classes:
            out.error(D.BAD_VALUE, f"top_k with k={metric.params.k} is always 1 with "
                      f"{train.data.info.num_classes} classes", metric.span, "choose k smaller than the class count")


def _monitor(train: ir.Train, out: Collector, span) -> None:
    stop = train.props.early_stopping
    if stop is None:
        return
    known = ["loss", *(m.name for m in train.props.metrics)]
    name = stop.monitor
    base = name[4:] if name.startswith("val_") else name
    if base not in known:
        choices = f"monitor one of {D.one_of([*known, *(f'val_{k}' for k in known)])}"
        hint = (f"add {base} to `metrics: [...]`, or {choices}" if base in METRICS else
                D.did_you_mean(name, [*known, *(f"val_{k}" for k in known)]) or choices)
        out.error(D.UNKNOWN_REFERENCE, f"early_stopping monitors '{name}', which is not recorded", span, hint)
    elif name.startswith("val_") and "val" not in train.data.props.split:
        out.error(D.NEEDS_VALIDATION, f"early_stopping monitors {name}, but data {train.data.name} has no "
                  "validation split", span, "add one: `split: {train: 0.7, val: 0.15, test: 0.15}`")


def _layer_names(model: ir.Model) -> list[str]:
    return [n.name for n in model.nodes if n.param_count or n.kind == "model"]


def _names_in_model(train: ir.Train, out: Collector, where) -> None:
    names = _layer_names(train.model)
    for key, listed in (("freeze", train.props.freeze),
                        ("init", (train.props.init.params.layers or []) if train.props.init else [])):
        for name in listed:
            if name not in names:
                out.error(D.TRANSFER, f"{key} names '{name}', which is not a layer with parameters of "
                          f"model {train.model.name}", where(key),
                          D.did_you_mean(name, names) or f"its layers are {D.one_of(names)}")


def _gan(train: ir.Train, out: Collector, where) -> None:
    g, d = train.generator, train.discriminator
    noise_ref = train.props.objective.params.noise
    noise = tuple(noise_ref.params.shape)
    span = where("objective")
    if len(g.inputs) != 1 or g.inputs[0].shape != noise:
        out.error(D.GAN_SHAPES, f"generator {g.name} takes {fmt(g.inputs[0].shape)}, but the noise is {fmt(noise)}",
                  noise_ref.span, f"use noise={noise_ref.name}({fmt(g.inputs[0].shape)})")
    g_out = g.outputs[0].shape
    if d.inputs[0].shape != g_out:
        out.error(D.GAN_SHAPES, f"generator {g.name} makes {fmt(g_out)}, but discriminator {d.name} takes "
                  f"{fmt(d.inputs[0].shape)}", span, "the generator's output must have the discriminator's input shape")
    data_shape = train.data.info.feature_shape
    if data_shape is not None and data_shape != g_out:
        out.error(D.GAN_SHAPES, f"generator {g.name} makes {fmt(g_out)}, but data {train.data.name} has "
                  f"examples of shape {fmt(data_shape)}", span, "the generator must produce examples like the data")
    if d.outputs[0].shape != (1,):
        out.error(D.GAN_SHAPES, f"discriminator {d.name} outputs {fmt(d.outputs[0].shape)}; it must output one score",
                  d.last.span if d.last else span, "end it with dense(1)")
    loss = train.props.loss
    if LOSSES[loss.name].extra["task"] != "adversarial":
        out.error(D.LOSS_OUTPUT, f"adversarial training needs a GAN loss, not {loss.name}", where("loss"),
                  "use non_saturating, minimax or least_squares")
