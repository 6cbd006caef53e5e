"""The training engine: runs an emitted program module (see docs/emitted-program.md).

Shape of a fit, chosen for small models on any backend:
* the model and optimizer are built by one jitted function (one small compilation instead of one per
  initializer op); JAX's persistent compilation cache is on (`jaxcache`);
* the splits are moved to the device once; every epoch's order is a permutation drawn on the host from
  (seed, epoch) (numpy; only the (steps, batch) indices travel), and the batches are gathered on the device;
* strategy "scan" runs the steps of an epoch as one jitted loop over the batch indices (steps lo..hi-1,
  one compilation for any range: the whole epoch in one call, or, with step callbacks such as the
  progress bar, chunks of about CHUNK_S seconds, the first call of a trainer being a single step);
  strategy "step" one jitted step per batch; both work on the split state of (model, optimizer)
  (`nnx.split`, `nnx.merge` inside the jitted function), and each is compiled once (`traces` counts),
  with the program's XLA:CPU options on CPU. "scan" does not donate the state: the epoch's input stays
  valid and is the rollback point for a non-finite loss and for `restore_best`, without a copy. "step"
  donates it at every step and copies it once per epoch;
* the loss and the metric accumulators stay on the device and are fetched once per epoch, packed into
  one vector, together with the validation results (evaluated in batches sized to the free memory);
* evaluation and prediction run over an eval view of the model (dropout off, BatchNorm running
  statistics), compiled separately from training.

Training stops early on a non-finite loss (keeping the state of the last good epoch), on early
stopping, on `trainer.stop_training = True` from a callback, and on KeyboardInterrupt (keeping the
state of the last completed epoch). None of these raises; `History.reason` says what happened.
"""
from __future__ import annotations

import collections
import functools
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from . import jaxcache
from . import metrics as M

EVAL_BATCH = 8192          # validation/test/predict batch of programs that do not state CONFIG["activation_floats"]
# Otherwise: the whole split up to the batch whose activations (x 2 for XLA's temporaries) take this share
# of the free device memory (host memory on CPU), and at least MIN_EVAL_BATCH examples
EVAL_MEMORY_SHARE = 0.25
MIN_EVAL_BATCH = 256
DATA_STREAM = 0x6E6E       # folded into the seed's key so data keys never equal parameter-init keys
# Building the model runs once: compile it for speed of compilation (XLA:CPU at -O0: 0.3 s instead of 0.7 s)
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
# Epochs shorter than this run one ahead (strategy "scan"): the next epoch is dispatched before this
# one's results are read, so the host's per-epoch work overlaps the device's; stopping after an epoch
# then discards at most this much speculative work
AHEAD_BELOW_S = 0.05
# With step callbacks (progress), strategy "scan" runs an epoch in chunks of about CHUNK_S seconds, on
# CPU, when a step has at least CHUNK_MIN_WORK of work (batch size x parameters, a proxy for its
# multiply-adds: W1 5.4M, W3 25k). Chunks need a loop whose trip count XLA does not know, and such a loop
# evaluates its condition every iteration: ~2 us per step on XLA:CPU (15-25% of W3's 18 us steps, <1%
# of W1's 300 us), and on GPUs a read of the condition back to the host at every step. Otherwise an
# epoch is a scan of known length, one call.
CHUNK_S = 0.5
CHUNK_MIN_WORK = 1_000_000

_logger = logging.getLogger("nncompile.runtime")


