"""Chunked GAN epochs (runtime/gan_epochs.py): with a step callback (progress) an epoch runs in
chunks with the hook called between them, compiled once for any cut, and any cut trains bitwise the
same states as whole epochs; epochs run one ahead train the same states, and a stop drops the epoch
run ahead."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest
from gan_specs import tiny_gan

import nncompile
from nncompile.runtime import gan

SPEC = tiny_gan(
    """
train {
  objective: gan(generator=G, discriminator=D, noise=normal([8]))
  data: d  loss: non_saturating  optimizer: adam(lr=1e-3, b1=0.5)
  batch_size: 32  epochs: 3
  samples: {every: 3, count: 8}
  seed: 2
}
""",
    dropout=0.2,
)


class Steps:
    """A callback that watches steps, as the progress bar does."""

    def __init__(self):
        self.seen: list[tuple[int, int, int]] = []

    def on_step_end(self, trainer, epoch, step, steps):
        self.seen.append((epoch, step, steps))


def fitted(tmp_path: Path, callbacks=()):
    path = tmp_path / "gan.nn"
    path.write_text(SPEC)
    p = nncompile.compile(path)
    history = p.fit(callbacks=list(callbacks), verbose=False)
    leaves = [np.asarray(a) for a in jax.tree.leaves(p.trainer.state())]
    return p.trainer, history, leaves


def test_chunks_call_the_hooks_compile_once_and_equal_whole_epochs(tmp_path, monkeypatch):
    whole, whole_history, want = fitted(tmp_path)  # this small GAN: static bounds, one call
    assert not whole.chunked
    monkeypatch.setattr(gan, "CHUNK_MIN_WORK", 0)  # every step is "big": traced bounds
    monkeypatch.setattr(gan, "CHUNK_S", 1e-9)  # chunks of one step once a step's time is known
    plain, _, unwatched = fitted(tmp_path)  # no step callback: whole epochs through traced bounds
    hook = Steps()
    chunked, history, got = fitted(tmp_path, [hook])
    assert plain.chunked and chunked.chunked
    steps = chunked.batching.steps
    assert steps == 11
    # the hooks between chunks: steps 1, 3 (compiling, then doubling) ... then every step
    assert hook.seen[:2] == [(1, 1, 11), (1, 3, 11)]
    assert [s for e, s, _ in hook.seen if e == 3] == list(range(1, steps))
    assert chunked.traces["epoch"] == 1 and plain.traces["epoch"] == 1  # any cut, one compilation
    for a, b in zip(got, unwatched, strict=True):
        np.testing.assert_array_equal(a, b)  # the same compiled loop, cut anywhere: bitwise
    for a, b in zip(got, want, strict=True):  # a while loop against a scan of known length
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for e, f in zip(history.epochs, whole_history.epochs, strict=True):
        assert e["d_loss"] == pytest.approx(f["d_loss"], rel=1e-5)
        assert e["g_loss"] == pytest.approx(f["g_loss"], rel=1e-5)


class StopAt:
    """Stops the fit at the end of `epoch`, keeping what the trainer holds then."""

    def __init__(self, epoch: int):
        self.epoch, self.kept = epoch, None

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.epoch:
            self.kept = [np.asarray(a) for a in jax.tree.leaves(trainer.state())]
            trainer.stop_training = True


def test_epochs_run_ahead_train_the_same_states(tmp_path, monkeypatch):
    _, history, want = fitted(tmp_path)  # 3 epochs
    monkeypatch.setattr(gan, "AHEAD_BELOW_S", 1e9)  # every epoch dispatched before the last is read
    ahead, ahead_history, got = fitted(tmp_path)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [e["g_loss"] for e in ahead_history.epochs] == [e["g_loss"] for e in history.epochs]
    assert ahead.traces["epoch"] == 1
    # a callback stopping at epoch 2: the epoch run ahead (3) is dropped, epoch 2's state kept
    stop = StopAt(2)
    path = tmp_path / "gan.nn"
    p = nncompile.compile(path)
    p.fit(callbacks=[stop], verbose=False)
    assert p.trainer.epochs_done == 2
    for a, b in zip(jax.tree.leaves(p.trainer.state()), stop.kept, strict=True):
        np.testing.assert_array_equal(np.asarray(a), b)
