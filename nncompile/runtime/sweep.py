"""Hyperparameter search over `let` values: a sweep's grid or random trials, run one by one.

Plain data in, files out: `points` lists the trials' values, `run_sweep` trains each through a
function it is given (nncompile.search.sweep recompiles the spec with the trial's values, the same
path as `--set`), records the objective and writes `<out>/trials.csv` and `<out>/best.json`, each
trial's run folder as `<out>/trial_<k>/`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import random as rnd
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .. import diagnostics as D
from ..errors import NncompileError
from ..source import as_text
from .history import History
from .safefiles import atomic_write


@dataclass
class Trial:
    number: int
    values: dict[str, Any]
    objective: float | None = None
    run: str | None = None
    reason: str | None = None
    # complete, fail; a study's trials also: pruned, running, waiting (runtime.study)
    state: str = "complete"


class Trained(Protocol):
    """A trained trial (nncompile.api.Program): its history; it writes its run folder on request."""

    @property
    def history(self) -> History | None: ...
    def save(self, run_dir: Path, *, curves: bool = True) -> Path: ...


def points(
    grid: dict[str, list] | None, random: dict[str, list] | None, trials: int, seed: int
) -> list[dict[str, Any]]:
    """The values of every trial: each point of `grid`, or `trials` random draws from `random`."""
    if grid is not None:
        names = list(grid)
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(grid[n] for n in names))
        ]
    rng = rnd.Random(seed)
    return [
        {name: rng.choice(options) for name, options in (random or {}).items()}
        for _ in range(trials)
    ]


def run_sweep(
    values: list[dict[str, Any]],
    train: Callable[[dict[str, Any]], Trained],
    out: Path,
    *,
    metric: str,
    direction: str,
    report: Callable[[str], None] = print,
    trial_curves: bool = False,
    histories: Sequence[History] | None = None,
) -> list[Trial]:
    """Train every trial (`train(values)`) and record the best `metric` of its history (`direction`
    "minimize" or "maximize"). A trial that fails (any error) is recorded as failed, and the sweep
    goes on; trials.csv and best.json are rewritten after each trial (a killed sweep keeps them).
    At the end `<out>/curves.png` shows every trial (runtime.sweepplot); the trials' own folders
    have a curves.png only with `trial_curves`. `histories`: the trials' histories when they are
    known before the loop (a population trained every trial): the figure is then drawn while the
    run folders are written (drawn again at the end, should a trial's folder fail), unless
    `trial_curves`."""
    out.mkdir(parents=True, exist_ok=True)
    results: list[Trial] = []
    curves: dict[int, list[tuple[int, float]]] = {}
    early = None  # (with trial_curves the main thread draws too: matplotlib on one thread then)
    if histories is not None and not trial_curves:
        early = _draw_early(values, histories, out, metric, direction)
    for k, point in enumerate(values, start=1):
        trial = Trial(k, point)
        label = ", ".join(f"{n}={as_text(v)}" for n, v in point.items())
        try:
            trained = train(point)
            history = trained.history
            assert history is not None
            pairs, trial.objective = scored(history, metric, direction)
            trial.run = str(trained.save(out / f"trial_{k}", curves=trial_curves))
            curves[k] = pairs
            trial.reason = history.reason
        except NncompileError as e:
            trial.reason = str(e).splitlines()[0]
        except Exception as e:  # a trial's failure is the trial's; the sweep goes on
            first = (str(e).strip().splitlines() or [""])[0][:300]
            trial.reason = f"{type(e).__name__}: {first}" if first else type(e).__name__
        if trial.objective is None:
            trial.state = "fail"
        results.append(trial)
        write_results(out, results, metric, direction)
        shown = (
            f"{trial.objective:.5g}" if trial.objective is not None else f"failed: {trial.reason}"
        )
        report(f"trial {k}/{len(values)}: {label}  {metric} {shown}")
    if not results:
        write_results(out, results, metric, direction)
    figure = _figure(results, curves, direction)
    if early is not None:  # drawn while the run folders were written: the same figure, or again
        drawn, drawing = early
        if drawn == figure:
            drawing.result()
            return results
        with contextlib.suppress(Exception):
            drawing.result()
        (out / "curves.png").unlink(missing_ok=True)
    if any(curves.values()):
        from .sweepplot import plot_sweep

        plot_sweep(out / "curves.png", results, curves, metric, figure[2])
    return results


def scored(history: History, metric: str, direction: str) -> tuple[list, float | None]:
    """A trial's (epoch, value) pairs of `metric` (the finite ones) and its objective: the best
    value (None when not finite); NncompileError when the history has no such metric."""
    pairs = [(e["epoch"], float(e[metric])) for e in history.epochs if e.get(metric) is not None]
    series = [v for _, v in pairs]
    if not series:
        raise unrecorded(history, metric)
    best = min(series) if direction == "minimize" else max(series)
    return [(x, v) for x, v in pairs if math.isfinite(v)], best if math.isfinite(best) else None


def unrecorded(history: History, metric: str) -> NncompileError:
    """A trial did not record its objective (check catches the names a train block never records:
    this is the fallback): the error names the keys the trial did record, on its first line (a
    trial's reason)."""
    keys = history.recorded()
    recorded = f"it recorded {D.one_of(keys, limit=20)}" if keys else "it recorded no epoch"
    hint = "use one of the recorded keys as the sweep's `objective:`"
    if metric.startswith("val_") and not any(k.startswith("val_") for k in keys):
        hint = "val_ keys need a validation split in the data; or " + hint
    return NncompileError(f"the sweep objective '{metric}' was not recorded: {recorded}", hint)


def _figure(results: list[Trial], curves: dict, direction: str) -> tuple:
    """What the sweep's figure shows: each trial's objective, the curves, the winner."""
    winner = best_trial(results, direction)
    return [(t.number, t.objective) for t in results], curves, winner.number if winner else None


def _draw_early(
    values: list[dict[str, Any]],
    histories: Sequence[History],
    out: Path,
    metric: str,
    direction: str,
) -> tuple[tuple, Any] | None:
    """The sweep's figure from histories known before the loop (a population's), drawn on a
    thread of its own (runtime.background) while the run folders are written: what it shows, and
    the drawing; None when there is nothing to draw."""
    trials: list[Trial] = []
    curves: dict[int, list[tuple[int, float]]] = {}
    for k, (point, history) in enumerate(zip(values, histories, strict=True), start=1):
        trial = Trial(k, point)
        with contextlib.suppress(NncompileError):  # (the trial fails in the loop too)
            curves[k], trial.objective = scored(history, metric, direction)
        trial.state = "fail" if trial.objective is None else "complete"
        trials.append(trial)
    figure = _figure(trials, curves, direction)
    if not any(curves.values()):
        return None
    from .background import Background, settle
    from .sweepplot import plot_sweep

    settle()  # (the figure's thread imports matplotlib: not while prewarm does)
    drawing = Background(
        plot_sweep, out / "curves.png", trials, curves, metric, figure[2], name="sweep-curves"
    )
    return figure, drawing


def best_trial(results: list[Trial], direction: str) -> Trial | None:
    sign = 1 if direction == "minimize" else -1  # the first of equal ones, as min() and max() do
    done = [
        (sign * t.objective, i)
        for i, t in enumerate(results)
        if t.objective is not None and t.state == "complete"
    ]
    return results[min(done)[1]] if done else None


def write_results(out: Path, results: list[Trial], metric: str, direction: str) -> None:
    """trials.csv and best.json of the trials so far, each replaced atomically."""
    names = list(dict.fromkeys(n for t in results for n in t.values))
    table = io.StringIO(newline="")
    w = csv.writer(table)
    w.writerow(["trial", *names, metric, "run", "state", "note"])
    for t in results:
        w.writerow(
            [
                t.number,
                *(t.values.get(n, "") for n in names),
                t.objective,
                t.run,
                t.state,
                t.reason or "",
            ]
        )
    atomic_write(out / "trials.csv", table.getvalue())
    best = best_trial(results, direction)
    atomic_write(
        out / "best.json",
        json.dumps(
            {
                "objective": f"{direction}({metric})",
                "best": None
                if best is None
                else {
                    "trial": best.number,
                    "values": best.values,
                    metric: best.objective,
                    "run": best.run,
                },
            },
            indent=2,
            ensure_ascii=False,
        ),
    )
