"""Logical shards: the arithmetic of a multi-device step made independent of the device count.

On several devices, GSPMD computes a step's gradient as per-device partial sums and an all-reduce
whose summation order depends on how many devices there are, so a run resumed on another device
count continues within float tolerance (~1e-7 per step), not bitwise. A run on N > 1 devices
therefore fixes a LOGICAL shard count L = N (written into its checkpoints) and computes every
training step as:

* the batch cut into L equal shards (rows [l*B/L, (l+1)*B/L)); for each shard, the program's
  `augment` and `loss_fn` and the gradient of that shard's mean loss, with the dropout streams and
  the augmentation key folded with the shard's index l;
* on M devices (M divides L) each device computes its L/M shards one after another (`lax.map`: the
  same unbatched computation for every shard, whatever M is; a `vmap` over the shards is not: XLA
  batches the CNN's convolutions differently for 1 and 4 shards), inside a `shard_map`; the
  per-shard gradients, losses and outputs are gathered (an all-gather copies, it does not add);
* then, replicated on every device: the gradient is the mean of the L shard gradients summed in a
  fixed order (a balanced tree of adds, `tree_sum`), the loss likewise, the outputs concatenated in
  shard order for the metrics, and the optimizer's update applied. The metrics' and the loss's
  accumulators are added to in a `shard_map` of replicated arrays (`replicated`): left to GSPMD,
  a sum over the batch is split along the shards and its parts added in a device-count order.

Everything after the gather is the same computation on the same shapes for any M, and every shard's
computation is the same too, so a checkpoint written on 4 devices resumes on 1, 2 or 4 and continues
bitwise the uninterrupted run. The mean of the shard means equals the batch mean (equal shards): the
run trains what `devices: 1` trains, to float tolerance. Evaluation is cut the same way (the rows a
chunk's L shards do not cover are evaluated replicated), so the history is bitwise the same too. A
batch the L shards do not divide (a remainder batch) is one shard computed whole on every device
(never left to GSPMD, which would split it along `shard: params`' parameters).

Not sharded this way (L = 1: GSPMD as before, float tolerance across device counts): one device, and
models whose state holds more than parameters and RNG streams, e.g. BatchNorm's statistics (a batch
statistic couples every row of the batch: XLA's all-reduce computes it over the devices).

Measured limit: one device compiles without XLA's SPMD partitioner, several with it, and the passes
after it may fuse a shard differently: bitwise 4 -> 1 holds for the digits MLP and CNN, two-input
two-output, BiLSTM and regression models, not for the transformer classifier (a softmax division
became a multiplication by a reciprocal on one side); 4 -> 2 stays bitwise (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh, PartitionSpec

from ..errors import ConfigError
from ..runconfig import batch_statistics_refusal
from .devices import AXIS, Placement
from .trees import each, rows

# the model state a step may change when computed shard by shard: dropout streams (their counts
# advance the same in every shard), besides the parameters
SHARDABLE = nnx.Any(nnx.Param, nnx.RngKey, nnx.RngCount)


def shardable(model: nnx.Module) -> bool:
    """Whether every variable of the model is a parameter or an RNG stream (no batch statistics)."""
    return not jax.tree.leaves(nnx.state(model, nnx.Not(SHARDABLE)))


def initial(placement: Placement | None, model: nnx.Module, setting: int | None) -> int:
    """L of a fresh run: `logical_shards:` (None: 1, XLA's all-reduce), checked against the model
    and the device count."""
    if setting is None or setting == 1:
        return 1
    if not shardable(model):
        raise ConfigError(*batch_statistics_refusal(setting))
    devices = placement.count if placement is not None else 1
    if setting % devices:
        raise ConfigError(
            f"`logical_shards: {setting}` does not split over {devices} devices",
            f"use a multiple of {devices} (e.g. `logical_shards: "
            f"{devices * max(1, setting // devices)}`), or `devices:` a divisor of {setting}",
        )
    return setting


def resumed(meta: dict, placement: Placement | None, log: Callable) -> int:
    """L of a run resumed from a checkpoint with metadata `meta`; logs a note when the resumed run
    is not bitwise the uninterrupted one for want of logical shards (on another device count)."""
    written = int(meta.get("shards") or 1)
    devices = placement.count if placement is not None else 1
    before = int(meta.get("devices") or devices)
    if written > 1 and written % devices == 0:
        return written
    if devices != before:
        why = (
            f"its {written} logical shards do not split over {devices} devices (a divisor of "
            f"{written} would)"
            if written > 1
            else "its gradients were summed by XLA across devices (a model with batch "
            "statistics, or a checkpoint of an older version: docs/scaling.md)"
        )
        log(
            f"resuming on {devices} device{'s' if devices != 1 else ''} a checkpoint written on "
            f"{before}: {why}; the run continues within float tolerance, not bitwise"
        )
    return 1


def tree_sum(stack: jax.Array) -> jax.Array:
    """The sum over the first axis in a fixed order: a balanced tree of adds over the slices (the
    same order on every device and for any device count)."""
    parts = [stack[i] for i in range(stack.shape[0])]
    while len(parts) > 1:
        pairs = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
        parts = pairs + parts[len(parts) - len(parts) % 2 :]
    return parts[0]


def tree_mean(stack: jax.Array) -> jax.Array:
    return tree_sum(stack) / stack.shape[0]


def split(tree: Any, shards: int) -> Any:
    """A batch (an array or a dict of arrays) as [shards, rows / shards, ...]."""
    return each(lambda a: a.reshape(shards, a.shape[0] // shards, *a.shape[1:]), tree)


def joined(tree: Any) -> Any:
    """Per-shard results [shards, rows, ...] back as one batch [shards x rows, ...]."""
    return jax.tree.map(lambda a: a.reshape(a.shape[0] * a.shape[1], *a.shape[2:]), tree)


def over_shards(fn: Callable, shards: int, mesh: Mesh | None, shared: Any, parts: Any) -> Any:
    """`fn(l, shared, part_l)` for every shard l, stacked along a first axis of length `shards`.

    `parts` is split [shards, ...]. Without a mesh the shards run one after another; on a mesh each
    device runs its shards one after another, then the results are gathered (replicated). One shard
    on a mesh (a batch the logical shards do not divide) is computed whole on every device."""
    spread = mesh is not None and shards > 1

    def local(shared, parts):
        n = jax.tree.leaves(parts)[0].shape[0]  # this device's shards
        first = jax.lax.axis_index(AXIS) * n if spread else 0
        # The shard's computation must compile the same for any n: inside a loop XLA cannot remove
        # (a trip count it cannot read: it inlines a loop of one trip) reading a shard it cannot
        # hoist out of the loop (one slot more than n: a slice of a length-1 axis is invariant).
        # Compiled outside the loop, fused with its neighbours, the same shard rounds differently.
        padded = jax.tree.map(lambda a: jnp.concatenate([a, jnp.zeros_like(a[:1])]), parts)
        one = lambda j: fn(first + j, shared, jax.tree.map(lambda a: a[j], padded))
        like = jax.eval_shape(one, 0)
        zero = jax.tree.map(lambda s: jnp.zeros((n, *s.shape), s.dtype), like)

        def body(j, out):
            return jax.tree.map(lambda o, r: o.at[j].set(r), out, one(j))

        out = jax.lax.fori_loop(0, jax.lax.optimization_barrier(jnp.int32(n)), body, zero)
        if not spread:
            return out
        return jax.tree.map(lambda a: jax.lax.all_gather(a, AXIS, tiled=True), out)

    if mesh is None:
        return local(shared, parts)
    specs = (PartitionSpec(), PartitionSpec(AXIS) if spread else PartitionSpec())
    mapped = jax.shard_map(
        local, mesh=mesh, in_specs=specs, out_specs=PartitionSpec(), check_vma=False
    )
    return mapped(shared, parts)


def count(tree: Any, shards: int) -> int:
    """The shards a batch is cut into: all of them when they divide its rows, else one (whole)."""
    return shards if rows(tree) % shards == 0 else 1


def replicated(fn: Callable, mesh: Mesh | None) -> Callable:
    """`fn` computed whole on every device of `mesh`, as on one device: a `shard_map` of replicated
    inputs and outputs, where XLA partitions nothing (GSPMD would split a sum over the batch, e.g. a
    metric's, along the shards that feed the step, and add the parts in a device-count order)."""
    if mesh is None:
        return fn
    spec = PartitionSpec()
    return jax.shard_map(fn, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)


def parted(model: nnx.Module) -> tuple[nnx.GraphDef, nnx.State, nnx.State, nnx.State]:
    """The model as (graph, parameters, RNG keys, the rest: RNG counts)."""
    return nnx.split(model, nnx.Param, nnx.RngKey, ...)  # type: ignore[return-value]


def train_step(program, shards: int, mesh: Mesh | None) -> Callable:
    """A replacement for `program.train_step(model, optimizer, x, y, key)` (the emitted template:
    augment, the gradient of `loss_fn`, the optimizer's update) computed over `shards` logical
    shards; returns the loss (the mean of the shard losses) and the outputs of the whole batch."""

    def step(model, optimizer, x, y, key, sample_weight=None):
        # `class_weight:` the emitted train_step passes the class weights to loss_fn (read here at
        # trace time, after runtime.classweight set them)
        weights = (program.CLASS_WEIGHT,) if hasattr(program, "CLASS_WEIGHT") else ()
        gdef, params, keys, rest = parted(model)
        p_leaves, p_def = jax.tree.flatten(params)
        k_leaves, k_def = jax.tree.flatten(keys)
        r_leaves, r_def = jax.tree.flatten(rest)

        def one(index, shared, part):
            p_leaves, k_leaves, r_leaves, key = shared
            xl, yl, *wl = part  # wl: this shard's sample weights, when there are
            given = {"sample_weight": wl[0]} if wl else {}
            streams = [jax.random.fold_in(k, index) for k in k_leaves]  # this shard's dropout masks

            def loss(p_leaves, r_leaves):
                states = (jax.tree.unflatten(p_def, p_leaves), jax.tree.unflatten(k_def, streams))
                m = nnx.merge(gdef, *states, jax.tree.unflatten(r_def, r_leaves))
                xa = program.augment(jax.random.fold_in(key, index), xl)
                value, outputs = program.loss_fn(m, xa, yl, *weights, **given)
                return value, (outputs, jax.tree.leaves(parted(m)[3]))

            grad = jax.value_and_grad(loss, has_aux=True)
            (value, (outputs, r_leaves)), grads = grad(p_leaves, r_leaves)
            return grads, value, outputs, r_leaves

        shared, n = (p_leaves, k_leaves, r_leaves, key), count(x, shards)
        parts = (split(x, n), split(y, n))
        parts += () if sample_weight is None else (split(sample_weight, n),)
        grads, losses, outputs, after = over_shards(one, n, mesh, shared, parts)
        # every shard advanced the streams' counts alike: the model's state after the step
        nnx.update(model, jax.tree.unflatten(r_def, [a[0] for a in after]))
        optimizer.update(model, jax.tree.unflatten(p_def, [tree_mean(g) for g in grads]))
        return tree_mean(losses), joined(outputs)

    return step


def eval_step(program, shards: int, mesh: Mesh | None, gdef: nnx.GraphDef) -> Callable:
    """`program.eval_step` over `shards` logical shards of a batch, from the eval view's state:
    (the mean of the shard losses, the outputs of the whole batch)."""

    def step(model_state, x, y, sample_weight=None):
        leaves, treedef = jax.tree.flatten(model_state)

        def one(index, leaves, part):
            model = nnx.merge(gdef, jax.tree.unflatten(treedef, leaves))
            given = {"sample_weight": part[2]} if len(part) > 2 else {}
            return program.eval_step(model, part[0], part[1], **given)

        n = count(x, shards)
        parts = (split(x, n), split(y, n))
        parts += () if sample_weight is None else (split(sample_weight, n),)
        losses, outputs = over_shards(one, n, mesh, leaves, parts)
        return tree_mean(losses), joined(outputs)

    return step
