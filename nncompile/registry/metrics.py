"""Metrics: what the data must be (`task`), which direction is better, and the accumulator that
computes the metric on the device.

`accumulator(head, p)` returns (init, update, finalize): `init()` a pytree of zero int32/float32
numpy arrays (made on the host: no compilation; the runtime packs accumulators into one int32 vector
and relies on those dtypes), `update(acc, outputs, y)` adds one batch inside the jitted step or
epoch (pure jnp, no host sync), and `finalize(acc)` turns the fetched accumulator into a float on
the host (numpy). Accumulators are sums and counts, so a split evaluated in chunks gives the same
value as one whole. JAX is imported inside the update functions: `check` imports this module and
must not load JAX.

How outputs are read is fixed once per program by `Head` (from CONFIG and the output shape): one
output unit means binary (positive when the output passes `threshold`: 0 for logits, 0.5 for
probabilities), several mean multi-class (argmax). Labels are integer class ids shaped like the
outputs without their last axis, or one-hot vectors shaped like the outputs. Sequence outputs
(B, T, C) are scored per position. precision, recall and f1 are binary (the positive class 1) for
two classes and macro means over the classes present in the labels or predictions otherwise, like
scikit-learn's `average="binary"` and `average="macro"`.

`standalone(p)` is the metric in numpy for an ejected train.py (`nncompile eject`): a function of
(outputs, y) on the host, computing from a whole split what the accumulator computes in chunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, NamedTuple

import numpy as np
from pydantic import Field

from . import Entry, Params, Registry
from .metric_snippets import (
    NP_ACCURACY,
    NP_ERRORS,
    NP_EXACT_MATCH,
    NP_PER_CLASS,
    NP_TOP_K,
)
from .standalone import StandaloneMetric, numpy_metric


@dataclass(frozen=True)
class Head:
    """What the model's outputs are: the number of output units and whether they are logits."""

    task: str  # "classification" | "regression" | "sequence"
    units: int  # size of the outputs' last axis
    logits: bool = True  # classification outputs before their activation (the usual case)
    pad: int | None = None  # the target id of padding (`pad:`): left out by the metrics that mask
    # the activation the loss fused ("softmax" | "sigmoid"; None: the outputs are the predictions).
    # Metrics that read values, not ranks (mse, mae, ...), score `probabilities(outputs)`
    activation: str | None = None
    # regression metrics in the targets' units: errors are multiplied by this per-target scale (the
    # spread `normalize_target` divided by); None: the units the model is trained in
    scale: tuple[float, ...] | None = None

    @property
    def binary(self) -> bool:
        return self.units <= 2

    @property
    def classes(self) -> int:
        return 2 if self.units == 1 else self.units

    @property
    def threshold(self) -> float:
        return 0.0 if self.logits else 0.5

    def probabilities(self, outputs):
        """What `predict` returns for these outputs: the fused activation applied to logits."""
        import jax

        if not self.logits or self.activation is None:
            return outputs
        if self.activation == "sigmoid":
            return jax.nn.sigmoid(outputs)
        return jax.nn.softmax(outputs, axis=-1)


class Accumulator(NamedTuple):
    init: Callable[[], Any]
    update: Callable[[Any, Any, Any], Any]
    finalize: Callable[[Any], float]


@dataclass(frozen=True, kw_only=True)
class Metric(Entry):
    """`key`: its name in the history, formatted with its arguments (`top_{k}`); empty: the name."""

    task: str  # classification | regression
    better: str  # "max" | "min"
    accumulator: Callable[[Head, Any], Accumulator]
    # the metric in plain numpy, (p, outputs, y) -> float, on multi-class scores (n, C) with integer
    # labels (n,) or on regression outputs and targets (n, 1): what the table tests compare the
    # accumulator with
    reference: Callable[[Any, np.ndarray, np.ndarray], float]
    key: str = ""
    # (message, hint) when the metric is meaningless with this many classes
    check_classes: Callable[[Any, int], tuple[str, str] | None] = lambda p, classes: None
    # the metric in numpy for an ejected train.py (`numpy_metric`); None: it cannot be ejected
    standalone: Callable[[Any], StandaloneMetric] | None = None
    example: Mapping[str, Any] = field(default_factory=dict)
    masks: bool = False  # it leaves padding out (`Head.pad`); `check` refuses `pad:` else

    def history_key(self, p: Params) -> str:
        return self.key.format(**p.model_dump()) if self.key else self.name

    def names(self, key: str) -> bool:
        """Whether a history key (without `val_`) is this metric's."""
        pattern = re.sub(r"\\\{\w+\\\}", r"[^_]+", re.escape(self.key or self.name))
        return re.fullmatch(pattern, key) is not None


