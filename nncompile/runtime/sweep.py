"""Hyperparameter search over `let` values: a `sweep` block's grid or random trials, run one by one.

Each trial recompiles the spec with its values (the same path as `--set`), trains, and records the
objective; results go to `<out>/trials.csv` and `<out>/best.json`, each trial's run to `<out>/trial_<k>/`.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..semantics import ir


@dataclass
class Trial:
    number: int
    values: dict[str, Any]
    objective: float | None = None
    run: str | None = None
    reason: str | None = None


def as_text(value: Any) -> str:
    """A Python value as spec text for a `let` override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(as_text(v) for v in value) + "]"
    return repr(value)


def trials(sweep: ir.Sweep) -> list[dict[str, Any]]:
    p = sweep.props
    if p.grid is not None:
        names = list(p.grid)
        return [dict(zip(names, combo)) for combo in itertools.product(*(p.grid[n] for n in names))]
    rng = random.Random(p.seed)
    return [{name: rng.choice(options) for name, options in p.random.items()} for _ in range(p.trials)]


def objective(sweep: ir.Sweep) -> tuple[str, str]:
    ref = sweep.props.objective
    return (ref.name, ref.params.metric) if ref is not None else ("minimize", "val_loss")


def run_sweep(spec_path: str, sweep: ir.Sweep, out: Path, *, epochs: int | None = None,
              report: Callable[[str], None] = print) -> list[Trial]:
    from ..api import compile as compile_spec
    from ..errors import NncompileError
    direction, metric = objective(sweep)
    out.mkdir(parents=True, exist_ok=True)
    results: list[Trial] = []
    for k, values in enumerate(trials(sweep), start=1):
        trial = Trial(k, values)
        label = ", ".join(f"{n}={as_text(v)}" for n, v in values.items())
        try:
            program = compile_spec(spec_path, train=sweep.props.train, sets={n: as_text(v) for n, v in values.items()})
            history = program.fit(epochs=epochs)
            series = [e.get(metric) for e in history.epochs if e.get(metric) is not None]
            if not series:
                raise NncompileError(f"the sweep objective '{metric}' was not recorded",
                                     "use loss/val_loss or a metric listed in the train block")
            best = min(series) if direction == "minimize" else max(series)
            trial.objective = best if math.isfinite(best) else None
            trial.run = str(program.save(out / f"trial_{k}"))
            trial.reason = history.reason
        except NncompileError as e:
            trial.reason = str(e).splitlines()[0]
        results.append(trial)
        shown = f"{trial.objective:.5g}" if trial.objective is not None else f"failed: {trial.reason}"
        report(f"trial {k}/{len(trials(sweep))}: {label}  {metric} {shown}")
    _write(out, results, metric, direction)
    return results


def best_trial(results: list[Trial], direction: str) -> Trial | None:
    done = [t for t in results if t.objective is not None]
    if not done:
        return None
    return (min if direction == "minimize" else max)(done, key=lambda t: t.objective)


def _write(out: Path, results: list[Trial], metric: str, direction: str) -> None:
    names = list(results[0].values) if results else []
    with open(out / "trials.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", *names, metric, "run", "note"])
        for t in results:
            w.writerow([t.number, *(t.values[n] for n in names), t.objective, t.run, t.reason or ""])
    best = best_trial(results, direction)
    (out / "best.json").write_text(json.dumps(
        {"objective": f"{direction}({metric})", "best": None if best is None else
         {"trial": best.number, "values": best.values, metric: best.objective, "run": best.run}}, indent=2))
