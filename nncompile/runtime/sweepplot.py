"""A sweep's `curves.png`: every trial in one picture, drawn once when the sweep ends.

Left, the objective's metric by epoch, one line per trial (the best one thicker); right, each
trial's objective against its value when the sweep varies one number (a log axis for values that
span a factor of ten or more), else against the trial number, the best one marked. The trials' run
folders have no curves.png of their own (16 figures cost more than the training of a small model;
`nncompile compare <sweep>/trial_3 -o curves.png` draws any of them). Agg canvas, no pyplot, fixed
margins (a constrained layout doubles the drawing time).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..source import as_text
from .safefiles import atomic_write

LEGEND_MAX = 20  # more trials: no legend (the right panel names their values)


def plot_sweep(
    path: Path,
    trials: Sequence[Any],
    series: dict[int, list[tuple[int, float]]],
    metric: str,
    best: int | None,
) -> None:
    """`trials`: runtime.sweep.Trial (number, values, objective); `series`: (epoch, metric) of
    each trial by its number; `best`: the best trial's number."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    done = [t for t in trials if series.get(t.number)]
    legend = 0 < len(done) <= LEGEND_MAX
    fig = Figure(figsize=(12 if legend else 10, 4))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.07, right=0.8 if legend else 0.98, bottom=0.13, top=0.9, wspace=0.3)
    curves, objectives = fig.subplots(1, 2)
    cmap = colormaps["viridis"]
    for i, t in enumerate(done):
        epochs, values = zip(*series[t.number], strict=True)
        colour = cmap(i / max(len(done) - 1, 1))
        wide = 2.4 if t.number == best else 1.0
        curves.plot(epochs, values, color=colour, linewidth=wide, label=label(t))
    curves.set_title(f"{metric} of each trial")
    curves.set_xlabel("epoch")
    curves.grid(alpha=0.3)
    if spans([v for points in series.values() for _, v in points]):
        curves.set_yscale("log")
    if legend:
        fig.legend(loc="center left", bbox_to_anchor=(0.81, 0.5), fontsize="small", frameon=False)
    scored = [t for t in trials if t.objective is not None]
    names = {n for t in scored for n in t.values}
    numeric = len(names) == 1 and all(_number(next(iter(t.values.values()))) for t in scored)
    xs = [next(iter(t.values.values())) if numeric else t.number for t in scored]
    order = sorted(range(len(scored)), key=lambda i: xs[i])
    objectives.plot(
        [xs[i] for i in order], [scored[i].objective for i in order], marker="o", color="C0"
    )
    for x, t in zip(xs, scored, strict=True):
        if t.number == best:
            objectives.plot([x], [t.objective], marker="*", markersize=14, color="C3")
    if numeric and spans(xs, 10):
        objectives.set_xscale("log")
    if spans([t.objective for t in scored]):
        objectives.set_yscale("log")
    objectives.set_xlabel(next(iter(names)) if numeric else "trial")
    objectives.set_title(f"best {metric} of each trial")
    objectives.grid(alpha=0.3)
    # a log axis's minor ticks are a fifth of the drawing time; an axis spanning two decades or
    # more has major ticks enough (the curves' log axis always does)
    curves.minorticks_off()
    if not (numeric and spans(xs, 10) and not spans(xs, 100)):
        objectives.minorticks_off()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    atomic_write(path, png.getvalue())


def label(trial: Any) -> str:
    return (
        ", ".join(f"{n}={as_text(v)}" for n, v in trial.values.items()) or f"trial {trial.number}"
    )


def spans(values: list, factor: float = 100) -> bool:
    """Whether a log axis suits `values`: all positive, spanning `factor` or more (losses)."""
    return bool(values) and min(values) > 0 and max(values) >= factor * min(values)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
