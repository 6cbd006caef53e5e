"""The compiled functions of a GanTrainer (runtime/gan.py) and how an epoch runs with them.

`epoch(leaves, sums, epoch, data, lo, hi)` runs steps lo..hi-1 of epoch `epoch` as one loop over the
flat state of (generator, discriminator, their optimizers), each step one discriminator update then
one generator update (the emitted `train_step`), and adds the steps' (d_loss, g_loss) to `sums`.
The epoch's order and noise keys are drawn on the device from (seed, epoch), so any cut of an epoch
into ranges computes the same steps. As in the supervised trainer (the same rule): on a CPU, a
step with at least CHUNK_MIN_WORK of work compiles with traced bounds (one compilation for any
range) and, when callbacks watch steps (`on_step_end`: progress), an epoch runs in chunks of about
CHUNK_S seconds with the hooks called between them, cut by the scheduler the supervised trainer
uses (runtime/chunking.py); otherwise the bounds are static and the loop is a scan of known length,
one call per epoch.

Several devices (runtime/devices.py): the data is replicated on the mesh, each step's batch split
over it along its first dimension, the state kept replicated; GSPMD inserts the all-reduces.
"""

from __future__ import annotations

import collections
import functools
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .batches import Batching
from .chunking import ChunkScheduler
from .devices import Placement
from .state import carry_order


class GanCompiled:
    """The jitted epoch and sample generation of a GAN program, each compiled once (`traces`)."""

    def __init__(
        self,
        program: ModuleType,
        gdef: nnx.GraphDef,
        treedef,
        g_gdef: nnx.GraphDef,
        batching: Batching,
        *,
        root: jax.Array,
        chunked: bool,
        compiler_options: dict | None,
        traces: collections.Counter,
        placement: Placement | None,
    ):
        self.placement, self.chunked = placement, chunked
        size, steps = batching.size, batching.steps
        order = carry_order(treedef)  # kernels before biases in the loop carry
        inverse = [int(i) for i in np.argsort(order)]
        split = placement.constrain_batch if placement is not None else lambda t: t
        keep = placement.constrain_state if placement is not None else lambda t: t
        jit = functools.partial(jax.jit, compiler_options=compiler_options)

        def epoch_fn(leaves, sums, epoch, data, lo, hi):
            traces["epoch"] += 1
            key = jax.random.fold_in(root, epoch)
            n = data[0].shape[0]
            rows = jax.random.permutation(key, n)[: steps * size].reshape(steps, size)
            keys = jax.random.split(jax.random.fold_in(key, 1), steps)

            def body(i, carry):
                flat, sums = carry
                state = jax.tree.unflatten(treedef, [flat[j] for j in inverse])
                g, d, go, do = nnx.merge(gdef, state)
                r = jax.lax.dynamic_index_in_dim(rows, i, keepdims=False)
                batch = split([a[r] for a in data])  # (x,) or, conditional, (x, y)
                k = jax.lax.dynamic_index_in_dim(keys, i, keepdims=False)
                d_loss, g_loss = program.train_step(g, d, go, do, *batch, k)
                out = keep(jax.tree.leaves(nnx.state((g, d, go, do))))
                losses = jnp.stack([d_loss, g_loss]).astype(jnp.float32)
                return [out[j] for j in order], sums + losses

            flat, sums = jax.lax.fori_loop(lo, hi, body, ([leaves[j] for j in order], sums))
            return [flat[j] for j in inverse], sums

        # not donated: the epoch's input stays valid, the rollback point for a non-finite loss
        self.epoch = jit(epoch_fn) if chunked else jit(epoch_fn, static_argnums=(4, 5))

        def generate_fn(g_state, key, n, labels):
            traces["generate"] += 1
            g = nnx.merge(g_gdef, g_state)
            g.eval()
            if labels is None:
                return program.generate(g, key, n)
            return program.generate(g, key, n, labels)

        self.generate = jit(generate_fn, static_argnums=2)

    def place_state(self, leaves):
        """The state's arrays (a list, or a tree) on the mesh (a no-op on one device, and for
        arrays already there)."""
        return leaves if self.placement is None else self.placement.place_state(leaves)

    def place_data(self, arrays: tuple) -> tuple:
        """A split's arrays on the device, once: replicated on the mesh with several devices."""
        if self.placement is None:
            return tuple(jax.device_put(np.array(a)) for a in arrays)  # a private host copy
        return tuple(self.placement.place_data(np.array(a)) for a in arrays)


class GanEpochs(ChunkScheduler):
    """Runs the epochs of one GanTrainer; `step_seconds`: the measured time of a step (chunks)."""

    def __init__(self, fns: GanCompiled, steps: int):
        super().__init__(steps, steps, fns.chunked)
        self.fns = fns

    def run(self, state: list, epoch: int, data: tuple, hooks: list, trainer, chunk_s: float):
        """Train epoch `epoch` from `state`: (state, (d_loss, g_loss) sums), still on the device.
        `hooks` get `on_step_end(trainer, epoch, step, steps)` between chunks."""
        call = lambda c, lo, hi: self.fns.epoch(c[0], c[1], epoch, data, lo, hi)
        sums = np.zeros(2, np.float32)
        return self.chunks((state, sums), call, lambda c: c[1], hooks, trainer, epoch, chunk_s)
