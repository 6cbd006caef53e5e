"""Optimizers, each lowered to an optax call that writes only the keywords whose value differs from
optax's own default (`optax.adam(learning_rate)`, not `optax.adam(learning_rate, b1=0.9, b2=0.999,
eps=1e-08)`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field

from ..expr import Expr, call
from . import Entry, Params, Registry

LearningRate = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
NonNegative = Annotated[float, Field(ge=0)]


@dataclass(frozen=True, kw_only=True)
class Optimizer(Entry):
    """An optax optimizer: `fn(learning_rate, **keywords(p))`, less the keywords at
    `library_defaults`.

    `library_defaults` are optax's own defaults of those keywords (a table test compares them with
    optax's signatures), so a value equal to one is left out of the emitted call."""

    fn: str
    keywords: Callable[[Any], dict[str, Any]] = lambda p: {}
    library_defaults: Mapping[str, Any] = field(default_factory=dict)
    example: Mapping[str, Any] = field(default_factory=dict)
    # floats of optimizer state per parameter (Adam: two moments), for the plan's memory estimate
    slots: Callable[[Any], int] = lambda p: 2

    def rate(self, p: Any) -> float:
        """The base learning rate (a schedule starts from it)."""
        return p.lr

    def lower(self, p: Any, lr: Any) -> Expr:
        given = {
            k: v
            for k, v in self.keywords(p).items()
            if k not in self.library_defaults or self.library_defaults[k] != v
        }
        return call(self.fn, lr, **given)


class Sgd(Params):
    lr: LearningRate = 0.01
    momentum: Fraction = 0.0
    nesterov: bool = False


class Momentum(Params):
    lr: LearningRate = 0.01
    beta: Fraction = 0.9


class Adagrad(Params):
    lr: LearningRate = 0.01
    initial: NonNegative = 0.1
    eps: Annotated[float, Field(gt=0)] = 1e-7


class Adadelta(Params):
    lr: LearningRate = 1.0
    rho: Fraction = 0.95
    eps: Annotated[float, Field(gt=0)] = 1e-6


class Rmsprop(Params):
    lr: LearningRate = 1e-3
    decay: Fraction = 0.9
    momentum: Fraction = 0.0
    eps: Annotated[float, Field(gt=0)] = 1e-7


class Adam(Params):
    lr: LearningRate = 1e-3
    b1: Fraction = 0.9
    b2: Fraction = 0.999
    eps: Annotated[float, Field(gt=0)] = 1e-8


class AdamW(Adam):
    weight_decay: NonNegative = 1e-4


ADAM_DEFAULTS = {"b1": 0.9, "b2": 0.999, "eps": 1e-8}


def adam_keywords(p: Adam) -> dict[str, Any]:
    return {"b1": p.b1, "b2": p.b2, "eps": p.eps}


OPTIMIZERS = Registry(
    "optimizer",
    [
        Optimizer(
            "sgd",
            Sgd,
            ("lr",),
            "gradient descent: w -= lr * g (optionally with momentum, Nesterov)",
            fn="optax.sgd",
            keywords=lambda p: {"momentum": p.momentum or None, "nesterov": p.nesterov},
            library_defaults={"momentum": None, "nesterov": False},
            example={"momentum": 0.9, "nesterov": True},
            slots=lambda p: 1 if p.momentum else 0,
        ),
        Optimizer(
            "momentum",
            Momentum,
            ("lr",),
            "gradient descent with momentum: a running sum of gradients",
            fn="optax.sgd",
            keywords=lambda p: {"momentum": p.beta},
            library_defaults={"momentum": None},
            slots=lambda p: 1,
        ),
        Optimizer(
            "adagrad",
            Adagrad,
            ("lr",),
            "per-weight rates shrinking with the sum of squared gradients",
            fn="optax.adagrad",
            keywords=lambda p: {"initial_accumulator_value": p.initial, "eps": p.eps},
            library_defaults={"initial_accumulator_value": 0.1, "eps": 1e-7},
            example={"initial": 0.2},
            slots=lambda p: 1,
        ),
        Optimizer(
            "adadelta",
            Adadelta,
            ("lr",),
            "Adagrad with a decaying window, nearly rate-free",
            fn="optax.adadelta",
            keywords=lambda p: {"rho": p.rho, "eps": p.eps},
            library_defaults={"rho": 0.9, "eps": 1e-6},
            example={"rho": 0.9},
        ),
        Optimizer(
            "rmsprop",
            Rmsprop,
            ("lr",),
            "per-weight rates from a running mean of squared gradients",
            fn="optax.rmsprop",
            keywords=lambda p: {"decay": p.decay, "eps": p.eps, "momentum": p.momentum or None},
            library_defaults={"decay": 0.9, "eps": 1e-8, "momentum": None},
            example={"momentum": 0.5},
            slots=lambda p: 2 if p.momentum else 1,
        ),
        Optimizer(
            "adam",
            Adam,
            ("lr",),
            "momentum + RMSprop with bias correction",
            fn="optax.adam",
            keywords=adam_keywords,
            library_defaults=ADAM_DEFAULTS,
            example={"b2": 0.99},
        ),
        Optimizer(
            "adamw",
            AdamW,
            ("lr",),
            "Adam with decoupled weight decay",
            fn="optax.adamw",
            keywords=lambda p: {**adam_keywords(p), "weight_decay": p.weight_decay},
            library_defaults={**ADAM_DEFAULTS, "weight_decay": 1e-4},
            example={"weight_decay": 1e-3},
        ),
        Optimizer(
            "nadam",
            Adam,
            ("lr",),
            "Adam with Nesterov momentum",
            fn="optax.nadam",
            keywords=adam_keywords,
            library_defaults=ADAM_DEFAULTS,
            example={"b1": 0.8},
        ),
        Optimizer(
            "adamax",
            Adam,
            ("lr",),
            "Adam with the infinity norm",
            fn="optax.adamax",
            keywords=adam_keywords,
            library_defaults=ADAM_DEFAULTS,
            example={"eps": 1e-7},
        ),
    ],
)
