"""Learning-rate schedules, lowered to an optax schedule (or chained after the optimizer), and
regularizers, lowered to a term added to the loss. Lowerings leave out optax's own defaults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field

from ..expr import Expr, Snippet, Sym, call, t
from . import Entry, Params, Registry
from .lowering import changed

Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]


STEPS_PER_EPOCH = Sym("steps_per_epoch")  # known to the emitted make_optimizer, with `epochs`


@dataclass(frozen=True, kw_only=True)
class Schedule(Entry):
    """`lower(p, lr)`: the learning rate over steps (a float for a constant rate). `chain(p)`: a
    gradient transformation chained after the optimizer instead; `reads_loss`: its update takes
    `value=loss`."""

    lower: Callable[[Any, float], Expr | float] = lambda p, lr: lr
    chain: Callable[[Any], Expr] | None = None
    reads_loss: bool = False
    example: Mapping[str, Any] = field(default_factory=dict)


class Step(Params):
    every: Positive = 10  # epochs
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5


class Exponential(Params):
    decay: Annotated[float, Field(gt=0, lt=1)] = 0.96  # per epoch


class Cosine(Params):
    warmup: Annotated[int, Field(ge=0)] = 0  # steps
    min_lr: NonNegative = 0.0


class Warmup(Params):
    steps: Positive = 100


class Plateau(Params):
    patience: Positive = 5
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5
    cooldown: Annotated[int, Field(ge=0)] = 0


def step(p: Step, lr: float) -> Expr:
    return call(
        "optax.exponential_decay",
        lr,
        transition_steps=t("{n} * steps_per_epoch", n=p.every),
        decay_rate=p.factor,
        staircase=True,
    )


def exponential(p: Exponential, lr: float) -> Expr:
    return call("optax.exponential_decay", lr, transition_steps=STEPS_PER_EPOCH, decay_rate=p.decay)


def cosine(p: Cosine, lr: float) -> Expr:
    if p.warmup:
        return call(
            "optax.warmup_cosine_decay_schedule",
            0.0,
            lr,
            warmup_steps=p.warmup,
            decay_steps=t("max(steps_per_epoch * epochs, {w} + 1)", w=p.warmup),
            **changed(end_value=(p.min_lr, 0.0)),
        )
    return call(
        "optax.cosine_decay_schedule",
        lr,
        decay_steps=t("steps_per_epoch * epochs"),
        **changed(alpha=(p.min_lr / lr, 0.0)),
    )


def plateau(p: Plateau) -> Expr:
    given = changed(factor=(p.factor, 0.1), patience=(p.patience, 10), cooldown=(p.cooldown, 0))
    return call("optax.contrib.reduce_on_plateau", **given, accumulation_size=STEPS_PER_EPOCH)


SCHEDULES = Registry(
    "schedule",
    [
        Schedule("constant", doc="the optimizer's rate throughout"),
        Schedule(
            "step",
            Step,
            ("every", "factor"),
            "multiply the rate by `factor` every `every` epochs",
            lower=step,
            example={"every": 1},
        ),
        Schedule(
            "exponential",
            Exponential,
            ("decay",),
            "multiply the rate by `decay` each epoch (smoothly)",
            lower=exponential,
        ),
        Schedule(
            "cosine",
            Cosine,
            ("warmup",),
            "linear warm-up over `warmup` steps, then cosine decay to min_lr",
            lower=cosine,
            example={"warmup": 5, "min_lr": 1e-5},
        ),
        Schedule(
            "warmup",
            Warmup,
            ("steps",),
            "linear warm-up from 0 over `steps` steps, then constant",
            lower=lambda p, lr: call("optax.linear_schedule", 0.0, lr, transition_steps=p.steps),
            example={"steps": 5},
        ),
        Schedule(
            "reduce_on_plateau",
            Plateau,
            ("patience", "factor"),
            "scale the rate by `factor` when the training loss stops improving for `patience` "
            "epochs",
            chain=plateau,
            reads_loss=True,
            example={"patience": 1, "cooldown": 1},
        ),
    ],
)


# ---- regularizers --------------------------------------------------------------------------------
KERNEL_PENALTY = Snippet(
    "kernel_penalty",
    '''
def kernel_penalty(model, power):
    """Sum of |w|**power over the weight matrices and filters (biases are not penalised)."""
    kernels = jax.tree.leaves(nnx.state(model, nnx.All(nnx.Param, nnx.PathContains("kernel"))))
    return sum(jnp.sum(jnp.abs(w) ** power) for w in kernels)
''',
)


MODEL = Sym("model")  # what a train block's `regularize:` penalises; a layer's own: its attribute


@dataclass(frozen=True, kw_only=True)
class Regularizer(Entry):
    """`lower(p, module=MODEL)`: a term added to the loss, written on `module` (the whole model,
    or one layer for `dense(64, regularize=l2(1e-4))`)."""

    lower: Callable[..., Expr]
    snippets: tuple[Snippet, ...] = ()
    example: Mapping[str, Any] = field(default_factory=dict)


class Penalty(Params):
    strength: Annotated[float, Field(gt=0)]


REGULARIZERS = Registry(
    "regularizer",
    [
        Regularizer(
            "l1",
            Penalty,
            ("strength",),
            "adds strength * sum(|w|) over kernels to the loss (sparse weights)",
            lower=lambda p, m=MODEL: t("{c} * kernel_penalty({m}, 1)", c=p.strength, m=m),
            snippets=(KERNEL_PENALTY,),
            example={"strength": 1e-3},
        ),
        Regularizer(
            "l2",
            Penalty,
            ("strength",),
            "adds strength * sum(w^2) over kernels to the loss (small weights)",
            lower=lambda p, m=MODEL: t("{c} * kernel_penalty({m}, 2)", c=p.strength, m=m),
            snippets=(KERNEL_PENALTY,),
            example={"strength": 1e-3},
        ),
    ],
)
