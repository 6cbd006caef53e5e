"""How a sweep runs its trials: the engine (in this process, or a study shared through a database),
the sampler choosing a random sweep's values, and the pruner stopping unpromising trials per epoch.
(The objective is in training.SWEEP_OBJECTIVES.) Optuna is the engine behind `optuna`, the samplers
and the pruners; it is imported only when a sweep runs (nncompile.runtime.study)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field

from . import Entry, NoParams, Params, Registry


@dataclass(frozen=True, kw_only=True)
class SweepEntry(Entry):
    """`shared`: several processes may take part (engines); `example`: valid arguments."""

    example: Mapping[str, Any] = field(default_factory=dict)
    shared: bool = False


class Study(Params):
    # any database URL Optuna (SQLAlchemy) accepts; none: a study in this process's memory
    storage: str | None = None
    study: str | None = None  # default: <spec>-<sweep>
    heartbeat: Annotated[int, Field(ge=1, le=3600)] = 10  # seconds between a trial's heartbeats
    retries: Annotated[int, Field(ge=0, le=100)] = 2  # reruns of a trial whose worker died


ENGINES = Registry(
    "sweep_engine",
    [
        SweepEntry(
            "local",
            NoParams,
            (),
            "run the trials one after another in this process (the default)",
        ),
        SweepEntry(
            "optuna",
            Study,
            ("storage",),
            "an Optuna study: every `nncompile sweep` process given the same storage and study "
            "shares its trials (each trial runs once; a worker that dies has its trial rerun "
            "by another after `heartbeat` seconds x 2)",
            example={"storage": "sqlite:///sweep.db", "study": "digits", "heartbeat": 5},
            shared=True,
        ),
    ],
)


class Tpe(Params):
    startup: Annotated[int, Field(ge=0, le=1000)] = 5  # random trials before TPE models the rest


SAMPLERS = Registry(
    "sweep_sampler",
    [
        SweepEntry(
            "random",
            NoParams,
            (),
            "draw each trial's values at random from the `random:` lists",
        ),
        SweepEntry(
            "tpe",
            Tpe,
            ("startup",),
            "Tree-structured Parzen Estimator (Optuna's TPESampler): after `startup` random "
            "trials, draw values where the finished trials scored well",
            example={"startup": 3},
        ),
    ],
)


class Median(Params):
    startup: Annotated[int, Field(ge=0, le=1000)] = 3  # trials finished before any is pruned
    warmup: Annotated[int, Field(ge=0, le=100000)] = 0  # epochs of each trial never pruned


class Halving(Params):
    min_epochs: Annotated[int, Field(ge=1, le=100000)] = 1  # epochs before the first rung
    rate: Annotated[int, Field(ge=2, le=100)] = 3  # 1/rate of the trials go on at each rung


PRUNERS = Registry(
    "sweep_pruner",
    [
        SweepEntry("none", NoParams, (), "train every trial for all its epochs"),
        SweepEntry(
            "median",
            Median,
            (),
            "stop a trial whose best objective so far is worse than the median of the earlier "
            "trials at the same epoch (Optuna's MedianPruner)",
            example={"startup": 2, "warmup": 1},
        ),
        SweepEntry(
            "halving",
            Halving,
            (),
            "successive halving (Optuna's SuccessiveHalvingPruner): at epochs min_epochs x "
            "rate^k only the best 1/rate of the trials go on",
            example={"min_epochs": 2, "rate": 2},
        ),
    ],
)
