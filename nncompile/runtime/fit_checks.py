"""Checks that data fits the program about to train on it, be evaluated on it or predict from it.

The loaders check what one source can get wrong (`registry.loading`, `registry.sources`: unreadable
files, NaN, duplicate csv columns, integer ids too large for int32). This module checks arrays
against the program: integers that int32 (the device's integer type) cannot hold, the loss's task
(from its `registry.losses` entry), the class ids the model's output and the loss tell apart
(`Loss.classes`), at least two classes, and finite inputs. The api runs it on a spec's data and on
arrays given to `fit` alike, before anything is cast or moved to the device. Numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ..registry.losses import Loss
from ..registry.metrics import METRICS, fits_task, task_hint
from ..shapes import fmt

INT32 = np.iinfo(np.int32)
SHOWN = 5  # offending values listed in a message


@dataclass(frozen=True)
class Fit:
    """What targets must fit: the train block's loss entry, the model (its name and per-example
    output shape) and whether the loss reads one-hot rows (`one_hot: true`)."""

    loss: Loss
    model: str
    output: tuple[int, ...]
    one_hot: bool = False
    pad: int | None = None  # the target id that marks padding (`pad:`): not a class
    metrics: tuple[str, ...] = ()  # the train block's metric names

    @property
    def units(self) -> int:
        return self.output[-1] if self.output else 1


Splits = Mapping[str, tuple[np.ndarray, np.ndarray | None]]


def show(values, labels: list | None = None) -> str:
    """The first few values (as their original labels, when known), and how many there are."""
    values = list(values)
    named = [labels[int(v)] if labels is not None else v for v in values[:SHOWN]]
    text = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in named)
    return text + (f", ... ({len(values)} values)" if len(values) > SHOWN else "")


def check_int32(a: np.ndarray, where: str, what: str) -> None:
    """Integers the device's int32 cannot hold are refused before any cast (they would wrap)."""
    if a.dtype.kind not in "iu" or a.size == 0 or a.dtype.itemsize < 4:
        return
    bad = (a < INT32.min) | (a > INT32.max)
    if bad.any():
        raise DataError(
            f"{where}: {int(bad.sum())} {what} value(s) do not fit in 32-bit integers "
            f"({show(np.unique(a[bad]))}); cast to int32 they would silently wrap",
            "class ids are 0..K-1 and token ids 0..V-1: renumber the values",
        )


