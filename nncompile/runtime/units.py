"""Metrics in the data's units: with `normalize_target`, the model trains on scaled targets, but
regression metrics (mae, mse, rmse) are computed on errors multiplied back by the targets' spread
(`RunConfig.target_scale`, read by `metrics.heads`), and predictions are de-normalised
(`Dataset.predictions`). The loss stays the training objective, on the scaled targets; `units`
says which number is in which units wherever they are printed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..registry.metrics import METRICS

METHODS = {"standard": "standardised", "minmax": "min-max scaled"}


def target_scale(dataset: Any) -> tuple[float, ...] | dict[str, tuple[float, ...]] | None:
    """The per-target scale that `normalize_target` divided the targets by (a dict per output for
    named targets); None when the targets are not scaled."""
    if dataset is None or dataset.task not in ("regression", "several"):
        return None
    if dataset.task == "several":
        found = {
            k: tuple(float(v) for v in _flat(stat["scale"]))
            for k, stat in (dataset.stats.get("targets") or {}).items()
            if stat is not None and k
        }
        return found or None
    stat = dataset.stats.get("y")
    return None if stat is None else tuple(float(v) for v in _flat(stat["scale"]))


def run_units(cfg: Any, dataset: Any, keys: Iterable[str]) -> dict[str, str]:
    """`units` of a run (a RunConfig) trained on `dataset` (None: on arrays given as they are)."""
    if cfg.data is None or dataset is None or (cfg.outputs is None and cfg.task != "regression"):
        return {}
    scale = target_scale(dataset)
    outputs = set(scale) if isinstance(scale, dict) else None if scale else set()
    names = [k for k in keys if k not in ("epoch", "seconds", "lr")]
    return units(names, cfg.data.normalize_target, outputs)


def units(keys: list[str], method: str | None, outputs: set[str] | None = None) -> dict[str, str]:
    """The units of each history/metric key of a run whose regression targets were normalised by
    `method` ("standard" | "minmax" | None): regression metrics in the targets' units, their losses
    on the scaled targets. `outputs`: for a model with several outputs, those with scaled targets
    (their `<output>_loss` and `<output>_<metric>` keys; the summed `loss` mixes units)."""
    if method in (None, "none") or outputs == set():
        return {}
    out = {}
    for key in keys:
        base = key.removeprefix("val_")
        owner, _, name = base.rpartition("_") if outputs is not None else ("", "", base)
        if outputs is not None and owner not in outputs:
            continue
        plain = name.removeprefix("weighted_")  # (weighted_metrics: `weighted_mae`)
        entry = next((e for e in METRICS.entries() if e.names(plain)), None)
        if name == "loss":
            out[key] = f"{METHODS.get(method, method)} target units"
        elif entry is not None and entry.task == "regression":
            out[key] = "the targets' units"
    return out


def _flat(v: Any) -> list:
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in _flat(item)]
    return [v]
