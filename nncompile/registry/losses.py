"""Losses: what the data must be (`task`), the output activation a loss fuses (`head`), its lowering
to a mean over the batch, the helper code it needs and its check against the model's output.

GAN losses (`task="adversarial"`) carry their (discriminator, generator) losses instead, written on
the discriminator's logits for real and generated examples (`real`, `fake`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field

from ..expr import Expr, Snippet, Sym, call, t
from ..shapes import fmt
from . import Entry, Params, Registry

Fraction = Annotated[float, Field(ge=0, lt=1)]


OUTPUTS, TARGETS = Sym("outputs"), Sym("y")


@dataclass(frozen=True)
class LossContext:
    """The names a loss is written on: the model's outputs (logits when the head is fused) and the
    targets (``outputs["name"]``, ``y["name"]``: one output of a model with several)."""

    outputs: Sym | Expr = OUTPUTS
    y: Sym | Expr = TARGETS
    one_hot: bool = False  # the data's labels are one-hot rows already
    pad: int | None = None  # targets equal to this id are padding: left out of the mean
    # `class_weight:` the expression holding the weight of each class (None: an unweighted mean)
    class_weight: Sym | Expr | None = None
    # `sample_weight=` of the data: the expression holding each example's weight (SAMPLE_WEIGHTED)
    sample_weight: Sym | Expr | None = None


@dataclass(frozen=True)
class Output:
    """What `check` knows about a model's output and its data, for a loss's compatibility check."""

    model: str
    data: str
    shape: tuple[int, ...]  # the output's per-example shape
    classes: int | None  # the data's class count (None: unknown or regression)
    last_kind: str | None  # the last layer's kind (a layer name, "activation", "model")
    activation: str | None  # the model's output activation (None: linear)
    target: tuple[int, ...] | None  # the data's regression target shape (None: unknown)


# (message, hint): a problem with the model's output, reported at its last layer
Problem = tuple[str, str]


@dataclass(frozen=True, kw_only=True)
class Loss(Entry):
    task: str  # classification | regression | adversarial
    head: str | None = None  # the output activation it fuses
    # the classes an output of `units` units tells apart: class ids 0..classes(units)-1
    classes: Callable[[int], int] = lambda units: units
    lower: Callable[[Any, LossContext], Expr] | None = None  # the mean loss over a batch
    snippets: tuple[Snippet, ...] = ()
    check_output: Callable[[Any, Output], Problem | None] = lambda p, o: None
    gan: tuple[Expr, Expr] | None = None  # (discriminator, generator) losses
    # the discriminator's loss with target `real_target` (< 1: label smoothing) for real examples
    gan_smoothed: Callable[[float], Expr] | None = None
    example: Mapping[str, Any] = field(default_factory=dict)  # arguments for the table tests
    masks: bool = False  # the lowering leaves padding out (`ctx.pad`); `check` refuses `pad:` else


class CrossEntropy(Params):
    label_smoothing: Fraction = 0.0


class Huber(Params):
    delta: Annotated[float, Field(gt=0)] = 1.0


class Margin(Params):
    m_plus: Annotated[float, Field(gt=0, le=1)] = 0.9
    m_minus: Annotated[float, Field(ge=0, lt=1)] = 0.1
    down_weight: Annotated[float, Field(gt=0)] = 0.5


# binary cross-entropy of the real logits against target a (= 1 - b), plus the fake ones against 0
SMOOTHED_BCE = "{a} * jax.nn.softplus(-real) + {b} * jax.nn.softplus(real) + jax.nn.softplus(fake)"


# ---- lowerings -----------------------------------------------------------------------------------
CLASS_WEIGHTED = Snippet(
    "class_weighted",
    '''
def class_weighted(loss, y, class_weight):
    """The mean over the batch of the per-example losses, each times the weight of its class (y:
    class ids, or one-hot rows); like Keras' class_weight, divided by the batch size, not by the
    sum of the weights. class_weight None (evaluation): the plain mean."""
    if class_weight is None:
        return loss.mean()
    if isinstance(class_weight, str):
        raise ValueError(
            f"CLASS_WEIGHT is {class_weight!r}: the weights come from the training split; set "
            "CLASS_WEIGHT to one weight per class first (nncompile's runtime does)"
        )
    weights = jnp.asarray(class_weight, loss.dtype)
    if y.ndim > loss.ndim:  # one-hot rows
        per_example = y.astype(loss.dtype) @ weights
    else:
        per_example = weights[y.astype(jnp.int32)]
    return (loss * per_example.reshape(loss.shape)).mean()
''',
)


SAMPLE_WEIGHTED = Snippet(
    "sample_weighted",
    '''
def sample_weighted(loss, sample_weight):
    """Each example's loss (per target, per step) times the example's weight, as Keras weighs
    `fit(sample_weight=...)`: the mean over the batch then divides the weighted sum by the batch
    size, not by the sum of the weights. sample_weight None (evaluation): the losses unchanged."""
    if sample_weight is None:
        return loss
    weights = sample_weight.astype(loss.dtype)
    return loss * weights.reshape(weights.shape + (1,) * (loss.ndim - weights.ndim))
''',
)


def mean(per_target: Expr, c: LossContext) -> Expr:
    """The mean of a loss per target (per example, or per step), padding left out when `c.pad`,
    each example weighted by its class's weight with `c.class_weight` (CLASS_WEIGHTED) and by its
    own weight with `c.sample_weight` (SAMPLE_WEIGHTED)."""
    if c.sample_weight is not None:
        per_target = call("sample_weighted", per_target, c.sample_weight)
    if c.class_weight is not None:  # (`check` refuses class_weight with pad)
        return call("class_weighted", per_target, c.y, c.class_weight)
    if c.pad is None:
        return t("{loss}.mean()", loss=per_target)
    keep = t("({y} != {pad})", y=c.y, pad=c.pad)
    return t(
        "jnp.sum({loss} * {keep}) / jnp.maximum(jnp.sum({keep}), 1)", loss=per_target, keep=keep
    )


def categorical(p: CrossEntropy, c: LossContext) -> Expr:
    # integer labels as one-hot rows (of the output width: the class count of a CSV is only known at
    # run time): a multiply-and-sum that fuses, where optax's integer-label form is a gather whose
    # gradient is a scatter (6 more XLA kernels per step; W1 compiles 0.02 s faster)
    target: Any = c.y if c.one_hot else t("jax.nn.one_hot({y}, {o}.shape[-1])", y=c.y, o=c.outputs)
    if p.label_smoothing > 0:
        target = t("optax.smooth_labels({y}, {a})", y=target, a=p.label_smoothing)
    return mean(call("optax.softmax_cross_entropy", c.outputs, target), c)


def binary(p: CrossEntropy, c: LossContext) -> Expr:
    target = t("{y}.reshape({o}.shape).astype({o}.dtype)", y=c.y, o=c.outputs)
    if p.label_smoothing > 0:
        target = t("{y} * (1 - {a}) + 0.5 * {a}", y=target, a=p.label_smoothing)
    loss: Expr = call("optax.sigmoid_binary_cross_entropy", c.outputs, target)
    if c.pad is not None:  # one unit: the loss per target, shaped like the ids
        loss = t("{loss}.reshape({y}.shape)", loss=loss, y=c.y)
    return mean(loss, c)


def huber(p: Huber, c: LossContext) -> Expr:
    delta = {} if p.delta == 1.0 else {"delta": p.delta}  # 1.0: optax's default
    loss = call("optax.huber_loss", c.outputs, c.y, **delta)
    return t("{loss}.mean()", loss=loss) if c.sample_weight is None else mean(loss, c)


def elementwise(template: str) -> Callable[[Any, LossContext], Expr]:
    """A regression loss of each target value, averaged over the batch and the values (weighted:
    through `mean`, each example's values times its weight)."""

    def lower(p: Any, c: LossContext) -> Expr:
        per_value = t(template, o=c.outputs, y=c.y)
        return t("jnp.mean({v})", v=per_value) if c.sample_weight is None else mean(per_value, c)

    return lower


MARGIN_LOSS = Snippet(
    "margin_loss",
    '''
def margin_loss(lengths, labels, m_plus=0.9, m_minus=0.1, down_weight=0.5):
    """Capsule margin loss: present classes need long capsules, absent ones short."""
    present = jax.nn.one_hot(labels, lengths.shape[-1]) if labels.ndim == 1 else labels
    absent = down_weight * (1 - present) * jax.nn.relu(lengths - m_minus) ** 2
    return (present * jax.nn.relu(m_plus - lengths) ** 2 + absent).sum(axis=-1)
''',
)


def margin(p: Margin, c: LossContext) -> Expr:
    given = p.model_dump(exclude_defaults=True)  # the snippet's defaults are the entry's
    return mean(call("margin_loss", c.outputs, c.y, **given), c)


# ---- checks against the model's output -----------------------------------------------------------
def categorical_output(p: CrossEntropy, o: Output) -> Problem | None:
    if o.classes is not None and o.shape[-1] != o.classes:
        return (
            f"model {o.model} ends with {o.shape[-1]} unit(s), but data {o.data} has "
            f"{o.classes} classes",
            "categorical_crossentropy needs one unit per class: "
            f"dense({o.classes}, activation=softmax)",
        )
    if o.activation == "sigmoid":
        return (
            "categorical_crossentropy expects a softmax (or linear) output, not sigmoid",
            "use activation=softmax",
        )
    return None


def binary_output(p: CrossEntropy, o: Output) -> Problem | None:
    if o.shape[-1] != 1 or (o.classes is not None and o.classes != 2):
        got = (
            f"{o.classes} classes" if o.classes not in (None, 2) else f"{o.shape[-1]} output units"
        )
        return (
            f"binary_crossentropy needs one sigmoid unit and two classes; here: {got}",
            "end with dense(1, activation=sigmoid)"
            if o.classes in (None, 2)
            else "use categorical_crossentropy for more than two classes",
        )
    if o.activation == "softmax":
        return (
            "binary_crossentropy expects a sigmoid (or linear) output, not softmax",
            "softmax over one unit is always 1: use activation=sigmoid",
        )
    return None


def margin_output(p: Margin, o: Output) -> Problem | None:
    if o.last_kind != "capsule_length":
        return (
            "the margin loss reads capsule lengths",
            "end the model with capsules(count=C, dim=16) then capsule_length()",
        )
    if o.classes is not None and o.shape[-1] != o.classes:
        return (
            f"model {o.model} has {o.shape[-1]} output capsules, but data {o.data} has "
            f"{o.classes} classes",
            f"use capsules(count={o.classes}, ...)",
        )
    return None


def target_output(p: Params, o: Output) -> Problem | None:
    """Regression: the output has the targets' shape (when the source tells it)."""
    if o.target is not None and o.shape != o.target:
        return (
            f"model {o.model} outputs {fmt(o.shape)}, but data {o.data} has targets of shape "
            f"{fmt(o.target)}",
            f"end the model with an output of shape {fmt(o.target)}",
        )
    return None


# ---- the losses ----------------------------------------------------------------------------------
LOSSES = Registry(
    "loss",
    [
        Loss(
            "mse",
            doc="mean squared error (regression)",
            task="regression",
            check_output=target_output,
            lower=elementwise("({o} - {y}) ** 2"),
        ),
        Loss(
            "mae",
            doc="mean absolute error (regression, robust to outliers)",
            task="regression",
            check_output=target_output,
            lower=elementwise("jnp.abs({o} - {y})"),
        ),
        Loss(
            "huber",
            Huber,
            ("delta",),
            "squared error near 0, absolute error past delta",
            task="regression",
            check_output=target_output,
            lower=huber,
            example={"delta": 0.5},
        ),
        Loss(
            "binary_crossentropy",
            CrossEntropy,
            (),
            "two classes: one sigmoid unit (labels 0/1)",
            task="classification",
            head="sigmoid",
            classes=lambda units: 2,  # one unit: the probability of class 1
            lower=binary,
            masks=True,
            check_output=binary_output,
            example={"label_smoothing": 0.1},
        ),
        Loss(
            "categorical_crossentropy",
            CrossEntropy,
            (),
            "C classes: C softmax units (integer or one-hot labels)",
            task="classification",
            head="softmax",
            lower=categorical,
            masks=True,
            check_output=categorical_output,
            example={"label_smoothing": 0.1},
        ),
        Loss(
            "margin",
            Margin,
            (),
            "capsule margin loss on capsule lengths",
            task="classification",
            lower=margin,
            snippets=(MARGIN_LOSS,),
            check_output=margin_output,
            example={"m_plus": 0.8},
        ),
        Loss(
            "non_saturating",
            doc="GAN: generator maximises log D(G(z))",
            task="adversarial",
            head="sigmoid",
            gan=(t("jax.nn.softplus(-real) + jax.nn.softplus(fake)"), t("jax.nn.softplus(-fake)")),
            gan_smoothed=lambda target: t(SMOOTHED_BCE, a=target, b=round(1 - target, 12)),
        ),
        Loss(
            "minimax",
            doc="GAN: the original minimax game (generator minimises log(1 - D(G(z))))",
            task="adversarial",
            head="sigmoid",
            gan=(t("jax.nn.softplus(-real) + jax.nn.softplus(fake)"), t("-jax.nn.softplus(fake)")),
            gan_smoothed=lambda target: t(SMOOTHED_BCE, a=target, b=round(1 - target, 12)),
        ),
        Loss(
            "least_squares",
            doc="GAN: least-squares (LSGAN) objective",
            task="adversarial",
            gan=(t("0.5 * ((real - 1) ** 2 + fake ** 2)"), t("0.5 * (fake - 1) ** 2")),
            gan_smoothed=lambda target: t("0.5 * ((real - {a}) ** 2 + fake ** 2)", a=target),
        ),
    ],
)
