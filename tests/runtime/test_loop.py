"""The training engine on hand-written emitted programs (tests/runtime/fixtures/)."""

import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from flax import nnx
from sklearn.datasets import load_diabetes, load_digits
from sklearn.model_selection import train_test_split

from nncompile.runtime.batches import batching
from nncompile.runtime.loop import Trainer
from nncompile.runtime.outputs import load_params, write_run
from nncompile.runtime.progress import Progress
from nncompile.runtime.runfolder import FILES
from nncompile.runtime.stopping import Stopping

FIXTURES = Path(__file__).parent / "fixtures"
QUIET = {"log": lambda message: None}


def program(name: str, **replace) -> types.ModuleType:
    """Load a fixture program; `replace` swaps module attributes (e.g. make_optimizer) in a fresh
    copy."""
    spec = importlib.util.spec_from_file_location(f"fixture_{name}", FIXTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for key, value in replace.items():
        setattr(module, key, value)
    return module


def standardise(train, *others):
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > 0, std, 1.0)  # constant columns (digits' border pixels) stay as they are
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def digits_splits(images=False):
    d = load_digits()
    x, y = d.data.astype(np.float32), d.target.astype(np.int32)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.3, random_state=0, stratify=y
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    x_train, x_val, x_test = standardise(x_train, x_val, x_test)
    if images:
        x_train, x_val, x_test = (a.reshape(-1, 8, 8, 1) for a in (x_train, x_val, x_test))
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def diabetes_splits():
    d = load_diabetes()
    x, y = d.data.astype(np.float32), d.target.astype(np.float32)[:, None]
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.3, random_state=0)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=0)
    x_train, x_val, x_test = standardise(x_train, x_val, x_test)
    y_train, y_val, y_test = standardise(y_train, y_val, y_test)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


DIGITS = digits_splits()
IMAGES = digits_splits(images=True)
DIABETES = diabetes_splits()


def params_of(trainer) -> dict:
    return jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(trainer.model, nnx.Param)))


def same(a, b) -> bool:
    return all(jax.tree.leaves(jax.tree.map(np.array_equal, a, b)))


def params_sha256(trainer) -> str:
    digest = hashlib.sha256()
    for path, leaf in sorted(
        jax.tree_util.tree_flatten_with_path(params_of(trainer))[0],
        key=lambda item: jax.tree_util.keystr(item[0]),
    ):
        digest.update(jax.tree_util.keystr(path).encode())
        digest.update(np.ascontiguousarray(leaf).tobytes())
    return digest.hexdigest()


class Record:
    """Callback: compile counts and logs at each epoch end."""

    def __init__(self):
        self.compiles, self.logs = [], []

    def on_epoch_end(self, trainer, epoch, logs):
        self.compiles.append(dict(trainer.traces))
        self.logs.append(logs)


@pytest.fixture(scope="module")
def mlp():
    """The MLP fixture trained for its CONFIG's 15 epochs (shared by several tests)."""
    record = Record()
    trainer = Trainer(program("mlp_digits"), DIGITS, callbacks=[record], **QUIET)
    return trainer, trainer.fit(), record


# ---- training works ------------------------------------------------------------------------------
def test_loss_decreases_and_history_is_complete(mlp):
    _, history, _ = mlp
    losses = history.series("loss")
    assert losses[2] < losses[0] and losses[-1] < losses[2]
    assert history.series("val_loss")[-1] < history.series("val_loss")[0]
    first = history.epochs[0]
    assert list(first) == [
        "epoch",
        "loss",
        "accuracy",
        "top_3",
        "f1",
        "val_loss",
        "val_accuracy",
        "val_top_3",
        "val_f1",
        "seconds",
    ]
    assert (
        history.steps_per_epoch == len(DIGITS["train"][0]) // 64
        and history.examples_per_epoch == 64 * 19
    )
    assert not history.stopped_early and history.reason is None
    assert history.best_epoch == int(np.argmin(history.series("val_loss"))) + 1


def test_mlp_reaches_95_percent_test_accuracy_in_15_epochs(mlp):
    trainer, history, _ = mlp
    assert len(history.epochs) <= 15
    result = trainer.evaluate("test")
    assert set(result) == {"loss", "accuracy", "top_3", "f1"}
    assert result["accuracy"] >= 0.95
    predicted = trainer.predict(DIGITS["test"][0])
    assert predicted.shape == (len(DIGITS["test"][0]), 10)
    np.testing.assert_allclose(predicted.sum(-1), 1.0, rtol=1e-5)  # softmax applied
    assert np.mean(predicted.argmax(-1) == DIGITS["test"][1]) == pytest.approx(result["accuracy"])


