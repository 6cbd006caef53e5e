"""The training engine: runs an emitted program module (see docs/emitted-program.md).

Shape of a fit, chosen for small models on any backend:
* the model and optimizer are built by one jitted function (one small compilation instead of one
  per initializer op); JAX's persistent compilation cache is on (`jaxcache`);
* the splits are moved to the device once; every epoch's order is a permutation drawn on the host
  from (seed, epoch) (`batches`: only the (steps, batch) indices travel), and the batches are
  gathered on the device;
* strategy "scan" runs the steps of an epoch as one jitted loop (`epochs`: the whole epoch in one
  call, or, with step callbacks such as the progress bar, chunks of about CHUNK_S seconds); strategy
  "step" one jitted step per batch; both work on the split state of (model, optimizer)
  (`compiled`), each compiled once (`traces` counts), with the program's XLA:CPU options on CPU.
  "scan" does not donate the state: the epoch's input stays valid and is the rollback point for a
  non-finite loss and for `restore_best`, without a copy. "step" donates it at every step and copies
  it once per epoch;
* the loss and the metric accumulators stay on the device and are fetched once per epoch, packed
  into one vector, with the validation results (evaluated in batches sized to the free memory);
* evaluation and prediction run over an eval view of the model (dropout off, BatchNorm running
  statistics), compiled separately from training.

The fit's epoch loop is `fitloop.FitLoop` (a mixin of Trainer); its other concerns are
collaborators in modules of their own: early stopping and restore-best (`stopping`), unfreezing
(`freeze`), resuming (`Trainer.resume_from`, given what `checkpoint.read` returns), callbacks
(`history`; checkpointing is one, `checkpoint.Checkpointer`).

Training stops early on a non-finite loss (keeping the state of the last good epoch), on early
stopping, on `trainer.stop_training = True` from a callback, and on KeyboardInterrupt (keeping the
state of the last completed epoch). None of these raises; `History.stop` says why (`StopReason`).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

import jax
import numpy as np
from flax import nnx

from ..errors import DataError
from . import blocks, classweight, cores, jaxcache, sampleweight, shards
from . import metrics as M
from .batches import oversized
from .chunking import traced_bounds
from .compiled import Accumulators, Compiled, Layout, build, eval_batch, free_memory
from .devices import held_rows, placement
from .epochs import Epochs
from .fitloop import FitLoop
from .freeze import Freeze, relayout, set_batch_norm, unfrozen_optimizer
from .history import History, Resume, step_hooks
from .plateau import Plateau, rate_leaves
from .setup import run_batching, run_config
from .state import find_lr
from .stopping import BestState, Stopping
from .trees import as_arrays, rows

# Epochs shorter than this run one ahead (strategy "scan"): the next epoch is dispatched before this
# one's results are read, so the host's per-epoch work overlaps the device's; stopping after an
# epoch then discards at most this much speculative work
AHEAD_BELOW_S = 0.05
# With step callbacks (progress), strategy "scan" runs an epoch in chunks of about CHUNK_S seconds,
# on CPU, when a step has at least CHUNK_MIN_WORK of work (batch size x parameters, a proxy for its
# multiply-adds: W1 5.4M, W3 25k). Chunks need a loop whose trip count XLA does not know, and such a
# loop evaluates its condition every iteration: ~2 us per step on XLA:CPU (15-25% of W3's 18 us
# steps, <1% of W1's 300 us), and on GPUs a read of the condition back to the host at every step.
# Otherwise an epoch is a scan of known length, one call.
CHUNK_S = 0.5
CHUNK_MIN_WORK = 1_000_000

BF16_ON_CPU = (
    "precision bfloat16 on a CPU: XLA:CPU has no fast bfloat16 matmuls, so this trains "
    "slower than float32 here (digits MLP 0.7x, CNN 0.35x); it pays off on GPUs and TPUs"
)

_logger = logging.getLogger("nncompile.runtime")


class Trainer(FitLoop):
    """Fits, evaluates and runs an emitted program on numpy splits {"train"|"val"|"test": (x, y)}.

    `config` overrides CONFIG entries (e.g. {"batch_size": "full", "strategy": "step"}); `epochs`
    and `seed` are shorthands for the same. `log` receives one-line notes (default: the
    "nncompile.runtime" logger at INFO). `sample_weight`: each training example's loss weight, or
    a dict of some splits' (runtime.sampleweight; the program must weigh examples).
    """

    def __init__(
        self,
        program: ModuleType,
        splits: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
        *,
        epochs: int | None = None,
        seed: int | None = None,
        callbacks: Iterable[Any] = (),
        log: Callable[[str], None] | None = None,
        config: dict | None = None,
        sample_weight: np.ndarray | Mapping[str, np.ndarray] | None = None,
    ):
        jaxcache.enable()  # before the first compilation of the process
        self.program = program
        self.config = cfg = run_config(program, config, epochs, seed)
        self.epochs, self.seed, self.strategy = cfg.epochs, cfg.seed, cfg.strategy
        self.callbacks = list(callbacks)
        self.log = log or _logger.info
        self.splits = {
            k: (as_arrays(x), None if y is None else as_arrays(y)) for k, (x, y) in splits.items()
        }
        if "train" not in self.splits:
            raise ValueError("splits needs a 'train' split")
        if self.splits["train"][1] is None:
            raise ValueError(
                "the train split has no targets; this runtime trains supervised programs"
            )
        classweight.resolve(program, cfg, self.splits["train"][1], self.log)  # `balanced`
        # each example's weight in the loss, per split (runtime.sampleweight)
        self.sample_weights = sampleweight.per_split(program, sample_weight, self.splits)
        # several devices: a data-parallel mesh (runtime.devices); one: None, the plain program
        # (a step the plan splits over cores: the host CPU devices runtime.cores claimed)
        self.placement = placement(cores.devices(cfg.devices, cfg.cpu_cores), cfg.shard)
        self.batching = run_batching(cfg, rows(self.splits["train"][0]), self.placement)
        if warning := oversized(cfg.batch_size, rows(self.splits["train"][0])):
            self.log(warning)
        self.stop_training = False
        # Python traces of each jitted function
        self.traces: collections.Counter = collections.Counter()
        self.epochs_done = 0
        # the current fit's early-stopping and restore-best states (read by checkpoints)
        self.stopping: Stopping | None = None
        self.best = BestState(False)
        self.plateau: Plateau | None = None  # the fit's reduce_on_plateau rule (CONFIG["plateau"])
        self.freeze = Freeze(cfg)  # `freeze:` layers not yet unfrozen (`unfreeze_after`)
        self._resume: Resume | None = None  # set by resume_from: where the next fit continues
        if cfg.precision == "bfloat16" and jax.default_backend() == "cpu":
            self.log(BF16_ON_CPU)
        updates = self.batching.updates // cfg.accumulate  # optimizer updates per epoch
        built = build(program, self.seed, updates, self.epochs, cfg.accumulate)
        self._model, self._optimizer = built
        # during a fit: the latest epoch's state leaves, written back into the objects on access
        self._pending: list | None = None
        self._layout = Layout.of(self._model, self._optimizer)
        self._device: dict[tuple[str, bool], tuple] = {}
        self.head = M.model_heads(
            self.config, self._layout.eval_gdef, nnx.state(self.model), self.splits["train"][0]
        )
        self.metrics = [
            *M.output_losses(program, cfg),
            *M.build_for(cfg, self.head),
            *M.weighted_for(cfg, self.head),
        ]
        # the terms layers add to the loss (gaussian_sample's kl_loss), recorded by key
        added = tuple(program.layer_losses(self._model)) if hasattr(program, "layer_losses") else ()
        self._acc = Accumulators(self.metrics, added)
        self._lr_path = find_lr(nnx.state(self.optimizer))
        self._lr_leaf = next(iter(rate_leaves(self._layout.treedef)), None)  # in the flat state
        params = jax.tree.leaves(nnx.state(self._model, nnx.Param))
        self.chunked = traced_bounds(self.batching.size, params, CHUNK_MIN_WORK)
        cpu = jax.default_backend() == "cpu"
        self.eval_batch = eval_batch(cfg.activation_floats, free_memory())
        # the program's XLA:CPU options (chosen by the compiler's plan); other backends take none
        self.compiler_options = (cfg.cpu_compiler_options or None) if cpu else None
        self._fns = self.compiled_for(
            self.strategy,
            self.chunked,
            self._layout,
            self.traces,
            count=shards.initial(self.placement, self._model, self._logical_shards()),
        )
        self._epochs = Epochs(self._fns)
        self.tuning: dict | None = None  # runtime.autotune's measured or recorded choice

    def _logical_shards(self) -> int | None:
        """`logical_shards:`, or the plan's split over the cores runtime.cores claimed."""
        count = self.placement.count if self.placement is not None else 1
        return cores.shards(self.config.logical_shards, count, self.config.cpu_cores)

    # ---- public API ------------------------------------------------------------------------------
    @property
    def model(self) -> nnx.Module:
        """The nnx model, holding the latest trained state."""
        self._sync()
        return self._model

    @property
    def optimizer(self) -> nnx.Optimizer:
        self._sync()
        return self._optimizer

    @property
    def frozen(self) -> bool:
        """Whether the `freeze:` layers are still frozen."""
        return self.freeze.frozen

    @property
    def compile_count(self) -> int:
        """How many times any training/eval/predict function was traced (= compiled)."""
        return sum(self.traces.values())

    def fit(self) -> History:
        """Train `epochs` epochs (runtime.fitloop); epochs under AHEAD_BELOW_S run one ahead."""
        return self._fit(AHEAD_BELOW_S)

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Loss and metrics of a split in eval mode (dropout off, BatchNorm running statistics)."""
        if split not in self.splits or self.splits[split][1] is None:
            have = ", ".join(k for k, (_, y) in self.splits.items() if y is not None)
            why = f"the data has no {split} split to evaluate (it has {have})"
            raise DataError(why, f"evaluate {have} (`--split`), or add {split} to `split:`")
        x, y = self._on_device(split)
        packed = self._fns.evaluate(nnx.state(self.model), x, y, self.eval_batch)
        return self._acc.finalize(self._acc.unpack(jax.device_get(packed)))

    def rows_here(self) -> int:
        """The training rows this process's devices hold (a multi-host run: its share)."""
        return held_rows(self._on_device("train", gathered=True)[0], rows(self.splits["train"][0]))

    def use_split(self, name: str, x: Any, y: Any) -> None:
        """Keep (x, y) as split `name` (for `evaluate(name)`), replacing one of that name."""
        self.splits[name] = (as_arrays(x), None if y is None else as_arrays(y))
        self.sample_weights.pop(name, None)  # (arrays given without weights)
        for key in [k for k in self._device if k[0] == name]:
            del self._device[key]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Outputs of `program.predict` (output activation applied) in eval mode, in batches."""
        return self._fns.predict_all(nnx.state(self.model), as_arrays(x), self.eval_batch)

    def compiled_for(
        self, strategy: str, chunked: bool, layout: Layout, traces=None, count: int = 1
    ) -> Compiled:
        """Compiled functions with a strategy and model layout (runtime.autotune's candidates),
        over `count` logical shards (runtime.shards)."""
        return Compiled(
            self.program,
            layout,
            self.batching,
            self._acc,
            seed=self.seed,
            strategy=strategy,
            chunked=chunked,
            compiler_options=self.compiler_options,
            traces=collections.Counter() if traces is None else traces,
            placement=self.placement,
            shards=count,
            fuse=blocks.capacity(self.batching.examples),
        )

    def use(self, fns: Compiled) -> None:
        """Train with `fns` from now on (runtime.autotune's choice); its traces are counted."""
        fns.traces.update(self.traces)
        self._fns, self._layout, self.traces = fns, fns.layout, fns.traces
        self._epochs, self.chunked = Epochs(fns), fns.chunked
        self.strategy = fns.strategy  # type: ignore[assignment]

    # ---- resuming and unfreezing -----------------------------------------------------------------
    def resume_from(self, resume: Resume, epochs: int | None = None) -> None:
        """Continue from a checkpoint (runtime.checkpoint.read): load its state and count its epochs
        as done; the next fit trains the rest of `epochs` in all (default: CONFIG's) and carries its
        history, early-stopping state and best epoch on. The trainer must be freshly built from the
        same program and data."""
        if resume.frozen is False:
            self.unfreeze()  # the checkpoint is past `unfreeze_after`
        count = shards.resumed(resume.meta, self.placement, self.log)
        self._fns = self._fns.rebuild(count)  # the checkpoint's logical shards (runtime.shards)
        self._epochs = Epochs(self._fns)
        self.load_state(resume.state)
        self.epochs_done = resume.epoch
        total = self.config.epochs if epochs is None else int(epochs)
        es = self.config.early_stopping
        key = (resume.stopping or {}).get("key") or "loss"
        rule = Stopping(key, es.patience if es is not None else None)
        rule.resume(resume.stopping)
        self.epochs = 0 if rule.exhausted else max(total - self.epochs_done, 0)
        self._resume = resume

    def unfreeze(self) -> None:
        """Train the `freeze:` layers too from now on (`unfreeze_after`, or resuming past it): a new
        optimizer (see runtime.freeze), the state of the parameters trained so far kept."""
        if not self.frozen:
            return
        old = self._layout.treedef
        phase = self.config.unfreeze_lr
        set_batch_norm(self.program, self._model, frozen=False)
        self._optimizer, fresh = unfrozen_optimizer(
            self.program,
            self._model,
            self.optimizer,
            self.batching.updates,
            self.config.epochs,
            phase,
        )
        self._layout.gdef, state = nnx.split((self._model, self._optimizer))
        self._layout.treedef = jax.tree.structure(state)
        self._lr_path = find_lr(nnx.state(self._optimizer))
        self._lr_leaf = next(iter(rate_leaves(self._layout.treedef)), None)
        self.freeze.frozen = False
        self.best.relayout(
            lambda s: relayout(s, old, self._optimizer, fresh, self._fns.copy, phase is not None)
        )
        self.log(f"epoch {self.epochs_done + 1}: unfroze {', '.join(self.freeze.layers)}")

    def _run_epoch(self, state, epoch: int, x, y, donate: bool = False):
        """One epoch (runtime.epochs): chunks of about CHUNK_S seconds if callbacks watch steps;
        `donate`: consuming `state` (runtime.fitloop)."""
        hooks = step_hooks(self.callbacks)
        return self._epochs.run(state, epoch, x, y, hooks, self, CHUNK_S, donate)
