"""Cross checks of an adversarial (GAN) train block: the two models against each other and the data,
`condition=label`, and what GAN training does not apply."""

from __future__ import annotations

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry import Ref
from ..registry.layers import LAYERS
from ..registry.losses import LOSSES
from ..registry.training import NOISES, Gan
from ..shapes import fmt
from . import ir


def check_gan(train: ir.Train, out: Collector, where) -> None:
    g, d, objective = train.generator, train.discriminator, train.props.objective
    if g is None or d is None or objective is None:
        return
    assert isinstance(objective.params, Gan)
    noise_ref = objective.params.noise
    noise = NOISES[noise_ref.name].shape(noise_ref.params)
    span = where("objective")
    conditional = objective.params.condition is not None
    if conditional and not _condition(train, out, span):
        return
    inputs = 2 if conditional else 1
    for model in (g, d):
        if len(model.inputs) != inputs:
            names = ", ".join(i.name for i in model.inputs)
            out.error(
                D.GAN_SHAPES,
                f"{model.name} takes {len(model.inputs)} input{'s' * (len(model.inputs) != 1)} "
                f"({names}), but a{' conditional' * conditional} GAN gives it {inputs}",
                model.span,
                "a conditional GAN's models take (noise or example, label): `input label: int[1]`"
                if conditional
                else "give it one input, or add `condition=label` to gan(...)",
            )
            return
    if g.inputs[0].shape != noise:
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
    squash = _squashed(d)
    if squash is not None:
        out.error(
            D.LOSS_OUTPUT,
            f"discriminator {d.name} ends with {squash}, but the GAN losses take its raw score "
            "(a logit): the loss would squash it twice",
            d.last.span if d.last else span,
            f"remove activation={squash} from its last layer: end it with dense(1)",
        )
    loss = train.loss
    if LOSSES[loss.name].task != "adversarial":
        out.error(
            D.LOSS_OUTPUT,
            f"adversarial training needs a GAN loss, not {loss.name}",
            where("loss"),
            f"use {D.one_of(e.name for e in LOSSES.entries() if e.task == 'adversarial')}",
        )


def _condition(train: ir.Train, out: Collector, span) -> bool:
    """`condition=label`: class labels in the data, and each model's label input `int[1]` (the
    class id) or `[K]` (one-hot over the K classes)."""
    info, ok = train.data.info, True
    if info.task not in (None, "classification"):
        out.error(
            D.GAN_SHAPES,
            f"condition=label needs class labels, but data {train.data.name} is {info.task} data",
            span,
            "use a data source with class labels, or remove condition=label",
        )
        return False
    for model in (train.generator, train.discriminator):
        assert model is not None
        if len(model.inputs) != 2:
            continue  # reported by the caller
        label = model.inputs[1]
        one_hot = label.dtype == "float32" and len(label.shape) == 1
        classes = info.num_classes
        if label.dtype != "float32" and label.shape == (1,):
            continue
        if one_hot and classes in (None, label.shape[0]):
            continue
        why = (
            f"but data {train.data.name} has {classes} classes"
            if one_hot and classes
            else "which is not the shape of a class label"
        )
        out.error(
            D.GAN_SHAPES,
            f"{model.name} takes the class label as input {label.name}: "
            f"{'int' * (label.dtype != 'float32')}{fmt(label.shape)}, {why}",
            model.span,
            f"declare `input {label.name}: int[1]` (then embed it) or `input {label.name}: "
            f"[{classes or 'K'}]` (one-hot)",
        )
        ok = False
    return ok


def layer_penalties_in_gan(train: ir.Train, out: Collector) -> None:
    """A layer's own `regularize=` is a term of a supervised loss; GAN training has none."""

    def visit(model: ir.Model) -> None:
        for node in model.nodes:
            if node.submodel is not None:
                visit(node.submodel)
            entry = LAYERS.get(node.kind)
            if entry is not None and entry.loss_term is not None:
                out.error(
                    D.BAD_VALUE,
                    f"{node.kind} in model {model.name} adds a term to a supervised loss; "
                    "adversarial (GAN) training has none",
                    node.span,
                    "train a variational autoencoder with a supervised train block "
                    "(`loss: mse`, `target: input`), or remove it",
                )
            if getattr(node.params, "regularize", None) is not None:
                out.error(
                    D.BAD_VALUE,
                    f"{node.kind} in model {model.name}: `regularize=` is not applied in "
                    "adversarial (GAN) training",
                    node.span,
                    "remove `regularize=` from this layer",
                )

    for model in (train.generator, train.discriminator):
        if model is not None:
            visit(model)


def _squashed(model: ir.Model) -> str | None:
    """The squashing activation (sigmoid, tanh, softmax) a model's last layer applies, if any."""
    last = model.last
    if last is None:
        return None
    ref = last.params if isinstance(last.params, Ref) else getattr(last.params, "activation", None)
    name = getattr(ref, "name", None)
    return name if name in ("sigmoid", "tanh", "softmax") else None
