"""`track: mlflow`: a fit as an MLflow run, through `mlflow.tracking.MlflowClient` (explicit run
ids: nothing global such as `mlflow.start_run` is touched, so a user's own active run is left
alone).

A run folder's `tracking.json` records the MLflow run, so that `train --resume` continues it (the
same run, its metrics going on from the checkpoint's epoch) rather than starting another.

At the start: the run (named ``<spec>-<train>``, in the experiment ``experiment=`` or the spec's
name) with the resolved ``let`` values and the train settings as parameters, and tags for the spec,
the train block and nncompile's version. Per epoch: every history column as a metric (the step is
the epoch). At the fit's end the run is ended (FINISHED, or KILLED when interrupted); once the run
folder is written, its files are logged as the run's artifacts.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from ..errors import NncompileError

# in a run folder: what its trackers recorded for `--resume` to continue (JSON, by tracker name)
TRACKING_FILE = "tracking.json"
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
        self.continued = False  # a resumed run continues the MLflow run it started
        try:
            self.client = MlflowClient(tracking_uri=self.uri)
            name = p.experiment or context.spec
            found = self.client.get_experiment_by_name(name)
            experiment = found.experiment_id if found else self.client.create_experiment(name)
            self.experiment_id = experiment
            earlier = self._earlier(experiment) if context.resume else None
            if earlier is not None:
                self.run_id, self.continued = earlier, True
                self.client.update_run(earlier, status="RUNNING")
            else:
                tags = {"nncompile.spec": context.name, "nncompile.version": __version__}
                self.run_id = self.client.create_run(
                    experiment, run_name=context.name, tags=tags
                ).info.run_id
                self._record()
        except Exception as e:  # any store error: bad URI, unreachable server, no permission
            raise NncompileError(
                f"track: mlflow cannot start a run at {self.uri or 'the default store'}: "
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                'check the tracking URI (track: mlflow(uri="...") or $MLFLOW_TRACKING_URI)',
            ) from None
        again = "continues" if self.continued else "is"
        self.context.log(f"mlflow: this training {again} run {self.run_id} of experiment '{name}'")

    # ---- continuing a resumed run ----------------------------------------------------------------
    def _file(self) -> Path | None:
        folder = self.context.folder
        return None if folder is None else folder / TRACKING_FILE

    def _earlier(self, experiment: str) -> str | None:
        """The MLflow run this run folder's first fit started (same store and experiment)."""
        file = self._file()
        try:
            known = json.loads(file.read_text(encoding="utf-8"))["mlflow"] if file else None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(known, dict) or known.get("uri") != self.uri:
            return None
        if known.get("experiment") != experiment:
            return None
        run = self.client.get_run(str(known.get("run_id")))
        return run.info.run_id if run.info.lifecycle_stage == "active" else None

    def _record(self) -> None:
        file = self._file()
        if file is None:
            return
        entry = {"run_id": self.run_id, "uri": self.uri, "experiment": self.experiment_id}
        try:
            data = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
        except (OSError, ValueError):
            data = {}
        data = data if isinstance(data, dict) else {}
        data["mlflow"] = entry
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(data, indent=2), encoding="utf-8")

    # ---- callback hooks --------------------------------------------------------------------------
    def on_fit_start(self, trainer: Any, history: Any) -> None:
        from mlflow.entities import Param

        if self.continued:  # logged by the fit that started the run
            return
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