# ---- reading outputs and labels ------------------------------------------------------------------
def class_ids(head: Head, outputs, y):
    """Predicted and true class ids, flattened over the batch (and time) axes."""
    predicted, true = class_grid(head, outputs, y)
    return predicted.reshape(-1), true.reshape(-1)


def class_grid(head: Head, outputs, y):
    """Predicted and true class ids shaped like the outputs without their last axis."""
    import jax.numpy as jnp

    if head.units == 1:
        predicted = (outputs[..., 0] > head.threshold).astype(jnp.int32)
        y = y.reshape(outputs.shape[:-1])
        true = (
            (y > 0.5).astype(jnp.int32)
            if jnp.issubdtype(y.dtype, jnp.floating)
            else (y != 0).astype(jnp.int32)
        )
    else:
        predicted = jnp.argmax(outputs, axis=-1).astype(jnp.int32)
        true = jnp.argmax(y, axis=-1) if y.shape == outputs.shape else y.reshape(outputs.shape[:-1])
        true = true.astype(jnp.int32)
    return predicted, true


def errors(outputs, y, scale: tuple[float, ...] | None = None):
    """Prediction minus target, elementwise; times the per-target `scale` (over the targets'
    last axis, the one `normalize_target` scaled) when given: errors in the targets' units."""
    e = outputs - y.reshape(outputs.shape).astype(outputs.dtype)
    if scale is not None:
        import jax.numpy as jnp

        e = e.reshape(y.shape) * jnp.asarray(scale, e.dtype)
    return e.reshape(-1)


def zero_hits() -> dict:
    return {"sum": np.zeros((), np.int32), "count": np.zeros((), np.int32)}


def zero_error() -> dict:
    return {"sum": np.zeros((), np.float32), "count": np.zeros((), np.int32)}


def ratio(acc) -> float:  # (a weighted metric's count is a sum of weights: not int())
    return float(acc["sum"]) / c if (c := float(acc["count"])) > 0 else 0.0


# ---- accumulators --------------------------------------------------------------------------------
def accuracy(head: Head, p: Params) -> Accumulator:
    def update(acc, outputs, y):
        import jax.numpy as jnp

        predicted, true = class_ids(head, outputs, y)
        if head.pad is None:
            return {
                "sum": acc["sum"] + jnp.sum(predicted == true, dtype=jnp.int32),
                "count": acc["count"] + true.size,
            }
        keep = true != head.pad
        return {
            "sum": acc["sum"] + jnp.sum((predicted == true) & keep, dtype=jnp.int32),
            "count": acc["count"] + jnp.sum(keep, dtype=jnp.int32),
        }

    return Accumulator(zero_hits, update, ratio)


def exact_match(head: Head, p: Params) -> Accumulator:
    """Examples whose every step is right (padding steps count as right)."""

    def update(acc, outputs, y):
        import jax.numpy as jnp

        predicted, true = class_grid(head, outputs, y)
        right = predicted == true
        if head.pad is not None:
            right = right | (true == head.pad)
        whole = jnp.all(right.reshape(len(right), -1), axis=-1)
        return {
            "sum": acc["sum"] + jnp.sum(whole, dtype=jnp.int32),
            "count": acc["count"] + whole.size,
        }

    return Accumulator(zero_hits, update, ratio)


