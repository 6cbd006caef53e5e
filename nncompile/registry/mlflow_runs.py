"""`track: mlflow`: a fit as an MLflow run, through `mlflow.tracking.MlflowClient` (explicit run
ids: nothing global such as `mlflow.start_run` is touched, so a user's own active run is left
alone).

At the start: the run (named ``<spec>-<train>``, in the experiment ``experiment=`` or the spec's
name) with the resolved ``let`` values and the train settings as parameters, and tags for the spec,
the train block and nncompile's version. Per epoch: every history column as a metric (the step is
the epoch). At the fit's end the run is ended (FINISHED, or KILLED when interrupted); once the run
folder is written, its files are logged as the run's artifacts.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from ..errors import NncompileError

MAX_PARAM = 6000  # MLflow's limit on a parameter value's length
BATCH = 100  # parameters per log_batch call (MLflow accepts at most 100)


class MlflowTracker:
    """A training callback following one fit in MLflow (see the module docstring)."""

    def __init__(self, p: Any, context: Any):
        """``p``: tracking.MlflowArgs; ``context``: tracking.TrackContext."""
        from mlflow.tracking import MlflowClient

        from ..version import __version__

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its "creating tables" notes
        self.context = context
        self.uri = p.uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        try:
            self.client = MlflowClient(tracking_uri=self.uri)
            name = p.experiment or context.spec
            found = self.client.get_experiment_by_name(name)
            experiment = found.experiment_id if found else self.client.create_experiment(name)
            tags = {"nncompile.spec": context.name, "nncompile.version": __version__}
            self.run_id = self.client.create_run(
                experiment, run_name=context.name, tags=tags
            ).info.run_id
        except Exception as e:  # any store error: bad URI, unreachable server, no permission
            raise NncompileError(
                f"track: mlflow cannot start a run at {self.uri or 'the default store'}: "
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                'check the tracking URI (track: mlflow(uri="...") or $MLFLOW_TRACKING_URI)',
            ) from None
        self.experiment_id = experiment
        self.context.log(f"mlflow: run {self.run_id} in experiment '{name}'")

    # ---- callback hooks --------------------------------------------------------------------------
    def on_fit_start(self, trainer: Any, history: Any) -> None:
        from mlflow.entities import Param

        params = [Param(k, str(v)[:MAX_PARAM]) for k, v in self.context.params.items()]
        for i in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[i : i + BATCH])

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, epoch)
            for k, v in logs.items()
            if k != "epoch" and isinstance(v, (int, float))
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def on_fit_end(self, trainer: Any, history: Any) -> None:
        status = "KILLED" if history.interrupted else "FINISHED"
        if history.reason:
            self.client.set_tag(self.run_id, "nncompile.stopped", history.reason[:MAX_PARAM])
        self.client.set_terminated(self.run_id, status)

    def failed(self) -> None:
        """Training raised: the run ends FAILED."""
        self.client.set_terminated(self.run_id, "FAILED")

    def saved(self, run_dir: Path) -> None:
        """Log the run folder's files (not its checkpoints) as the run's artifacts."""
        run_dir = Path(run_dir)
        self.client.set_tag(self.run_id, "nncompile.run_folder", str(run_dir.resolve()))
        for item in sorted(run_dir.iterdir()):
            if item.name.startswith(".") or item.name == "checkpoints":
                continue
            if item.is_dir():
                self.client.log_artifacts(self.run_id, str(item), artifact_path=item.name)
            else:
                self.client.log_artifact(self.run_id, str(item))
