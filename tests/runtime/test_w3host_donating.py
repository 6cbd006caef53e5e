"""Donating fits (runtime.donating): tiny epochs on a CPU consume their input state.

Each test trains the same tiny program with donation (the default) and without (NNCOMPILE_DONATE=0:
the epoch's input kept intact, as before) and asserts the same history and states, bit for bit,
around everything that needs an older state than the latest: a non-finite epoch's rollback, a
Ctrl-C that lost the state while an epoch ran, a plateau's lower rate, callbacks that read (and
keep) the model. Anchors every 3 epochs, so the states are computed again over several epochs.
"""

import jax
import numpy as np
import pytest
from flax import nnx

import nncompile.api as api
from nncompile.runtime import donating
from nncompile.runtime.compiled import Compiled
from nncompile.runtime.history import StopReason
from nncompile.runtime.loop import Trainer

SPEC = """
model R {{ input x: [10]  dense(8, activation=relu) {dropout} dense(1) }}
train {{ model: R  loss: mse  optimizer: sgd(lr={lr}, momentum=0.9)  batch_size: 32
        epochs: {epochs}  seed: 0  drop_remainder: false {extra} }}
"""


def splits(n=200):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 10)).astype(np.float32)
    y = (x @ rng.normal(size=(10, 1)) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return {"train": (x, y)}


def train(
    monkeypatch, donate: bool, lr=0.01, epochs=10, extra="", callbacks=(), wrap=None, dropout=""
):
    """(trainer, history); `wrap(fn)`: replaces the donated epoch function."""
    monkeypatch.setenv("NNCOMPILE_DONATE", "1" if donate else "0")
    monkeypatch.setenv("NNCOMPILE_FUSE", "0")
    monkeypatch.setattr(donating, "ANCHOR_EPOCHS", 3)
    monkeypatch.setattr(donating, "ANCHOR_SECONDS", float("inf"))  # (anchors by epochs only)
    text = SPEC.format(lr=lr, epochs=epochs, extra=extra, dropout=dropout)
    trainer = Trainer(
        api.compile(text=text).module, splits(), callbacks=list(callbacks), log=lambda m: None
    )
    if wrap is not None:
        trainer._fns.epoch_donated = wrap(trainer._fns.epoch_donated)
    return trainer, trainer.fit()


def leaves(trainer) -> list:
    state = jax.tree.leaves(nnx.state((trainer.model, trainer.optimizer)))
    key = lambda a: jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)
    return [np.asarray(jax.random.key_data(a) if key(a) else a) for a in state]


def same_fit(a, b) -> None:
    (ta, ha), (tb, hb) = a, b
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h.epochs]
    assert strip(ha) == strip(hb)
    assert (ha.stop, ha.reason, ha.best_epoch) == (hb.stop, hb.reason, hb.best_epoch)
    assert all(np.array_equal(x, y) for x, y in zip(leaves(ta), leaves(tb), strict=True))


def calls(trainer) -> tuple[int, int]:
    """Compilations of the donated and of the intact-input epoch."""
    fns = trainer._fns
    return fns.epoch_donated._cache_size(), fns.epoch._cache_size()


def test_a_donating_fit_equals_one_keeping_its_inputs_bit_for_bit(monkeypatch):
    donated, kept = train(monkeypatch, True), train(monkeypatch, False)
    same_fit(donated, kept)
    assert calls(donated[0]) == (1, 0) and calls(kept[0]) == (0, 1)
    assert donated[0].traces == kept[0].traces == {"train_epoch": 1, "train_step": 2}
    # the model the trainer ends with holds live arrays, and a second fit continues from them
    same_fit((donated[0], donated[0].fit()), (kept[0], kept[0].fit()))


@pytest.mark.parametrize("dropout", ["", "dropout(0.1)"])  # (with PRNG keys: a device anchor)
def test_a_nonfinite_epoch_rolls_back_to_the_state_computed_again_from_the_anchor(
    monkeypatch, dropout
):
    # (good epochs, then a non-finite one: the state before it is run again from the anchor's)
    donated = train(monkeypatch, True, lr=0.08, epochs=30, dropout=dropout)
    kept = train(monkeypatch, False, lr=0.08, epochs=30, dropout=dropout)
    assert donated[1].stop == StopReason.NONFINITE
    assert len(donated[1].epochs) >= 4
    same_fit(donated, kept)


