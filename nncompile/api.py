"""The Python API for pipelines: compile a spec, fit it, evaluate, predict, save a run."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .codegen.emit import emit_program, select_train
from .codegen.load import load_module
from .compiler import analyse, read
from .diagnostics import CompileError
from .errors import DataError
from .registry.layers import fmt
from .semantics import ir
from .source import Source

Splits = Mapping[str, tuple[np.ndarray, np.ndarray | None]]


def compile(spec: str | Path | None = None, *, text: str | None = None, train: str | None = None,
            sets: Mapping[str, Any] | None = None) -> "Program":
    """Compile a spec file (or spec ``text``) into a trainable Program.

    Args:
      spec: path of a ``.nn`` file.
      text: the spec itself, instead of a path.
      train: which train block, when the spec has several.
      sets: ``let`` overrides, e.g. ``{"hidden": 256}`` (like ``--set hidden=256``).
    Raises:
      CompileError with every diagnostic when the spec has errors.
    """
    if (spec is None) == (text is None):
        raise TypeError("compile() takes a spec path or text=, not both")
    source = read(spec) if text is None else Source(text, "<string>")
    program, diagnostics = analyse(source, {k: str(v).lower() if isinstance(v, bool) else str(v)
                                            for k, v in (sets or {}).items()})
    if program is None:
        raise CompileError(diagnostics, source)
    return Program(program, train)


def data_spec(config: dict, base_dir: str | None):
    """The runtime's DataSpec for an emitted program's CONFIG (relative paths against ``base_dir``)."""
    from .runtime.data import DataSpec
    d = config["data"]
    return DataSpec(name=d["name"], source=d["source"], args=d["args"], split=d["split"],
                    normalize=d["normalize"], normalize_target=d["normalize_target"],
                    reshape=tuple(d["reshape"]) if d["reshape"] else None, one_hot=d["one_hot"],
                    shuffle=d["shuffle"], windows=d["windows"],
                    classes=tuple(d["classes"]) if d["classes"] else None, subset=d["subset"],
                    seed=config["seed"], base_dir=base_dir)


class Program:
    """A compiled spec: the emitted ``source``, its live ``module``, and training on data."""

    def __init__(self, spec: ir.Program, train: str | None = None):
        self.spec = spec
        self.train_block = select_train(spec, train)
        self.source = emit_program(spec, self.train_block.name)
        self.module = load_module(self.source, f"{Path(spec.source.path).name}:{self.train_block.name}")
        self.config = self.module.CONFIG
        self.dataset = None
        self.trainer = None
        self.history = None

    @property
    def name(self) -> str:
        """``<spec>-<train>``: the default run folder name."""
        return f"{Path(self.spec.source.path).stem}-{self.train_block.name}"

    @property
    def is_gan(self) -> bool:
        return self.config.get("kind") == "gan"

    # ---- data ---------------------------------------------------------------------------------------
    def data_spec(self):
        base = self.train_block.data.base_dir
        return data_spec(self.config, str(base) if base else None)

    def load_data(self):
        """Load the spec's data source (split, normalised, reshaped) and check it fits the model."""
        from .runtime.data import load_dataset
        self.dataset = load_dataset(self.data_spec())
        return self.dataset

    def _splits(self, data: Splits | tuple | None) -> dict:
        if data is None:
            dataset = self.dataset or self.load_data()
            splits = dict(dataset.splits)
            where = f"data {self.train_block.data.name}"
        elif isinstance(data, tuple):
            splits, where = {"train": data}, "the arrays given to fit()"
        else:
            splits, where = dict(data), "the arrays given to fit()"
        self._check_shapes(splits, where)
        return splits

    def _check_shapes(self, splits: dict, where: str) -> None:
        if self.is_gan:
            want = tuple(self.config["example_shape"])
        else:
            want = self.train_block.model.inputs[0].shape
        for name, (x, y) in splits.items():
            x = np.asarray(x)
            if x.shape[1:] != want:
                raise DataError(f"{where}: the {name} split has examples of shape {fmt(x.shape[1:])}, but "
                                f"the model takes {fmt(want)}", "reshape the data (`reshape:` in the data block) "
                                "or change the model's input")
            if not np.issubdtype(x.dtype, np.integer) and not np.all(np.isfinite(x)):
                bad = int(np.size(x) - np.isfinite(x).sum())
                raise DataError(f"{where}: the {name} split has {bad} NaN or infinite input values",
                                "clean or impute the data before training")
            if y is not None and len(y) != len(x):
                raise DataError(f"{where}: the {name} split has {len(x)} inputs but {len(y)} targets")

    # ---- training -----------------------------------------------------------------------------------
    def trainer_for(self, splits: dict, *, epochs: int | None = None, callbacks: Iterable[Any] = (), log=None):
        if self.is_gan:
            from .runtime.gan import GanTrainer
            return GanTrainer(self.module, splits, epochs=epochs, callbacks=callbacks, log=log)
        from .runtime.loop import Trainer
        return Trainer(self.module, splits, epochs=epochs, callbacks=callbacks, log=log)

    def fit(self, data: Splits | tuple | None = None, *, epochs: int | None = None,
            callbacks: Iterable[Any] = (), log=None, run_dir: str | Path | None = None, resume: bool = False):
        """Train; ``data`` ({"train": (x, y), "val": ..., "test": ...} or (x, y)) overrides the spec's source.

        ``run_dir``: write checkpoints to ``<run_dir>/checkpoints/`` (every ``checkpoint: {every}`` epochs,
        and when interrupted). ``resume``: continue from the newest checkpoint there instead of starting
        over (exactly: same final parameters as an uninterrupted run). A train block with
        ``init: checkpoint(...)`` loads those layers first (not when resuming).
        Returns the History (one dict of metrics per epoch, why training stopped).
        """
        splits = self._splits(data)
        callbacks = list(callbacks)
        checkpointer = None
        if run_dir is not None and not self.is_gan:
            import logging

            from .runtime.checkpoint import Checkpointer
            checkpointer = Checkpointer.for_config(run_dir, self.config,
                                                   log or logging.getLogger("nncompile.runtime").info)
            callbacks.append(checkpointer)
        elif resume:
            from .runtime.checkpoint import CheckpointError
            raise CheckpointError("resuming needs the run folder (run_dir=...) of a supervised program")
        transfer = bool(self.config.get("init")) and not self.is_gan and not resume
        if transfer:
            self._check_init_run()          # before building anything: a missing pretrain run is common
        self.trainer = self.trainer_for(splits, epochs=epochs, callbacks=callbacks, log=log)
        if resume:
            checkpointer.restore(self.trainer)
        elif transfer:
            self.load_init()
        self.history = self.trainer.fit()
        return self.history

    # ---- transfer learning ------------------------------------------------------------------------------
    def init_run(self) -> Path | None:
        """The run folder of ``init: checkpoint("...")``: relative to the working directory, like the
        ``runs/<spec>-<train>`` folders that ``train`` writes by default."""
        init = self.config.get("init")
        return None if not init else Path(init["run"])

    def load_init(self) -> list[str]:
        """Load ``init: checkpoint(run, layers=[...])`` into the trainer; problems are E505 diagnostics."""
        from .runtime.checkpoint import TransferError, load_layers
        self._need_trainer()
        self._check_init_run()
        run, layers = self.init_run(), self.config["init"].get("layers")
        try:
            loaded = load_layers(self.trainer, run, layers)
        except TransferError as e:
            raise self._transfer_error(e.problems) from None
        self.trainer.log(f"init: loaded {', '.join(loaded) or 'nothing'} from {run}")
        return loaded

    def _check_init_run(self) -> None:
        run = self.init_run()
        if not (run / "params").is_dir():
            raise self._transfer_error([(
                f"init: no trained run at {run} ({run.absolute()}; the path is relative to the working directory)",
                self._pretrain_hint(run))])

    def _pretrain_hint(self, run: Path) -> str:
        stem, _, train = run.name.rpartition("-")
        spec_dir = Path(self.spec.source.path).parent
        candidate = spec_dir / f"{stem}.nn"
        if stem and candidate.is_file():
            out = "" if run == Path("runs") / run.name else f" --out {run}"
            which = "" if train in ("", "main") else f" --train {train}"
            return f"train the pretrain spec first: `nncompile train {candidate}{which}{out}`"
        return "train the run it names first (`nncompile train SPEC --out RUN`), or fix the path"

    def _transfer_error(self, problems) -> CompileError:
        from .diagnostics import TRANSFER, Diagnostic
        t = self.train_block
        span = t.property_spans.get("init") if hasattr(t, "property_spans") else None
        source = self.spec.source
        kw = {"span": span} if span is not None else {}
        return CompileError([Diagnostic(TRANSFER, message, hint=hint, path=source.path, **kw)
                             for message, hint in problems], source)

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Loss and metrics of a split, in evaluation mode."""
        self._need_trainer()
        return self.trainer.evaluate(split)

    def predict(self, x: np.ndarray, *, raw: bool = True) -> np.ndarray:
        """Model outputs (probabilities for classifiers). ``raw``: x is in the data's original units and
        gets the training normalisation and reshape first (when the data came from the spec)."""
        self._need_trainer()
        x = np.asarray(x)
        if raw and self.dataset is not None:
            x = self.dataset.transform_inputs(x)
        out = self.trainer.predict(x)
        if self.dataset is not None and self.dataset.task == "regression":
            out = self.dataset.inverse_targets(out)
        return out

    def _need_trainer(self) -> None:
        if self.trainer is None:
            raise RuntimeError("call fit() (or load()) first")

    # ---- run folders ----------------------------------------------------------------------------------
    def save(self, run_dir: str | Path | None = None, test_metrics: dict | None = None) -> Path:
        """Write the run folder: program, resolved spec, metrics, curves, parameters, summary."""
        from .runtime.outputs import write_run
        self._need_trainer()
        run = Path(run_dir or Path("runs") / self.name)
        if test_metrics is None:
            test_metrics = self.evaluate("test") if "test" in self.trainer.splits else {}
        path = write_run(run, program_source=self.source, resolved_spec=self.resolved(), history=self.history,
                         test_metrics=test_metrics, trainer=self.trainer)
        if self.is_gan:
            from .runtime.gan import write_samples
            write_samples(path, self.trainer, tuple(self.config["example_shape"]))
        if self.dataset is not None:
            (path / "data.json").write_text(json.dumps({"stats": self.dataset.stats,
                                                        "task": self.dataset.task}, indent=2))
        return path

    def resolved(self) -> dict:
        """The resolved spec: every property with its default filled in (JSON)."""
        t = self.train_block
        return {"spec": self.spec.source.path, "train": t.name, "config": self.config,
                "train_block": json.loads(t.props.model_dump_json(exclude={"objective"}, fallback=str))}
