"""The Python API for pipelines: compile a spec, fit it, evaluate, predict, save a run; sweeps."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compiler import analyse, overrides, spec_source
from ..diagnostics import CompileError
from ..errors import DataError, NncompileError, out_of_memory
from ..memory import check_fits, out_of_memory_error, with_data
from ..registry.bounds import MAX_EPOCHS
from ..registry.losses import LOSSES
from ..runconfig import RunConfig
from ..runtime.decoding import Decoding
from ..runtime.fit_checks import (
    Fit,
    check_inputs,
    check_shapes,
    check_targets,
    conform,
    given_arrays,
    no_data_block,
)
from ..runtime.hosts import checkpoint_hosts
from ..runtime.named import check_predict_inputs, check_several, io_found, io_of
from ..runtime.trees import as_arrays, each
from ..semantics import ir
from ..semantics.ir import select_train
from .runfiles import RunFiles
from .tokens import check_token_ids, token_limits
from .transfer import Transfer
from .weights import SampleWeights

if TYPE_CHECKING:
    from ..runtime.data import Dataset
    from ..runtime.history import History

Splits = Mapping[str, tuple[np.ndarray, np.ndarray | None]]


def compile(
    spec: str | Path | None = None,
    *,
    text: str | None = None,
    path: str | Path | None = None,
    train: str | None = None,
    sets: Mapping[str, Any] | None = None,
) -> Program:
    """Compile a spec file (or spec ``text``) into a trainable Program.

    Args:
      spec: path of a ``.nn`` file (``nncompile.check`` takes the same arguments).
      text: the spec itself, instead of a path (``path``: its name in messages).
      train: which train block, when the spec has several.
      sets: ``let`` overrides, e.g. ``{"hidden": 256}`` (like ``--set hidden=256``).
    Raises:
      CompileError with every diagnostic when the spec has errors.
    """
    source = spec_source(spec, text, path, "compile")
    values = overrides(sets)
    program, diagnostics = analyse(source, values)
    if program is None:
        raise CompileError(diagnostics, source)
    return Program(program, train, sets=values)


class Program(Decoding, Transfer, RunFiles, SampleWeights):
    """A compiled spec: the emitted ``source``, its live ``module``, and training on data."""

    def __init__(
        self, spec: ir.Program, train: str | None = None, sets: Mapping[str, str] | None = None,
        sample_weight: bool = False,
    ):  # fmt: skip
        self.spec = spec
        self.sets = dict(sets or {})  # the `let` overrides it was compiled with (run.json)
        self.train_block = select_train(spec, train)
        self._emit(sample_weight)
        self.config: dict = self.module.CONFIG  # the emitted CONFIG (a RunConfig's dump)
        self.dataset: Dataset | None = None
        self.trainer: Any = None
        self.shapes_only = False  # the trainer was built on placeholders (a run without data)
        self.history: History | None = None
        self._run: Any = None  # the run folder fit() opened (runtime.runfolder.RunFolder)
        self._from_data = False  # the splits are the data block's (normalised by `dataset`)
        self.trackers: list = []  # the last fit's trackers (registry.tracking)
        # `--devices`: overrides the train block's `devices:` (not part of the program: a run
        # resumes on another device count)
        self.devices: str | int | None = None

    @property
    def run_config(self) -> RunConfig:
        """The program's CONFIG, typed (validated afresh: `config` is the module's dict)."""
        return RunConfig.load(self.config)

    @property
    def name(self) -> str:
        """``<spec>-<train>``: the default run folder name."""
        return f"{Path(self.spec.source.path).stem}-{self.train_block.name}"

    @property
    def is_gan(self) -> bool:
        return self.run_config.kind == "gan"

    # ---- data ------------------------------------------------------------------------------------
    def data_spec(self):
        """The runtime's DataSpec of the data block (relative paths: against the spec's folder)."""
        from ..runtime.data import DataSpec

        cfg, base = self.run_config, self.train_block.data.base_dir
        if cfg.data is None:
            raise no_data_block(self.train_block.name, self.spec.source.path)
        return DataSpec.from_config(cfg.data, cfg.seed, str(base) if base else None)

    def load_data(self, sample_weight: Any = None):
        """Load the spec's data source (split, normalised, reshaped) and check it fits the model;
        `sample_weight`: a weight per row of the source, split with its targets."""
        from ..runtime.several import load_any

        self.dataset = load_any(self.data_spec(), sample_weight)
        return self.dataset

    def splits(self, data: Splits | tuple | None = None) -> dict:
        """The splits to train on: ``data`` ({"train": (x, y), ...} or (x, y)), or the spec's data
        block's; checked against the model's input."""
        dataset, self._from_data = None, data is None  # metrics in the data's units
        if data is None:
            dataset = self.dataset or self.load_data()
            splits = dict(dataset.splits)
            where = f"data {self.train_block.data.name}"
        elif isinstance(data, tuple):
            splits, where = {"train": data}, "the arrays given to fit()"
        else:
            splits, where = dict(data), "the arrays given to fit()"
        if dataset is None and "train" not in splits:
            given_arrays(splits, None, where)  # (says what to give)
        limits = token_limits(self.train_block.model if not self.is_gan else None)
        for name, (x, _) in splits.items():
            check_token_ids(x, limits, f"{where}, {name} split")
        cfg, tokens = self.run_config, False
        if cfg.gan is None and self.train_block.several:
            return check_several(splits, *io_of(self.train_block), where, **io_found(dataset))
        if cfg.gan is not None:
            want = tuple(cfg.gan.example_shape)
        else:
            assert self.train_block.model is not None
            want = self.train_block.model.inputs[0].shape
            tokens = self.train_block.model.inputs[0].dtype == "int32"
        check_shapes(splits, want, where, tokens=tokens)
        if dataset is None:
            splits = given_arrays(splits, self._fit_check(), where)
        elif (fit := self._fit_check()) is not None:  # file targets in the output's shape, too
            splits = {
                k: (x, y if y is None else conform(y, k, fit, where))
                for k, (x, y) in splits.items()
            }
        self._check_targets(splits, where, dataset)
        return splits

    def _fit_check(self) -> Fit | None:
        """What the targets must be for the loss and the model's output (None: a GAN)."""
        model = self.train_block.model
        if self.is_gan or model is None:
            return None
        t = self.train_block
        loss, one_hot = LOSSES[t.loss.name], t.data.props.one_hot
        metrics = tuple(m.name for _, m in t.metric_refs())
        shape = model.outputs[0].shape
        return Fit(loss, model.name, shape, one_hot, pad=t.data.props.pad, metrics=metrics)

    def _check_targets(self, splits: dict, where: str, dataset: Dataset | None) -> None:
        """The targets against the loss and the model's output (runtime.fit_checks)."""
        fit = self._fit_check()
        if fit is None:
            return
        t = self.train_block
        if dataset is None:  # arrays: read as the loss says (so metrics of the other task fail)
            task = fit.loss.task if fit.loss.task in ("classification", "regression") else None
            check_targets(splits, fit, f"{where} (y)", task=task)
        else:
            origin = f" ({dataset.origin})" if dataset.origin else ""
            where = f"data '{t.data.name}'{origin}"
            labels = dataset.stats.get("labels")
            check_targets(splits, fit, where, task=dataset.task, labels=labels)

    # ---- training --------------------------------------------------------------------------------
    def trainer_for(
        self, splits: dict, *, epochs: int | None = None, callbacks: Iterable[Any] = (), log=None,
        sample_weight: Any = None,
    ):  # fmt: skip
        config: dict[str, Any] = {}
        if self.devices is not None:
            config["devices"] = self.devices
        if self.is_gan:
            from ..runtime.gan import GanTrainer

            return GanTrainer(
                self.module, splits, epochs=epochs, callbacks=callbacks, log=log, config=config
            )
        from ..runtime.loop import Trainer
        from ..runtime.units import target_scale

        if self._from_data and (scale := target_scale(self.dataset)) is not None:
            config["target_scale"] = scale
        weights = self._train_weights(sample_weight)  # (api.weights)
        return Trainer(
            self.module, splits, epochs=epochs, callbacks=callbacks, log=log,
            config=config or None, sample_weight=weights,
        )  # fmt: skip

    def fit(
        self,
        data: Splits | tuple | None = None,
        *,
        epochs: int | None = None,
        callbacks: Iterable[Any] = (),
        log=None,
        run_dir: str | Path | None = None,
        resume: bool = False,
        track: Iterable[str] = (),
        verbose: bool | None = None,
        sample_weight: Any = None,
    ):
        """Train; ``data`` ({"train": (x, y), "val": ..., "test": ...} or (x, y)) overrides the
        spec's source.

        ``sample_weight``: each training example's loss weight (Keras' ``fit(sample_weight=)``):
        with ``data``, one per row of its train split (or a dict of splits' weights, Keras'
        ``validation_data=(x, y, w)``); without, one per row of the spec's data source (split with
        its targets). The program is compiled to weigh examples (api.weights).

        ``run_dir``: write checkpoints to ``<run_dir>/checkpoints/`` (every ``checkpoint: {every}``
        epochs, and when interrupted). ``resume``: continue from the newest checkpoint there instead
        of starting over (exactly: same final parameters as an uninterrupted run). A train block
        with ``init: checkpoint(...)`` loads those layers first (not when resuming). ``track``:
        trackers besides the train block's ``track:`` list (``["mlflow"]``). ``verbose``: the
        progress display (runtime.progress) on stderr; None (default): on in a terminal or a
        notebook, True: always (plain lines elsewhere), False: never. Returns the History (one
        dict of metrics per epoch with its wall time ``seconds``, why training stopped).
        """
        from ..registry.tracking import chosen
        from ..runtime.compiled import free_memory
        from ..runtime.progress import with_progress

        if epochs is not None and int(epochs) < 1:
            raise NncompileError(f"epochs must be at least 1, got {epochs}")
        if epochs is not None and not 1 <= epochs <= MAX_EPOCHS:
            raise NncompileError(f"epochs={epochs}: train takes 1 to {MAX_EPOCHS} epochs")
        cfg = self.run_config
        if self.devices is None:  # before JAX starts: the host devices of a split step
            from ..runtime.cores import claim

            claim(cfg.cpu_cores)
        memory, where = self.memory(), f"training {self.name}"
        check_fits(memory, free_memory(), where)  # before the data or the model is allocated
        self._given_weights(data, sample_weight)  # (api.weights)
        splits = self.splits(data)
        memory = with_data(memory, splits, cfg.batch_size == "full")
        check_fits(memory, free_memory(), where)
        callbacks = with_progress(list(callbacks), verbose)
        tracked = chosen(self.train_block.props.track, tuple(track))  # their packages checked
        checkpointer = None
        note = log or logging.getLogger("nncompile.runtime").info
        hosts = checkpoint_hosts(cfg, resume)
        if hosts is not None and not hosts.primary:  # process 0 owns the run folder
            run_dir = None
        elif resume and run_dir is None:
            from ..runtime.checkpoint_files import CheckpointError

            raise CheckpointError("resuming needs the run folder (run_dir=...)")
        transfer = cfg.init is not None and not self.is_gan and not resume
        if transfer:
            self._check_init_run()  # before building anything: a missing pretrain run is common
        if run_dir is not None:  # checked, locked and prepared before anything is trained
            from ..runtime.runfolder import open_run

            self._release_run()
            self._run = open_run(run_dir, resume=resume, log=note)
            if not resume:  # (a resumed run has its record; a failed resume changes nothing)
                self.record(self._run.work, splits)  # a killed run still says what it trains
            else:
                self.check_resumed_data(self._run, splits, note)
        if run_dir is not None if hosts is None else hosts.checkpoints:
            from ..runtime.checkpoint import Checkpointer

            work = None if self._run is None else self._run.work
            checkpointer = Checkpointer.for_config(work, cfg.checkpoint, note)
            callbacks.append(checkpointer)
        self.trackers = []
        try:
            self.trackers = self._start_trackers(tracked, note, resume)
            callbacks[:0] = self.trackers  # first: they record an epoch before others may stop
            weights = sample_weight if data is not None else None  # (else: the dataset's)
            self.trainer = self.trainer_for(
                splits, epochs=epochs, callbacks=callbacks, log=log, sample_weight=weights
            )
            if checkpointer is not None and resume:
                source = None if self._run is None else self._run.resume_from
                checkpointer.restore(self.trainer, directory=source)
            elif transfer:
                self.load_init()
            self.shapes_only = False
            self.history = self.trainer.fit()
        except Exception as e:
            for tracker in self.trackers:
                tracker.failed()
            if self._run is not None:
                self._run.abandon()
                self._run = None
            if out_of_memory(e):  # XLA's RESOURCE_EXHAUSTED: a resource error, not a bug
                raise out_of_memory_error(e, memory, where) from None
            raise
        return self.history

    def _start_trackers(self, refs: list, note, resume: bool) -> list:
        """The trackers following this fit (registry.tracking), writing next to the run folder."""
        from ..registry.tracking import TrackContext, carry_over, settings, start
        from ..summary import summary

        if not refs:
            return []
        folder = self._run.work if self._run is not None else None
        if folder is not None and resume:
            carry_over(self._run.path, folder)
        params = settings(self.spec.lets, self.train_block.props)
        stem = Path(self.spec.source.path).stem
        context = TrackContext(
            self.name, stem, folder, params, summary(self.spec), note, resume=resume
        )
        return start(refs, context)

    def _release_run(self) -> None:
        if self._run is not None:
            self._run.release()
            self._run = None

    def memory(self):
        """The plan's estimate of the memory training needs (nncompile.memory.Memory)."""
        from ..plan import plan_for

        return plan_for(self.spec, self.train_block.name).memory.value

    def load(self, run_dir: str | Path) -> Program:
        """Restore a trained run folder's parameters (``params/``) for evaluate/predict/export."""
        from ..runtime.identity import program_identity
        from ..runtime.runfolder import check_program
        from ..runtime.runparams import restore_params
        from ..runtime.runrecord import resolve_run

        run = resolve_run(run_dir)
        if not (run / "params").is_dir():
            raise NncompileError(f"{run} is not a run folder (no params/ inside)")
        check_program(run, program_identity(self.source))
        self.shapes_only = self.run_config.data is None  # trained on arrays given to fit()
        splits = self._placeholder() if self.shapes_only else self.splits()
        self.trainer = self.trainer_for(splits, epochs=1)
        restore_params(run, self.trainer)
        return self

    def _placeholder(self) -> dict:
        """Splits of zeros shaped like the examples (runtime.placeholder): a run of a spec without
        a data block is rebuilt on them for predict and export."""
        from ..runtime.placeholder import placeholder_splits

        self._from_data = False  # (a GAN always has a data block: `check` requires it)
        assert self.train_block.model is not None
        inputs = {i.name: (i.shape, i.dtype) for i in self.train_block.model.inputs}
        if not self.train_block.several:
            fit = self._fit_check()
            assert fit is not None
            return placeholder_splits(inputs, {"": fit})
        return placeholder_splits(inputs, io_of(self.train_block)[1])

    # ---- using a trained program -----------------------------------------------------------------
    def evaluate(self, split: str = "test", data: tuple | None = None) -> dict[str, float]:
        """Loss and metrics of a split, in evaluation mode; ``data``: arrays (x, y) to evaluate
        instead, given as to ``fit``."""
        self._need_trainer()
        if data is not None and not self.is_gan:
            from_data = self._from_data
            (x, y) = self.splits({"train": tuple(data)})["train"]
            self._from_data = from_data
            split = "given"
            self.trainer.use_split(split, x, y)
        elif self.shapes_only:
            raise DataError(
                f"train {self.train_block.name} of {self.spec.source.path} has no data block, so "
                f"the loaded run has no {split} split to evaluate (it trained on arrays given "
                "to fit())",
                "give the arrays: program.evaluate(data=(x, y)); predict and export need no data",
            )
        return self.trainer.evaluate(split)

    def predict(self, x: np.ndarray, *, raw: bool = True) -> np.ndarray:
        """Model outputs (probabilities for classifiers). ``raw``: x is in the data's original units
        and gets the training normalisation and reshape first (when the data came from the spec)."""
        self._need_trainer()
        x = as_arrays(x)  # a dict of arrays for several inputs
        each(lambda a: check_inputs(a, "the inputs given to predict()"), x)
        if self.train_block.model is not None and not self.is_gan:
            shapes = {i.name: i.shape for i in self.train_block.model.inputs}
            check_predict_inputs(x, shapes, not (raw and self.dataset is not None))
            check_token_ids(
                x, token_limits(self.train_block.model), "the inputs given to predict()"
            )
            if isinstance(x, dict) and len(shapes) == 1:
                x = next(iter(x.values()))
        if raw and self.dataset is not None:
            x = self.dataset.transform_inputs(x)
        out = self.trainer.predict(x)
        return out if self.dataset is None else self.dataset.predictions(out)

    def sample(self, n: int | None = None, **options):
        """Samples of a trained program: GAN examples, text, sequences, a VAE's draws or its given
        ``latent=`` points (``grid=N``: N x N over a 2-D prior) decoded (runtime.sampling)."""
        from ..runtime.sampling import sample
        from .latent import latent_spaces

        latents = latent_spaces(self.train_block.model)
        return sample(self.trainer, self.dataset, n, latents=latents, **options)

    def export(self, output: str | Path, platforms=("cpu", "cuda")) -> dict:
        """The trained inference function as serialized StableHLO (see runtime.export)."""
        from ..runtime.export import export_stablehlo

        self._need_trainer()
        return export_stablehlo(self.trainer, self.dataset, output, platforms)

    def _need_trainer(self) -> None:
        if self.trainer is None:
            raise RuntimeError("call fit() (or load()) first")
