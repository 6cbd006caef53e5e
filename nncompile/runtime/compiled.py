"""The compiled functions of a Trainer (epoch or step, eval, predict), the accumulators they fill,
and the size of evaluation batches. See runtime/loop.py for how a fit uses them."""

from __future__ import annotations

import collections
import functools
import os
from dataclasses import dataclass
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from . import metrics as M
from . import shards as logical
from .batches import DATA_STREAM, Batching
from .devices import Placement
from .plateau import rate_leaves
from .sampleweight import Weighted, unpack
from .state import carry_order
from .trees import concat, each, rows, take

# Building the model runs once: compile it for speed of compilation (XLA:CPU at -O0: 0.3 s, not 0.7)
INIT_COMPILER_OPTIONS = {
    "xla_backend_optimization_level": 0,
    "xla_llvm_disable_expensive_passes": True,
}
# Evaluation/prediction batch of programs that do not state CONFIG["activation_floats"]
EVAL_BATCH = 8192
# Otherwise: the whole split up to the batch whose activations (x 2 for XLA's temporaries) take this
# share of the free device memory (host memory on CPU), and at least MIN_EVAL_BATCH examples
EVAL_MEMORY_SHARE = 0.25
MIN_EVAL_BATCH = 256


@dataclass
class Layout:
    """The split state of (model, optimizer): graph definitions and the structure of the flat list
    of arrays the compiled functions carry. Unfreezing (a new optimizer) changes gdef, treedef."""

    gdef: nnx.GraphDef
    treedef: jax.tree_util.PyTreeDef
    eval_gdef: nnx.GraphDef  # the model's eval view: dropout off, BatchNorm running statistics

    def unflatten(self, leaves: list) -> nnx.State:
        """The (model, optimizer) state from the flat list of arrays."""
        return jax.tree.unflatten(self.treedef, leaves)

    @classmethod
    def of(cls, model: nnx.Module, optimizer: nnx.Optimizer) -> Layout:
        gdef, state = nnx.split((model, optimizer))
        view = nnx.view(
            model, deterministic=True, use_running_average=True, raise_if_not_found=False
        )
        return cls(gdef, jax.tree.structure(state), nnx.graphdef(view))


class Accumulators:
    """The loss, example count, first non-finite step and metric accumulators of an epoch or
    evaluation: made on the host, added to on the device, fetched once packed into one int32 vector.
    """

    def __init__(self, metrics: list[M.Metric], added: tuple[str, ...] = ()):
        self.metrics = metrics
        # the history keys of the terms layers add to the loss (the program's `layer_losses`)
        self.added = added
        self._like: dict | None = None  # zero(), the template of `unpack`

    def zero(self) -> dict:
        """Fresh accumulators, made on the host (numpy): no compilation, a few bytes to transfer."""
        return {
            "loss": np.zeros((), np.float32),
            "count": np.zeros((), np.int32),
            "first_bad": np.full((), -1, np.int32),
            "metrics": [m.init() for m in self.metrics],
            **({"added": {k: np.zeros((), np.float32) for k in self.added}} if self.added else {}),
        }

    def add(self, acc, loss, outputs, y, i, added: dict | None = None, weights=None) -> dict:
        """`added`: the layers' loss terms of this batch (`layer_losses(model)`), by key;
        `weights`: the batch's sample weights, for the metrics that read them (`weighs`)."""
        n = jax.tree.leaves(y)[0].shape[0]
        given = lambda m: y if weights is None or not m.weighs else Weighted(y, weights)
        bad = (acc["first_bad"] < 0) & ~jnp.isfinite(loss)
        out = {
            "loss": acc["loss"] + loss.astype(jnp.float32) * n,
            "count": acc["count"] + n,
            "first_bad": jnp.where(bad, i, acc["first_bad"]),
            "metrics": [
                m.update(a, outputs, given(m))
                for m, a in zip(self.metrics, acc["metrics"], strict=True)
            ],
        }
        if self.added:
            assert added is not None, "the program's layer_losses were not passed"
            sums = acc["added"]
            out["added"] = {k: sums[k] + added[k].astype(jnp.float32) * n for k in self.added}
        return out

    @staticmethod
    def pack(acc) -> jax.Array:
        """Inside a jitted function: the accumulators as one int32 vector (see metrics.pack)."""
        return M.pack(acc)

    def unpack(self, fetched):
        """Accumulators on the host from a fetched `pack` vector (or the dict, strategy "step")."""
        if isinstance(fetched, dict):
            return fetched
        if self._like is None:
            self._like = self.zero()
        return M.unpack(fetched, self._like)

    def finalize(self, acc) -> dict[str, float]:
        logs = {"loss": float(acc["loss"]) / max(int(acc["count"]), 1)}
        for m, a in zip(self.metrics, acc["metrics"], strict=True):
            logs[m.key] = m.finalize(a)
        for k in self.added:
            logs[k] = float(acc["added"][k]) / max(int(acc["count"]), 1)
        return logs


