"""Epoch fusion (runtime.blocks): tiny epochs run several to one compiled call and are replayed.

Each test trains the same tiny program fused (blocks of up to 4 epochs, whatever the epoch time)
and unfused (NNCOMPILE_FUSE=0: one epoch per call, as before) and asserts the same history, bit for
bit, and the same parameters, around every per-epoch decision a block can cross.
"""

import jax
import numpy as np
import pytest
from flax import nnx

import nncompile.api as api
from nncompile.runtime import blocks, loop
from nncompile.runtime.epochs import Epochs
from nncompile.runtime.loop import Trainer

QUIET = {"log": lambda message: None}

SPEC = """
model R {{ input x: [10]  dense(8, activation=relu)  dense(1) }}
train {{ model: R  loss: mse  optimizer: sgd(lr={lr}, momentum=0.9)  batch_size: 32
        epochs: 11  seed: 0  drop_remainder: false {extra} }}
"""


def splits(n=200):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 10)).astype(np.float32)
    y = (x @ rng.normal(size=(10, 1)) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return {"train": (x, y)}  # 6 batches of 32 and a remainder of 8 per epoch


def train(monkeypatch, fuse: bool, lr=0.01, extra="", callbacks=(), epochs=None, ahead=0.0):
    """(trainer, history, [(first, n) of every fused call, reruns included]); `ahead`: epochs
    shorter than this run one ahead (loop.AHEAD_BELOW_S; 0: never, for predictable calls)."""
    monkeypatch.setattr(loop, "AHEAD_BELOW_S", ahead)
    monkeypatch.setattr(blocks, "BLOCK_S", 1e9)  # blocks as large as the capacity
    monkeypatch.setattr(blocks, "CAPACITY", 4)
    monkeypatch.setattr(blocks, "MIN_EPOCHS", 0)
    monkeypatch.setattr(blocks, "MIN_EPOCHS_UNCACHED", 0)
    monkeypatch.setenv("NNCOMPILE_FUSE", "1" if fuse else "0")
    calls = []
    plain = Epochs.block

    def spy(self, state, first, n, x, y):
        calls.append((first, n))
        return plain(self, state, first, n, x, y)

    monkeypatch.setattr(Epochs, "block", spy)
    module = api.compile(text=SPEC.format(lr=lr, extra=extra)).module
    trainer = Trainer(module, splits(), callbacks=list(callbacks), epochs=epochs, **QUIET)
    return trainer, trainer.fit(), calls


def params(trainer) -> list:
    return [np.asarray(a) for a in jax.tree.leaves(nnx.state((trainer.model, trainer.optimizer)))]


def same_fit(a, b) -> None:
    """Two fits' histories (all but the times) and final states are equal, bit for bit."""
    (ta, ha), (tb, hb) = a[:2], b[:2]
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h.epochs]
    assert strip(ha) == strip(hb)
    assert (ha.stop, ha.reason, ha.best_epoch) == (hb.stop, hb.reason, hb.best_epoch)
    assert all(np.array_equal(x, y) for x, y in zip(params(ta), params(tb), strict=True))


@pytest.mark.parametrize(
    "ahead, calls",
    [
        # epoch 1 (compilation) and 2 (the first measured one) alone, then blocks of 4, the rest
        (0.0, [(1, 1), (2, 1), (3, 4), (7, 4), (11, 1)]),
        # run ahead: epoch 3 is dispatched before epoch 2 is measured
        (1e9, [(1, 1), (2, 1), (3, 1), (4, 4), (8, 4)]),
    ],
)
def test_fused_epochs_equal_single_epochs_bit_for_bit_with_no_second_program(
    monkeypatch, ahead, calls
):
    fused, plain = train(monkeypatch, True, ahead=ahead), train(monkeypatch, False, ahead=ahead)
    assert fused[2] == calls
    assert plain[2] == []
    same_fit(fused, plain)
    assert len(fused[1].epochs) == 11
    # one training program each (its step traced for the full and the remainder batch)
    assert fused[0].batching.remainder == 8
    assert fused[0].traces == plain[0].traces == {"train_epoch": 1, "train_step": 2}


class StopAt:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.epoch:
            trainer.stop_training = True


def test_a_callback_stopping_inside_a_block_keeps_that_epochs_state(monkeypatch):
    fused = train(monkeypatch, True, callbacks=[StopAt(5)])
    # epoch 5 ended inside the block 3..6: its state is computed again (epochs 3..5)
    assert fused[2] == [(1, 1), (2, 1), (3, 4), (3, 3)]
    assert len(fused[1].epochs) == 5
    same_fit(fused, train(monkeypatch, False, callbacks=[StopAt(5)]))


class Reader:
    """Reads the model at every epoch end."""

    def __init__(self):
        self.sums = []

    def on_epoch_end(self, trainer, epoch, logs):
        leaves = jax.tree.leaves(nnx.state(trainer.model))
        self.sums.append([np.asarray(a).tobytes() for a in leaves])


def test_a_callback_reading_the_model_inside_a_block_sees_that_epochs_state(monkeypatch):
    fused_reader, plain_reader = Reader(), Reader()
    fused = train(monkeypatch, True, callbacks=[fused_reader])
    plain = train(monkeypatch, False, callbacks=[plain_reader])
    assert fused_reader.sums == plain_reader.sums
    same_fit(fused, plain)
    # the first read inside the block 3..6 ran its epochs again, one call per state read
    # (3, then 4 from 3's, 5 from 4's); after it every epoch is its own call
    assert fused[2] == [(1, 1), (2, 1), (3, 4), (3, 1), (4, 1), (5, 1)] + [
        (e, 1) for e in range(7, 12)
    ]


