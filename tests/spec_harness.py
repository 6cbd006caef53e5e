"""Trains a generated spec (spec_strategy.py) one step: a diagnostic is an outcome, any other
exception an InternalError that carries the spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spec_data import example_folder


# ---- one training step --------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one spec did: trained (its loss), or stopped with a diagnostic (its message)."""

    trained: bool
    detail: str


class InternalError(AssertionError):
    """A spec that passed `check` crashed with an error that is not a diagnostic."""


def run_spec(text: str, mode: str = "trace", folder: Path | None = None) -> Outcome:
    """Check, compile and train ``text`` for one step (``mode``: "train" or "trace", see the
    module docstring). A diagnostic (a CompileError or another NncompileError, an out-of-memory
    error) is an outcome; any other exception is raised as InternalError with the spec."""
    import nncompile
    from nncompile.errors import NncompileError, out_of_memory

    folder = folder or example_folder()
    path = folder / "fuzz.nn"
    path.write_text(text, encoding="utf-8")
    errors = [d for d in nncompile.check(path=str(path)) if d.severity == "error"]
    if errors:
        raise InternalError(f"the strategy built a spec check refuses: {errors[0]}\n{text}")
    try:
        program = nncompile.compile(str(path))
        if mode == "train":
            return Outcome(True, train_step(program))
        if program.is_gan:
            return Outcome(True, trace_gan_step(program))
        return Outcome(True, trace_step(program))
    except NncompileError as e:
        return Outcome(False, str(e).splitlines()[0])
    except Exception as e:
        if out_of_memory(e):
            return Outcome(False, "out of memory")
        raise InternalError(f"{type(e).__name__}: {e}\n--- spec ---\n{text}") from e


def train_step(program) -> str:
    """One epoch of the real fit; then what a user does next: predict on training inputs (finite
    numbers), draw samples (a GAN, a character or sequence model) and decode (`decode:`)."""
    import jax
    import numpy as np

    from nncompile.errors import NncompileError

    history = program.fit(epochs=1, log=lambda *a: None)
    if not history.epochs:  # a non-finite loss at the first step: the initial model computes NaN
        raise AssertionError(f"no epoch trained: {history.reason}")
    loss = history.epochs[-1]["loss"]
    x, _ = program.splits()["train"]
    first = jax.tree.map(lambda a: a[:4], x)
    if not program.is_gan:
        predicted = program.predict(first, raw=False)
        for name, a in predicted.items() if isinstance(predicted, dict) else [("", predicted)]:
            if np.issubdtype(np.asarray(a).dtype, np.floating) and not np.isfinite(a).all():
                raise AssertionError(f"predict gave non-finite values {name}")
    done = ""
    if program.is_gan or program.train_block.props.decode is None:
        try:
            program.sample(2)
            done = ", sampled"
        except NncompileError as e:  # a program that cannot be sampled says so
            done = f", no sample ({str(e).splitlines()[0][:60]})"
    else:
        feed = program.train_block.props.decode.input
        program.decode({k: v for k, v in first.items() if k != feed}, raw=False)
        done = ", decoded"
    return f"loss {loss:.4f}{done}"


def trace_gan_step(program) -> str:
    """A GAN program's data, models and optimizers, then one training step (discriminator and
    generator) and a generation, traced abstractly."""
    import jax
    from flax import nnx

    splits = program.splits()
    cfg = program.run_config
    x, y = splits["train"]
    size = len(x) if cfg.batch_size == "full" else min(int(cfg.batch_size), len(x))
    module = program.module
    cond = cfg.gan is not None and cfg.gan.condition is not None

    def step(xb, yb, key):
        g, d = module.make_models(cfg.seed)
        g_tx, d_tx = module.make_optimizers(1, 1)
        go, do = nnx.Optimizer(g, g_tx, wrt=nnx.Param), nnx.Optimizer(d, d_tx, wrt=nnx.Param)
        args = (xb, yb.reshape(len(yb), -1)[:, 0].astype("int32")) if cond else (xb,)  # ids
        d_loss, g_loss = module.train_step(g, d, go, do, *args, key)
        made = module.generate(g, key, 2, *(args[1][:2],) if cond else ())
        return d_loss, g_loss, made

    labels = y[:size] if cond else None
    d_loss, g_loss, made = jax.eval_shape(step, x[:size], labels, jax.random.key(0))
    if d_loss.shape != () or g_loss.shape != ():
        raise AssertionError(f"losses of shapes {d_loss.shape}, {g_loss.shape}, not numbers")
    if tuple(made.shape[1:]) != tuple(x.shape[1:]):
        raise AssertionError(f"generated {made.shape}, the data is {x.shape}")
    return f"traced: generated {tuple(made.shape)}"


def trace_step(program) -> str:
    """The program's data (loaded and checked as `fit` does), then one training step, one
    evaluation step and a prediction on its first batch, traced abstractly."""
    import jax
    from flax import nnx

    from nncompile.runtime import classweight

    splits = program.splits()
    cfg = program.run_config
    x, y = splits["train"]
    rows = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    size = rows if cfg.batch_size == "full" else min(int(cfg.batch_size), rows)
    module = program.module
    # `class_weight: balanced`: the weights of the training split, set as the Trainer sets them
    classweight.resolve(module, cfg, y, lambda note: None)
    first = jax.tree.map(lambda a: a[:size], (x, y))

    def step(xb, yb, key):
        model = module.make_model(cfg.seed)
        optimizer = nnx.Optimizer(model, module.make_optimizer(1, 1), wrt=nnx.Param)
        loss, _ = module.train_step(model, optimizer, xb, yb, key)
        eval_loss, _ = module.eval_step(model, xb, yb)
        return loss, eval_loss, module.predict(model, xb)

    loss, eval_loss, predicted = jax.eval_shape(step, *first, jax.random.key(0))
    if loss.shape != () or eval_loss.shape != ():
        raise AssertionError(f"a loss of shape {loss.shape}, not a number")
    shapes = jax.tree.map(lambda a: tuple(a.shape), predicted)
    return f"traced: predictions {shapes}"
