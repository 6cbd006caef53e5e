"""A trainer's run configuration, and how its epochs are cut into batches across devices and
accumulation groups (runtime.devices, runtime.batches)."""

from __future__ import annotations

from types import ModuleType

from ..errors import ConfigError
from ..runconfig import RunConfig
from .batches import Batching, batching
from .devices import Placement, check_batch


def run_config(
    program: ModuleType, config: dict | None, epochs: int | None, seed: int | None
) -> RunConfig:
    """The program's CONFIG, validated, with a run's overrides (`config` entries, epochs, seed)."""
    overrides = dict(config or {})
    if epochs is not None:
        overrides["epochs"] = epochs
    if seed is not None:
        overrides["seed"] = seed
    return RunConfig.load(program.CONFIG, **overrides)


def run_batching(cfg: RunConfig, n: int, placement: Placement | None) -> Batching:
    """The epoch's batches. With `accumulate: k` the epoch is cut into groups of k batches of
    `batch_size` (a whole number of updates: the rows of a group are those of one batch of
    k x batch_size, in the same order), the rest of the split dropped. With several devices every
    batch must split into equal parts."""
    k = cfg.accumulate
    if k == 1:
        b = batching(cfg.batch_size, n, cfg.drop_remainder)
    else:
        if cfg.batch_size == "full":
            raise ConfigError(
                "`accumulate` needs batches: with `batch_size: full` one batch is the whole split",
                "give a `batch_size`, e.g. the full split divided by the accumulation",
            )
        group = batching(cfg.batch_size * k, n, True)
        if group.steps == 0:
            raise ConfigError(
                f"`accumulate: {k}` x batch_size {cfg.batch_size} needs {k * cfg.batch_size} "
                f"training examples per update; the train split has {n}",
                "lower `accumulate` or `batch_size`",
            )
        b = Batching(cfg.batch_size, group.steps * k, 0, group.dropped)
    if placement is not None:
        check_batch(b.size, placement.count, cfg.batch_size == "full")
    return b