def top_k(head: Head, p: TopK) -> Accumulator:
    def update(acc, outputs, y):
        import jax
        import jax.numpy as jnp

        if head.units == 1:  # one output unit: top-k of two classes
            predicted, true = class_ids(head, outputs, y)
            hits = jnp.ones_like(true) if p.k >= 2 else (predicted == true)
        else:
            _, true = class_ids(head, outputs, y)
            scores = outputs.reshape(-1, outputs.shape[-1])
            best = jax.lax.top_k(scores, min(p.k, head.units))[1]
            hits = jnp.any(best == true[:, None], axis=-1)
        return {
            "sum": acc["sum"] + jnp.sum(hits, dtype=jnp.int32),
            "count": acc["count"] + true.size,
        }

    return Accumulator(zero_hits, update, ratio)


def per_class(score: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]):
    """An accumulator of per-class counts (true positives, predicted and actual occurrences of each
    class), finalized as the positive class's score (binary) or the mean over classes that occur."""

    def accumulator(head: Head, p: Params) -> Accumulator:
        def init():
            zeros = np.zeros((head.classes,), np.int32)
            return {"tp": zeros, "predicted": zeros, "actual": zeros}

        def update(acc, outputs, y):
            import jax
            import jax.numpy as jnp

            predicted, true = class_ids(head, outputs, y)
            pr = jax.nn.one_hot(predicted, head.classes, dtype=jnp.int32)
            tr = jax.nn.one_hot(true, head.classes, dtype=jnp.int32)
            return {
                "tp": acc["tp"] + jnp.sum(pr * tr, axis=0),
                "predicted": acc["predicted"] + jnp.sum(pr, axis=0),
                "actual": acc["actual"] + jnp.sum(tr, axis=0),
            }

        def finalize(acc) -> float:
            tp, predicted, actual = (
                np.asarray(acc[k], np.float64) for k in ("tp", "predicted", "actual")
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.nan_to_num(
                    score(tp, predicted, actual), nan=0.0
                )  # 0/0 counts as 0, like sklearn
            if head.binary:
                return float(values[1])
            present = (predicted + actual) > 0
            return float(values[present].mean()) if present.any() else 0.0

        return Accumulator(init, update, finalize)

    return accumulator


def error_sum(power: int, root: bool = False):
    """An accumulator of the sum of |error|**power and the count, finalized as their ratio (or its
    root)."""

    def accumulator(head: Head, p: Params) -> Accumulator:
        def update(acc, outputs, y):
            import jax.numpy as jnp

            e = errors(head.probabilities(outputs), y, head.scale)
            return {
                "sum": acc["sum"] + jnp.sum(jnp.abs(e) ** power),
                "count": acc["count"] + e.size,
            }

        return Accumulator(
            zero_error, update, (lambda acc: float(np.sqrt(ratio(acc)))) if root else ratio
        )

    return accumulator


def macro(score: Callable[[int, int, int], float]):
    """numpy reference of a per-class metric: score(true positives, predicted, actual) averaged over
    the classes that occur."""

    def reference(p: Params, outputs: np.ndarray, y: np.ndarray) -> float:
        predicted = outputs.argmax(-1)
        return float(
            np.mean(
                [
                    score(
                        np.sum((predicted == c) & (y == c)), np.sum(predicted == c), np.sum(y == c)
                    )
                    for c in np.union1d(predicted, y)
                ]
            )
        )

    return reference


def in_top(p: TopK, outputs: np.ndarray, y: np.ndarray) -> float:
    best = np.argsort(-outputs, axis=-1)[:, : p.k]
    return float(np.mean(np.any(best == y[:, None], axis=-1)))


def share(a: int, b: int) -> float:
    return a / b if b else 0.0


class TopK(Params):
    k: Annotated[int, Field(ge=1)] = 5


def k_below_classes(p: TopK, classes: int) -> tuple[str, str] | None:
    if p.k >= classes:
        return (
            f"top_k with k={p.k} is always 1 with {classes} classes",
            "choose k smaller than the class count",
        )
    return None


METRICS = Registry(
    "metric",
    [
        Metric(
            "accuracy",
            doc="fraction of examples whose predicted class is right",
            task="classification",
            better="max",
            accumulator=accuracy,
            standalone=numpy_metric("accuracy", NP_ACCURACY),
            reference=lambda p, o, y: float(np.mean(o.argmax(-1) == y)),
            masks=True,
        ),
        Metric(
            "exact_match",
            doc="fraction of examples whose every step is right (a whole answer, a whole sequence)",
            task="classification",
            better="max",
            accumulator=exact_match,
            standalone=numpy_metric("exact_match", NP_EXACT_MATCH),
            reference=lambda p, o, y: float(
                np.mean(np.all((o.argmax(-1) == y).reshape(len(y), -1), axis=-1))
            ),
            masks=True,
        ),
        Metric(
            "top_k",
            TopK,
            ("k",),
            "fraction whose true class is among the k most likely",
            task="classification",
            better="max",
            accumulator=top_k,
            standalone=numpy_metric("lambda o, y: top_k(o, y, {k})", NP_TOP_K),
            reference=in_top,
            key="top_{k}",
            check_classes=k_below_classes,
            example={"k": 2},
        ),
        Metric(
            "precision",
            doc="true positives / predicted positives (macro mean over classes)",
            task="classification",
            better="max",
            accumulator=per_class(lambda tp, predicted, actual: tp / predicted),
            standalone=numpy_metric(
                "lambda o, y: per_class(o, y, lambda tp, p, a: tp / p)", NP_PER_CLASS
            ),
            reference=macro(lambda tp, predicted, actual: share(tp, predicted)),
        ),
        Metric(
            "recall",
            doc="true positives / actual positives (macro mean over classes)",
            task="classification",
            better="max",
            accumulator=per_class(lambda tp, predicted, actual: tp / actual),
            standalone=numpy_metric(
                "lambda o, y: per_class(o, y, lambda tp, p, a: tp / a)", NP_PER_CLASS
            ),
            reference=macro(lambda tp, predicted, actual: share(tp, actual)),
        ),
        Metric(
            "f1",
            doc="harmonic mean of precision and recall (macro)",
            task="classification",
            better="max",
            accumulator=per_class(lambda tp, predicted, actual: 2 * tp / (predicted + actual)),
            standalone=numpy_metric(
                "lambda o, y: per_class(o, y, lambda tp, p, a: 2 * tp / (p + a))", NP_PER_CLASS
            ),
            reference=macro(lambda tp, predicted, actual: share(2 * tp, predicted + actual)),
        ),
        Metric(
            "mae",
            doc="mean absolute error",
            task="regression",
            better="min",
            accumulator=error_sum(1),
            standalone=numpy_metric("lambda o, y: float(np.mean(np.abs(errors(o, y))))", NP_ERRORS),
            reference=lambda p, o, y: float(np.mean(np.abs(o - y))),
        ),
        Metric(
            "mse",
            doc="mean squared error",
            task="regression",
            better="min",
            accumulator=error_sum(2),
            standalone=numpy_metric("lambda o, y: float(np.mean(errors(o, y) ** 2))", NP_ERRORS),
            reference=lambda p, o, y: float(np.mean((o - y) ** 2)),
        ),
        Metric(
            "rmse",
            doc="root mean squared error",
            task="regression",
            better="min",
            accumulator=error_sum(2, root=True),
            standalone=numpy_metric(
                "lambda o, y: float(np.sqrt(np.mean(errors(o, y) ** 2)))", NP_ERRORS
            ),
            reference=lambda p, o, y: float(np.sqrt(np.mean((o - y) ** 2))),
        ),
    ],
)


def fits_task(name: str, task: str | None, one_hot: bool, output: tuple[int, ...] | None) -> bool:
    """Whether metric `name` can score targets of `task` (None: not known yet) for a model whose one
    output has shape `output` (None: several outputs). Error metrics also read one-hot rows, or a
    single sigmoid unit's probability of class ids (the Brier score). One rule for `check`
    (semantics.checks) and for data whose task is known only when loaded (runtime.fit_checks)."""
    have = "classification" if task == "sequence" else task
    wants = METRICS[name].task
    if have is None or wants == have:
        return True
    single_unit = task == "classification" and output is not None and output[-1:] == (1,)
    return wants == "regression" and (one_hot or single_unit)


def task_hint(labels: str = "classes", values: str = "real targets") -> str:
    """Which metrics need which targets (the hint of a metric/task mismatch)."""
    named = lambda task: "/".join(e.name for e in METRICS.entries() if e.task == task)
    return f"{named('classification')} need {labels}; {named('regression')} need {values}"
