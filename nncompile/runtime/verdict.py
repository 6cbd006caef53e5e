"""See your fit: train vs validation at the best and the last epoch, the gap, where validation
stopped improving, and a verdict with the spec change to try (a hint, never applied).

`verdict(epochs, facts, ...)` is a pure function of the history (one dict per epoch: loss, val_loss,
metrics) and `Facts` (what the train block has: learning rate, dropout, regularisation, early
stopping; the loss a constant guess would get). The verdicts, checked in this order:

    diverged         the loss became non-finite, or ended above DIVERGED x its first epoch's
    overfitting      validation loss rose >= RISE past its best while the training loss fell
                     (and the run kept that later state), or the validation loss at the kept epoch
                     is >= GAP x the training loss
    still improving  every epoch ran and the loss still fell by >= IMPROVING over the last fifth
                     (at least 2 epochs) to its best
    underfitting     the training loss is still >= UNDERFIT x the constant guess's loss
    fine             none of these

The loss compared is the training objective (`loss`, `val_loss`); a fit without validation data can
only be diverged, still improving, underfitting or fine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .classweight import one_hot

DIVERGED = 1.5  # last training loss / first epoch's
RISE = 0.1  # relative rise of the validation loss past its best
GAP = 2.0  # validation loss / training loss at the kept epoch
IMPROVING = 0.01  # relative fall of the loss over the last fifth of the epochs
UNDERFIT = 0.7  # training loss / a constant guess's loss
VERDICTS = ("diverged", "overfitting", "still improving", "underfitting", "fine")


@dataclass(frozen=True)
class Facts:
    """What the hints refer to: the train block's settings and the data's constant-guess loss."""

    epochs: int = 10
    optimizer: str = "adam"
    lr: float | None = None
    dropout: bool = False
    regularize: bool = False
    early_stopping: bool = False
    restore_best: bool = False
    clip_norm: float | None = None
    baseline: float | None = None  # the loss of the best constant prediction on train
    nonfinite: bool = False  # training stopped at a non-finite loss
    stopped_early: bool = False  # early stopping (or a callback) ended it before `epochs`


def verdict(epochs: Sequence[dict], facts: Facts) -> dict:
    """The fit report of a history (see the module docstring): JSON-ready."""
    if not epochs:
        if facts.nonfinite:
            why = "the training loss became non-finite in the first epoch"
            return {"verdict": "diverged", "reason": why, "hint": _lower_lr(facts)}
        return {"verdict": None, "reason": "no epoch ran"}
    train = [_f(e.get("loss")) for e in epochs]
    val = [_f(e.get("val_loss")) for e in epochs]
    has_val = any(math.isfinite(v) for v in val)
    series = val if has_val else train
    best = int(np.nanargmin(np.where(np.isfinite(series), series, np.nan))) if _any(series) else 0
    last = len(epochs) - 1
    kept = best if facts.restore_best and facts.early_stopping and has_val else last
    report: dict = {
        "monitor": "val_loss" if has_val else "loss",
        "best": _at(epochs[best]),
        "last": _at(epochs[last]),
        "kept_epoch": int(epochs[kept].get("epoch", kept + 1)),
        "gap": {
            "best": _num(val[best] - train[best]) if has_val else None,
            "last": _num(val[last] - train[last]) if has_val else None,
        },
        "stopped_improving": int(epochs[best].get("epoch", best + 1)) if best < last else None,
        "baseline_loss": facts.baseline,
    }
    name, reason, hint = _judge(train, val, has_val, best, kept, facts)
    return {"verdict": name, "reason": reason, "hint": hint, **report}


def _judge(train, val, has_val, best, kept, facts: Facts) -> tuple[str, str, str]:
    last = len(train) - 1
    n = len(train)
    first = train[0]
    if (
        facts.nonfinite
        or not math.isfinite(train[last])
        or (math.isfinite(first) and train[last] > DIVERGED * first and train[last] > min(train))
    ):
        why = (
            "the training loss became non-finite"
            if facts.nonfinite or not math.isfinite(train[last])
            else f"the training loss rose from {_g(first)} (epoch 1) to {_g(train[last])}"
        )
        return "diverged", why, _lower_lr(facts)
    if has_val:
        rise = (val[last] - val[best]) / max(abs(val[best]), 1e-12)
        fell = train[last] < train[best]
        if rise >= RISE and fell and kept == last:
            return (
                "overfitting",
                f"validation loss rose {rise:.0%} after its best epoch {best + 1} "
                f"({_g(val[best])} -> {_g(val[last])}) while the training loss fell "
                f"({_g(train[best])} -> {_g(train[last])})",
                _regularise(facts),
            )
        if math.isfinite(val[kept]) and val[kept] >= GAP * max(train[kept], 1e-12):
            return (
                "overfitting",
                f"validation loss {_g(val[kept])} is {val[kept] / max(train[kept], 1e-12):.1f}x "
                f"the training loss {_g(train[kept])} at epoch {kept + 1}: the model fits the "
                "training rows much better than new ones",
                _regularise(facts),
            )
    series = val if has_val else train
    recent = max(2, n // 5)
    if n >= 4 and not facts.stopped_early and best >= n - recent:
        before = min(series[: n - recent])
        fall = (before - series[best]) / max(abs(before), 1e-12)
        if fall >= IMPROVING:
            return (
                "still improving",
                f"{'validation' if has_val else 'training'} loss still fell {fall:.1%} over the "
                f"last {recent} epochs, to its best at epoch {best + 1} of {n}",
                f"train longer: `epochs: {2 * facts.epochs}` (or --epochs {2 * facts.epochs})"
                + (
                    f"; or a larger learning rate ({facts.optimizer}(lr={_g(facts.lr * 3)}))"
                    if facts.lr
                    else ""
                ),
            )
    if facts.baseline and facts.baseline > 0 and train[kept] >= UNDERFIT * facts.baseline:
        return (
            "underfitting",
            f"the training loss {_g(train[kept])} is {train[kept] / facts.baseline:.0%} of what "
            f"always predicting the average/most common target gets ({_g(facts.baseline)}): the "
            "model does not fit even the training rows",
            "give the model more capacity: a hidden layer with a non-linear activation (e.g. "
            "`dense(64, activation=relu)` before the output layer), more units, or fewer "
            "regularisation/dropout; then train longer",
        )
    why = "no sign of over- or underfitting"
    if kept == best < last:
        why += f"; validation stopped improving after epoch {best + 1}, early stopping kept it"
    if has_val:
        why += f"; gap (validation - training loss) {_g(val[kept] - train[kept])}"
    return "fine", why, "nothing to change"


def fit_report(history: Any, trainer: Any, settings: dict, loss: str) -> dict:
    """The verdict of a finished fit: its History, its trainer (the epochs it was given, the train
    split's targets for the constant-guess loss), the train block's `settings` (Facts fields) and
    the name of its loss."""
    from .history import StopReason

    facts = Facts(
        **{**settings, "epochs": trainer.epochs},
        baseline=baseline_loss(
            loss,
            trainer.splits["train"][1],
            getattr(trainer.program, "CLASS_WEIGHT", None),
            getattr(trainer, "sample_weights", {}).get("train"),
        ),
        nonfinite=history.stop is StopReason.NONFINITE,
        stopped_early=history.stop is not None,
    )
    return verdict(history.epochs, facts)


def _lower_lr(facts: Facts) -> str:
    lr = f"{facts.optimizer}(lr={_g(facts.lr / 10)})" if facts.lr else "a 10x smaller lr"
    clip = "" if facts.clip_norm else "; or clip the gradients: `clip_norm: 1.0`"
    return f"lower the learning rate: `optimizer: {lr}`{clip}; check the data is normalised"


def _regularise(facts: Facts) -> str:
    tries = []
    if not facts.dropout:
        tries.append("`dropout(0.3)` after the hidden layers")
    if not facts.regularize:
        tries.append("`regularize: l2(1e-4)`")
    if not (facts.early_stopping and facts.restore_best):
        tries.append("`early_stopping: {monitor: val_loss, patience: 10, restore_best: true}`")
    tries.append("a smaller model, or more training data (`augment:` for images)")
    return "regularise: " + "; or ".join(tries)


def baseline_loss(
    loss: str, y: np.ndarray | None, class_weight: Any = None, sample_weight: Any = None
) -> float | None:
    """The loss of the best constant prediction on the training targets `y` (as the model sees
    them: normalised, one-hot or ids): class frequencies for cross-entropy, the mean for mse, the
    median for mae. None for other losses. With `class_weight` (the program's CLASS_WEIGHT, a weight
    per class) the training loss is weighted, and so is this one: the best constant is then the
    frequencies times the weights, normalised. With `sample_weight` (each training example's
    weight) likewise: weighted frequencies, the weighted mean or median, each error times its
    example's weight (the sum divided by the examples, as the loss is)."""
    if y is None or isinstance(y, dict) or len(y) == 0:
        return None
    y = np.asarray(y)
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(-1)
    if loss in ("categorical_crossentropy", "binary_crossentropy"):
        if one_hot(y):
            rows = y.reshape(-1, y.shape[-1])
            each = np.ones(len(rows)) if w is None else np.repeat(w, len(rows) // len(w))
            q = (rows * each[:, None]).mean(0)
        else:
            ids = y.reshape(-1).astype(np.int64)
            if ids.min() < 0:
                return None
            per = None if w is None else np.repeat(w, ids.size // len(w))  # (a weight per step)
            q = np.bincount(ids, weights=per) / ids.size
        scaled = class_weight is not None or w is not None
        q = q[q > 0] if class_weight is None else weighted(q, class_weight)
        return float(-(q * np.log(q / q.sum() if scaled else q)).sum())
    v = y.astype(np.float64).reshape(len(y), -1)
    if w is not None and w.sum() > 0:
        return weighted_constant(loss, v, w)
    if loss == "mse":
        return float(v.var(0).mean())
    if loss == "mae":
        return float(np.abs(v - np.median(v, 0)).mean())
    return None


def weighted_constant(loss: str, v: np.ndarray, w: np.ndarray) -> float | None:
    """The weighted loss of the best constant per column of `v` (n, k): the weighted mean (mse) or
    the weighted median (mae), each example's error times its weight `w` (n,)."""
    if loss == "mse":
        best = (w[:, None] * v).sum(0) / w.sum()
        return float((w[:, None] * (v - best) ** 2).mean())
    if loss == "mae":
        order = np.argsort(v, 0)
        cumulative = np.cumsum(w[order], 0)
        at = (cumulative >= cumulative[-1] / 2).argmax(0)  # the first row past half the weight
        best = np.take_along_axis(v, order, 0)[at, np.arange(v.shape[1])]
        return float((w[:, None] * np.abs(v - best)).mean())
    return None


def weighted(frequencies: np.ndarray, class_weight: Any) -> np.ndarray:
    """Each present class's frequency times its weight (`class_weight`: a weight per class id)."""
    weights = np.ones(len(frequencies))
    if isinstance(class_weight, (tuple, list)):
        given = np.asarray(class_weight[: len(frequencies)], np.float64)
        weights[: len(given)] = given
    q = frequencies * weights
    return q[q > 0]


def describe(report: dict) -> list[str]:
    """The report as lines for the end of `train`."""
    if report.get("verdict") is None:
        return []
    lines = []
    for when in ("best", "last") if "best" in report else ():
        at = report[when]
        val = f", validation {_g(at['val_loss'])}" if at.get("val_loss") is not None else ""
        lines.append(f"  {when} epoch {at['epoch']}: training loss {_g(at['loss'])}{val}")
    if report.get("stopped_improving") is not None:
        lines.append(
            f"  {report['monitor']} stopped improving after epoch {report['stopped_improving']}"
        )
    return [
        f"fit: {report['verdict']} ({report['reason']})",
        *lines,
        f"  hint: {report['hint']}",
    ]


def _at(e: dict) -> dict:
    return {k: _num(v) if isinstance(v, float) else v for k, v in e.items() if k != "seconds"}


def _f(v) -> float:
    return float(v) if v is not None else math.nan


def _any(series) -> bool:
    return any(math.isfinite(v) for v in series)


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _g(v: float | None) -> str:
    return "nan" if v is None else f"{v:.4g}"
