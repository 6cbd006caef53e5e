"""A Program's run folder: what `save` writes (program, resolved spec, metrics, curves, parameters,
summary with the fit's verdict and units, the run record) and the reports it holds."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runconfig import RunConfig


class RunFiles:
    """The Program's run-folder methods (mixed into api.Program)."""

    trainer: Any
    history: Any
    spec: Any
    train_block: Any
    dataset: Any
    source: str
    sets: Any
    trackers: list
    _run: Any
    _from_data: bool
    weighs_given: bool  # compiled for fit(sample_weight=...)
    given_weights: dict | None  # the splits' weights the last fit() was given (api.weights)
    config: dict
    if TYPE_CHECKING:  # what Program defines

        @property
        def run_config(self) -> RunConfig: ...

        @property
        def name(self) -> str: ...

        @property
        def is_gan(self) -> bool: ...

        def _need_trainer(self) -> None: ...

        def evaluate(self, split: str = "test") -> dict[str, float]: ...

    # ---- run folders -----------------------------------------------------------------------------
    def save(
        self,
        run_dir: str | Path | None = None,
        test_metrics: dict | None = None,
        *,
        curves: bool = True,
    ) -> Path:
        """Write the run folder: program, resolved spec, metrics, curves, parameters, summary.
        An earlier run there is replaced atomically (runtime.runfolder); a folder that is not a run
        is refused. `curves=False` leaves out curves.png (a sweep's trials)."""
        from ..runtime.identity import program_identity
        from ..runtime.runfolder import open_run, same_folder, save_run
        from ..runtime.runrecord import new_run_dir

        self._need_trainer()
        if run_dir is None:  # the run fit() opened, else a new numbered one
            run_dir = self._run.path if self._run is not None else new_run_dir(self.group())
        run = Path(run_dir)
        if test_metrics is None:
            test_metrics = self.evaluate("test") if "test" in self.trainer.splits else {}
        folder, self._run = self._run, None
        if folder is None or not same_folder(folder, run):
            if folder is not None:
                folder.release()
            folder = open_run(run)
        metrics = test_metrics
        path = save_run(
            folder, lambda to: self._write(to, metrics, curves), program_identity(self.source)
        )
        for tracker in self.trackers:  # e.g. MLflow logs the run folder as artifacts
            tracker.saved(path)
        return path

    def _write(self, run: Path, test_metrics: dict, curves: bool = True) -> Path:
        from ..runtime.outputs import write_run
        from ..runtime.safefiles import atomic_write

        assert self.history is not None
        path = write_run(
            run,
            program_source=self.source,
            resolved_spec=self.resolved(),
            history=self.history,
            test_metrics=test_metrics,
            trainer=self.trainer,
            extra={"fit": self.fit_report(), "units": self.units()},
            curves=curves,
        )
        if self.is_gan:
            from ..runtime.gan import write_samples

            write_samples(path, self.trainer)
        if self.dataset is not None:
            atomic_write(
                path / "data.json",
                json.dumps({"stats": self.dataset.stats, "task": self.dataset.task}, indent=2),
            )
        self.record(path, getattr(self.trainer, "splits", None))  # last: digests of params/
        return path

    def record(self, folder: Path, splits: dict | None) -> None:
        """Write run.json and spec.nn (runtime.runrecord): what rebuilds this program."""
        from ..runtime.runrecord import data_fingerprint, write_record

        write_record(
            folder,
            spec_path=self.spec.source.path,
            spec_text=self.spec.source.text,
            train=self.train_block.name,
            overrides=self.sets,
            data=data_fingerprint(splits, self.source_weights(), self.given_weights)
            if isinstance(splits, dict)
            else None,
            sample_weight=self.weighs_given,
        )

    def check_resumed_data(self, run: Any, splits: dict, log) -> None:
        """Warn when a resumed run (`run`: the opened runtime.runfolder.RunFolder) goes on with
        other data or other sample weights than its checkpoints' run recorded (its rows are
        checked with the checkpoint: runtime.checkpoint)."""
        from ..errors import NncompileError
        from ..runtime.runrecord import data_change, data_fingerprint, read_record

        try:  # (the record next to the checkpoints resumed: the run's, or its unfinished re-run's)
            written = (read_record(run.resume_from.parent) or {}).get("data")
        except NncompileError:  # (an unreadable record: the checkpoint's own checks decide)
            return
        now = data_fingerprint(splits, self.source_weights(), self.given_weights)
        how = data_change(written, now)
        if how is not None:
            log(
                f"warning: resuming {run.path} with data other than it was trained on ({how}): the "
                "training does not continue the same computation"
            )

    def source_weights(self) -> dict | None:
        """Each split's sample weights when the data source names them (a fingerprinted part of
        the data; weights given to fit() are not the data's)."""
        params = self.train_block.data.props.source.params
        if getattr(params, "sample_weight", None) is None or not self._from_data:
            return None
        return None if self.dataset is None else self.dataset.weights

    def group(self) -> Path:
        """``runs/<spec>-<train>``: the folder of this program's numbered runs."""
        return Path("runs") / self.name

    def units(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """Which metric keys are in which units when ``normalize_target`` scaled the targets:
        regression metrics in the targets' units, losses on the scaled targets ({} otherwise)."""
        from ..runtime.units import run_units

        if keys is None:
            keys = self.history.epochs[-1] if self.history and self.history.epochs else ["loss"]
        dataset = self.dataset if self._from_data and not self.is_gan else None
        return run_units(self.run_config, dataset, keys)

    def fit_report(self) -> dict | None:
        """Train vs validation at the best and last epoch, the gap, and a verdict (overfitting,
        underfitting, still improving, diverged, fine) with the spec change to try
        (runtime.verdict); None before fit() or for a GAN."""
        from ..runtime.verdict import fit_report
        from ..semantics.facts import fit_facts

        if self.history is None or self.trainer is None or self.is_gan:
            return None
        loss = self.train_block.loss.name
        return fit_report(self.history, self.trainer, fit_facts(self.train_block), loss)

    def resolved(self) -> dict:
        """The resolved spec: every property with its default filled in (JSON)."""
        t = self.train_block
        return {
            "spec": self.spec.source.path,
            "train": t.name,
            "config": self.config,
            "train_block": json.loads(t.props.model_dump_json(exclude={"objective"}, fallback=str)),
        }
