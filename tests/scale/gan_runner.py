"""Run in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=N set before JAX is
imported: trains a GAN spec on several device counts and writes each run's final state.

    python -m tests.scale.gan_runner SPEC OUT.npz EPOCHS DEVICES...

For each count in DEVICES: the models' and optimizers' leaves (`<n>/<i>`), the epochs' losses
(`<n>/d_loss`, `<n>/g_loss`), the devices each model array lives on (`<n>/devices`), the
all-reduces of the compiled epoch on several devices (`<n>/all_reduce`), the trace counts
(`<n>/traces`) and a sample grid (`<n>/samples`). A count `a:b` trains on a devices, stopped
(Ctrl-C, which writes a checkpoint) after the first epoch, and resumes that checkpoint on b
devices for the other epochs: its keys are `a:b/...`, from the resumed run."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import jax
import numpy as np
from flax import nnx

import nncompile
from tests.interrupts import StopAt


def all_reduces(trainer) -> int:
    """All-reduce ops in the compiled epoch of a trainer (0 on one device)."""
    fns = trainer._fns
    leaves = fns.place_state(trainer._leaves())
    sums = np.zeros(2, np.float32)
    args = (leaves, sums, 1, trainer._on_device(), 0, trainer.batching.steps)
    return fns.epoch.lower(*args).compile().as_text().count("all-reduce(")


def resumed(spec: str, epochs: int, first: int, then: int, folder: Path):
    """The program trained on `first` devices for one epoch, resumed on `then` to `epochs`."""
    quiet = lambda line: None
    program = nncompile.compile(spec)
    program.devices = first
    stopped = program.fit(epochs=epochs, run_dir=folder, callbacks=[StopAt(1)], log=quiet)
    assert stopped.interrupted and len(stopped.epochs) == 1
    program = nncompile.compile(spec)
    program.devices = then
    return program, program.fit(epochs=epochs, run_dir=folder, resume=True, log=quiet)


def main() -> None:
    spec, out, epochs, *counts = sys.argv[1:]
    program = nncompile.compile(spec)
    arrays = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            if ":" in n:
                first, devices = map(int, n.split(":"))
                trained, history = resumed(spec, int(epochs), first, devices, Path(tmp) / n)
            else:
                trained, devices = program, int(n)
                program.devices = devices
                history = program.fit(epochs=int(epochs), log=lambda line: None)
            keep(arrays, n, trained.trainer, history, devices)
            print(n, history.epochs[-1], flush=True)
    np.savez(out, **arrays)


def keep(arrays: dict, n: str, trainer, history, devices: int) -> None:
    for i, leaf in enumerate(jax.tree.leaves(trainer.state())):
        arrays[f"{n}/{i}"] = np.asarray(leaf)
    arrays[f"{n}/d_loss"] = np.array([e["d_loss"] for e in history.epochs])
    arrays[f"{n}/g_loss"] = np.array([e["g_loss"] for e in history.epochs])
    model = jax.tree.leaves(nnx.state(trainer.model))
    arrays[f"{n}/devices"] = np.array([len(a.sharding.device_set) for a in model])
    arrays[f"{n}/all_reduce"] = np.array(all_reduces(trainer) if devices > 1 else 0)
    arrays[f"{n}/traces"] = np.array(trainer.compile_count)
    arrays[f"{n}/samples"] = trainer.samples[-1][1]


if __name__ == "__main__":
    main()