class Checkpoints:
    """Reads the state at every third epoch, and says so (as the checkpointer does)."""

    def __init__(self):
        self.seen = {}

    def reads_state(self, epoch):
        return epoch % 3 == 0

    def on_epoch_end(self, trainer, epoch, logs):
        if self.reads_state(epoch):
            self.seen[epoch] = params(trainer)


def test_blocks_end_at_the_epochs_whose_state_a_callback_reads(monkeypatch):
    a, b = Checkpoints(), Checkpoints()
    fused = train(monkeypatch, True, callbacks=[a])
    plain = train(monkeypatch, False, callbacks=[b])
    assert fused[2] == [(1, 1), (2, 1), (3, 1), (4, 3), (7, 3), (10, 2)]  # no epoch run again
    same_fit(fused, plain)
    assert sorted(a.seen) == [3, 6, 9]
    for epoch in a.seen:
        assert all(np.array_equal(x, y) for x, y in zip(a.seen[epoch], b.seen[epoch], strict=True))


@pytest.mark.parametrize(
    "extra",
    [
        # stops inside a block, goes back to the best epoch (inside an earlier block)
        "early_stopping: {monitor: loss, patience: 2, min_delta: 0.02, restore_best: true}",
        # lowers the rate: a block ends at the first epoch where the rule may lower it
        "schedule: reduce_on_plateau(monitor=loss, patience=3, factor=0.5, min_delta=0.02)",
    ],
)
def test_early_stopping_and_plateau_inside_blocks(monkeypatch, extra):
    fused = train(monkeypatch, True, extra=extra, epochs=30)
    plain = train(monkeypatch, False, extra=extra, epochs=30)
    same_fit(fused, plain)
    history = fused[1]
    if "early_stopping" in extra:
        assert history.stop is not None and history.best_epoch < len(history.epochs)
        # stopped at epoch 13 inside the block 11..14; the best epoch 11's state run again
        assert (len(history.epochs), history.best_epoch) == (13, 11)
        assert fused[2] == [(1, 1), (2, 1), (3, 4), (7, 4), (11, 4), (11, 1)]
    else:
        assert len(set(history.series("lr"))) > 2  # the rate dropped at least twice
        assert max(n for _, n in fused[2]) == 3  # blocks of up to `patience` epochs
        assert sum(n for _, n in fused[2]) == 30  # no epoch run twice


def test_a_non_finite_epoch_inside_a_block_rolls_back_to_the_epoch_before(monkeypatch):
    fused = train(monkeypatch, True, lr=0.12, epochs=30)
    plain = train(monkeypatch, False, lr=0.12, epochs=30)
    same_fit(fused, plain)
    history = fused[1]
    assert history.stop is not None and history.stop.value == "nonfinite"
    # epoch 5, inside the block 3..6, diverged: the state of epoch 4 is computed again
    assert len(history.epochs) == 4 and fused[2] == [(1, 1), (2, 1), (3, 4), (3, 2)]
    assert all(np.isfinite(a).all() for a in params(fused[0]))


def test_block_sizes():
    never = lambda e: False
    assert blocks.size(64, None, 2, 200, never) == 1  # not measured yet
    assert blocks.size(1, 1e-4, 3, 200, never) == 1  # no fused program
    assert blocks.size(64, 1e-4, 3, 200, never) == 64  # capacity
    assert blocks.size(64, blocks.BLOCK_S / 5, 3, 200, never) == 5  # ~BLOCK_S of epochs
    assert blocks.size(64, blocks.BLOCK_S * 0.6, 3, 200, never) == 1  # epochs too long to fuse
    assert blocks.size(64, 1e-4, 195, 200, never) == 6  # the last epochs
    assert blocks.size(64, 1e-4, 3, 200, lambda e: e % 5 == 0) == 3  # ends at epoch 5


def test_capacity(monkeypatch):
    monkeypatch.delenv("NNCOMPILE_FUSE", raising=False)
    assert blocks.capacity(320) == blocks.CAPACITY
    assert blocks.capacity(blocks.INDEX_BYTES // 4 // 8) == 8  # the stacked indices bounded
    assert blocks.capacity(10**9) == 1
    monkeypatch.setenv("NNCOMPILE_FUSE", "0")
    assert blocks.capacity(320) == 1


def test_the_kept_philox_generator_draws_what_a_new_one_draws():
    from nncompile.runtime.batches import philox

    rng = np.random.default_rng(0)
    for n in [1, 7, 353, 1000]:
        for _ in range(5):
            key = int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63))
            fresh = np.random.Generator(np.random.Philox(key=key)).permutation(n)
            assert np.array_equal(philox(key).permutation(n), fresh)
            philox(key + 1).random(3)  # a half-used stream in between


def test_short_fits_keep_one_epoch_per_call(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_S", 1e9)
    monkeypatch.delenv("NNCOMPILE_FUSE", raising=False)
    calls = []
    monkeypatch.setattr(Epochs, "block", lambda *a: calls.append(a))
    module = api.compile(text=SPEC.format(lr=0.01, extra="")).module
    trainer = Trainer(module, splits(), epochs=blocks.MIN_EPOCHS - 1, **QUIET)
    assert trainer._fns.fuse == blocks.CAPACITY
    assert len(trainer.fit().epochs) == blocks.MIN_EPOCHS - 1 and calls == []


def test_fusion_pays_for_its_compilation_sooner_with_the_cache():
    assert not blocks.worth(blocks.MIN_EPOCHS - 1, cached=True)
    assert blocks.worth(blocks.MIN_EPOCHS, cached=True)
    assert not blocks.worth(blocks.MIN_EPOCHS_UNCACHED - 1, cached=False)
    assert blocks.worth(blocks.MIN_EPOCHS_UNCACHED, cached=False)
