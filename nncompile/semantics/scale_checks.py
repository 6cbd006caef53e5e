"""Checks of the scale-out properties of a train block: `devices:`, `shard:`, `accumulate:`
(an adversarial block takes `devices:` only).

The global batch is cut into equal parts, one per device: a count of devices given in the spec must
divide `batch_size` (the runtime checks the same when the count is only known there: `auto`, a
platform). `accumulate: k` averages the gradients of k batches into one update, so an epoch is cut
into whole groups of k batches (the remainder is dropped).
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry.layers import LAYERS
from ..runconfig import batch_hint
from . import ir


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
    coupled = next(batch_statistics(train.model), None) if train.model is not None else None
    if shards is not None and shards > 1 and coupled is not None:
        out.error(
            D.BAD_VALUE,
            f"`logical_shards: {shards}`: {coupled} keeps batch statistics, which couple every "
            "row of a batch, so the model's steps cannot be computed shard by shard",
            where("logical_shards"),
            "remove `logical_shards` (resuming on another device count then agrees to float "
            "tolerance), or use layer_norm()",
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


def batch_statistics(model: ir.Model) -> Iterator[str]:
    """The layers of `model` (and of the models it uses as layers) that keep batch statistics."""
    for node in model.nodes:
        if node.submodel is not None:
            yield from batch_statistics(node.submodel)
        elif node.kind in LAYERS and LAYERS[node.kind].batch_statistics:
            yield f"{node.kind} ({node.name})"
