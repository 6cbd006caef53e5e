"""Checks of the scale-out properties of a train block: `devices:`, `shard:`, `accumulate:`
(an adversarial block takes `devices:` only).

The global batch is cut into equal parts, one per device: a count of devices given in the spec must
divide `batch_size` (the runtime checks the same when the count is only known there: `auto`, a
platform). `accumulate: k` averages the gradients of k batches into one update, so an epoch is cut
into whole groups of k batches (the remainder is dropped). `logical_shards:` computes a step shard
by shard, which a layer that keeps batch statistics (BatchNorm) does not allow (the trainer refuses
it too, with the same message, for a program it is given).
"""

from __future__ import annotations

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry.layers import LAYERS
from ..runconfig import batch_hint, batch_statistics_refusal
from . import ir
from .layerloss import layer_losses


def check_scale(train: ir.Train, out: Collector, where) -> None:
    p = train.props
    if train.model is None:  # adversarial: data-parallel only (the batch split, states whole)
        for key, default, why in (
            ("shard", "data", "keeps its states whole (replicated) on every device"),
            ("accumulate", 1, "updates both networks at every batch"),
            ("logical_shards", None, "sums its gradients with XLA's all-reduce"),
        ):
            value = getattr(p, key)
            if value != default:
                out.error(
                    D.BAD_VALUE,
                    f"`{key}: {value}` is for supervised training; an `objective: gan(...)` {why}",
                    where(key),
                    f"remove `{key}`",
                )
    n = p.devices
    if isinstance(n, int) and n > 1 and isinstance(p.batch_size, int) and p.batch_size % n:
        out.error(
            D.BAD_VALUE,
            f"batch_size {p.batch_size} does not divide into {n} equal parts (`devices: {n}`)",
            where("batch_size"),
            batch_hint(p.batch_size, n),
        )
    shards = p.logical_shards
    if shards is not None and isinstance(n, int) and shards % n:
        out.error(
            D.BAD_VALUE,
            f"`logical_shards: {shards}` does not split over {n} devices (`devices: {n}`)",
            where("logical_shards"),
            f"use a multiple of {n}, e.g. `logical_shards: {n * max(1, shards // n)}`",
        )
    if shards is not None and isinstance(p.batch_size, int) and p.batch_size % shards:
        out.error(
            D.BAD_VALUE,
            f"batch_size {p.batch_size} does not divide into {shards} equal shards "
            f"(`logical_shards: {shards}`)",
            where("batch_size"),
            f"use a multiple of {shards}, e.g. `batch_size: "
            f"{max(shards, p.batch_size - p.batch_size % shards)}`",
        )
    if shards is not None and shards > 1 and train.model and keeps_batch_statistics(train.model):
        message, hint = batch_statistics_refusal(shards)
        out.error(D.BAD_VALUE, message, where("logical_shards"), hint)
    elif shards is not None and shards > 1 and train.model and layer_losses(train.model):
        out.error(
            D.BAD_VALUE,
            f"`logical_shards: {shards}`: a layer of model {train.model.name} adds a term to the "
            "loss (gaussian_sample's KL divergence), which is not computed shard by shard yet",
            where("logical_shards"),
            "remove `logical_shards` (several devices still split each batch)",
        )
    if p.accumulate > 1 and train.model is not None:
        if p.batch_size == "full":
            out.error(
                D.BAD_VALUE,
                "`accumulate` needs batches: with `batch_size: full` one batch is the whole split",
                where("accumulate"),
                "give a `batch_size`, e.g. the full split divided by the accumulation",
            )
        elif not p.drop_remainder:
            out.error(
                D.BAD_VALUE,
                f"`accumulate: {p.accumulate}` updates once per {p.accumulate} batches, so an "
                "epoch's last, smaller group cannot be kept (`drop_remainder: false`)",
                where("drop_remainder"),
                "remove `drop_remainder: false` (the examples left out change every epoch)",
            )


def keeps_batch_statistics(model: ir.Model) -> bool:
    """Whether a layer of `model`, or of a model it uses as a layer, keeps batch statistics."""
    return any(
        keeps_batch_statistics(n.submodel)
        if n.submodel is not None
        else n.kind in LAYERS and LAYERS[n.kind].batch_statistics
        for n in model.nodes
    )
