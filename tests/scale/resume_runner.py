"""Run in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=4 set before JAX is
imported: trains a spec on 4 devices with a checkpoint every epoch, resumes its first checkpoint on
other device counts, and writes every run's final state and history.

    python -m tests.scale.resume_runner SPEC OUT.npz ROWS DEVICES k:v,k:v ...

ROWS: train on the first ROWS training examples. DEVICES: the device counts to resume on, e.g.
"1,2". The settings override the program's CONFIG (strategy, shard, batch_size, drop_remainder...).
Keys of OUT: `<run>/state/<i>` (the leaves of Trainer.state(): model and optimizer), `<run>/history`
(the history's numbers, without the epoch times) and `<run>/log` for the uninterrupted run `whole`
and the resumed runs `on<d>`; `meta/shards` and `meta/devices` (what the checkpoint recorded).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import jax
import numpy as np

import nncompile
from nncompile.runtime.checkpoint import Checkpointer, read_meta, restore
from nncompile.runtime.loop import Trainer
from tests.scale.forced import overrides


def history(h) -> np.ndarray:
    keys = sorted(k for k in h.epochs[0] if k != "seconds")
    return np.array([[e[k] for k in keys] for e in h.epochs], np.float64)


def main() -> None:
    spec, out, rows, devices, settings = sys.argv[1:6]
    program = nncompile.compile(spec, sets={"hidden": 16} if "mlp" in spec else {})
    splits = program.splits()
    x, y = splits["train"]
    splits = {**splits, "train": (x[: int(rows)], y[: int(rows)])}
    config = {"epochs": 2, "early_stopping": None, "devices": 4, "logical_shards": 4}
    config.update(overrides(settings))
    arrays: dict[str, np.ndarray] = {}

    def keep(name: str, trainer: Trainer, h, lines: list[str]) -> None:
        for i, leaf in enumerate(jax.tree.leaves(trainer.state())):
            arrays[f"{name}/state/{i}"] = np.asarray(leaf)
        arrays[f"{name}/history"] = history(h)
        arrays[f"{name}/log"] = np.array("\n".join(lines))

    with tempfile.TemporaryDirectory() as tmp:
        lines: list[str] = []
        checkpoints = Checkpointer(tmp, every=1)
        whole = Trainer(program.module, splits, config=config, callbacks=[checkpoints])
        keep("whole", whole, whole.fit(), lines)
        meta = read_meta(Path(tmp) / "1")
        arrays["meta/shards"] = np.array(meta.get("shards"))
        arrays["meta/devices"] = np.array(meta.get("devices"))
        for d in map(int, devices.split(",")):
            lines = []
            trainer = Trainer(
                program.module, splits, config={**config, "devices": d}, log=lines.append
            )
            restore(trainer, tmp, step=1, log=lines.append)
            keep(f"on{d}", trainer, trainer.fit(), lines)
    np.savez(out, **arrays)


if __name__ == "__main__":
    main()