def test_compiled_once_no_retrace_after_first_epoch(mlp):
    trainer, _, record = mlp
    assert record.compiles[0] == {"train_epoch": 1, "train_step": 1, "eval": 1}
    assert all(c == record.compiles[0] for c in record.compiles[1:])
    before = trainer.compile_count
    trainer.evaluate("val")  # same shapes as the per-epoch validation
    trainer.fit()  # continuing: epochs 16..30, same functions
    assert trainer.compile_count == before
    assert trainer.epochs_done == 30


def test_step_strategy_compiles_once_and_matches_scan():
    splits = {"train": DIGITS["train"]}
    record = Record()
    step = Trainer(
        program("mlp_digits"),
        splits,
        epochs=3,
        config={"strategy": "step"},
        callbacks=[record],
        **QUIET,
    )
    scan = Trainer(program("mlp_digits"), splits, epochs=3, config={"strategy": "scan"}, **QUIET)
    step.fit(), scan.fit()
    assert record.compiles == [{"train_step": 1}] * 3
    for a, b in zip(
        jax.tree.leaves(params_of(step)), jax.tree.leaves(params_of(scan)), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)


def test_remainder_batch_runs_as_a_second_compiled_step():
    """drop_remainder False: the last smaller batch is a second compiled step, in both
    strategies."""
    results = {}
    for strategy in ("scan", "step"):
        record = Record()
        trainer = Trainer(
            program("regression_diabetes"),
            DIABETES,
            epochs=3,
            callbacks=[record],
            config={"strategy": strategy, "early_stopping": None},
            **QUIET,
        )
        history = trainer.fit()
        n = len(DIABETES["train"][0])
        assert history.examples_per_epoch == n and history.steps_per_epoch == -(-n // 32)
        assert record.compiles[0]["train_step"] == 2 and record.compiles[-1] == record.compiles[0]
        assert set(history.epochs[0]) >= {"loss", "mae", "rmse", "val_loss", "val_mae", "val_rmse"}
        results[strategy] = params_of(trainer)
    for a, b in zip(
        jax.tree.leaves(results["scan"]), jax.tree.leaves(results["step"]), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("batch_size, steps", [("full", 1), (1, 200)])
def test_full_batch_and_stochastic(batch_size, steps):
    x, y = DIGITS["train"]
    trainer = Trainer(
        program("mlp_digits"),
        {"train": (x[:200], y[:200])},
        epochs=2,
        config={"batch_size": batch_size},
        **QUIET,
    )
    history = trainer.fit()
    assert trainer.batching.steps == steps and history.steps_per_epoch == steps
    assert history.examples_per_epoch == 200
    assert history.epochs[1]["loss"] < history.epochs[0]["loss"]


def test_batching_plan():
    assert batching(64, 1257, True) == batching(64, 1257, True)
    b = batching(64, 1257, True)
    assert (b.size, b.steps, b.remainder, b.dropped, b.updates, b.examples) == (
        64,
        19,
        0,
        41,
        19,
        1216,
    )
    b = batching(64, 1257, False)
    assert (b.steps, b.remainder, b.dropped, b.updates, b.examples) == (19, 41, 0, 20, 1257)
    assert batching("full", 100, True).size == 100 and batching(500, 100, True).size == 100


# ---- determinism and modes -----------------------------------------------------------------------
DETERMINISM_SCRIPT = """
import sys; sys.path.insert(0, {tests!r})
import test_loop as t
trainer = t.Trainer(t.program("mlp_digits"), t.DIGITS, epochs=2, **t.QUIET)
trainer.fit()
print(t.params_sha256(trainer))
"""


def test_bitwise_deterministic_in_process_and_across_processes():
    hashes = []
    for _ in range(2):
        trainer = Trainer(program("mlp_digits"), DIGITS, epochs=2, **QUIET)
        trainer.fit()
        hashes.append(params_sha256(trainer))
    assert hashes[0] == hashes[1]
    script = DETERMINISM_SCRIPT.format(tests=str(Path(__file__).parent))
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == hashes[0]
    other_seed = Trainer(program("mlp_digits"), DIGITS, epochs=2, seed=1, **QUIET)
    other_seed.fit()
    assert params_sha256(other_seed) != hashes[0]


class HeavyDropout(nnx.Module):
    def __init__(self, rngs):
        self.dense_1 = nnx.Linear(64, 128, rngs=rngs)
        self.dropout_1 = nnx.Dropout(0.5, rngs=rngs)
        self.dense_2 = nnx.Linear(128, 10, rngs=rngs)

    def __call__(self, x):
        return self.dense_2(self.dropout_1(jax.nn.relu(self.dense_1(x))))


def test_eval_mode_turns_dropout_off():
    trainer = Trainer(
        program("mlp_digits", make_model=lambda seed: HeavyDropout(nnx.Rngs(seed))),
        {"train": DIGITS["train"], "val": DIGITS["val"]},
        epochs=1,
        **QUIET,
    )
    trainer.fit()
    x = DIGITS["val"][0]
    first, second = trainer.predict(x), trainer.predict(x)
    assert np.array_equal(first, second)
    assert trainer.evaluate("val") == trainer.evaluate("val")
    train_mode = trainer.model(x)  # the model itself stays in train mode
    assert not np.allclose(train_mode, trainer.model(x))
    np.testing.assert_allclose(
        first[:7], trainer.predict(x[:7]), rtol=1e-5, atol=1e-6
    )  # padded bucket


def test_batchnorm_uses_running_statistics_and_augmentation_only_in_training():
    """The CNN fixture (BatchNorm, random_shift, strategy step): eval outputs do not depend on the
    batch."""
    record = Record()
    trainer = Trainer(program("cnn_digits"), IMAGES, epochs=2, callbacks=[record], **QUIET)
    history = trainer.fit()
    assert record.compiles[0] == record.compiles[1] == {"train_step": 1, "eval": 1}
    x = IMAGES["test"][0]
    whole = trainer.predict(x)
    np.testing.assert_allclose(whole[:5], trainer.predict(x[:5]), rtol=1e-5, atol=1e-6)
    assert np.array_equal(whole, trainer.predict(x))
    assert history.epochs[-1]["val_accuracy"] > 0.5


# ---- stopping ------------------------------------------------------------------------------------
def test_early_stopping_stops_and_restores_best():
    config = {
        "early_stopping": {
            "monitor": "val_loss",
            "patience": 2,
            "min_delta": 100.0,
            "restore_best": True,
        }
    }
    trainer = Trainer(program("regression_diabetes"), DIABETES, epochs=20, config=config, **QUIET)
    history = trainer.fit()
    assert history.stopped_early and history.best_epoch == 1 and len(history.epochs) == 3
    assert "early stopping" in history.reason and "val_loss" in history.reason
    assert trainer.evaluate("val")["loss"] == pytest.approx(history.epochs[0]["val_loss"], rel=1e-6)
    one_epoch = Trainer(program("regression_diabetes"), DIABETES, epochs=1, config=config, **QUIET)
    one_epoch.fit()
    assert same(params_of(trainer), params_of(one_epoch))


def test_early_stopping_on_a_maximised_metric_without_restore():
    config = {
        "early_stopping": {
            "monitor": "val_accuracy",
            "patience": 1,
            "min_delta": 1.0,
            "restore_best": False,
        },
        "strategy": "step",
    }
    trainer = Trainer(program("mlp_digits"), DIGITS, epochs=10, config=config, **QUIET)
    history = trainer.fit()
    assert (
        history.monitor == "val_accuracy" and history.best_epoch == 1 and len(history.epochs) == 2
    )
    assert trainer.evaluate("val")["accuracy"] == pytest.approx(history.epochs[-1]["val_accuracy"])


def test_stopping_rule():
    rule = Stopping("val_loss", patience=2, min_delta=0.1)
    improved = [
        rule.update({"epoch": e, "val_loss": v}) for e, v in enumerate([1.0, 0.95, 0.85, 0.9], 1)
    ]
    assert improved == [True, False, True, False] and rule.best_epoch == 3 and not rule.exhausted
    rule.update({"epoch": 5, "val_loss": 0.8})
    assert rule.exhausted and "best 0.85 at epoch 3" in rule.reason()
    eager = Stopping(
        "val_accuracy", patience=0
    )  # patience 0: stop at the first epoch without progress
    assert eager.update({"epoch": 1, "val_accuracy": 0.5}) and not eager.exhausted
    assert not eager.update({"epoch": 2, "val_accuracy": 0.4}) and eager.exhausted
    assert not Stopping("loss").exhausted


def test_monitor_falls_back_to_train_keys_without_validation():
    notes = []
    trainer = Trainer(
        program("regression_diabetes"), {"train": DIABETES["train"]}, epochs=2, log=notes.append
    )
    assert trainer.fit().monitor == "loss"
    assert any("no validation split" in n for n in notes)
    bad = Trainer(
        program("regression_diabetes"),
        DIABETES,
        epochs=2,
        config={"early_stopping": {"monitor": "val_accuracy", "patience": 1}},
        **QUIET,
    )
    with pytest.raises(ValueError, match="cannot monitor 'val_accuracy'"):
        bad.fit()


def growing_lr(steps_per_epoch, epochs):
    """SGD whose learning rate grows 10x per epoch: fine for two epochs, then it diverges."""
    return optax.sgd(lambda count: 1e-3 * 10.0 ** (count // steps_per_epoch), momentum=0.9)


def test_nonfinite_loss_stops_and_keeps_last_good_epoch():
    config = {"early_stopping": None}
    record = Record()
    trainer = Trainer(
        program("regression_diabetes", make_optimizer=growing_lr),
        DIABETES,
        epochs=12,
        config=config,
        callbacks=[record],
        **QUIET,
    )
    history = trainer.fit()
    bad = len(history.epochs) + 1
    assert history.stopped_early and not history.interrupted and 2 < bad <= 12
    assert (
        f"non-finite (nan) in epoch {bad}, step" in history.reason
        or f"(inf) in epoch {bad}, step" in history.reason
    )
    assert (
        "learning rate" in history.reason
        and "clip" in history.reason
        and "normalis" in history.reason
    )
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(params_of(trainer)))
    good = Trainer(
        program("regression_diabetes", make_optimizer=growing_lr),
        DIABETES,
        epochs=12,
        config=config,
        **QUIET,
    )
    good.epochs = bad - 1
    good.fit()
    assert same(params_of(trainer), params_of(good))


def test_nan_data_in_step_mode_names_the_step():
    x, y = DIABETES["train"]
    x = x.copy()
    x[5, 0] = np.nan
    trainer = Trainer(
        program("regression_diabetes"),
        {"train": (x, y)},
        epochs=3,
        config={"strategy": "step", "early_stopping": None},
        **QUIET,
    )
    initial = params_of(trainer)
    history = trainer.fit()
    assert history.epochs == [] and history.stopped_early
    assert "in epoch 1, step " in history.reason and "initial parameters" in history.reason
    assert same(params_of(trainer), initial)


class Interrupt:
    def __init__(self, epoch=None, step=None):
        self.epoch, self.step = epoch, step

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.epoch:
            raise KeyboardInterrupt

    def on_step_end(self, trainer, epoch, step, steps):
        if (epoch, step) == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("where, kept", [({"epoch": 2}, 2), ({"step": (2, 5)}, 1)])
def test_keyboard_interrupt_keeps_last_completed_epoch(where, kept):
    config = {"strategy": "step", "early_stopping": None}
    trainer = Trainer(
        program("regression_diabetes"),
        DIABETES,
        epochs=5,
        config=config,
        callbacks=[Interrupt(**where)],
        **QUIET,
    )
    history = trainer.fit()  # nothing raised
    assert history.interrupted and history.stopped_early and history.reason == "interrupted"
    assert len(history.epochs) == kept
    reference = Trainer(program("regression_diabetes"), DIABETES, epochs=5, config=config, **QUIET)
    reference.epochs = kept
    reference.fit()
    assert same(params_of(trainer), params_of(reference))


def test_callback_can_stop_training():
    class Stop:
        def on_epoch_end(self, trainer, epoch, logs):
            trainer.stop_training = epoch == 2

    history = Trainer(
        program("regression_diabetes"), DIABETES, epochs=5, callbacks=[Stop()], **QUIET
    ).fit()
    assert len(history.epochs) == 2 and history.reason == "stopped by a callback"


# ---- state, learning rate, outputs, progress -----------------------------------------------------
def test_state_round_trip_and_learning_rate_in_history():
    adam = lambda steps, epochs: optax.inject_hyperparams(optax.adam)(learning_rate=2e-3)
    trainer = Trainer(
        program("mlp_digits", make_optimizer=adam), {"train": DIGITS["train"]}, epochs=1, **QUIET
    )
    history = trainer.fit()
    assert history.epochs[0]["lr"] == pytest.approx(2e-3)
    state = trainer.state()
    leaves = jax.tree.leaves(state)
    assert not any(
        jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) for a in leaves
    )  # keys as raw data
    fresh = Trainer(
        program("mlp_digits", make_optimizer=adam), {"train": DIGITS["train"]}, epochs=1, **QUIET
    )
    assert not same(params_of(fresh), params_of(trainer))
    fresh.load_state(state)
    assert same(jax.tree.map(np.asarray, fresh.state()), jax.tree.map(np.asarray, state))
    assert int(fresh.optimizer.step[...]) == trainer.batching.updates


def test_run_folder_and_params_round_trip(tmp_path):
    trainer = Trainer(program("cnn_digits"), IMAGES, epochs=2, **QUIET)
    history = trainer.fit()
    test = trainer.evaluate("test")
    run = write_run(
        tmp_path / "run",
        program_source=(FIXTURES / "cnn_digits.py").read_text(),
        resolved_spec={"spec": "digits_cnn.nn", "epochs": 2},
        history=history,
        test_metrics=test,
        trainer=trainer,
    )
    assert sorted(os.listdir(run)) == sorted(FILES)
    png = (run / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    csv_lines = (run / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,loss,accuracy,val_loss") and len(csv_lines) == 3
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"] == pytest.approx(test) and summary["epochs_run"] == 2
    assert summary["best_epoch"] == history.best_epoch and summary["stop_reason"] is None
    assert summary["examples_per_second"] > 0 and summary["parameters"] > 0
    assert json.loads((run / "spec.json").read_text())["spec"] == "digits_cnn.nn"
    assert (run / "program.py").read_text().startswith('"""Hand-written emitted program')

    restored = Trainer(program("cnn_digits"), IMAGES, epochs=2, **QUIET)
    load_params(run, restored)
    x = IMAGES["test"][0]
    assert np.array_equal(restored.predict(x), trainer.predict(x))
    assert restored.evaluate("test") == test


def test_progress_tty_plain_and_quiet():
    streams = {mode: io.StringIO() for mode in ("tty", "plain", "quiet")}
    callbacks = [
        Progress(streams["tty"], tty=True, redraw_every=0.0),
        Progress(streams["plain"], tty=False),
        Progress(streams["quiet"], quiet=True),
    ]
    Trainer(
        program("regression_diabetes"),
        DIABETES,
        epochs=3,
        callbacks=callbacks,
        config={"strategy": "step", "early_stopping": None},
        **QUIET,
    ).fit()
    plain = streams["plain"].getvalue()
    assert "\r" not in plain and len(plain.splitlines()) == 3
    assert plain.splitlines()[0].startswith("epoch 1/3  loss ") and "val_mae" in plain
    tty = streams["tty"].getvalue()
    assert "\r" in tty and "step 5/" in tty and "epoch 3/3  loss" in tty
    assert streams["quiet"].getvalue() == ""


# ---- epochs in chunks (strategy "scan" with step callbacks) --------------------------------------
class Steps:
    def __init__(self):
        self.seen = []

    def on_step_end(self, trainer, epoch, step, steps):
        self.seen.append((epoch, step, steps))


@pytest.mark.parametrize("drop_remainder", [False, True])
def test_chunked_epochs_train_exactly_like_whole_epochs(monkeypatch, drop_remainder):
    from nncompile.runtime import loop

    monkeypatch.setattr(
        loop, "CHUNK_MIN_WORK", 0
    )  # the diabetes regressor is tiny: chunk it anyway
    config = {"early_stopping": None, "drop_remainder": drop_remainder}
    whole = Trainer(program("regression_diabetes"), DIABETES, epochs=3, config=config, **QUIET)
    expected = whole.fit()
    monkeypatch.setattr(loop, "CHUNK_S", 0.0)  # once a step's time is known: chunks of one step
    steps = Steps()
    chunked = Trainer(
        program("regression_diabetes"),
        DIABETES,
        epochs=3,
        config=config,
        callbacks=[steps],
        **QUIET,
    )
    history = chunked.fit()
    b = chunked.batching
    assert chunked.chunked and whole.chunked
    assert b.remainder == (0 if drop_remainder else len(DIABETES["train"][0]) % 32)
    assert steps.seen[0] == (1, 1, b.updates)  # the first call of a trainer is one step
    assert steps.seen[1] == (1, 3, b.updates)  # then 2 steps, which give the time of a step
    assert steps.seen[2:] == [(1, s, b.updates) for s in range(4, b.steps)] + [
        (e, s, b.updates) for e in (2, 3) for s in range(1, b.steps)
    ]
    assert chunked.traces["train_epoch"] == 1  # one compilation serves every chunk
    assert same(params_of(chunked), params_of(whole))
    assert history.series("loss") == expected.series("loss")
    assert history.series("val_loss") == expected.series("val_loss")


def test_fast_epochs_are_not_chunked_after_the_first_steps(monkeypatch):
    from nncompile.runtime import loop

    monkeypatch.setattr(loop, "CHUNK_MIN_WORK", 600_000)
    monkeypatch.setattr(loop, "CHUNK_S", 60.0)  # robust to a slow moment of a busy machine
    steps = Steps()
    trainer = Trainer(
        program("mlp_digits"),
        {"train": DIGITS["train"]},
        epochs=3,
        config={"early_stopping": None},
        callbacks=[steps],
        **QUIET,
    )
    assert trainer.chunked  # 64 x 9.6k parameters of work per step
    trainer.fit()
    updates = trainer.batching.updates
    assert steps.seen == [
        (1, 1, updates),
        (1, 3, updates),
    ]  # then a step is known to take far less than CHUNK_S


def test_the_epoch_that_compiled_gives_no_step_time(monkeypatch):
    from nncompile.runtime import loop

    monkeypatch.setattr(loop, "CHUNK_MIN_WORK", 600_000)
    monkeypatch.setattr(loop, "CHUNK_S", 60.0)
    trainer = Trainer(
        program("mlp_digits"),
        {"train": DIGITS["train"]},
        epochs=1,
        config={"early_stopping": None},
        callbacks=[Steps()],
        **QUIET,
    )
    history = trainer.fit()
    epochs = trainer._epochs
    measured = epochs.step_seconds  # by epoch 1's second chunk (2 steps, compiled already)
    assert measured is not None and epochs.compiling
    # the epoch's wall time holds the compilation: it does not replace the measured step time
    assert measured != history.epochs[0]["seconds"] / trainer.batching.updates
    epochs.compiling = False  # a later epoch's wall time does
    epochs.timed(2.0)
    assert epochs.step_seconds == 2.0 / trainer.batching.updates


def test_tiny_programs_run_whole_epochs_as_scans():
    steps = Steps()
    trainer = Trainer(
        program("regression_diabetes"),
        DIABETES,
        epochs=3,
        config={"early_stopping": None},
        callbacks=[steps],
        **QUIET,
    )
    assert not trainer.chunked  # 32 x 769 parameters: a loop of known length
    trainer.fit()
    assert steps.seen == [] and trainer.traces["train_epoch"] == 1


# ---- evaluation batches sized to memory ----------------------------------------------------------
def test_eval_batch_follows_free_memory():
    from nncompile.runtime.compiled import EVAL_BATCH, MIN_EVAL_BATCH, eval_batch

    assert (
        eval_batch(None, 10**10) == EVAL_BATCH == eval_batch(1000, None)
    )  # unknown: the fixed default
    assert (
        eval_batch(1000, 8 * 10**9) == 250_000
    )  # a quarter of 8 GB over 1000 floats x 4 bytes x 2
    assert eval_batch(10**9, 10**9) == MIN_EVAL_BATCH


def test_evaluation_in_chunks_matches_one_batch():
    whole = Trainer(program("mlp_digits"), DIGITS, epochs=2, **QUIET)
    whole.fit()
    assert whole.eval_batch == 8192  # the fixture states no activation size
    chunked = Trainer(program("mlp_digits"), DIGITS, epochs=2, **QUIET)
    chunked.eval_batch = 64  # 270 test examples: 4 full chunks and one of 14
    chunked.fit()
    assert same(params_of(whole), params_of(chunked))
    a, b = whole.evaluate("test"), chunked.evaluate("test")
    assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-5) for k in a)
    np.testing.assert_allclose(
        chunked.predict(DIGITS["test"][0]), whole.predict(DIGITS["test"][0]), rtol=1e-5
    )