def check_inputs(x: np.ndarray, where: str) -> None:
    """Inputs must be finite numbers (NaN or infinity would come out as NaN predictions)."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: inputs of dtype {x.dtype} are not numbers", "give numbers")
    check_int32(x, where, "input")
    if x.dtype.kind != "f":
        return
    bad = ~np.isfinite(x)
    if bad.any():
        first = [int(i) for i in np.argwhere(bad)[0]]
        raise DataError(
            f"{where}: {int(bad.sum())} NaN or infinite input value(s), the first in example "
            f"{first[0] + 1} (index {first})",
            "remove or fill in the missing/invalid values first",
        )
    huge = np.abs(x) > np.finfo(np.float32).max  # (float64 inputs: infinite once cast)
    if huge.any():
        first = [int(i) for i in np.argwhere(huge)[0]]
        raise DataError(
            f"{where}: {int(huge.sum())} input value(s) beyond 32-bit floats (up to 3.4e38), the "
            f"first in example {first[0] + 1} (index {first}); they would be infinite",
            "rescale the inputs",
        )


def check_shapes(
    splits: Splits, want: tuple[int, ...], where: str, *, tokens: bool = False
) -> None:
    """Every split's examples have the model's input shape (integer ids when the model reads
    `tokens`), finite values and one target each."""
    for name, (x, y) in splits.items():
        x = np.asarray(x)
        if tokens and x.dtype.kind not in "iu":
            raise DataError(
                f"{where}: the {name} split has inputs of dtype {x.dtype}, but the model reads "
                "integer token ids",
                "give integer ids (x.astype(np.int32)); a float source needs a float input "
                "`input x: [...]`",
            )
        if x.shape[1:] != want:
            raise DataError(
                f"{where}: the {name} split has examples of shape {fmt(x.shape[1:])}, but "
                f"the model takes {fmt(want)}",
                (
                    f"reshape the arrays (x.reshape(-1, {', '.join(map(str, want))}))"
                    if where.startswith("the arrays")
                    else "reshape the data (`reshape:` in the data block)"
                )
                + " or change the model's input",
            )
        if not np.issubdtype(x.dtype, np.integer) and not np.all(np.isfinite(x)):
            bad = int(np.size(x) - np.isfinite(x).sum())
            raise DataError(
                f"{where}: the {name} split has {bad} NaN or infinite input values",
                "clean or impute the data before training",
            )
        if y is not None and len(y) != len(x):
            raise DataError(f"{where}: the {name} split has {len(x)} inputs but {len(y)} targets")


def check_targets(
    splits: Splits,
    fit: Fit,
    where: str,
    *,
    task: str | None = None,
    labels: list | None = None,
) -> None:
    """Refuse targets that do not fit `fit`'s loss and model (see the module docstring).

    where: the data, for messages (file and column); task: the task the source found (None: arrays
    given by the caller); labels: the original label of each class id.
    """
    for name, (x, y) in splits.items():
        check_int32(np.asarray(x), f"{where}, {name} split", "input")
        if y is not None:
            check_int32(np.asarray(y), f"{where}, {name} split", "target")
    labelled = task in ("classification", "sequence")
    if fit.loss.task == "classification":
        classification(splits, fit, where, task, labels)
    elif fit.loss.task == "regression" and labelled and not fit.one_hot:
        # (regressing one-hot rows is allowed: `one_hot: true`)
        raise DataError(
            f"{where}: {fit.loss.name} is a regression loss, but the targets are class labels "
            f"({show(labels or range(len(np.unique(first_targets(splits)))))})",
            "use categorical_crossentropy (or binary_crossentropy); for a csv source whose "
            "numbers are real targets, set `task: regression` on the source",
        )
    check_metrics(fit, where, task)


def check_metrics(fit: Fit, where: str, task: str | None) -> None:
    """Metrics of the other task than the targets' (what `check` refuses when it knows the task
    before loading: a csv or npz source's task is known here; found by the generated specs of
    tests/test_lang_fuzz_specs.py, where `mae` on class labels crashed the first epoch)."""
    for name in fit.metrics:
        if fits_task(name, task, fit.one_hot, fit.output):
            continue
        have = "classification" if task == "sequence" else task
        what = "class labels" if have == "classification" else "real-valued"
        raise DataError(
            f"{where}: metric {name} is for {METRICS[name].task}, but the targets are {what}",
            task_hint("class labels", "real-valued targets"),
        )


def first_targets(splits: Splits) -> np.ndarray:
    return np.asarray(next(y for _, y in splits.values() if y is not None))


def classification(
    splits: Splits, fit: Fit, where: str, task: str | None, labels: list | None
) -> None:
    loss = fit.loss.name
    if task == "regression":
        real = np.unique(first_targets(splits).ravel())[:3]
        raise DataError(
            f"{where}: {loss} needs class labels, but the targets are real-valued "
            f"(e.g. {show(real)})",
            "use mse, mae or huber for real-valued targets; if the values are class labels, "
            "set `task: classification` on the source",
        )
    count, units = fit.loss.classes(fit.units), fit.units
    present: set = set()
    for name, (_, y) in splits.items():
        if y is None:
            continue
        y = np.asarray(y)
        if fit.one_hot:
            if y.shape[-1] != units:
                raise DataError(
                    f"{where}: the {name} split has one-hot rows of {y.shape[-1]} classes, but "
                    f"model {fit.model} ends with {units} unit(s)",
                    f"end the model with {y.shape[-1]} units, one per class",
                )
            ids = y.argmax(-1)
        else:
            one_hot_rows(y, name, fit, where)
            steps(y, name, fit, where)
            ids = class_ids(y, name, fit, where)
            out = (ids < 0) | (ids >= count)
            if fit.pad is not None:
                out &= ids != fit.pad
            if out.any():
                top = int(ids.max())
                hint = (
                    f"the targets name {top + 1} classes (ids 0..{top}): end the model with "
                    f"dense({top + 1}, activation=softmax) and use categorical_crossentropy, or "
                    "keep two classes with `classes: [a, b]`"
                    if top >= count
                    else "number the classes 0..K-1"
                )
                raise DataError(
                    f"{where}: {int(out.sum())} target(s) of the {name} split are outside the "
                    f"class ids 0..{count - 1} that model {fit.model}'s {units} "
                    f"{fit.loss.head or 'output'} unit(s) and {loss} tell apart: "
                    f"{show(np.unique(ids[out]), labels if labels and ids.min() >= 0 else None)}",
                    hint,
                )
        if name == "train":
            present = set(np.unique(ids).tolist())
    if len(present) == 1:
        (only,) = present
        raise DataError(
            f"{where}: every training target is the same class ({show([only], labels)}); "
            "a classifier needs examples of at least two classes",
            "check the target column (or `classes:`), or use more data",
        )


def steps(y: np.ndarray, split: str, fit: Fit, where: str) -> None:
    """Class ids per step must match the model's output steps (its shape without the classes)."""
    want = fit.output[:-1] if fit.units > 1 else fit.output
    if math.prod(y.shape[1:]) == math.prod(want):
        return
    raise DataError(
        f"{where}: the {split} split has class ids of shape {fmt(y.shape[1:])} per example, but "
        f"model {fit.model} outputs {fmt(fit.output)}: one id per output step, shape {fmt(want)}",
        "give the model as many output steps as the targets (e.g. `repeat(T)` before the "
        "decoder), or fix the targets",
    )


