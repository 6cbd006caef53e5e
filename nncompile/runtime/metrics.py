"""Metrics at run time: the registry's entries (nncompile.registry.metrics, where each metric's
accumulator is defined) bound to a program's output head, and the packing of accumulators into one
vector per fetch.

A `Metric` is `init()` (zero int32/float32 numpy arrays), `update(acc, outputs, y)` (pure jnp,
inside the jitted step or epoch) and `finalize(acc)` (a float, on the host), named by `key` in the
history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..errors import ConfigError
from ..registry.metrics import METRICS, Head
from ..registry.weightedmetrics import weighted_keys
from . import sampleweight
from .trees import each

__all__ = ["METRICS", "Head", "Metric", "better", "build", "heads", "metric", "pack", "unpack"]


@dataclass(frozen=True)
class Metric:
    """One metric of a run: `key` names it in the history (`val_` is prefixed for validation)."""

    key: str
    init: Callable[[], Any]
    update: Callable[[Any, Any, Any], Any]  # (acc, outputs, targets): arrays or dicts of them
    finalize: Callable[[Any], float]
    # reads the batch's sample weights (`update` gets Weighted targets when there are): the
    # outputs' losses, weighted as the loss is (runtime.sampleweight); the metrics are not
    weighs: bool = False


def metric(name: str, head: Head, **arguments: Any) -> Metric:
    """The registry's metric `name` with its (validated) arguments, for outputs read by `head`."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    entry = METRICS[name]
    p = entry.params.model_validate(arguments)
    init, update, finalize = entry.accumulator(head, p)
    return Metric(entry.history_key(p), init, update, finalize)


def build(configs: list[dict], head: Head) -> list[Metric]:
    """CONFIG["metrics"] entries ({"name": ..., **arguments}) -> Metric objects."""
    return [metric(c["name"], head, **{k: v for k, v in c.items() if k != "name"}) for c in configs]


def build_for(config, head: Head | dict[str, Head]) -> list[Metric]:
    """A run's metrics (a RunConfig's): for a model with several outputs, each metric on every
    output whose task it fits, keyed `<output>_<metric>` and reading that output and its targets."""
    configs = [m.model_dump() for m in config.metrics]
    if not isinstance(head, dict):
        return build(configs, head)
    out = []
    for name, h in head.items():
        task = "classification" if h.task == "sequence" else h.task
        fits = [
            {k: v for k, v in c.items() if k != "output"}
            for c in configs
            if c.get("output") == name or ("output" not in c and METRICS[c["name"]].task == task)
        ]
        for m in build(fits, h):
            out.append(_on_output(m, name))
    return out


def weighted_for(config, head: Head | dict[str, Head]) -> list[Metric]:
    """A run's `weighted_metrics` (Keras'): each metric with every example counted by its sample
    weight, keyed by Keras' rule (`weighted_<key>` when `metrics` has the key too)."""
    if not config.weighted_metrics:
        return []
    if isinstance(head, dict):
        raise ConfigError(
            "weighted_metrics are for a model with one output",
            "give the metrics per output in `metrics: {...}` (unweighted)",
        )
    plain = [m.key for m in build_for(config, head)]
    metrics = build([m.model_dump() for m in config.weighted_metrics], head)
    keys = weighted_keys(plain, [m.key for m in metrics])
    return [weighted(m, key) for m, key in zip(metrics, keys, strict=True)]


def weighted(m: Metric, key: str) -> Metric:
    """`m` with each example's contribution to its (additive) accumulator times the example's
    sample weight: Keras' `update_state(y, p, sample_weight=w)`, e.g. accuracy = sum(w * right) /
    sum(w). The accumulator is float32; a batch without weights counts every example once."""

    def init():
        return jax.tree.map(lambda a: np.zeros(np.shape(a), np.float32), m.init())

    def update(acc, outputs, y):
        y, given = sampleweight.unpack(y)
        zero = m.init()
        if not given:
            added = m.update(zero, outputs, y)
        else:  # each example's contribution, weighed
            one = lambda o, t: m.update(zero, o[None], t[None])
            each_one = jax.vmap(one)(outputs, y)
            w = given["sample_weight"].astype(jnp.float32)
            added = jax.tree.map(lambda a: jnp.tensordot(w, a.astype(jnp.float32), 1), each_one)
        return jax.tree.map(lambda a, b: a + b.astype(jnp.float32), acc, added)

    return Metric(key, init, update, m.finalize, weighs=True)


