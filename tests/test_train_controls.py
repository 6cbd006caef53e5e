"""Training controls (issue 16): the learning rate held in the optimizer state and logged,
reduce_on_plateau on a monitored value, composed schedules, the rate after `unfreeze_after`, frozen
BatchNorm, and metrics on probabilities where the head is fused."""

from __future__ import annotations

import csv
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from interrupts import StopAt

import nncompile
from nncompile.registry.metrics import Head
from nncompile.runtime import metrics as M
from nncompile.runtime.plateau import Plateau

DIGITS = """
data d {
  source: sklearn("digits")
  split: {train: 0.7, val: 0.15, test: 0.15}
}
"""


def compiled(body: str, **kw) -> nncompile.Program:
    return nncompile.compile(text=DIGITS + body, **kw)


def quiet_fit(program, **kw):
    return program.fit(log=lambda line: None, **kw)


# ---- metrics on probabilities --------------------------------------------------------------------
def test_error_metric_of_a_fused_sigmoid_head_reads_probabilities():
    logits = jnp.array([[4.0], [-3.0], [0.5], [12.0]])
    y = jnp.array([1, 0, 0, 1])
    head = Head("classification", 1, logits=True, activation="sigmoid")
    m = M.metric("mse", head)
    got = m.finalize(jax.device_get(m.update(m.init(), logits, y)))
    want = float(np.mean((1 / (1 + np.exp(-np.asarray(logits[:, 0]))) - np.asarray(y)) ** 2))
    assert got == pytest.approx(want, rel=1e-6)
    assert got < 0.25  # on the logits it would be ~38


BINARY = """
data bc {
  source: npz("PATH")
  split: {train: 0.7, val: 0.15, test: 0.15}
}
model B {
  input x: [30]
  dense(16, activation=relu)
  dense(1, activation=sigmoid)
}
train {
  model: B  data: bc  loss: binary_crossentropy
  optimizer: adam(lr=1e-2)  batch_size: 32  epochs: 4
  metrics: [mse, mae, accuracy]
}
"""


def test_mse_with_sigmoid_and_binary_crossentropy_is_computed_on_probabilities(tmp_path):
    # the peer's case: a fused sigmoid head, binary cross-entropy, `metrics: [mse]`
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    np.savez(tmp_path / "bc.npz", x=x.astype(np.float32), y=y.astype(np.int64))
    program = nncompile.compile(text=BINARY.replace("PATH", str(tmp_path / "bc.npz")))
    assert program.config["output_activation"] == "sigmoid"  # the model returns logits
    history = quiet_fit(program)
    trainer = program.trainer
    got = trainer.evaluate("test")
    x_test, y_test = trainer.splits["test"]
    p = np.asarray(trainer.predict(x_test))[:, 0]  # probabilities (predict applies sigmoid)
    assert p.min() >= 0 and p.max() <= 1
    assert got["mse"] == pytest.approx(float(np.mean((p - y_test) ** 2)), rel=1e-4, abs=1e-6)
    assert got["mae"] == pytest.approx(float(np.mean(np.abs(p - y_test))), rel=1e-4, abs=1e-6)
    assert got["mse"] < 0.1  # on the logits it was > 1
    # the validation mse falls with the loss (on logits it rose while the loss fell)
    val_mse = history.series("val_mse")
    assert val_mse[-1] < val_mse[0]


# ---- the lr column -------------------------------------------------------------------------------
MLP = """
model M {
  input x: [64]
  dense(32, activation=relu)
  dense(10, activation=softmax)
}
"""


def test_lr_column_in_metrics_csv_follows_the_schedule(tmp_path):
    from nncompile.cli import main

    spec = tmp_path / "s.nn"
    spec.write_text(
        DIGITS
        + MLP
        + """
train {
  model: M  data: d  loss: categorical_crossentropy
  optimizer: adam(lr=1e-2)  schedule: step(every=1, factor=0.5)
  batch_size: 64  epochs: 3
}
"""
    )
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == 0
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    lr = [float(r["lr"]) for r in rows]
    # the rate of each epoch's last step: 1e-2 * 0.5 ** (epochs completed - 1) ... stepping at each
    # epoch boundary (optax counts the step before the update)
    assert lr == pytest.approx([1e-2, 5e-3, 2.5e-3], rel=1e-5)
    assert (tmp_path / "run" / "curves.png").stat().st_size > 5000


