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
            history = program.fit(epochs=1, log=lambda *a: None)
            return Outcome(True, f"loss {history.epochs[-1]['loss']:.4f}")
        return Outcome(True, trace_step(program))
    except NncompileError as e:
        return Outcome(False, str(e).splitlines()[0])
    except Exception as e:
        if out_of_memory(e):
            return Outcome(False, "out of memory")
        raise InternalError(f"{type(e).__name__}: {e}\n--- spec ---\n{text}") from e


def trace_step(program) -> str:
    """The program's data (loaded and checked as `fit` does), then one training step, one
    evaluation step and a prediction on its first batch, traced abstractly."""
    import jax
    from flax import nnx

    splits = program.splits()
    cfg = program.run_config
    x, y = splits["train"]
    size = len(x) if cfg.batch_size == "full" else min(int(cfg.batch_size), len(x))
    module = program.module

    def step(xb, yb, key):
        model = module.make_model(cfg.seed)
        optimizer = nnx.Optimizer(model, module.make_optimizer(1, 1), wrt=nnx.Param)
        loss, _ = module.train_step(model, optimizer, xb, yb, key)
        eval_loss, _ = module.eval_step(model, xb, yb)
        return loss, eval_loss, module.predict(model, xb)

    loss, eval_loss, predicted = jax.eval_shape(step, x[:size], y[:size], jax.random.key(0))
    if loss.shape != () or eval_loss.shape != ():
        raise AssertionError(f"a loss of shape {loss.shape}, not a number")
    return f"traced: predictions {tuple(predicted.shape)}"