class Compiled:
    """The jitted functions of a trainer, each compiled once (`traces` counts the Python traces).

    strategy "scan": `epoch(state, acc, epoch, x, y, idx, lo, hi, rest)` runs steps lo..hi-1 of an
    epoch as one loop (then the remainder batch when hi is the last step); not donated: the epoch's
    input stays valid as the rollback point. With `chunked`, (lo, hi) are traced (one compilation
    for any range); otherwise they are static and the loop is a scan of known length. strategy
    "step": `step(state, acc, i, idx, x, y, epoch)`, one batch, the state donated. `eval` and
    `predict` run the eval view of the model. `epoch_donated` (static bounds, one device; else
    None): `epoch` with its state donated (runtime.donating: tiny epochs on a CPU).

    `fuse` > 1 (strategy "scan" with static bounds): `epochs(state, first, n, x, y, idx, rest)` runs
    epochs first..first+n-1, n <= fuse, as a loop around `epoch`'s loop (runtime.blocks): idx
    (fuse, steps, size) and rest (fuse, 1, r) hold each epoch's batches; it returns the state after
    the last one, each epoch's packed accumulators (fuse, P) and learning rate at its end (or None).
    """

    def __init__(
        self,
        program: ModuleType,
        layout: Layout,
        batching: Batching,
        acc: Accumulators,
        *,
        seed: int,
        strategy: str,
        chunked: bool,
        compiler_options: dict | None,
        traces: collections.Counter,
        placement: Placement | None = None,
        shards: int = 1,
        fuse: int = 1,
    ):
        # the arguments but `shards`, once: `rebuild` makes the same functions from them
        self._arguments = {k: v for k, v in locals().items() if k not in ("self", "shards")}
        self.acc, self.batching, self.placement, self.shards = acc, batching, placement, shards
        self.layout, self.traces = layout, traces
        # several devices: batches split over the mesh, the state keeps its layout (devices.py)
        on_mesh = placement is not None
        batch = placement.constrain_batch if placement is not None else lambda t: t
        keep = placement.constrain_state if placement is not None else lambda t: t
        # logical shards (runtime.shards): batches whose rows the shards divide are cut into them,
        # the others (a remainder batch) computed whole on every device
        mesh = placement.mesh if placement is not None else None
        sharded_step = logical.train_step(program, shards, mesh)
        sharded_eval = logical.eval_step(program, shards, mesh, layout.eval_gdef)
        feed = batch if shards == 1 else lambda t: t
        add = acc.add if shards == 1 else logical.replicated(acc.add, mesh)
        self.seed, self.strategy, self.chunked = seed, strategy, chunked
        # several epochs per call (runtime.blocks): a scan of known length on one device
        plain = strategy == "scan" and not chunked and shards == 1 and not on_mesh
        self.fuse = fuse if plain else 1
        b = batching
        jit = functools.partial(jax.jit, compiler_options=compiler_options)
        self.copy = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))

        def step_key(epoch):
            """The key of this epoch's random steps (augmentation, dropout via train_step's key)."""
            root = jax.random.fold_in(jax.random.key(seed), DATA_STREAM)
            return jax.random.fold_in(jax.random.fold_in(root, epoch), 1)

        def train_on(leaves, accs, i, rows, x, y, key):
            traces["train_step"] += 1
            model, optimizer = nnx.merge(layout.gdef, layout.unflatten(leaves))
            xb, yb = feed(take(x, rows)), feed(take(y, rows))
            yb, weights = unpack(yb)  # Weighted targets: `sample_weight` for train_step
            step = sharded_step if shards > 1 else program.train_step
            loss, outputs = step(model, optimizer, xb, yb, jax.random.fold_in(key, i), **weights)
            leaves, treedef = jax.tree.flatten(nnx.state((model, optimizer)))
            assert treedef == layout.treedef, (
                "train_step changed the structure of the model or optimizer state"
            )
            added = program.layer_losses(model) if acc.added else None
            w = weights.get("sample_weight")
            return (keep(leaves) if on_mesh else leaves), add(accs, loss, outputs, yb, i, added, w)

        self.epoch_donated = None
        if strategy == "scan":

            def epoch_fn(state, accs, epoch, x, y, idx, lo, hi, rest):
                traces["train_epoch"] += 1
                accs = acc.zero() if accs is None else accs
                key = step_key(epoch)
                order = carry_order(layout.treedef)
                inverse = np.argsort(order)

                def body(i, carry):
                    rows = jax.lax.dynamic_index_in_dim(idx, i, keepdims=False)
                    leaves, accs = train_on(
                        [carry[0][j] for j in inverse], carry[1], i, rows, x, y, key
                    )
                    return [leaves[k] for k in order], accs

                carry, accs = jax.lax.fori_loop(lo, hi, body, ([state[k] for k in order], accs))
                state = [carry[j] for j in inverse]
                if rest is not None:
                    last = lambda s, a: train_on(s, a, b.steps, rest[0], x, y, key)
                    if isinstance(hi, int):
                        state, accs = last(state, accs) if hi == b.steps else (state, accs)
                    else:
                        state, accs = jax.lax.cond(
                            hi == b.steps, last, lambda s, a: (s, a), state, accs
                        )
                return state, accs, acc.pack(accs)

            self.epoch = jit(epoch_fn) if chunked else jit(epoch_fn, static_argnums=(6, 7))
            # the same epoch consuming its input state (runtime.fitloop's donating fits: XLA then
            # runs the loop in the state's own buffers; not compiled unless called)
            if plain:
                self.epoch_donated = jit(epoch_fn, static_argnums=(6, 7), donate_argnums=0)

            def epochs_fn(state, first, n, x, y, idx, rest):
                """Epochs first..first+n-1, each exactly `epoch_fn`'s loop (same numbers)."""
                lr = next(iter(rate_leaves(layout.treedef)), None)
                empty = acc.pack(acc.zero())
                packs = jnp.zeros((self.fuse, *empty.shape), empty.dtype)
                rates = None if lr is None else jnp.zeros((self.fuse,), state[lr].dtype)

                def body(k, carry):
                    state, packs, rates = carry
                    r = None if rest is None else rest[k]
                    state, _, packed = epoch_fn(state, None, first + k, x, y, idx[k], 0, b.steps, r)
                    packs = packs.at[k].set(packed)
                    rates = None if lr is None else rates.at[k].set(state[lr])
                    return state, packs, rates

                return jax.lax.fori_loop(0, n, body, (state, packs, rates))

            self.epochs = jit(epochs_fn)
        else:

            def step_fn(state, accs, i, idx, x, y, epoch):
                # idx: (steps, size) for the full batches, (1, r) for the remainder; row i mod rows
                rows = jax.lax.dynamic_index_in_dim(idx, i % idx.shape[0], keepdims=False)
                state, accs = train_on(state, accs, i, rows, x, y, step_key(epoch))
                return state, accs, i + 1

            self.step = jit(step_fn, donate_argnums=(0, 1))

        def eval_fn(model_state, accs, x, y):
            traces["eval"] += 1
            x, (y, weights) = feed(x), unpack(feed(y))
            if shards > 1:
                loss, outputs = sharded_eval(model_state, x, y, **weights)
                added = None
            else:
                model = nnx.merge(layout.eval_gdef, model_state)
                loss, outputs = program.eval_step(model, x, y, **weights)
                added = program.layer_losses(model) if acc.added else None
            w = weights.get("sample_weight")
            accs = add(accs, loss, outputs, y, jnp.zeros((), jnp.int32), added, w)
            return accs, acc.pack(accs)

        def predict_fn(model_state, x):
            traces["predict"] += 1
            return program.predict(nnx.merge(layout.eval_gdef, model_state), batch(x))

        self.eval = jit(eval_fn, donate_argnums=1)
        self.predict = jit(predict_fn)

    def rebuild(self, count: int) -> Compiled:
        """The same functions over `count` logical shards (a resumed run: runtime.shards)."""
        return self if count == self.shards else Compiled(**self._arguments, shards=count)

    def place(self, tree):
        """The state's arrays laid out on the mesh (a no-op for arrays already there, and on one
        device): a restored or freshly loaded state may sit on one device."""
        return tree if self.placement is None else self.placement.place_state(tree)

    def evaluate(self, model_state, x, y, size: int):
        """The eval accumulators of a split in batches of `size`, packed (unpack once fetched)."""
        model_state, acc = self.place(model_state), self.acc.zero()
        if rows(x) <= size and rows(x) % self.shards == 0:
            return self.eval(model_state, acc, x, y)[1]
        for part in chunks(rows(x), size, self.shards):
            acc, packed = self.eval(model_state, acc, take(x, part), take(y, part))
        return packed

    def predict_all(self, model_state, x, size: int):
        """`predict` over `x` in batches of at most `size` (powers of two: few compilations); x
        and the result are arrays, or dicts of them for several inputs or outputs."""
        n, model_state = rows(x), self.place(model_state)
        size = min(size, 1 << max(n - 1, 0).bit_length())
        put = jax.device_put if self.placement is None else self.placement.place_data
        out = []
        for start in range(0, max(n, 1), size):  # an empty x still gives (0, ...) outputs
            chunk = take(x, slice(start, start + size))
            pad = size - rows(chunk)
            if pad:
                chunk = each(functools.partial(_padded, pad=pad), chunk)
            # a host copy put on the device: no compiled copy
            out.append(self.predict(model_state, put(each(np.array, chunk))))
        return take(concat(jax.device_get(out)), slice(0, n))