@dataclass
class History:
    """What a fit did: one dict per epoch (epoch, loss, metrics, val_*, lr when known, seconds)."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    reason: str | None = None
    interrupted: bool = False
    monitor: str | None = None
    seconds: float = 0.0
    steps_per_epoch: int = 0
    examples_per_epoch: int = 0

    def series(self, key: str) -> list[float]:
        """The values of one history key, one per epoch (missing values as nan)."""
        return [e.get(key, math.nan) for e in self.epochs]

    def examples_per_second(self) -> float | None:
        """Training throughput over epochs 2..N (epoch 1 holds compilation); epoch 1 if it is the only one."""
        timed = self.epochs[1:] or self.epochs
        seconds = sum(e["seconds"] for e in timed)
        return self.examples_per_epoch * len(timed) / seconds if timed and seconds > 0 else None


@dataclass
class Stopping:
    """Early stopping bookkeeping: the best value of `key` and the epochs since it (patience None: never stop)."""

    key: str
    patience: int | None = None
    min_delta: float = 0.0
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0

    @property
    def mode(self) -> str:
        return M.better(self.key)

    def update(self, logs: dict) -> bool:
        """Record an epoch; True when it is the new best."""
        value = logs[self.key]
        if self.best is None or (value < self.best - self.min_delta if self.mode == "min"
                                 else value > self.best + self.min_delta):
            self.best, self.best_epoch, self.wait = value, logs["epoch"], 0
            return True
        self.wait += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.wait > 0 and self.wait >= self.patience

    def reason(self) -> str:
        return (f"early stopping: {self.key} did not improve by more than {self.min_delta:g} for {self.wait} "
                f"epochs (best {self.best:.6g} at epoch {self.best_epoch})")


@dataclass
class Resume:
    """What a fit continues from (filled by `runtime.checkpoint.restore`, which also loads the model and
    optimizer state and sets `epochs_done`): the history so far, the early-stopping state, and with
    `restore_best` the best epoch's state ({"model", "optimizer"} as `state()` gives them) when it is
    not the current one."""

    epochs: list[dict]
    best_epoch: int | None = None
    best: float | None = None           # Stopping.best, .best_epoch, .wait
    stopping_epoch: int | None = None
    wait: int = 0
    best_state: dict | None = None


class Callback:
    """Optional hooks; a callback may define any subset of these methods."""

    def on_fit_start(self, trainer: "Trainer", history: History) -> None: ...
    def on_step_end(self, trainer: "Trainer", epoch: int, step: int, steps: int) -> None: ...  # after each step or chunk
    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None: ...
    def on_fit_end(self, trainer: "Trainer", history: History) -> None: ...


@dataclass(frozen=True)
class Batching:
    """How one epoch of the train split is cut: `steps` full batches, then `remainder` examples or none."""

    size: int
    steps: int
    remainder: int          # examples in the last, smaller batch that is run (0 when dropped)
    dropped: int            # examples left out of each epoch (a different set every epoch)

    @property
    def examples(self) -> int:
        return self.size * self.steps + self.remainder

    @property
    def updates(self) -> int:
        return self.steps + (1 if self.remainder else 0)


def batching(batch_size: int | str, n: int, drop_remainder: bool) -> Batching:
    size = n if batch_size == "full" else max(1, min(int(batch_size), n))
    steps, rest = divmod(n, size)
    return Batching(size, steps, 0 if drop_remainder else rest, rest if drop_remainder else 0)


def _is_key(a) -> bool:
    return hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jax.dtypes.prng_key)


def to_pure(state: nnx.State) -> dict:
    """nnx.State -> plain nested dict of arrays, PRNG keys as their raw key data (for checkpoints)."""
    return jax.tree.map(lambda a: jax.random.key_data(a) if _is_key(a) else a, nnx.to_pure_dict(state))


def from_pure(template: nnx.State, pure: dict) -> nnx.State:
    """Inverse of `to_pure`: fill `template` (a fresh nnx.state) with `pure`, re-wrapping raw key data as keys."""
    like = nnx.to_pure_dict(template)

    def restore(t, v):
        if _is_key(t):
            return v if _is_key(v) else jax.random.wrap_key_data(jnp.asarray(v), impl=jax.random.key_impl(t))
        return jnp.asarray(v, dtype=t.dtype)
    nnx.replace_by_pure_dict(template, jax.tree.map(restore, like, pure))
    return template


def run_config(program: ModuleType, config: dict | None, epochs: int | None, seed: int | None) -> dict:
    """The program's CONFIG with a run's overrides (``config`` entries, then epochs and seed)."""
    out = {**program.CONFIG, **(config or {})}
    if epochs is not None:
        out["epochs"] = epochs
    if seed is not None:
        out["seed"] = seed
    return out


class Trainer:
    """Fits, evaluates and runs an emitted program on numpy splits {"train"|"val"|"test": (x, y)}.

    `config` overrides CONFIG entries (e.g. {"batch_size": "full", "strategy": "step"}); `epochs` and
    `seed` are shorthands for the same. `log` receives one-line notes (default: the
    "nncompile.runtime" logger at INFO).
    """

    def __init__(self, program: ModuleType, splits: dict[str, tuple[np.ndarray, np.ndarray]], *,
                 epochs: int | None = None, seed: int | None = None, callbacks: Iterable[Any] = (),
                 log: Callable[[str], None] | None = None, config: dict | None = None):
        jaxcache.enable()         # before the first compilation of the process
        self.program = program
        self.config = run_config(program, config, epochs, seed)
        self.epochs = int(self.config["epochs"])
        self.seed = int(self.config.get("seed", 0))
        self.strategy = self.config.get("strategy", "scan")
        if self.strategy not in ("scan", "step"):
            raise ValueError(f"strategy must be 'scan' or 'step', not {self.strategy!r}")
        self.callbacks = list(callbacks)
        self.log = log or _logger.info
        self.splits = {name: (np.asarray(x), None if y is None else np.asarray(y)) for name, (x, y) in splits.items()}
        if "train" not in self.splits:
            raise ValueError("splits needs a 'train' split")
        if self.splits["train"][1] is None:
            raise ValueError("the train split has no targets; this runtime trains supervised programs")
        self.batching = batching(self.config.get("batch_size", 32), len(self.splits["train"][0]),
                                 bool(self.config.get("drop_remainder", True)))
        self.stop_training = False
        self.traces: collections.Counter = collections.Counter()   # Python traces of each jitted function
        self.epochs_done = 0
        self.resume: Resume | None = None     # set by runtime.checkpoint.restore: where the next fit continues
        self.stopping: Stopping | None = None  # the current fit's early-stopping state (read by checkpoints)
        self.best_state = None                 # with restore_best: the best epoch's (model, optimizer) state so far
        self.frozen = bool(self.config.get("freeze"))   # `freeze:` layers not yet unfrozen (`unfreeze_after`)

        if self.config.get("precision") == "bfloat16" and jax.default_backend() == "cpu":
            self.log("precision bfloat16 on a CPU: XLA:CPU has no fast bfloat16 matmuls, so this trains slower "
                     "than float32 here (digits MLP 0.7x, CNN 0.35x); it pays off on GPUs and TPUs")
        self._model, self._optimizer = self._build()
        self._pending = None      # during a fit: the latest epoch's state leaves, written back into the objects on access
        self._gdef, state = nnx.split((self._model, self._optimizer))
        self._treedef = jax.tree.structure(state)   # the compiled functions carry the state as a flat list of arrays
        eval_view = nnx.view(self._model, deterministic=True, use_running_average=True, raise_if_not_found=False)
        self._eval_gdef = nnx.graphdef(eval_view)
        self._device: dict[str, tuple[jax.Array, jax.Array | None]] = {}
        self.head = self._head()
        self.metrics = M.build(self.config.get("metrics") or [], self.head)
        self._lr_path = _find_lr(nnx.state(self.optimizer))
        work = self.batching.size * sum(a.size for a in jax.tree.leaves(nnx.state(self._model, nnx.Param)))
        self.chunked = jax.default_backend() == "cpu" and work >= CHUNK_MIN_WORK   # see CHUNK_MIN_WORK
        self.eval_batch = eval_batch(self.config.get("activation_floats"), free_memory())
        self._compile()
        # strategy "scan": the measured seconds per step, for chunking epochs
        self._step_seconds: float | None = None
        self._warm = False

    # ---- public API ----------------------------------------------------------------------------------
    @property
    def model(self) -> nnx.Module:
        """The nnx model, holding the latest trained state."""
        self._sync()
        return self._model

    @property
    def optimizer(self) -> nnx.Optimizer:
        self._sync()
        return self._optimizer

    def _sync(self) -> None:
        if self._pending is not None:
            nnx.update((self._model, self._optimizer), self._state_of(self._pending))
            self._pending = None

    @property
    def compile_count(self) -> int:
        """How many times any training/eval/predict function was traced (= compiled)."""
        return sum(self.traces.values())

    def fit(self) -> History:
        b = self.batching
        history = History(steps_per_epoch=b.updates, examples_per_epoch=b.examples)
        if b.dropped:
            self.log(f"drop_remainder: each epoch runs {b.steps} batches of {b.size} and leaves out "
                     f"{b.dropped} shuffled examples (a different set every epoch)")
        es = self.config.get("early_stopping") or {}
        stopping = Stopping(self._monitor(es.get("monitor", "val_loss")), es.get("patience"),
                            float(es.get("min_delta", 0.0)))
        history.monitor = stopping.key
        restore_best = bool(es.get("restore_best", False))
        self.best_state, best_pending = None, False
        if self.resume is not None:
            best_pending = self._continue(history, stopping) and restore_best
        self.stopping = stopping
        x, y = self._on_device("train")
        val = self._on_device("val") if "val" in self.splits and self.splits["val"][1] is not None else None
        self.stop_training = False
        for cb in self.callbacks:
            _call(cb, "on_fit_start", self, history)

        state = jax.tree.leaves(nnx.state((self.model, self.optimizer)))
        nonfinite = False
        good = state                 # the state at the end of the last completed epoch (never donated)
        donates = self.strategy == "step"
        last = self.epochs_done + self.epochs
        ahead, run_ahead = None, False   # the next epoch, dispatched before this one's results were read
        start = time.perf_counter()
        try:
            for epoch in range(self.epochs_done + 1, self.epochs_done + self.epochs + 1):
                t0 = time.perf_counter()
                if self.frozen and self.config.get("unfreeze_after") is not None and epoch > self.config["unfreeze_after"]:
                    state, ahead = self._unfreeze(state), None     # an epoch run ahead used the frozen optimizer
                # the state before this epoch: "step" donates `state`, so keep a copy; "scan" leaves it intact
                snapshot = self._copy(state) if donates else state
                good = self._pending = snapshot
                if best_pending:
                    self.best_state, best_pending = snapshot, False
                if ahead is not None:
                    (state, acc), ahead = ahead, None
                else:
                    state, acc = self._run_epoch(state, epoch, x, y)
                both = self._state_of(state) if val or self._lr_path else None
                val_acc = self._evaluate_on(both[0], *val) if val else None
                lr = _leaf(both[1], self._lr_path) if self._lr_path else None
                if run_ahead and epoch < last:
                    # epoch + 1 starts from this epoch's state, which is kept: if training stops here, it is dropped
                    ahead = self._run_epoch(state, epoch + 1, x, y)
                acc, val_acc, lr = jax.device_get((acc, val_acc, lr))   # the epoch's one host sync
                acc = self._unpack(acc)
                if not np.isfinite(acc["loss"]):
                    state, nonfinite = snapshot, True
                    history.stopped_early, history.reason = True, self._nonfinite(acc, epoch)
                    break
                logs = {"epoch": epoch, **self._finalize(acc)}
                if val_acc is not None:
                    logs.update({f"val_{k}": v for k, v in self._finalize(self._unpack(val_acc)).items()})
                if lr is not None:
                    logs["lr"] = float(lr)
                logs["seconds"] = time.perf_counter() - t0
                if self._warm:              # an estimate for chunking the next epochs (not the compiling call)
                    self._step_seconds = logs["seconds"] / b.updates
                self._warm = True
                run_ahead = not donates and logs["seconds"] < AHEAD_BELOW_S
                good = state
                history.epochs.append(logs)
                self.epochs_done = epoch
                self._pending = state
                if stopping.update(logs):
                    history.best_epoch, best_pending = epoch, restore_best
                for cb in self.callbacks:
                    _call(cb, "on_epoch_end", self, epoch, logs)
                if stopping.exhausted:
                    history.stopped_early, history.reason = True, stopping.reason()
                    break
                if self.stop_training:
                    history.stopped_early, history.reason = True, "stopped by a callback"
                    break
            if restore_best and self.best_state is not None and not best_pending and not nonfinite:
                state = self.best_state          # a later epoch than the best one ran: go back to the best
                self.log(f"restored the state of epoch {history.best_epoch} (best {history.monitor})")
        except KeyboardInterrupt:
            state = good
            history.stopped_early, history.interrupted, history.reason = True, True, "interrupted"
        history.seconds = time.perf_counter() - start
        self._pending = state
        self._sync()
        for cb in self.callbacks:
            _call(cb, "on_fit_end", self, history)
        return history

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Loss and metrics of a split in eval mode (dropout off, BatchNorm running statistics)."""
        if split not in self.splits or self.splits[split][1] is None:
            raise ValueError(f"no split {split!r} with targets; have: {', '.join(self.splits)}")
        packed = jax.device_get(self._evaluate_on(nnx.state(self.model), *self._on_device(split)))
        return self._finalize(self._unpack(packed))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Outputs of `program.predict` (output activation applied) in eval mode, in batches."""
        x = np.asarray(x)
        n = len(x)
        size = min(self.eval_batch, 1 << max(n - 1, 0).bit_length())   # power-of-two buckets: few compilations
        model_state = nnx.state(self.model)
        out = []
        for start in range(0, max(n, 1), size):                     # an empty x still gives (0, ...) outputs
            chunk = x[start:start + size]
            pad = size - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
            out.append(self._predict(model_state, jax.device_put(np.array(chunk))))   # no compiled copy
        return np.concatenate([np.asarray(o) for o in jax.device_get(out)])[:n]

    def state(self) -> dict:
        """{"model": ..., "optimizer": ...} as plain nested dicts of arrays, PRNG keys as raw key data."""
        return {"model": to_pure(nnx.state(self.model)), "optimizer": to_pure(nnx.state(self.optimizer))}

    def load_state(self, state: dict) -> None:
        """Restore what `state()` returned (the "optimizer" entry may be left out)."""
        for name, obj in (("model", self.model), ("optimizer", self.optimizer)):
            if name in state:
                template = nnx.state(obj)
                nnx.update(obj, from_pure(template, state[name]))

    def unfreeze(self) -> None:
        """Train the `freeze:` layers too from now on (`unfreeze_after`, or before resuming past it).

        A new optimizer, `make_optimizer(..., frozen=False)`: the optimizer state of the parameters
        trained so far carries over (moments, counts), the unfrozen ones start from a fresh state.
        """
        if not self.frozen:
            return
        old, old_treedef = to_pure(nnx.state(self.optimizer)), self._treedef
        tx = self.program.make_optimizer(self.batching.updates, int(self.config["epochs"]), frozen=False)
        self._optimizer = nnx.Optimizer(self._model, tx, wrt=nnx.Param)
        fresh = to_pure(nnx.state(self._optimizer))
        nnx.update(self._optimizer, from_pure(nnx.state(self._optimizer), carry_over(fresh, old)))
        self._gdef, state = nnx.split((self._model, self._optimizer))
        self._treedef = jax.tree.structure(state)
        self._lr_path = _find_lr(nnx.state(self._optimizer))
        self.frozen = False
        if self.best_state is not None:     # the best epoch's state, in the new optimizer's layout
            best = jax.tree.unflatten(old_treedef, self.best_state)
            opt = from_pure(self._copy(nnx.state(self._optimizer)), carry_over(fresh, to_pure(best[1])))
            self.best_state = jax.tree.leaves(nnx.State({0: best[0], 1: opt}))
        self.log(f"epoch {self.epochs_done + 1}: unfroze {', '.join(self.config.get('freeze') or [])}")

    def _unfreeze(self, state):
        self._pending = state
        self._sync()
        self.unfreeze()
        return jax.tree.leaves(nnx.state((self._model, self._optimizer)))

    def _continue(self, history: History, stopping: Stopping) -> bool:
        """Apply `self.resume` to a starting fit; True when the best epoch is the last completed one."""
        r, self.resume = self.resume, None
        history.epochs, history.best_epoch = [dict(e) for e in r.epochs], r.best_epoch
        stopping.best, stopping.best_epoch, stopping.wait = r.best, r.stopping_epoch, r.wait
        if r.best_state is not None:
            template = self._copy(nnx.state((self.model, self.optimizer)))
            self.best_state = jax.tree.leaves(nnx.State({0: from_pure(template[0], r.best_state["model"]),
                                                         1: from_pure(template[1], r.best_state["optimizer"])}))
        if stopping.exhausted:
            history.stopped_early, history.reason = True, stopping.reason()
        return r.best_state is None and r.best_epoch is not None and r.best_epoch == self.epochs_done

    # ---- compiled functions ------------------------------------------------------------------------
    def _compile(self) -> None:
        b = self.batching
        # the program's XLA:CPU options (codegen.layers.cpu_compiler_options); other backends take none
        self.compiler_options = (self.config.get("cpu_compiler_options") or None) if jax.default_backend() == "cpu" else None
        jit = functools.partial(jax.jit, compiler_options=self.compiler_options)
        self._copy = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))

        seed = self.seed

        def step_key(epoch):
            """The key of this epoch's random steps (augmentation, dropout via train_step's key)."""
            root = jax.random.fold_in(jax.random.key(seed), DATA_STREAM)
            return jax.random.fold_in(jax.random.fold_in(root, epoch), 1)

        def train_on(leaves, acc, i, rows, x, y, key):
            self.traces["train_step"] += 1
            model, optimizer = nnx.merge(self._gdef, self._state_of(leaves))
            xb, yb = x[rows], y[rows]
            loss, outputs = self.program.train_step(model, optimizer, xb, yb, jax.random.fold_in(key, i))
            leaves, treedef = jax.tree.flatten(nnx.state((model, optimizer)))
            assert treedef == self._treedef, "train_step changed the structure of the model or optimizer state"
            return leaves, self._accumulate(acc, loss, outputs, yb, i)

        if self.strategy == "scan":
            def epoch_fn(state, acc, epoch, x, y, idx, lo, hi, rest):
                """Steps lo..hi-1 of an epoch as one loop (then the remainder batch, if any, when hi is the
                last step), adding to the accumulators `acc` (fresh ones when None). With traced (lo, hi)
                one compilation serves any range; with Python ints the loop is a scan of known length."""
                self.traces["train_epoch"] += 1
                acc = self._zero() if acc is None else acc
                key = step_key(epoch)
                order = carry_order(self._treedef)
                inverse = np.argsort(order)

                def body(i, carry):
                    rows = jax.lax.dynamic_index_in_dim(idx, i, keepdims=False)
                    leaves, acc = train_on([carry[0][j] for j in inverse], carry[1], i, rows, x, y, key)
                    return [leaves[k] for k in order], acc
                carry, acc = jax.lax.fori_loop(lo, hi, body, ([state[k] for k in order], acc))
                state = [carry[j] for j in inverse]
                if rest is not None:
                    last = lambda s, a: train_on(s, a, b.steps, rest[0], x, y, key)  # noqa: E731
                    if isinstance(hi, int):
                        state, acc = last(state, acc) if hi == b.steps else (state, acc)
                    else:
                        state, acc = jax.lax.cond(hi == b.steps, last, lambda s, a: (s, a), state, acc)
                return state, acc, self._pack(acc)
            # not donated: see fit(); (lo, hi) traced for chunked epochs, static (a scan) otherwise
            self._epoch_fn = jit(epoch_fn) if self.chunked else jit(epoch_fn, static_argnums=(6, 7))
        else:
            def step_fn(state, acc, i, idx, x, y, epoch):
                # idx is (steps, size) for the full batches, (1, r) for the remainder: row i mod rows
                rows = jax.lax.dynamic_index_in_dim(idx, i % idx.shape[0], keepdims=False)
                state, acc = train_on(state, acc, i, rows, x, y, step_key(epoch))
                return state, acc, i + 1
            self._step = jit(step_fn, donate_argnums=(0, 1))

        def eval_fn(model_state, acc, x, y):
            self.traces["eval"] += 1
            model = nnx.merge(self._eval_gdef, model_state)
            loss, outputs = self.program.eval_step(model, x, y)
            acc = self._accumulate(acc, loss, outputs, y, 0)
            return acc, self._pack(acc)

        def predict_fn(model_state, x):
            self.traces["predict"] += 1
            return self.program.predict(nnx.merge(self._eval_gdef, model_state), x)
        self._eval = jit(eval_fn, donate_argnums=1)
        self._predict = jit(predict_fn)

    def _order(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """This epoch's batches as row indices: (steps, size) full batches and the (1, r) remainder or None.

        A permutation of the train split drawn on the host from (seed, epoch): a few microseconds of
        numpy, and it keeps the threefry + sort of an on-device permutation out of the compiled epoch.
        """
        b = self.batching
        n = b.size * b.steps + b.remainder + b.dropped
        key = (self.seed % 2**64) << 64 | DATA_STREAM << 32 | epoch % 2**32   # Philox keyed by (seed, epoch)
        perm = np.random.Generator(np.random.Philox(key=key)).permutation(n).astype(np.int32)
        idx = perm[:b.size * b.steps].reshape(b.steps, b.size)
        rest = perm[b.size * b.steps:][None, :b.remainder] if b.remainder else None
        return idx, rest

    def _run_epoch(self, state, epoch: int, x, y):
        idx, rest = self._order(epoch)
        if self.strategy == "scan":
            return self._run_chunks(state, epoch, x, y, idx, rest)
        acc, i = self._zero(), np.zeros((), np.int32)
        idx, rest = jax.device_put((idx, rest))          # once per epoch, not with every step
        key = jnp.asarray(epoch, jnp.int32)
        steps = self.batching.updates
        hooks = [cb for cb in self.callbacks if hasattr(cb, "on_step_end")]
        for s in range(self.batching.steps):
            state, acc, i = self._step(state, acc, i, idx, x, y, key)
            for cb in hooks:
                cb.on_step_end(self, epoch, s + 1, steps)
        if rest is not None:
            state, acc, i = self._step(state, acc, i, rest, x, y, key)
        return state, acc

    def _run_chunks(self, state, epoch: int, x, y, idx, rest):
        """An epoch of strategy "scan": one call of the compiled loop, or, for chunked programs when
        callbacks watch steps (`on_step_end`: progress, timing), chunks of about CHUNK_S seconds with the
        hooks called between them. The first call of a trainer is then one step (its result is the first
        feedback: compilation plus one step, not a whole epoch), then chunks double until a step's time
        is known."""
        steps, hooks = self.batching.steps, [cb for cb in self.callbacks if hasattr(cb, "on_step_end")]
        if not self.chunked:
            state, _, packed = self._epoch_fn(state, None, epoch, x, y, idx, 0, steps, rest)
            return state, packed
        acc, lo = self._zero(), 0
        size = steps if not hooks else 1 if self._step_seconds is None else max(1, round(CHUNK_S / self._step_seconds))
        while True:
            hi = min(steps, lo + size)
            t0 = time.perf_counter()
            state, acc, packed = self._epoch_fn(state, acc, epoch, x, y, idx, lo, hi, rest)
            if hi == steps:
                return state, packed
            jax.block_until_ready(acc["count"])
            if self._warm:            # the first call of all holds the compilation: no step time from it
                self._step_seconds = (time.perf_counter() - t0) / (hi - lo)
            self._warm = True
            for cb in hooks:
                cb.on_step_end(self, epoch, hi, self.batching.updates)
            lo = hi
            size = size * 2 if self._step_seconds is None else max(1, round(CHUNK_S / self._step_seconds))

    def _evaluate_on(self, model_state, x, y):
        """The eval accumulators of a split, packed (`_unpack` them once fetched)."""
        acc, size = self._zero(), self.eval_batch
        if len(x) <= size:
            return self._eval(model_state, acc, x, y)[1]
        for start in range(0, len(x), size):             # full chunks, then one smaller chunk
            acc, packed = self._eval(model_state, acc, x[start:start + size], y[start:start + size])
        return packed

    # ---- accumulators --------------------------------------------------------------------------------
    def _zero(self) -> dict:
        """Fresh accumulators, made on the host (numpy): no compilation, a few bytes to transfer."""
        return {"loss": np.zeros((), np.float32), "count": np.zeros((), np.int32),
                "first_bad": np.full((), -1, np.int32), "metrics": [m.init() for m in self.metrics]}

    def _accumulate(self, acc, loss, outputs, y, i) -> dict:
        n = y.shape[0]
        bad = (acc["first_bad"] < 0) & ~jnp.isfinite(loss)
        return {"loss": acc["loss"] + loss.astype(jnp.float32) * n, "count": acc["count"] + n,
                "first_bad": jnp.where(bad, i, acc["first_bad"]),
                "metrics": [m.update(a, outputs, y) for m, a in zip(self.metrics, acc["metrics"])]}

    def _pack(self, acc) -> jax.Array:
        """Inside a jitted function: the accumulators as one int32 vector (see metrics.pack)."""
        return M.pack(acc)

    def _unpack(self, fetched):
        """Accumulators on the host from a fetched `_pack` vector (strategy "step" fetches the dict itself)."""
        return fetched if isinstance(fetched, dict) else M.unpack(fetched, self._zero())

    def _finalize(self, acc) -> dict[str, float]:
        logs = {"loss": float(acc["loss"]) / max(int(acc["count"]), 1)}
        for m, a in zip(self.metrics, acc["metrics"]):
            logs[m.key] = m.finalize(a)
        return logs

    # ---- helpers -----------------------------------------------------------------------------------------
    def _state_of(self, leaves: list) -> nnx.State:
        """The (model, optimizer) state from the flat list of arrays the compiled functions carry."""
        return jax.tree.unflatten(self._treedef, leaves)

    def _build(self) -> tuple[nnx.Module, nnx.Optimizer]:
        """`program.make_model(seed)` and its optimizer, built by one jitted function.

        Built eagerly, every initializer op is compiled on its own (a dozen small XLA compilations,
        ~1 s for an MLP); inside one jit it is one compilation, at a low optimisation level because
        it runs once (~0.3 s). The values are those of eager construction (same keys, same ops).
        """
        program, seed = self.program, self.seed
        tx = program.make_optimizer(self.batching.updates, self.epochs)

        def build():
            model = program.make_model(seed)
            return model, nnx.Optimizer(model, tx, wrt=nnx.Param)
        graphdef = nnx.graphdef(nnx.eval_shape(build))
        options = INIT_COMPILER_OPTIONS if jax.default_backend() == "cpu" else None
        state = jax.jit(lambda: nnx.state(build()), compiler_options=options)()
        return nnx.merge(graphdef, state)

    def _on_device(self, split: str):
        """The split as device arrays, moved once and cached."""
        if split not in self._device:
            x, y = self.splits[split]
            # a private host copy, then device_put (which may alias it on CPU): no compiled copy like jnp.asarray's
            put = lambda a: jax.device_put(np.array(a))      # noqa: E731
            self._device[split] = (put(x), None if y is None else put(y))
        return self._device[split]

    def _head(self) -> M.Head:
        x, y = self.splits["train"]
        spec = jax.eval_shape(lambda s, x: nnx.merge(self._eval_gdef, s)(x), nnx.state(self.model),
                              jax.ShapeDtypeStruct((1, *x.shape[1:]), jax.dtypes.canonicalize_dtype(x.dtype)))
        units = spec.shape[-1] if spec.shape else 1
        task = self.config.get("task", "classification")
        return M.Head(task, int(units), logits=self.config.get("output_activation") is not None)

    def _monitor(self, monitor: str) -> str:
        has_val = "val" in self.splits and self.splits["val"][1] is not None
        keys = ["loss"] + [m.key for m in self.metrics]
        if monitor.startswith("val_") and not has_val:
            self.log(f"no validation split: monitoring {monitor[4:]!r} instead of {monitor!r}")
            monitor = monitor[4:]
        known = keys + ([f"val_{k}" for k in keys] if has_val else [])
        if monitor not in known:
            raise ValueError(f"cannot monitor {monitor!r}: the history has {', '.join(known)}")
        return monitor

    def _nonfinite(self, acc, epoch: int) -> str:
        step = int(acc["first_bad"])
        where = f"epoch {epoch}" + (f", step {step + 1} of {self.batching.updates}" if step >= 0 else "")
        kept = f"the end of epoch {epoch - 1}" if epoch > 1 else "before training (the initial parameters)"
        return (f"the training loss became non-finite ({'nan' if np.isnan(acc['loss']) else 'inf'}) in {where}; "
                f"stopped and kept the parameters from {kept}. Try a lower learning rate, gradient "
                f"clipping (clip_norm), or check that the data is normalised")


def free_memory() -> int | None:
    """Bytes free on the default device (its allocator's limit minus use), or the host's free memory on
    CPU; None when neither is known."""
    stats = jax.local_devices()[0].memory_stats()
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def eval_batch(activation_floats: int | None, free: int | None) -> int:
    """Examples per evaluation/prediction batch: as many as fit in EVAL_MEMORY_SHARE of the free memory
    (float32 activations, doubled for XLA's temporaries), at least MIN_EVAL_BATCH; EVAL_BATCH when the
    program or the memory is unknown."""
    if not activation_floats or not free:
        return EVAL_BATCH
    return max(MIN_EVAL_BATCH, int(free * EVAL_MEMORY_SHARE) // (activation_floats * 4 * 2))


def carry_over(fresh: dict, old: dict) -> dict:
    """`fresh` with every leaf that `old` has at the same path, shape and dtype taken from `old`."""
    have = {jax.tree_util.keystr(p): a for p, a in jax.tree_util.tree_flatten_with_path(old)[0]}

    def pick(path, a):
        b = have.get(jax.tree_util.keystr(path))
        return b if b is not None and np.shape(b) == np.shape(a) and b.dtype == a.dtype else a
    return jax.tree_util.tree_map_with_path(pick, fresh)


def carry_order(treedef) -> list[int]:
    """The order of the state's arrays in the scan carry: nnx's order, but each layer's `kernel` before
    its other parameters (bias), as hand-written JAX has them.

    The order of a while loop's tuple changes how XLA:CPU schedules the loop body: measured on the
    digits MLP (W1), an epoch takes 6.4-6.6 ms with kernels first and 7.0-7.1 ms in nnx's (alphabetical,
    bias first) order; sorting by size instead (largest first) took 8.0 ms.
    """
    numbered = jax.tree.unflatten(treedef, list(range(treedef.num_leaves)))
    groups: list[tuple[str | None, list[tuple[bool, int]]]] = []
    for path, i in jax.tree_util.tree_flatten_with_path(numbered)[0]:
        m = re.match(r"(.*)\['([^'\]]*)'\](\.value)?$", jax.tree_util.keystr(path))
        parent, kernel = (m.group(1), m.group(2) == "kernel") if m else (None, False)
        if not groups or parent is None or groups[-1][0] != parent:
            groups.append((parent, []))
        groups[-1][1].append((not kernel, i))
    return [i for _, members in groups for _, i in sorted(members, key=lambda m: m[0])]


def _call(cb, name: str, *args) -> None:
    hook = getattr(cb, name, None)
    if hook is not None:
        hook(*args)


def _find_lr(opt_state: nnx.State) -> tuple | None:
    """Path of a learning rate held as state (optax.inject_hyperparams), if the optimizer has one."""
    for path, _ in nnx.to_flat_state(opt_state):
        if len(path) >= 2 and path[-2:] == ("hyperparams", "learning_rate"):
            return tuple(path)
    return None


def _leaf(state: nnx.State, path: tuple):
    node = state
    for key in path:
        node = node[key]
    return node[...] if isinstance(node, nnx.Variable) else node
