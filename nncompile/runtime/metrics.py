"""Metrics as (init, update, finalize) triples, accumulated on the device.

`init()` returns a pytree of zero int32/float32 numpy arrays (made on the host: no compilation; `pack`
relies on the dtypes), `update(acc, outputs, y)` adds one batch to it inside the jitted step or epoch
(pure jnp, no host sync), and `finalize(acc)` turns the fetched accumulator into a float on the host
(numpy). Accumulators are sums and counts, so a split evaluated in chunks gives
the same value as one evaluated whole.

How outputs are read is fixed once per program by `Head` (from CONFIG and the output shape):
one output unit means binary (positive when the output passes `threshold`: 0 for logits, 0.5 for
probabilities), several mean multi-class (argmax). Labels are integer class ids shaped like the
outputs without their last axis, or one-hot vectors shaped like the outputs. Sequence outputs
(B, T, C) are scored per position.

precision, recall and f1 are binary (the positive class 1) for two classes and macro means over the
classes present in the labels or predictions otherwise, like scikit-learn's `average="binary"` and
`average="macro"`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Head:
    """What the model's outputs are: the number of output units and whether they are logits."""

    task: str                 # "classification" | "regression" | "sequence"
    units: int                # size of the outputs' last axis
    logits: bool = True       # classification outputs before their activation (the usual case)

    @property
    def binary(self) -> bool:
        return self.units <= 2

    @property
    def classes(self) -> int:
        return 2 if self.units == 1 else self.units

    @property
    def threshold(self) -> float:
        return 0.0 if self.logits else 0.5


@dataclass(frozen=True)
class Metric:
    """One metric: `key` names it in the history (`val_` is prefixed for validation)."""

    key: str
    init: Callable[[], Any]
    update: Callable[[Any, jax.Array, jax.Array], Any]
    finalize: Callable[[Any], float]
    mode: str                 # "max" or "min": which direction is better (early stopping)


