"""One epoch of training with a trainer's compiled functions (runtime.compiled).

strategy "scan": calls of the compiled loop over the epoch's batches, cut by the shared scheduler
(runtime.chunking: one call, or chunks of about `chunk_s` seconds when callbacks watch steps).
strategy "step": one call per batch, the hooks after each.
With a fused program (runtime.blocks): `block` runs several epochs in one call.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .batches import epoch_order
from .blocks import Block
from .chunking import ChunkScheduler
from .compiled import Compiled


class Epochs(ChunkScheduler):
    """Runs the epochs of one trainer; `step_seconds`: the measured time of a step (for chunks)."""

    def __init__(self, fns: Compiled):
        super().__init__(fns.batching.steps, fns.batching.updates, fns.chunked)
        self.fns, self.acc, self.batching = fns, fns.acc, fns.batching
        self.seed, self.strategy = fns.seed, fns.strategy

    def run(self, state, epoch: int, x, y, hooks: list, trainer, chunk_s: float, donate=False):
        """Train epoch `epoch` from `state`: (state, accumulators), both still on the device (packed
        for strategy "scan"). `hooks` get `on_step_end(trainer, epoch, step, steps)`. `donate`:
        through `fns.epoch_donated` (`state` is consumed)."""
        idx, rest = epoch_order(self.batching, self.seed, epoch)
        if self.strategy == "scan":
            # (a whole epoch of static bounds makes its accumulators inside the compiled loop)
            acc = self.acc.zero() if self.chunked else None
            fn = self.fns.epoch_donated if donate else self.fns.epoch
            assert fn is not None
            call = lambda c, lo, hi: fn(c[0], c[1], epoch, x, y, idx, lo, hi, rest)
            ready = lambda c: c[1]["count"]
            state, _, packed = self.chunks(
                (state, acc, None), call, ready, hooks, trainer, epoch, chunk_s
            )
            return state, packed
        self.start()
        acc, i = self.acc.zero(), np.zeros((), np.int32)
        idx, rest = jax.device_put((idx, rest))  # once per epoch, not with every step
        key = jnp.asarray(epoch, jnp.int32)
        steps = self.batching.updates
        for s in range(self.batching.steps):
            state, acc, i = self.fns.step(state, acc, i, idx, x, y, key)
            for cb in hooks:
                cb.on_step_end(trainer, epoch, s + 1, steps)
        if rest is not None:
            state, acc, i = self.fns.step(state, acc, i, rest, x, y, key)
        return state, acc

    def block(self, state, first: int, n: int, x, y) -> Block:
        """Epochs first..first+n-1 from `state` in one call of the fused program (`fns.epochs`):
        the epochs' batches drawn on the host as for single epochs, stacked."""
        b, fuse = self.batching, self.fns.fuse
        idx = np.zeros((fuse, b.steps, b.size), np.int32)
        rest = np.zeros((fuse, 1, b.remainder), np.int32) if b.remainder else None
        for k in range(n):
            idx[k], r = epoch_order(b, self.seed, first + k)
            if rest is not None and r is not None:
                rest[k] = r
        self.start()
        new, accs, rates = self.fns.epochs(state, first, n, x, y, idx, rest)

        def rerun(start, epoch: int, m: int) -> list:
            return self.block(start, epoch, m, x, y).state

        return Block(state, first, n, new, accs, rates, rerun)