def chunks(n: int, size: int, shards: int = 1) -> list[slice]:
    """The evaluation chunks of n rows: full chunks of `size`, then a smaller one; with logical
    shards, chunks the shards divide (`size` rounded down to a multiple), then the rows left."""
    size = max(size - size % shards, shards)
    parts = [slice(start, min(start + size, n)) for start in range(0, n, size)]
    if parts and (parts[-1].stop - parts[-1].start) % shards:
        last = parts.pop()
        even = last.stop - (last.stop - last.start) % shards
        parts += [slice(last.start, even)] if even > last.start else []
        parts.append(slice(even, last.stop))
    return parts


def _padded(a: np.ndarray, pad: int) -> np.ndarray:
    """`a` with `pad` rows of zeros after its rows."""
    return np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)])


def build(
    program: ModuleType, seed: int, updates: int, epochs: int, accumulate: int = 1
) -> tuple[nnx.Module, nnx.Optimizer]:
    """`program.make_model(seed)` and its optimizer, built by one jitted function.

    Built eagerly, every initializer op is compiled on its own (a dozen small XLA compilations,
    ~1 s for an MLP); inside one jit it is one compilation, at a low optimisation level because
    it runs once (~0.3 s). The values are those of eager construction (same keys, same ops).
    `accumulate: k`: optax.MultiSteps averages the gradients of k steps into one update of the
    program's optimizer (its schedule counts `updates` per epoch, the updates).
    """
    tx = program.make_optimizer(updates, epochs)
    if accumulate > 1:
        import optax

        tx = optax.MultiSteps(tx, every_k_schedule=accumulate)

    def make():
        model = program.make_model(seed)
        return model, nnx.Optimizer(model, tx, wrt=nnx.Param)

    graphdef = nnx.graphdef(nnx.eval_shape(make))
    options = INIT_COMPILER_OPTIONS if jax.default_backend() == "cpu" else None
    state = jax.jit(lambda: nnx.state(make()), compiler_options=options)()
    return nnx.merge(graphdef, state)


def free_memory() -> int | None:
    """Bytes free on the default device (its allocator's limit minus use), or the host's free memory
    on CPU; None when neither is known."""
    stats = jax.local_devices()[0].memory_stats()
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def eval_batch(activation_floats: int | None, free: int | None) -> int:
    """Examples per evaluation/prediction batch: as many as fit in EVAL_MEMORY_SHARE of the free
    memory (float32 activations, doubled for XLA's temporaries), at least MIN_EVAL_BATCH; EVAL_BATCH
    when the program or the memory is unknown."""
    if not activation_floats or not free:
        return EVAL_BATCH
    return max(MIN_EVAL_BATCH, int(free * EVAL_MEMORY_SHARE) // (activation_floats * 4 * 2))
