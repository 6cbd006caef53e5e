"""The fit of a Trainer (runtime/loop.py): its epoch loop and the parts of it.

One block of epochs after another from the trainer's state: a block is one epoch through the
trainer's `_run_epoch` (runtime.epochs), or, for tiny epochs of long fits without validation,
several epochs in one call of the fused program, replayed one by one (runtime.blocks); it runs, or
was dispatched the block before (epochs shorter than `ahead_below` run one ahead, see
loop.AHEAD_BELOW_S); then its validation, its one host sync and, per epoch, the non-finite check,
its logs, plateau, early stopping and restore-best (runtime.stopping), callbacks (runtime.history).
`FitLoop` is a mixin of Trainer (and so of runtime.population.Population): the attributes it
reads are declared below, set by Trainer's constructor.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, Literal

import jax
import numpy as np
from flax import nnx

from ..runconfig import RunConfig
from . import autotune, blocks, donating, jaxcache
from . import metrics as M
from .batches import Batching
from .compiled import Accumulators
from .epochs import Epochs
from .freeze import Freeze
from .history import History, Resume, StopReason, nonfinite_reason, notify
from .plateau import Plateau, rate_leaves, with_rate
from .sampleweight import Weighted
from .state import PlainState, from_pure
from .stopping import BestState, Stopping, resolve_monitor
from .trees import each, fetch


class FitLoop(PlainState):
    """A trainer's `_fit` and the parts of it (the construction is Trainer's)."""

    batching: Batching
    callbacks: list[Any]
    config: RunConfig
    epochs: int
    epochs_done: int
    eval_batch: int
    freeze: Freeze
    log: Callable[[str], None]
    metrics: list[M.Metric]
    plateau: Plateau | None
    splits: dict[str, tuple[Any, Any]]
    stop_training: bool
    stopping: Stopping | None
    strategy: Literal["scan", "step"]
    _acc: Accumulators
    _device: dict[tuple[str, bool], tuple]
    _epochs: Epochs
    _lr_leaf: int | None
    _lr_path: tuple | None
    _model: nnx.Module
    _optimizer: nnx.Optimizer
    _pending: list | None
    sample_weights: dict[str, np.ndarray]  # each split's example weights (runtime.sampleweight)
    _resume: Resume | None
    _donating = False  # a fit is donating its state to its epochs (runtime.donating)

    def unfreeze(self) -> None:  # Trainer's
        raise NotImplementedError

    def _run_epoch(self, state, epoch: int, x, y, donate: bool = False):  # Trainer's (epochs.py)
        raise NotImplementedError

    def _fit(self, ahead_below: float) -> History:
        """Train `epochs` epochs from the trainer's state (see Trainer.fit)."""
        history = self._start()
        x, y = self._on_device("train", gathered=True)
        autotune.tune(self, x, y)  # the first fit: a measured or recorded choice of strategy
        has_val = "val" in self.splits and self.splits["val"][1] is not None
        val = self._on_device("val") if has_val else None
        notify(self.callbacks, "on_fit_start", self, history)
        stopping, best = self.stopping, self.best
        assert stopping is not None
        state = self._fns.place(jax.tree.leaves(nnx.state((self.model, self.optimizer))))
        nonfinite = False
        good = state  # the state at the end of the last completed epoch (never donated)
        donates = self.strategy == "step"
        last = self.epochs_done + self.epochs
        # several epochs per call (runtime.blocks) unless validation needs each epoch's state
        fused = self._fns.fuse > 1 and val is None and blocks.worth(self.epochs, jaxcache.active())
        cap = self._fns.fuse if fused else 1  # the most epochs of a block
        readers = [cb.reads_state for cb in self.callbacks if hasattr(cb, "reads_state")]
        ends = lambda e: self.freeze.due(e + 1) or any(reads(e) for reads in readers)
        epoch_s = None  # a measured epoch's seconds: the size of the blocks
        # (a block ends where the plateau rule may lower the rate: no epochs run at the old one)
        most = lambda: cap if self.plateau is None else min(cap, self.plateau.calm() + 1)
        size = lambda first: blocks.size(most(), epoch_s, first, last, ends)
        ahead, run_ahead = None, False  # the next block, dispatched before this one's results
        cpu = jax.default_backend() == "cpu"  # (how results are fetched: trees.fetch)
        # tiny epochs on a CPU consume their input state (runtime.donating)
        self._donating = dons = (
            cpu
            and not fused
            and not donates
            and not best.enabled
            and not readers
            and self._fns.epoch_donated is not None
            and donating.wanted()
        )
        anchor = donating.Anchor(self._fns.copy, lambda s, e: self._run_epoch(s, e, x, y, True)[0])
        # (an array twice in the state cannot be donated twice: such a state is copied)
        own = (lambda s: donating.distinct(s, self._fns.copy)) if dons else (lambda s: s)
        state = own(state)
        epoch = self.epochs_done + 1
        start = time.perf_counter()
        try:
            while epoch <= last:
                t0 = time.perf_counter()
                if self.freeze.due(epoch):
                    # (a block run ahead used the frozen optimizer)
                    state, ahead = own(self._unfreeze(state)), None
                    anchor.drop()
                # the state before this epoch: "step" donates `state`, so keep a copy
                snapshot = self._fns.copy(state) if donates else state
                good = self._pending = snapshot
                if dons:
                    anchor.keep(epoch - 1, state)
                if ahead is not None:
                    block, ahead = ahead, None
                else:
                    block = self._run_block(state, epoch, size(epoch), x, y, fused, dons)
                    block.start = snapshot
                val_acc = None
                if val is not None:
                    model_state = self._layout.unflatten(block.state)[0]
                    val_acc = self._fns.evaluate(model_state, val[0], val[1], self.eval_batch)
                following = epoch + block.n
                if run_ahead and following <= last:
                    # it starts from this block's state, which is kept (the rollback point)
                    ahead = self._run_block(block.state, following, size(following), x, y, fused)
                # the block's one host sync
                accs, val_acc, rates = fetch((block.accs, val_acc, block.rates), cpu)
                seconds = (time.perf_counter() - t0) / block.n
                measured = not self._epochs.compiling
                stop = truncated = False
                for k in range(block.n):  # the block's epochs, replayed
                    epoch = block.first + k
                    if best.pending:  # (the state before this epoch, when it is the best one)
                        best.epoch_start(block.after(k - 1))
                    acc, lr = accs, rates  # an unfused epoch's, or row k of the block's
                    if block.rerun is not None:
                        acc, lr = accs[k], None if rates is None else rates[k]
                    acc = self._acc.unpack(acc)
                    if not np.isfinite(acc["loss"]):
                        before = anchor.state_at(epoch - 1) if dons else block.after(k - 1)
                        state, nonfinite, stop = before, True, True
                        reason = nonfinite_reason(acc, epoch, self.batching.updates)
                        history.stopped(StopReason.NONFINITE, reason)
                        break
                    logs = self._logs(epoch, acc, val_acc, lr, seconds)
                    # a rate lowered at this epoch's end must reach the next epoch: no run-ahead
                    run_ahead = not (donates or dons) and logs["seconds"] < ahead_below
                    run_ahead = run_ahead and not self.plateau
                    state = block.after(k)
                    if self.plateau is not None and (new := self.plateau.update(logs, logs["lr"])):
                        leaves = rate_leaves(self._layout.treedef)
                        state = with_rate(blocks.concrete(state), leaves, new)
                        self.log(f"epoch {epoch}: {self.plateau.reason(logs['lr'], new)}")
                        truncated = k < block.n - 1  # the block's later epochs ran at the old rate
                        anchor.drop()
                    good = state
                    history.epochs.append(logs)
                    self.epochs_done = epoch
                    self._pending = state
                    if stopping.update(logs):
                        history.best_epoch = epoch
                        best.improved()
                    reruns = block.reruns
                    notify(self.callbacks, "on_epoch_end", self, epoch, logs)
                    if block.reruns > reruns:  # a callback read the model inside a block:
                        cap = 1  # one epoch per call from now on
                    if stopping.exhausted:
                        history.stopped(StopReason.EARLY_STOPPING, stopping.reason())
                        stop = True
                        break
                    if self.stop_training:
                        history.stopped(StopReason.CALLBACK, "stopped by a callback")
                        stop = True
                        break
                    if truncated:
                        break
                if stop:
                    break
                if measured:
                    epoch_s = seconds
                if truncated or (ahead is not None and ahead.n > cap):
                    ahead = None
                epoch += 1
            restored = None if nonfinite else best.final()
            if restored is not None:  # a later epoch than the best one ran: go back to the best
                state = restored
                self.log(
                    f"restored the state of epoch {history.best_epoch} (best {history.monitor})"
                )
        except KeyboardInterrupt:
            # (a donating fit interrupted while an epoch ran: its input is gone)
            lost = dons and donating.deleted(good)
            state = anchor.state_at(self.epochs_done) if lost else good
            history.stopped(StopReason.INTERRUPTED, "interrupted")
        finally:
            self._donating = False
        history.seconds = time.perf_counter() - start
        self._pending = state
        self._sync()
        notify(self.callbacks, "on_fit_end", self, history)
        return history

    def _run_block(self, state, first, n, x, y, fused: bool, donate=False) -> blocks.Block:
        """Epochs first..first+n-1 from `state`: one call of the fused program, or (n = 1) the
        trainer's epoch (runtime.epochs; its rate read from the state it ends with; `donate`:
        consuming `state`)."""
        if fused:
            return self._epochs.block(state, first, n, x, y)
        new, acc = self._run_epoch(state, first, x, y, donate)
        # (read from the flat state: rebuilding the nnx.State costs tiny epochs ~20%)
        lr = None if self._lr_leaf is None else new[self._lr_leaf]
        return blocks.Block(state, first, 1, new, acc, lr)

    # ---- a fit's parts ---------------------------------------------------------------------------
    def _start(self) -> History:
        """A fit's history, early-stopping and restore-best states, continuing a resume if any."""
        b = self.batching
        history = History(steps_per_epoch=b.updates, examples_per_epoch=b.examples)
        if b.dropped:
            self.log(
                f"drop_remainder: each epoch runs {b.steps} batches of {b.size} and leaves out "
                f"{b.dropped} shuffled examples (a different set every epoch)"
            )
        es = self.config.early_stopping
        self.stopping = stopping = Stopping.for_config(es, self._monitor)
        history.monitor = stopping.key
        self.plateau = Plateau.for_config(self.config.plateau, self._monitor, self._lr_path)
        self.best = BestState(enabled=es is not None and es.restore_best)
        self.stop_training = False
        r, self._resume = self._resume, None
        if r is None:
            return history
        history.epochs, history.best_epoch = [dict(e) for e in r.epochs], r.best_epoch
        stopping.resume(r.stopping)
        if self.plateau is not None:
            self.plateau.resume(r.plateau)
        leaves = None
        if r.best_state is not None:
            both = self._fns.copy(nnx.state((self.model, self.optimizer)))
            leaves = jax.tree.leaves(
                nnx.State(
                    {
                        0: from_pure(both[0], r.best_state["model"]),
                        1: from_pure(both[1], r.best_state["optimizer"]),
                    }
                )
            )
        latest = (
            r.best_state is None and r.best_epoch is not None and r.best_epoch == self.epochs_done
        )
        self.best.start(leaves, latest)
        if stopping.exhausted:
            history.stopped(StopReason.EARLY_STOPPING, stopping.reason())
        return history

    def _logs(self, epoch: int, acc: dict, val_acc, lr, seconds: float) -> dict:
        """An epoch's history entry; its time also sizes the chunks of the next epochs."""
        logs = {"epoch": epoch, **self._acc.finalize(acc)}
        if val_acc is not None:
            val = self._acc.finalize(self._acc.unpack(val_acc))
            logs.update({f"val_{k}": v for k, v in val.items()})
        if lr is not None:
            logs["lr"] = float(lr)
        logs["seconds"] = seconds
        self._epochs.timed(logs["seconds"])
        return logs

    def _unfreeze(self, state):
        self._pending = state
        self._sync()
        self.unfreeze()
        return jax.tree.leaves(nnx.state((self._model, self._optimizer)))

    def _sync(self) -> None:
        if self._pending is not None:
            leaves = blocks.concrete(self._pending)
            if self._donating:  # (the fit donates these arrays to its next epoch: the model's
                leaves = self._fns.copy(leaves)  # are copies)
            nnx.update((self._model, self._optimizer), self._layout.unflatten(leaves))
            self._pending = None

    def _on_device(self, split: str, gathered: bool = False):
        """The split as device arrays, moved once and cached. `gathered`: read only through batch
        indices (the training split), which lets a multi-host run pad its rows."""
        key = (split, gathered and self.placement is not None and self.placement.row_splits)
        weights = self.sample_weights.get(split)  # the targets with their weights, if any
        if key not in self._device:
            x, y = self.splits[split]
            # a private host copy, then device_put (which may alias it on CPU): no compiled copy
            # like jnp.asarray's
            put = lambda a: jax.device_put(np.array(a))
            if self.placement is not None:  # replicated on the mesh, or rows per device
                put = functools.partial(self.placement.place_split, gathered=key[1])
            ys = None if y is None else each(put, y)
            self._device[key] = (
                each(put, x),
                ys if weights is None else Weighted(ys, put(weights)),
            )
        return self._device[key]

    def _monitor(self, monitor: str) -> str:
        has_val = "val" in self.splits and self.splits["val"][1] is not None
        keys = ["loss"] + [m.key for m in self.metrics]
        return resolve_monitor(monitor, keys, has_val, self.log)