# ---- reading outputs and labels ---------------------------------------------------------------------
def class_ids(head: Head, outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Predicted and true class ids, flattened over the batch (and time) axes."""
    if head.units == 1:
        predicted = (outputs[..., 0] > head.threshold).astype(jnp.int32)
        y = y.reshape(outputs.shape[:-1])
        true = (y > 0.5).astype(jnp.int32) if jnp.issubdtype(y.dtype, jnp.floating) else (y != 0).astype(jnp.int32)
    else:
        predicted = jnp.argmax(outputs, axis=-1).astype(jnp.int32)
        true = jnp.argmax(y, axis=-1) if y.shape == outputs.shape else y.reshape(outputs.shape[:-1])
        true = true.astype(jnp.int32)
    return predicted.reshape(-1), true.reshape(-1)


def errors(outputs: jax.Array, y: jax.Array) -> jax.Array:
    """Prediction minus target, elementwise (targets reshaped to the outputs' shape)."""
    return (outputs - y.reshape(outputs.shape).astype(outputs.dtype)).reshape(-1)


def _zero_hits():
    return {"sum": np.zeros((), np.int32), "count": np.zeros((), np.int32)}


def _zero_error():
    return {"sum": np.zeros((), np.float32), "count": np.zeros((), np.int32)}


def _ratio(acc) -> float:
    return float(acc["sum"]) / max(int(acc["count"]), 1)


# ---- the metrics ------------------------------------------------------------------------------------
def accuracy(head: Head) -> Metric:
    def update(acc, outputs, y):
        predicted, true = class_ids(head, outputs, y)
        return {"sum": acc["sum"] + jnp.sum(predicted == true, dtype=jnp.int32), "count": acc["count"] + true.size}
    return Metric("accuracy", _zero_hits, update, _ratio, "max")


def top_k(head: Head, k: int = 5) -> Metric:
    def update(acc, outputs, y):
        if head.units == 1:                    # one output unit: top-k of two classes
            predicted, true = class_ids(head, outputs, y)
            hits = jnp.ones_like(true) if k >= 2 else (predicted == true)
        else:
            _, true = class_ids(head, outputs, y)
            scores = outputs.reshape(-1, outputs.shape[-1])
            best = jax.lax.top_k(scores, min(k, head.units))[1]
            hits = jnp.any(best == true[:, None], axis=-1)
        return {"sum": acc["sum"] + jnp.sum(hits, dtype=jnp.int32), "count": acc["count"] + true.size}
    return Metric(f"top_{k}", _zero_hits, update, _ratio, "max")


def _confusion(head: Head):
    """Per-class counts: true positives, predicted and actual occurrences of each class."""
    def init():
        zeros = np.zeros((head.classes,), np.int32)
        return {"tp": zeros, "predicted": zeros, "actual": zeros}

    def update(acc, outputs, y):
        predicted, true = class_ids(head, outputs, y)
        p = jax.nn.one_hot(predicted, head.classes, dtype=jnp.int32)
        t = jax.nn.one_hot(true, head.classes, dtype=jnp.int32)
        return {"tp": acc["tp"] + jnp.sum(p * t, axis=0), "predicted": acc["predicted"] + jnp.sum(p, axis=0),
                "actual": acc["actual"] + jnp.sum(t, axis=0)}
    return init, update


def _per_class(head: Head, score: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]):
    """finalize: binary -> the positive class's score; else the mean over classes that occur."""
    def finalize(acc) -> float:
        tp, predicted, actual = (np.asarray(acc[k], np.float64) for k in ("tp", "predicted", "actual"))
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.nan_to_num(score(tp, predicted, actual), nan=0.0)   # 0/0 counts as 0, like sklearn
        if head.binary:
            return float(values[1])
        present = (predicted + actual) > 0
        return float(values[present].mean()) if present.any() else 0.0
    return finalize


def _counting(key: str, head: Head, score) -> Metric:
    init, update = _confusion(head)
    return Metric(key, init, update, _per_class(head, score), "max")


def precision(head: Head) -> Metric:
    return _counting("precision", head, lambda tp, predicted, actual: tp / predicted)


def recall(head: Head) -> Metric:
    return _counting("recall", head, lambda tp, predicted, actual: tp / actual)


def f1(head: Head) -> Metric:
    return _counting("f1", head, lambda tp, predicted, actual: 2 * tp / (predicted + actual))


def _error_metric(key: str, power: int, root: bool = False):
    def make(head: Head) -> Metric:
        def update(acc, outputs, y):
            e = errors(outputs, y)
            return {"sum": acc["sum"] + jnp.sum(jnp.abs(e) ** power), "count": acc["count"] + e.size}
        finalize = (lambda acc: float(np.sqrt(_ratio(acc)))) if root else _ratio
        return Metric(key, _zero_error, update, finalize, "min")
    return make


mae = _error_metric("mae", 1)
mse = _error_metric("mse", 2)
rmse = _error_metric("rmse", 2, root=True)

METRICS: dict[str, Callable[..., Metric]] = {
    "accuracy": accuracy, "top_k": top_k, "precision": precision, "recall": recall, "f1": f1,
    "mae": mae, "mse": mse, "rmse": rmse,
}


def build(configs: list[dict], head: Head) -> list[Metric]:
    """CONFIG["metrics"] entries ({"name": ..., **arguments}) -> Metric objects."""
    metrics = []
    for entry in configs:
        arguments = {k: v for k, v in entry.items() if k != "name"}
        if entry["name"] not in METRICS:
            raise ValueError(f"unknown metric {entry['name']!r}; known: {', '.join(METRICS)}")
        metrics.append(METRICS[entry["name"]](head, **arguments))
    return metrics


def better(key: str) -> str:
    """'min' for losses and errors, 'max' for everything else (accuracy, f1, ...)."""
    return "min" if key.endswith(("loss", "mae", "mse")) else "max"


# ---- one transfer per fetch ---------------------------------------------------------------------------
def pack(acc) -> jax.Array:
    """The accumulators as one int32 vector (their leaves, all int32 or float32, bitcast and raveled),
    inside a jitted function: fetching one array costs one host transfer instead of one per leaf (~10 us each, which is
    a fifth of a tiny program's epoch)."""
    return jnp.concatenate([(a if a.dtype == jnp.int32 else jax.lax.bitcast_convert_type(a, jnp.int32)).reshape(-1)
                            for a in jax.tree.leaves(acc)])


def unpack(vector: np.ndarray, like):
    """The accumulators back from `pack`'s vector (fetched to the host), shaped and typed like `like`."""
    leaves, treedef = jax.tree.flatten(like)
    out, start = [], 0
    for a in leaves:
        out.append(vector[start:start + a.size].view(a.dtype).reshape(a.shape))
        start += a.size
    return jax.tree.unflatten(treedef, out)
