"""The GAN trainer's levers (runtime/gan.py): one compiled epoch whatever the number of epochs,
the same computation as plain per-step calls of the emitted train_step, and a non-finite epoch
rolled back to the previous epoch's state (kept without a copy: the state is not donated)."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
from flax import nnx
from gan_specs import tiny_gan

import nncompile
from nncompile.runtime.batches import DATA_STREAM
from nncompile.runtime.history import StopReason

SPEC = tiny_gan(
    """
train {
  objective: gan(generator=G, discriminator=D, noise=normal([8]))
  data: d  loss: non_saturating  optimizer: adam(lr=LR, b1=0.5)
  batch_size: 32  epochs: 3
  samples: {every: 1, count: 8}
  seed: 5
}
"""
)


def program(tmp_path: Path, lr: str = "1e-3"):
    path = tmp_path / "gan.nn"
    path.write_text(SPEC.replace("LR", lr))
    return nncompile.compile(path)


def test_compiled_once_and_equal_to_plain_steps(tmp_path):
    p = program(tmp_path)
    history = p.fit()
    trainer = p.trainer
    assert len(history.epochs) == 3
    assert trainer.traces["epoch"] == 1  # three epochs, one compilation
    assert trainer.traces["generate"] == 1  # a sample grid every epoch, one compilation
    assert trainer.compile_count == 2
    assert len(trainer.samples) == 3

    # the same epochs by hand: the trainer's batch order and keys, one jitted train_step per batch
    mod = p.module
    g, d = mod.make_models(5)
    g_tx, d_tx = mod.make_optimizers(trainer.batching.updates, 3)
    objs = (g, d, nnx.Optimizer(g, g_tx, wrt=nnx.Param), nnx.Optimizer(d, d_tx, wrt=nnx.Param))
    step = nnx.jit(mod.train_step)
    x = jax.numpy.asarray(trainer.splits["train"][0])
    root = jax.random.fold_in(jax.random.key(5), DATA_STREAM)
    size, steps = trainer.batching.size, trainer.batching.steps
    for epoch in (1, 2, 3):
        key = jax.random.fold_in(root, epoch)
        rows = jax.random.permutation(key, x.shape[0])[: steps * size].reshape(steps, size)
        keys = jax.random.split(jax.random.fold_in(key, 1), steps)
        for i in range(steps):
            step(*objs, x[rows[i]], keys[i])
    want = jax.tree.leaves(nnx.state((g, d)))
    got = jax.tree.leaves(nnx.state(trainer.model))
    assert len(want) == len(got)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)


def test_a_non_finite_epoch_rolls_back_to_the_last_good_state(tmp_path):
    p = program(tmp_path, lr="1e30")
    seen = {}

    class Keep:
        def on_epoch_end(self, trainer, epoch, logs):
            seen[epoch] = [np.asarray(a).copy() for a in jax.tree.leaves(nnx.state(trainer.model))]

    history = p.fit(callbacks=[Keep()])
    assert history.stop is StopReason.NONFINITE
    kept = [np.asarray(a) for a in jax.tree.leaves(nnx.state(p.trainer.model))]
    # the state of the last finite epoch (or the initial one), exactly
    last = seen[max(seen)] if seen else jax.tree.leaves(nnx.state(p.module.make_models(5)))
    assert all(np.isfinite(a).all() for a in kept)
    for a, b in zip(kept, last, strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_samples_read_the_latest_epoch(tmp_path):
    p = program(tmp_path)
    p.fit()
    grids = [grid for _, grid in p.trainer.samples]
    assert not np.allclose(grids[0], grids[-1])  # each grid from its epoch's generator
    np.testing.assert_allclose(grids[-1], p.trainer.generate(8), rtol=1e-6)