def one_hot_rows(y: np.ndarray, split: str, fit: Fit, where: str) -> None:
    """Float targets shaped like the output (several units) are one-hot rows, not class ids: the
    loss would one-hot them again."""
    if y.dtype.kind != "f" or fit.units < 2 or tuple(y.shape[1:]) != fit.output:
        return
    raise DataError(
        f"{where}: the {split} split's targets are rows of {fit.units} values per "
        f"{'step' if len(fit.output) > 1 else 'example'} (shape {fmt(y.shape[1:])}, one-hot "
        f"rows?), but {fit.loss.name} reads class ids "
        f"(shape {fmt(fit.output[:-1])})",
        "give the class ids instead: y.argmax(-1) as integers",
    )


def class_ids(y: np.ndarray, split: str, fit: Fit, where: str) -> np.ndarray:
    """Integer class ids (booleans and integral floats count); real values are refused."""
    if y.dtype.kind in "biu":
        return y.astype(np.int64) if y.dtype.kind == "b" else y
    real = y != np.round(y) if y.dtype.kind == "f" else np.ones(y.shape, bool)
    if real.any():
        raise DataError(
            f"{where}: the {split} split has {int(real.sum())} target(s) that are not class ids "
            f"(e.g. {show(np.unique(y[real])[:3])}); {fit.loss.name} needs integer labels "
            f"0..{fit.loss.classes(fit.units) - 1}",
            "use mse, mae or huber for real-valued targets",
        )
    return y.astype(np.int64)


def given_arrays(splits: Splits, fit: Fit | None, where: str) -> dict:
    """Arrays given to `fit()` (one input, one output), checked where the runtime would fail: a
    'train' split, no empty split, regression targets of the output's shape; boolean class labels
    become integer ids. `fit` None: no target checks (a GAN's examples)."""
    if "train" not in splits:
        raise DataError(
            f"{where}: no 'train' split (given: {', '.join(map(str, splits)) or 'nothing'})",
            'give {"train": (x, y), "val": ..., "test": ...} or a pair (x, y)',
        )
    out = {}
    for name, (x, y) in splits.items():
        if len(x) == 0:
            raise DataError(
                f"{where}: the {name} split has no examples", "give examples or leave it out"
            )
        if y is not None:
            y = np.asarray(y)
            if y.dtype.kind == "b":
                y = y.astype(np.int32)
            if fit is not None:
                y = conform(y, name, fit, where)
        out[name] = (x, y)
    return out


def conform(y: np.ndarray, split: str, fit: Fit, where: str) -> np.ndarray:
    """Targets in the shape the loss and the metrics read: regression targets shaped like the
    output ((n,) for one unit becomes (n, 1): else `outputs - y` broadcasts to (n, n) and trains
    silently on the wrong differences), class ids like the output without its classes ((n, 1)
    becomes (n,)). Other shapes are refused (regression) or left to `check_targets` (class ids)."""
    y = np.asarray(y)
    if fit.loss.task not in ("regression", "classification"):
        return y
    if fit.one_hot and fit.loss.task == "classification":
        return y  # (one-hot rows regressed: shaped like the output as any regression targets)
    if fit.loss.task == "regression":
        regression_shape(y, split, fit, where)
        return y.reshape(len(y), *fit.output)
    want = fit.output[:-1]
    if y.ndim > 1 and math.prod(y.shape[1:]) == math.prod(want):
        return y.reshape(len(y), *want)
    return y


def regression_shape(y: np.ndarray, split: str, fit: Fit, where: str) -> None:
    """Regression targets hold one value per output unit (a vector for one unit is fine)."""
    if math.prod(y.shape[1:]) == math.prod(fit.output):
        return
    raise DataError(
        f"{where}: the {split} split has targets of shape {fmt(y.shape[1:])} per example, but "
        f"model {fit.model} outputs {fmt(fit.output)}",
        f"give {math.prod(fit.output)} target value(s) per example, or end the model with "
        f"dense({math.prod(y.shape[1:])})",
    )


def no_data_block(train: str, spec: str) -> DataError:
    """What to do with a train block without `data:` when no arrays were given."""
    return DataError(
        f"train {train} of {spec} names no data block, so it trains on arrays given from Python",
        'call program.fit(data={"train": (x, y), "val": ..., "test": ...}) (or fit((x, y))), or '
        "add `data: NAME` and a `data NAME { source: ... }` block to train it with "
        "`nncompile train`",
    )
