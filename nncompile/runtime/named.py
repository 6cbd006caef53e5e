"""Checks of the data of a model with several inputs or outputs: x (and y) are dicts of arrays
keyed by the model's input (output) names. Each named array is checked by name first, then by the
per-array checks of `fit_checks`, as the only input (target) of a one-input (one-output) model is.
Numpy only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..registry.losses import LOSSES
from .fit_checks import (
    Fit,
    Splits,
    check_shapes,
    check_targets,
    conform,
)
from .trees import first, rows


def names_of(value, what: str, want: list[str], where: str) -> None:
    """`value` is a dict with exactly the names `want` (the model's inputs or outputs)."""
    if not isinstance(value, Mapping):
        given = (
            f"a {type(value).__name__} of {len(value)} arrays"
            if isinstance(value, (list, tuple))
            else "one array"
        )
        raise DataError(
            f"{where}: the model has several {what}s ({', '.join(want)}), but the data gives "
            f"{given}",
            f"give a dict of arrays keyed by {what} name: "
            f"{{{', '.join(f'{n!r}: ...' for n in want)}}}",
        )
    missing = [n for n in want if n not in value]
    extra = [n for n in value if n not in want]
    if missing or extra:
        wrong = f"no {what} {missing[0]!r}" if missing else f"an unknown {what} {extra[0]!r}"
        raise DataError(
            f"{where}: the data has {wrong}; the model's {what}s are {', '.join(want)}",
            f"name the arrays after the model's {what}s (it has {', '.join(map(repr, want))})",
        )


def check_several(
    splits: Splits,
    inputs: Mapping[str, tuple[int, ...]],
    outputs: Mapping[str, Fit],
    where: str,
    *,
    tasks: Mapping[str, str] | None = None,
    labels: Mapping[str, list | None] | None = None,
    origin: str = "",
) -> dict:
    """Check every split's named inputs against `inputs` (name -> per-example shape) and its
    targets against `outputs` (name -> what that output's targets must fit); `tasks`/`labels`: per
    target, what the source found (None: arrays given by the caller). Returns the splits with each
    target in the shape its loss reads (`fit_checks.conform`)."""
    several_in, several_out = len(inputs) > 1, len(outputs) > 1
    where += origin
    for split, (x, y) in splits.items():
        at = f"{where}, {split} split"
        if several_in:
            names_of(x, "input", list(inputs), at)
        if several_out and y is not None:
            names_of(y, "output", list(outputs), f"{at} (y)")
        counts = {rows(a) for a in (x.values() if isinstance(x, Mapping) else [x])}
        if y is not None:
            counts |= {rows(a) for a in (y.values() if isinstance(y, Mapping) else [y])}
        if len(counts) > 1:
            raise DataError(
                f"{at}: the named arrays have different numbers of examples ({sorted(counts)})",
                "every input and target array needs one row per example",
            )
    for name, shape in inputs.items():
        pick = (lambda x, n=name: np.asarray(x[n])) if several_in else np.asarray
        view = {k: (pick(x), None if y is None else first(y)) for k, (x, y) in splits.items()}
        check_shapes(view, shape, f"{where} (input {name})" if several_in else where)
    shaped: dict[str, dict] = {k: {} for k in splits}
    for name, fit in outputs.items():
        pick = (lambda y, n=name: np.asarray(y[n])) if several_out else np.asarray
        view = {k: (first(x), None if y is None else pick(y)) for k, (x, y) in splits.items()}
        task = (tasks or {}).get(name, (tasks or {}).get("") if not several_out else None)
        own = (labels or {}).get(name)
        at = f"{where} (output {name})" if several_out else where
        view = {k: (x, None if y is None else conform(y, k, fit, at)) for k, (x, y) in view.items()}
        check_targets(view, fit, at, task=task, labels=own)
        for k, (_, y) in view.items():
            shaped[k][name] = y
    return {
        k: (x, None if y is None else shaped[k] if several_out else shaped[k][next(iter(outputs))])
        for k, (x, y) in splits.items()
    }


def check_predict_inputs(x: Any, inputs: Mapping[str, tuple[int, ...]], shapes: bool) -> None:
    """Inputs given to `predict` against the model's (name -> per-example shape): the names (a
    model with several inputs takes a dict keyed by them) and, when `shapes` (the inputs are not
    transformed from the data's raw shape first), each one's per-example shape."""
    where = "the inputs given to predict()"
    if len(inputs) > 1:
        names_of(x, "input", list(inputs), where)
    elif isinstance(x, Mapping):
        (only,) = inputs
        if list(x) != [only]:
            raise DataError(
                f"{where}: a dict of {', '.join(map(repr, x))}, but the model has one input, "
                f"{only!r}",
                "give its array (or a dict with that one name)",
            )
    for name, want in inputs.items() if shapes else ():
        a = np.asarray(x[name] if isinstance(x, Mapping) else x)
        if a.ndim == 0 or a.shape[1:] != want:
            at = f" (input {name})" if len(inputs) > 1 else ""
            raise DataError(
                f"{where}{at}: examples of shape {list(a.shape[1:])}, but the model takes "
                f"{list(want)}",
                f"give a batch (n, {', '.join(map(str, want))}) of examples",
            )


def io_of(train: Any) -> tuple[dict, dict]:
    """A train block's (semantics.ir.Train) model input shapes and what each output's targets must
    fit, by name."""
    model = train.model
    shapes = {o.name: o.shape for o in model.outputs}
    one_hot = train.data.props.one_hot
    losses = train.output_losses()
    # one output takes every metric (of several, each output those of its loss's task): a metric
    # of the other task than its targets' is refused, as with one input (fit_checks.check_metrics)
    metrics = tuple(m.name for _, m in train.metric_refs()) if len(losses) == 1 else ()
    fits = {
        n: Fit(LOSSES[r.name], model.name, shapes[n], one_hot, metrics=metrics)
        for n, r in losses.items()
    }
    return {i.name: i.shape for i in model.inputs}, fits


def io_found(dataset: Any) -> dict:
    """What a loaded dataset (runtime.data.Dataset) found per target: its task and labels."""
    if dataset is None:
        return {}
    origin = f" ({dataset.origin})" if dataset.origin else ""
    tasks = dataset.stats.get("tasks") or {}
    return {"tasks": tasks, "labels": dataset.stats.get("target_labels") or {}, "origin": origin}


def write_predictions(out, output: str | None, stream) -> list[str]:
    """Write predictions: to `output` (.npy; for several outputs one file per output,
    `<stem>_<output>.npy`, or one .npz archive keyed by output name; .csv: the CSV below, in that
    file), else as CSV to `stream`
    (several outputs: a `# <output>` line before each one's rows). Returns what was written."""
    named = out if isinstance(out, Mapping) else {"": out}
    if output and Path(output).suffix.lower() == ".csv":  # the CSV `predict` prints, in a file
        with open(output, "w", encoding="utf-8") as f:
            write_predictions(out, None, f)
        return [f"wrote {output} ({', '.join(str(np.shape(a)) for a in named.values())})"]
    if output and Path(output).suffix == ".npz":
        arrays: dict[str, Any] = {k or "y": np.asarray(a) for k, a in named.items()}
        np.savez(output, **arrays)
        return [f"wrote {output} ({', '.join(f'{k}: {a.shape}' for k, a in arrays.items())})"]
    written = []
    for k, a in named.items():
        a = np.asarray(a)
        if output:
            p = Path(output)
            target = p if not k else p.with_name(f"{p.stem}_{k}{p.suffix or '.npy'}")
            np.save(target, a)
            written.append(f"wrote {target} {a.shape}")
        else:
            if k:
                stream.write(f"# {k}\n")
            np.savetxt(stream, a.reshape(len(a), -1), fmt="%.6g", delimiter=",")
    return written