# ---- reduce_on_plateau ---------------------------------------------------------------------------
def test_plateau_rule_patience_factor_min_lr_and_cooldown():
    rule = Plateau("val_loss", patience=2, factor=0.5, min_lr=0.3, cooldown=1)
    lr, drops = 1.0, []
    values = [1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.99, 0.98, 0.97, 0.96]
    for epoch, v in enumerate(values, 1):
        new = rule.update({"val_loss": v}, lr)
        if new is not None:
            drops.append((epoch, new))
            lr = new
    # epochs 3, 4 do not improve on 0.9: drop at 4; epoch 5 is the cooldown; 6, 7: drop at 7 (to
    # 0.3, the floor: not 0.25); later epochs never drop below min_lr
    assert drops == [(4, 0.5), (7, 0.3)]
    up = Plateau("val_accuracy", patience=1, factor=0.1)
    assert up.update({"val_accuracy": 0.5}, 1.0) is None
    assert up.update({"val_accuracy": 0.6}, 1.0) is None  # higher is better for accuracy
    assert up.update({"val_accuracy": 0.55}, 1.0) == pytest.approx(0.1)


PLATEAU = """
train {
  model: M  data: d  loss: categorical_crossentropy
  optimizer: adam(lr=0.05)
  schedule: reduce_on_plateau(monitor=val_loss, patience=1, factor=0.2, min_lr=1e-4)
  batch_size: 32  epochs: EPOCHS  seed: 1
  CHECKPOINT
}
"""


def expected_rates(history, lr: float, patience: int, factor: float, min_lr: float) -> list:
    """The rate each epoch trains at, replaying the rule on the history's val_loss."""
    best, wait, rates = math.inf, 0, []
    for e in history.epochs:
        rates.append(lr)
        if e["val_loss"] < best:
            best, wait = e["val_loss"], 0
            continue
        wait += 1
        if wait >= patience and np.float32(lr) > np.float32(min_lr):
            lr, wait = max(lr * factor, min_lr), 0
    return rates


def test_reduce_on_plateau_watches_val_loss_and_stops_at_min_lr():
    program = compiled(MLP + PLATEAU.replace("EPOCHS", "12").replace("CHECKPOINT", ""))
    history = quiet_fit(program)
    lr = history.series("lr")
    assert lr == pytest.approx(expected_rates(history, 0.05, 1, 0.2, 1e-4), rel=1e-5)
    assert lr[0] == pytest.approx(0.05) and min(lr) == pytest.approx(1e-4, rel=1e-5)
    # val_loss drove it: the training loss fell at every epoch where the rate dropped
    loss = history.series("loss")
    drops = [i for i in range(1, len(lr)) if lr[i] < lr[i - 1] * 0.99]
    assert drops and all(loss[i - 1] < loss[i - 2] for i in drops if i >= 2)


def test_reduce_on_plateau_resumes_bitwise(tmp_path):
    from nncompile.runtime.digest import sha256

    text = MLP + PLATEAU.replace("EPOCHS", "8").replace(
        "CHECKPOINT", "checkpoint: {every: 1, keep: 2}"
    )
    reference = compiled(text)
    want = quiet_fit(reference, run_dir=tmp_path / "ref")

    first = compiled(text)
    assert quiet_fit(first, run_dir=tmp_path / "run", callbacks=[StopAt(4)]).interrupted
    again = compiled(text)
    got = quiet_fit(again, run_dir=tmp_path / "run", resume=True)
    assert got.series("lr") == want.series("lr")
    assert sha256(again.trainer.state()["model"]) == sha256(reference.trainer.state()["model"])


# ---- composed schedules --------------------------------------------------------------------------
def rates(program, steps_per_epoch: int, epochs: int, steps: int) -> list[float]:
    """The rate of each of the first `steps` updates of the emitted make_optimizer."""
    tx = program.module.make_optimizer(steps_per_epoch, epochs)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    out = []
    for _ in range(steps):
        _, state = tx.update(jax.tree.map(jnp.zeros_like, params), state, params)
        out.append(float(state.hyperparams["learning_rate"]))
    return out


def test_composed_schedule_is_consecutive_phases_in_steps():
    program = compiled(
        MLP
        + """
train {
  model: M  data: d  loss: categorical_crossentropy
  optimizer: sgd(lr=0.1)
  schedule: [warmup(4), constant(steps=2), cosine(min_lr=0.01)]
  epochs: 2
}
"""
    )
    got = rates(program, steps_per_epoch=8, epochs=2, steps=16)
    warm = [0.1 * i / 4 for i in range(4)]
    hold = [0.1, 0.1]
    cos = [0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * i / 10)) for i in range(10)]
    assert got == pytest.approx(warm + hold + cos, rel=1e-5, abs=1e-7)
    assert "optax.join_schedules(" in program.source


# ---- unfreeze_after: the rate continues, or the fine-tuning rate ---------------------------------
BLOCKS = """
model Features {
  input x: [64]
  dense(32)
  batch_norm()
  relu
}
model Net {
  input x: [64]
  Features
  dense(10, activation=softmax)
}
"""


def freeze_train(unfreeze: str, schedule: str = "cosine()", epochs: int = 3) -> str:
    return f"""
train {{
  model: Net  data: d  loss: categorical_crossentropy
  optimizer: adam(lr=1e-2)  schedule: {schedule}
  freeze: [Features]  {unfreeze}
  batch_size: 64  epochs: {epochs}
}}
"""