class Interrupt:
    """The donated epoch function, raising KeyboardInterrupt as epoch `at` returns: its result and
    its (donated) input are lost, as with a Ctrl-C while the epoch runs."""

    def __init__(self, fn, at: int):
        self.fn, self.at = fn, at

    def __call__(self, state, acc, epoch, *args):
        out = self.fn(state, acc, epoch, *args)
        if epoch == self.at:
            raise KeyboardInterrupt
        return out

    def _cache_size(self):
        return self.fn._cache_size()


class StopAt:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_while_an_epoch_runs_keeps_the_last_complete_epoch(monkeypatch):
    donated = train(monkeypatch, True, wrap=lambda fn: Interrupt(fn, 8))
    kept = train(monkeypatch, False, callbacks=[StopAt(7)])
    assert donated[1].stop == kept[1].stop == StopReason.INTERRUPTED
    assert donated[0].epochs_done == 7
    same_fit(donated, kept)


class Keeper:
    """Reads the model at every epoch end and keeps its arrays (and their values then)."""

    def __init__(self):
        self.arrays: list = []
        self.values: list = []

    def on_epoch_end(self, trainer, epoch, logs):
        arrays = jax.tree.leaves(nnx.state(trainer.model))
        self.arrays.append(arrays)
        self.values.append([np.array(a) for a in arrays])


def test_callbacks_reading_the_model_get_arrays_the_fit_does_not_donate(monkeypatch):
    a, b = Keeper(), Keeper()
    donated, kept = (
        train(monkeypatch, True, callbacks=[a]),
        train(monkeypatch, False, callbacks=[b]),
    )
    same_fit(donated, kept)
    assert calls(donated[0]) == (1, 0)
    for arrays, values, other in zip(a.arrays, a.values, b.values, strict=True):
        assert not any(x.is_deleted() for x in arrays)
        assert all(
            np.array_equal(x, v) and np.array_equal(v, w)
            for x, v, w in zip(arrays, values, other, strict=True)
        )


def test_a_plateau_lowering_the_rate_between_anchors_equal_without_donation(monkeypatch):
    extra = "schedule: reduce_on_plateau(monitor=loss, patience=1, factor=0.5)"
    donated = train(monkeypatch, True, lr=0.1, epochs=16, extra=extra)
    kept = train(monkeypatch, False, lr=0.1, epochs=16, extra=extra)
    assert len({e["lr"] for e in donated[1].epochs}) > 2  # (lowered twice or more)
    same_fit(donated, kept)


class ReadsState:
    """A callback that declares the epochs whose state it reads (like checkpoints)."""

    def reads_state(self, epoch):
        return epoch % 2 == 0


@pytest.mark.parametrize(
    "extra, callbacks",
    [
        ("early_stopping: {monitor: loss, patience: 2, restore_best: true}", ()),
        ("", [ReadsState()]),
    ],
)
def test_no_donation_with_restore_best_or_callbacks_reading_older_states(
    monkeypatch, extra, callbacks
):
    trainer, _ = train(monkeypatch, True, extra=extra, callbacks=callbacks)
    assert calls(trainer) == (0, 1)


def test_compiled_has_no_donated_epoch_where_the_loop_has_traced_bounds():
    module = api.compile(text=SPEC.format(lr=0.01, epochs=2, extra="", dropout="")).module
    trainer = Trainer(module, splits(), log=lambda m: None)
    args = dict(trainer._fns._arguments, chunked=True)
    assert Compiled(**args).epoch_donated is None


def test_slow_epochs_keep_an_anchor_each_so_a_rollback_never_runs_long():
    """The anchor is taken again after ANCHOR_EPOCHS epochs, or sooner once ANCHOR_SECONDS have
    passed (a Ctrl-C on a fit of 3-second epochs would otherwise run up to 63 of them again)."""
    clock = [0.0]
    runs: list[int] = []
    anchor = donating.Anchor(
        copy=lambda s: list(s),
        run=lambda s, e: runs.append(e) or [s[0] + 1],
        clock=lambda: clock[0],
    )
    state = [np.zeros(2, np.float32)]
    for done in range(0, 5):  # fast epochs: one anchor, at epoch 0
        anchor.keep(done, state)
        clock[0] += donating.ANCHOR_SECONDS / 10
    assert anchor.epoch == 0
    assert anchor.state_at(3)[0].tolist() == [3.0, 3.0] and runs == [1, 2, 3]
    clock[0] += donating.ANCHOR_SECONDS  # a slow epoch: the next keep copies again
    anchor.keep(5, state)
    assert anchor.epoch == 5
    anchor.keep(5, state)  # (the same epoch twice: no new copy)
    assert anchor.epoch == 5 and anchor.taken == clock[0]
