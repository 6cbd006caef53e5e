"""Experiment trackers: where a run's numbers go besides its run folder (`track: [tensorboard,
mlflow]` in a train block, `--track NAME` on `train`).

A tracker is one entry: its arguments, its docs, the package it needs (an optional extra: nothing
is imported until a run uses it) and `start(p, context)`, which returns a training callback (the
hooks of runtime.history.Callback) plus `saved(run_dir)`, called once the run folder is written.
The implementations are in `tensorboard_events.py` and `mlflow_runs.py`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NncompileError
from ..source import NOWHERE
from . import Entry, Params, Ref, Registry


@dataclass(frozen=True)
class TrackContext:
    """What a tracker knows about the run it follows.

    name: ``<spec>-<train>``; spec: the spec file's name without its suffix; folder: where the
    run folder's files are being written (None: a Python ``fit()`` without a run folder); params:
    the resolved ``let`` values and the train block's settings, flattened to strings; summary:
    the model summary as text; log: notes; resume: the fit continues a run from its checkpoint
    (a tracker may continue what it started: mlflow_runs.TRACKING_FILE)."""

    name: str
    spec: str
    folder: Path | None
    params: Mapping[str, str]
    summary: str = ""
    log: Callable[[str], None] = lambda line: None
    resume: bool = False


class TrackerUnavailable(NncompileError):
    """The tracker's package is not installed."""


@dataclass(frozen=True, kw_only=True)
class Tracker(Entry):
    """``package``: the module it imports (checked before training starts); ``start(p, context)``:
    the callback following one fit; ``example``: arguments for the table tests."""

    package: str
    start: Callable[[Any, TrackContext], Any]
    example: Mapping[str, Any] = field(default_factory=dict)

    def available(self) -> None:
        """Raise TrackerUnavailable naming the extra when the package is missing."""
        if importlib.util.find_spec(self.package) is None:
            raise TrackerUnavailable(
                f"track: {self.name} needs the '{self.package}' package, which is not installed",
                "pip install 'nncompile[track]' (or leave the tracker out: training does not "
                "need it)",
            )


class TensorBoardArgs(Params):
    """``dir``: the event files' folder (default: ``tensorboard/`` in the run folder);
    ``histograms``: also a histogram of every parameter array at each epoch's end."""

    dir: str | None = None
    histograms: bool = False


class MlflowArgs(Params):
    """``uri``: the tracking URI (default: $MLFLOW_TRACKING_URI, else MLflow's own default, a
    local SQLite store ``mlflow.db`` with artifacts in ``./mlruns``, what ``mlflow ui`` reads in
    the same folder); ``experiment``: the experiment's name (default: the spec's name)."""

    uri: str | None = None
    experiment: str | None = None


def _tensorboard(p: TensorBoardArgs, context: TrackContext):
    from .tensorboard_events import TensorBoardTracker

    return TensorBoardTracker(p, context)


def _mlflow(p: MlflowArgs, context: TrackContext):
    from .mlflow_runs import MlflowTracker

    return MlflowTracker(p, context)


TRACKERS = Registry(
    "tracker",
    [
        Tracker(
            "tensorboard",
            TensorBoardArgs,
            ("dir",),
            "TensorBoard event files: every history column per epoch (loss, metrics, val_*, lr, "
            "seconds), the model summary as text, optionally weight histograms",
            package="tensorboard",
            start=_tensorboard,
            example={"histograms": True},
        ),
        Tracker(
            "mlflow",
            MlflowArgs,
            ("uri",),
            "an MLflow run: the let values and train settings as parameters, every history column "
            "per epoch as metrics, the run folder as artifacts",
            package="mlflow",
            start=_mlflow,
            example={"experiment": "nncompile-tests"},
        ),
    ],
)


def chosen(refs: list[Ref], names: list[str] | tuple[str, ...] = ()) -> list[Ref]:
    """The train block's ``track:`` list and the trackers named on the command line (``--track
    NAME``, default arguments; a name already in the list is not added twice); every package
    checked first (TrackerUnavailable)."""
    from ..diagnostics import did_you_mean

    out = list(refs)
    for name in names:
        if name not in TRACKERS:
            hint = did_you_mean(name, TRACKERS)
            raise NncompileError(
                f"unknown tracker '{name}'",
                hint or f"the trackers are {', '.join(TRACKERS)}",
            )
        if all(r.name != name for r in out):
            out.append(Ref("tracker", name, TRACKERS[name].params(), NOWHERE))
    for ref in out:
        TRACKERS[ref.name].available()
    return out


def start(refs: list[Ref], context: TrackContext) -> list[Any]:
    """A started tracker (a training callback with ``saved(run_dir)``) per reference."""
    return [TRACKERS[r.name].start(r.params, context) for r in refs]


# what trackers keep in a run folder (tensorboard_events, mlflow_runs.TRACKING_FILE)
FILES = ("tensorboard", "tracking.json")


def carry_over(old: Path, new: Path) -> None:
    """A resumed run is written to a new folder (runtime.runfolder): the trackers' files of the
    run it continues go there too, so that its event files and MLflow run go on."""
    import shutil

    if old == new:
        return
    for name in FILES:
        source, target = old / name, new / name
        if target.exists() or not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)


def settings(lets: Mapping[str, object], props: Any) -> dict[str, str]:
    """The run's parameters for a tracker: ``let.<name>`` for each ``let`` value (overrides
    applied), then every train property that is set, nested ones as ``early_stopping.patience``;
    registry references as written (``adam(lr=0.001)``)."""
    out = {f"let.{k}": _value(v) for k, v in lets.items()}
    _flatten(props, "", out)
    return out


def _flatten(model: Any, prefix: str, out: dict[str, str]) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = prefix + name
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, Params):
            _flatten(value, key + ".", out)
        elif isinstance(value, dict):
            for k, v in value.items():
                out[f"{key}.{k}"] = _value(v)
        else:
            out[key] = _value(value)


def _value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