def output_losses(program, config) -> list[Metric]:
    """`<output>_loss` for a program with several outputs: each output's mean loss before
    `loss_weights`, from the program's `output_losses(outputs, y)`."""
    fn = getattr(program, "output_losses", None)
    if config.outputs is None or fn is None:
        return []

    def init():
        return {"sum": np.zeros((), np.float32), "count": np.zeros((), np.int32)}

    def one(name: str) -> Metric:
        def update(acc, outputs, y):
            y, weights = sampleweight.unpack(y)  # (the batch's weights, when the loss has them)
            n = jax.tree.leaves(y)[0].shape[0]
            loss = fn(outputs, y, **weights)[name].astype(jnp.float32)
            return {"sum": acc["sum"] + loss * n, "count": acc["count"] + n}

        average = lambda a: float(a["sum"]) / max(int(a["count"]), 1)
        return Metric(f"{name}_loss", init, update, average, weighs=True)

    return [one(o.name) for o in config.outputs]


def _on_output(m: Metric, name: str) -> Metric:
    return Metric(
        f"{name}_{m.key}",
        m.init,
        lambda acc, outputs, y: m.update(acc, outputs[name], y[name]),
        m.finalize,
    )


def better(key: str) -> str:
    """Which direction is better for a history key: 'min' for losses and errors, else 'max'."""
    base = key.removeprefix("val_")
    if base.endswith("loss"):
        return "min"
    found = next((e.better for e in METRICS.entries() if e.names(base)), None)
    if found is None and "_" in base:  # `<output>_<metric>` of a model with several outputs
        return better(base.split("_", 1)[1])
    return found or "max"


# ---- one transfer per fetch ----------------------------------------------------------------------
def pack(acc) -> jax.Array:
    """The accumulators as one int32 vector (their leaves, all int32 or float32, bitcast and
    raveled), inside a jitted function: fetching one array costs one host transfer instead of one
    per leaf (~10 us each, which is a fifth of a tiny program's epoch)."""
    return jnp.concatenate(
        [
            (a if a.dtype == jnp.int32 else jax.lax.bitcast_convert_type(a, jnp.int32)).reshape(-1)
            for a in jax.tree.leaves(acc)
        ]
    )


def unpack(vector: np.ndarray, like):
    """The accumulators back from `pack`'s vector (fetched to the host), shaped and typed like
    `like`."""
    leaves, treedef = jax.tree.flatten(like)
    out, start = [], 0
    for a in leaves:
        out.append(vector[start : start + a.size].view(a.dtype).reshape(a.shape))
        start += a.size
    return jax.tree.unflatten(treedef, out)


def heads(cfg, spec) -> Head | dict[str, Head]:
    """How the metrics read a model's outputs, from the run config and the outputs' shapes
    (``jax.eval_shape`` of the model): a Head per output name for a model with several."""
    units = lambda o: int(o.shape[-1]) if o.shape else 1
    pad = cfg.data.pad if cfg.data is not None else None
    scale = cfg.target_scale
    if cfg.outputs is not None:
        scales = scale if isinstance(scale, dict) else {}
        return {
            o.name: Head(
                o.task,
                units(s),
                logits=o.activation is not None,
                pad=pad,
                activation=o.activation,
                scale=scales.get(o.name) if o.task == "regression" else None,
            )
            for o, s in zip(cfg.outputs, spec, strict=True)
        }
    fused = cfg.output_activation
    scale = scale if cfg.task == "regression" and not isinstance(scale, dict) else None
    return Head(
        cfg.task, units(spec), logits=fused is not None, pad=pad, activation=fused, scale=scale
    )


def model_heads(cfg, eval_gdef, state, x) -> Head | dict[str, Head]:
    """`heads` of a model (its eval graph and state) that reads inputs like `x` (one array, or a
    mapping for several inputs, called in the model's order)."""
    struct = lambda a: jax.ShapeDtypeStruct(
        (1, *a.shape[1:]), jax.dtypes.canonicalize_dtype(a.dtype)
    )
    example = each(struct, x)
    if isinstance(x, Mapping):
        names = cfg.inputs or tuple(x)
        apply = lambda s, x: nnx.merge(eval_gdef, s)(*(x[k] for k in names))
    else:
        apply = lambda s, x: nnx.merge(eval_gdef, s)(x)
    return heads(cfg, jax.eval_shape(apply, state, example))