def batch_stats(model) -> list[np.ndarray]:
    return [np.array(a) for a in jax.tree.leaves(nnx.state(model, nnx.BatchStat))]


def test_frozen_batch_norm_keeps_its_statistics_then_updates_them_once_unfrozen():
    frozen = compiled(BLOCKS + freeze_train(""))
    before = batch_stats(frozen.trainer_for(frozen.splits()).model)
    quiet_fit(frozen)
    after = batch_stats(frozen.trainer.model)
    assert before and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))

    later = compiled(BLOCKS + freeze_train("unfreeze_after: 1", epochs=2))
    quiet_fit(later)
    moved = batch_stats(later.trainer.model)
    assert any(not np.array_equal(a, b) for a, b in zip(before, moved, strict=True))


def test_after_unfreezing_the_schedule_continues_for_every_layer():
    program = compiled(BLOCKS + freeze_train("unfreeze_after: 1"))
    history = quiet_fit(program)
    steps = history.steps_per_epoch
    state = nnx.state(program.trainer.optimizer)
    flat = {jax.tree_util.keystr(p): a for p, a in jax.tree_util.tree_flatten_with_path(state)[0]}
    counts = {
        k: int(v)
        for k, v in flat.items()
        if "hyperparams_states" in k and k.rstrip("].value'[").endswith("count")
    }
    # both branches' schedules at the run's step, not the unfrozen one restarted at epoch 2
    assert len(counts) == 2 and set(counts.values()) == {3 * steps}, counts
    rates = {k: float(v) for k, v in flat.items() if "'hyperparams']['learning_rate'" in k}
    assert len(rates) == 2 and len(set(rates.values())) == 1, rates


def test_unfreeze_after_with_its_own_rate_trains_every_layer_at_it():
    program = compiled(BLOCKS + freeze_train("unfreeze_after: {epochs: 1, lr: 1e-5}"))
    assert "if not frozen:  # unfreeze_after's fine-tuning rate" in program.source
    assert program.config["transfer"]["unfreeze_lr"] == 1e-5
    history = quiet_fit(program)
    lr = history.series("lr")
    assert lr[0] > 1e-3 and lr[1:] == pytest.approx([1e-5, 1e-5])
    state = nnx.state(program.trainer.optimizer)
    flat = jax.tree_util.tree_flatten_with_path(state)[0]
    rates = [
        float(a) for p, a in flat if "'hyperparams']['learning_rate'" in jax.tree_util.keystr(p)
    ]
    assert rates == pytest.approx([1e-5, 1e-5])


def test_eject_refuses_reduce_on_plateau_with_a_diagnostic(tmp_path, capsys):
    from nncompile.cli import main

    spec = tmp_path / "p.nn"
    spec.write_text(DIGITS + MLP + PLATEAU.replace("EPOCHS", "2").replace("CHECKPOINT", ""))
    assert main(["eject", str(spec), "-o", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "cannot eject `train main`: reduce_on_plateau needs nncompile's runtime" in err
    assert "remove `reduce_on_plateau` to eject" in err


# ---- every optimizer holds its rate as state ----------------------------------------------------
@pytest.mark.parametrize("name", ["sgd", "momentum", "adagrad", "adadelta", "rmsprop", "adamw"])
def test_every_optimizer_with_its_example_steps_with_the_rate_in_its_state(name):
    from types import SimpleNamespace

    from nncompile.codegen import training as TR
    from nncompile.expr import render
    from nncompile.registry import Ref
    from nncompile.registry.optimizers import OPTIMIZERS

    entry = OPTIMIZERS[name]
    params = entry.params.model_validate(dict(entry.example))
    ref = Ref("optimizer", name, params, None)
    props = SimpleNamespace(optimizer=ref, schedule=[], clip_norm=None)
    lines = TR.optimizer_lines(SimpleNamespace(props=props), inject=True)
    code = "\n".join(
        ["def make_optimizer(steps_per_epoch, epochs):"]
        + [f"    {target} = {render(expr)}" for target, expr in lines]
        + ["    return tx"]
    )
    namespace: dict = {"optax": __import__("optax")}
    exec(code, namespace)
    model = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, namespace["make_optimizer"](3, 2), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x):
        grads = nnx.grad(lambda m: jnp.mean(m(x) ** 2))(model)
        optimizer.update(model, grads)

    before = np.array(model.kernel[...])
    step(model, optimizer, jnp.ones((8, 4)))
    step(model, optimizer, jnp.ones((8, 4)))
    assert not np.array_equal(before, np.array(model.kernel[...]))
    held = optimizer.opt_state.hyperparams["learning_rate"][...]
    assert float(held) == pytest.approx(entry.rate(params))
