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
Span = Expr | int  # the steps a schedule's phase covers: a number, or an expression of those


@dataclass(frozen=True, kw_only=True)
class Schedule(Entry):
    """`lower(p, lr, span)`: the learning rate over steps (a float for a constant rate), starting
    from the optimizer's rate `lr`, for a phase of `span` steps (an expression: the whole run, or
    what a composition leaves the last phase). `length(p)`: the steps the schedule lasts as a phase
    of a composition (`schedule: [warmup(500), cosine()]`); None: it runs to the end, so it can only
    be the last phase. `adapts`: the runtime changes the rate at epoch ends from a monitored value
    (reduce_on_plateau: CONFIG["plateau"] is `plateau(p)`); it cannot be composed."""

    lower: Callable[[Any, float, Span], Expr | float] = lambda p, lr, span: lr
    length: Callable[[Any], int | None] = lambda p: None
    adapts: bool = False
    plateau: Callable[[Any], dict] | None = None
    example: Mapping[str, Any] = field(default_factory=dict)


class Constant(Params):
    steps: Positive | None = None  # as a phase of a composition: how long it lasts


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
    monitor: str = "val_loss"  # a history key: loss, val_loss, a metric or val_<metric>
    patience: Positive = 5  # epochs without improvement before the rate drops
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5
    min_lr: NonNegative = 0.0  # the rate never drops below it
    cooldown: Annotated[int, Field(ge=0)] = 0  # epochs after a drop before counting again
    min_delta: NonNegative = 0.0  # an improvement is a change by more than this


TOTAL_STEPS = t("steps_per_epoch * epochs")  # the span of a schedule that is not composed


def step(p: Step, lr: float, span: Span) -> Expr:
    return call(
        "optax.exponential_decay",
        lr,
        transition_steps=t("{n} * steps_per_epoch", n=p.every),
        decay_rate=p.factor,
        staircase=True,
    )


def exponential(p: Exponential, lr: float, span: Span) -> Expr:
    return call("optax.exponential_decay", lr, transition_steps=STEPS_PER_EPOCH, decay_rate=p.decay)


def cosine(p: Cosine, lr: float, span: Span) -> Expr:
    if p.warmup:
        return call(
            "optax.warmup_cosine_decay_schedule",
            0.0,
            lr,
            warmup_steps=p.warmup,
            decay_steps=t("max({span}, {w} + 1)", span=span, w=p.warmup),
            **changed(end_value=(p.min_lr, 0.0)),
        )
    return call(
        "optax.cosine_decay_schedule",
        lr,
        decay_steps=span,
        **changed(alpha=(p.min_lr / lr, 0.0)),
    )


def composed(phases: list[tuple[Schedule, Any]], lr: float) -> Expr | float:
    """The rate of consecutive phases: each but the last lasts its `length` in steps and each
    starts from the optimizer's rate at its own step 0 (optax.join_schedules); the last one covers
    the rest of the run."""
    if len(phases) == 1:
        entry, p = phases[0]
        return entry.lower(p, lr, TOTAL_STEPS)
    pieces, boundaries, at = [], [], 0
    for i, (entry, p) in enumerate(phases):
        last = i == len(phases) - 1
        length = entry.length(p)
        span: Span
        if last:
            span = t("max(steps_per_epoch * epochs - {at}, 1)", at=at)
        else:
            assert length is not None, f"{entry.name} has no length (checks.py refuses it)"
            span = length
        rate = entry.lower(p, lr, span)
        pieces.append(call("optax.constant_schedule", rate) if isinstance(rate, float) else rate)
        if not last:
            at += length or 0
            boundaries.append(at)
    return call("optax.join_schedules", pieces, boundaries)


def schedule_refs(props: Any) -> list:
    """A train block's `schedule:` phases as a list (one schedule, or none, too)."""
    refs = props.schedule
    if refs is None:
        return []
    return list(refs) if isinstance(refs, (list, tuple)) else [refs]


def plateau_config(p: Plateau) -> dict:
    return p.model_dump()


SCHEDULES = Registry(
    "schedule",
    [
        Schedule(
            "constant",
            Constant,
            ("steps",),
            "the optimizer's rate (for `steps` steps as a phase of a composition)",
            length=lambda p: p.steps,
            example={"steps": 5},
        ),
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
            "linear warm-up over `warmup` steps, then cosine decay to min_lr by the end of the run"
            " (of its phase)",
            lower=cosine,
            example={"warmup": 5, "min_lr": 1e-5},
        ),
        Schedule(
            "warmup",
            Warmup,
            ("steps",),
            "linear warm-up from 0 over `steps` steps, then constant (a phase of `steps` steps)",
            lower=lambda p, lr, span: call(
                "optax.linear_schedule", 0.0, lr, transition_steps=p.steps
            ),
            length=lambda p: p.steps,
            example={"steps": 5},
        ),
        Schedule(
            "reduce_on_plateau",
            Plateau,
            ("patience", "factor"),
            "multiply the rate by `factor` (not below `min_lr`) when `monitor` (default val_loss)"
            " has not improved for `patience` epochs, then wait `cooldown` epochs",
            adapts=True,
            plateau=plateau_config,
            example={"patience": 1, "cooldown": 1, "min_lr": 1e-5, "monitor": "loss"},
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
