"""Run in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=N set before JAX is
imported: trains a spec under several scale settings and writes each run's final parameters.

    python -m tests.scale.runner SPEC OUT.npz EPOCHS ROWS NAME=k:v,k:v ...

ROWS: train on the first ROWS training examples (0: all).

Each NAME's settings override the program's CONFIG (devices, strategy, shard, batch_size,
accumulate). Dropout is turned off (the equivalences are about the arithmetic of the update)."""

from __future__ import annotations

import sys

import jax
import numpy as np
from flax import nnx

import nncompile
from nncompile.runtime.batches import epoch_order
from nncompile.runtime.loop import Trainer
from tests.scale.forced import overrides


def all_reduces(trainer) -> int:
    """Collectives in the compiled epoch of a trainer (0 on one device): the gradients' all-gather
    (logical shards, runtime/shards.py), or an all-reduce (GSPMD)."""
    fns, b = trainer._fns, trainer.batching
    state = fns.place(jax.tree.leaves(nnx.state((trainer.model, trainer.optimizer))))
    x, y = trainer._on_device("train")
    idx, rest = epoch_order(b, 0, 1)
    args = (state, None, 1, x, y, idx, 0, b.steps, rest)
    text = fns.epoch.lower(*args).compile().as_text()
    return text.count("all-reduce(") + text.count("all-gather(")


def main() -> None:
    spec, out, epochs, rows, *variants = sys.argv[1:]
    program = nncompile.compile(spec, sets={"rate": 0.0})
    splits = program.splits()
    if int(rows):  # the first `rows` training examples only
        x, y = splits["train"]
        splits = {**splits, "train": (x[: int(rows)], y[: int(rows)])}
    arrays = {}
    for variant in variants:
        name, _, settings = variant.partition("=")
        config = {"epochs": int(epochs), "early_stopping": None, **overrides(settings)}
        trainer = Trainer(program.module, splits, config=config, log=lambda line: None)
        history = trainer.fit()
        leaves = jax.tree.leaves(trainer.state()["model"])
        for i, leaf in enumerate(leaves):
            arrays[f"{name}/{i}"] = np.asarray(leaf)
        arrays[f"{name}/loss"] = np.array([e["loss"] for e in history.epochs])
        arrays[f"{name}/updates"] = np.array(
            trainer.batching.updates // config.get("accumulate", 1)
        )
        model = jax.tree.leaves(nnx.state(trainer.model))
        arrays[f"{name}/devices"] = np.array([len(a.sharding.device_set) for a in model])
        arrays[f"{name}/split"] = np.array(
            ["data" in tuple(getattr(a.sharding, "spec", ())) for a in model]
        )
        if config.get("strategy") == "scan":  # the collectives of the compiled epoch
            arrays[f"{name}/all_reduce"] = np.array(all_reduces(trainer))
        print(name, history.epochs[-1]["loss"], flush=True)
    np.savez(out, **arrays)


if __name__ == "__main__":
    main()
