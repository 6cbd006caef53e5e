"""The run folder: what a training run leaves behind.

    program.py     the emitted program that was trained
    spec.json      the resolved spec (with any --set overrides applied)
    metrics.csv    one row per epoch; metrics.jsonl: one JSON object per epoch
    curves.png     loss and each metric, train vs validation, best epoch marked
    params/        final model state (Orbax StandardCheckpointer of a plain dict, PRNG keys as key
                   data)
    summary.json   test metrics, best epoch, epochs run, stop reason, seconds, examples/s, and
                   `fit`: train vs validation, the gap, a verdict and its hint (runtime.verdict),
                   `units`: which numbers are in the targets' units (runtime.units)

Every file is written to a new temporary name (O_EXCL: never through a planted symlink) and
renamed into place; Orbax does the same for params/. Where a run folder goes, and how a re-run
replaces an old run atomically: runtime.runfolder.
Nothing is pickled. JSON is strict: non-finite numbers are written as null.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Protocol

import jax
import numpy as np

from .history import History
from .safefiles import atomic_write


class Trainer(Protocol):
    """What a run folder reads of a trainer (runtime.loop.Trainer, runtime.gan.GanTrainer)."""

    @property
    def strategy(self) -> str: ...
    @property
    def model(self) -> Any: ...
    def state(self) -> dict: ...
    def load_state(self, state: dict) -> None: ...


def write_run(
    run_dir: str | os.PathLike,
    *,
    program_source: str,
    resolved_spec: dict,
    history: History,
    test_metrics: dict,
    trainer: Trainer,
    extra: dict | None = None,
    curves: bool = True,
) -> Path:
    """Write every file of a run folder (created if needed) and return its absolute path. `extra`:
    more entries of summary.json (the fit report, the metrics' units); `curves=False` leaves out
    curves.png (a sweep's trials: the sweep draws them together, runtime.sweepplot)."""
    from .background import Background

    run = Path(run_dir).absolute()
    run.mkdir(parents=True, exist_ok=True)
    written = {**summary(history, test_metrics, trainer), **(extra or {})}
    # params/ on a thread of its own while the other files are written: Orbax's save waits for its
    # writer threads most of its time (fsyncs, renames), and so does each file here. The trainer
    # is read by that thread only, and it is done before this returns.
    params = Background(save_params, run / "params", trainer, name="run-params")
    try:
        _write(run / "program.py", program_source)
        _write(run / "spec.json", _json(resolved_spec))
        _write(run / "metrics.csv", metrics_csv(history))
        _write(
            run / "metrics.jsonl",
            "".join(json.dumps(_clean(e), allow_nan=False) + "\n" for e in history.epochs),
        )
        _write(run / "summary.json", _json(written))
        if curves:
            plot_curves(run / "curves.png", history)
    finally:
        params.result()  # (its error first: a failed save of the parameters is the run's)
    return run


def summary(history: History, test_metrics: dict, trainer: Trainer) -> dict:
    params = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(_param_state(trainer)))
    return {
        "test": test_metrics,
        "best_epoch": history.best_epoch,
        "monitor": history.monitor,
        "epochs_run": len(history.epochs),
        "stopped_early": history.stopped_early,
        "stop": history.stop.value if history.stop is not None else None,
        "stop_reason": history.reason,
        "interrupted": history.interrupted,
        "seconds": history.seconds,
        "examples_per_second": history.examples_per_second(),
        "steps_per_epoch": history.steps_per_epoch,
        "examples_per_epoch": history.examples_per_epoch,
        "strategy": trainer.strategy,
        # runtime.autotune's choice, where it chose (absent otherwise: summaries as before)
        **({"autotune": _tuned(tuning)} if (tuning := getattr(trainer, "tuning", None)) else {}),
        "parameters": params,
        "final": history.epochs[-1] if history.epochs else None,
    }


def _tuned(tuning: dict) -> dict:
    keep = ("choice", "rule", "source", "timings", "seconds", "overhead_s")
    return {k: tuning[k] for k in keep if k in tuning}


def metrics_csv(history: History) -> str:
    columns: list[str] = []
    for e in history.epochs:
        columns += [k for k in e if k not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history.epochs)
    return out.getvalue()


# ---- parameters ----------------------------------------------------------------------------------
def save_params(path: Path, trainer: Trainer) -> None:
    """The model's state (parameters, BatchNorm statistics, RNG state) with Orbax, at `path`."""
    import orbax.checkpoint as ocp

    from .devices import host_state, writer_options

    checkpointer = ocp.StandardCheckpointer(multiprocessing_options=writer_options())
    try:
        checkpointer.save(Path(path).absolute(), host_state(trainer.state()["model"]), force=True)
        checkpointer.wait_until_finished()
    finally:
        checkpointer.close()


def load_params(run_dir: str | os.PathLike, trainer: Trainer) -> None:
    """Restore a run folder's params/ into `trainer` (its program must build the same model)."""
    import orbax.checkpoint as ocp

    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, trainer.state()["model"])
    checkpointer = ocp.StandardCheckpointer()
    try:
        restored = checkpointer.restore(Path(run_dir).absolute() / "params", target)
    finally:
        checkpointer.close()
    trainer.load_state({"model": restored})


def _param_state(trainer: Trainer):
    from flax import nnx

    return nnx.state(trainer.model, nnx.Param)


# ---- curves --------------------------------------------------------------------------------------
def plot_curves(path: Path, history: History) -> None:
    """Loss and every metric, train vs validation, the best epoch marked, and the learning rate
    (log scale) when the history has it. Agg canvas, no pyplot, fixed margins."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [
        k
        for k in (history.epochs[0] if history.epochs else {"loss": None})
        if k not in ("epoch", "seconds") and not k.startswith("val_")
    ]
    columns = min(3, len(keys))
    rows = -(-len(keys) // columns)
    width, height = 4.5 * columns, 3.4 * rows
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    # fixed margins in inches (a constrained layout would double the drawing time)
    fig.subplots_adjust(
        left=0.75 / width,
        right=1 - 0.2 / width,
        bottom=0.55 / height,
        top=1 - 0.35 / height,
        wspace=0.3,
        hspace=0.45,
    )
    epochs = history.series("epoch")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    for ax, key in zip(axes, keys, strict=False):
        ax.plot(epochs, history.series(key), marker=".", label="train" if key != "lr" else "lr")
        if key == "lr" and min(history.series(key)) > 0:
            ax.set_yscale("log")
        if any(f"val_{key}" in e for e in history.epochs):
            ax.plot(epochs, history.series(f"val_{key}"), marker=".", label="validation")
        if history.best_epoch is not None:
            ax.axvline(
                history.best_epoch,
                color="gray",
                linestyle="--",
                linewidth=1,
                label=f"best (epoch {history.best_epoch})",
            )
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    atomic_write(path, png.getvalue())


# ---- writing -------------------------------------------------------------------------------------
def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(value: Any) -> str:
    return json.dumps(_clean(value), indent=2, allow_nan=False) + "\n"


def _write(path: Path, text: str) -> None:
    atomic_write(path, text)
