"""Adversarial training of an emitted GAN program (`objective: gan(...)`).

The same shape as the supervised Trainer: data on the device once, on-device shuffling, one
compiled function per epoch (lax.scan over batches) over the split state of the generator,
the discriminator and their optimizers, donated; one host sync per epoch. Every
`samples.every` epochs a grid of generated examples (from one fixed noise key) is kept.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from . import jaxcache
from .batches import DATA_STREAM, batching, oversized
from .history import History, StopReason, notify
from .loop import run_config
from .state import from_pure, to_pure


class GanTrainer:
    def __init__(
        self,
        program: ModuleType,
        splits: dict,
        *,
        epochs: int | None = None,
        seed: int | None = None,
        callbacks: Iterable[Any] = (),
        log: Callable[[str], None] | None = None,
        config: dict | None = None,
    ):
        jaxcache.enable()  # before the first compilation of the process
        self.program = program
        self.config = run_config(program, config, epochs, seed)
        if self.config.kind != "gan":
            raise ValueError(
                "GanTrainer trains GAN programs (CONFIG kind 'gan'); use runtime.loop.Trainer"
            )
        self.epochs = self.config.epochs
        self.seed = self.config.seed
        self.strategy = "scan"
        self.callbacks = list(callbacks)
        self.log = log or (lambda line: None)
        self.splits = {k: (np.asarray(x, np.float32), None) for k, (x, *_) in splits.items()}
        # full batches only
        self.batching = batching(self.config.batch_size, len(self.splits["train"][0]), True)
        if warning := oversized(self.config.batch_size, len(self.splits["train"][0])):
            self.log(warning)
        self.generator, self.discriminator = program.make_models(self.seed)
        g_tx, d_tx = program.make_optimizers(self.batching.updates, self.epochs)
        self.g_opt = nnx.Optimizer(self.generator, g_tx, wrt=nnx.Param)
        self.d_opt = nnx.Optimizer(self.discriminator, d_tx, wrt=nnx.Param)
        self.traces: collections.Counter = collections.Counter()
        self.samples: list[tuple[int, np.ndarray]] = []
        self.stop_training = False
        self.epochs_done = 0
        self._root = jax.random.fold_in(jax.random.key(self.seed), DATA_STREAM)
        self._gdef = nnx.graphdef(self._objects())
        self._compile()

    def _objects(self):
        return (self.generator, self.discriminator, self.g_opt, self.d_opt)

    @property
    def model(self):
        return (self.generator, self.discriminator)

    def _compile(self) -> None:
        size, steps = self.batching.size, self.batching.steps
        program, gdef = self.program, self._gdef

        def epoch_fn(state, epoch, x):
            self.traces["epoch"] += 1
            key = jax.random.fold_in(self._root, epoch)
            order = jax.random.permutation(key, x.shape[0])[: steps * size].reshape(steps, size)
            keys = jax.random.split(jax.random.fold_in(key, 1), steps)

            def body(state, inputs):
                rows, k = inputs
                g, d, go, do = nnx.merge(gdef, state)
                d_loss, g_loss = program.train_step(g, d, go, do, x[rows], k)
                return nnx.state((g, d, go, do)), (d_loss, g_loss)

            state, (d_losses, g_losses) = jax.lax.scan(body, state, (order, keys))
            return state, d_losses.mean(), g_losses.mean()

        self._epoch = jax.jit(epoch_fn, donate_argnums=0)

        def generate_fn(g_state, key, n):
            self.traces["generate"] += 1
            g = nnx.merge(nnx.graphdef(self.generator), g_state)
            g.eval()
            return program.generate(g, key, n)

        self._generate = jax.jit(generate_fn, static_argnums=2)

    def fit(self) -> History:
        b = self.batching
        history = History(
            steps_per_epoch=b.updates, examples_per_epoch=b.examples, monitor="g_loss"
        )
        x = jnp.asarray(self.splits["train"][0])
        samples = self.config.samples()
        notify(self.callbacks, "on_fit_start", self, history)
        state = nnx.state(self._objects())
        good = jax.tree.map(jnp.copy, state)
        start = time.perf_counter()
        try:
            for epoch in range(self.epochs_done + 1, self.epochs_done + self.epochs + 1):
                t0 = time.perf_counter()
                state, d_loss, g_loss = self._epoch(state, epoch, x)
                d_loss, g_loss = (float(v) for v in jax.device_get((d_loss, g_loss)))
                if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
                    state = good
                    history.stopped(
                        StopReason.NONFINITE,
                        f"a non-finite loss at epoch {epoch} (d_loss {d_loss}, "
                        f"g_loss {g_loss}); kept the last good epoch's parameters; try a lower "
                        "learning rate",
                    )
                    break
                good = jax.tree.map(jnp.copy, state)
                nnx.update(self._objects(), state)
                logs = {
                    "epoch": epoch,
                    "loss": g_loss,
                    "d_loss": d_loss,
                    "g_loss": g_loss,
                    "seconds": time.perf_counter() - t0,
                }
                history.epochs.append(logs)
                self.epochs_done = epoch
                if epoch % samples.every == 0 or epoch == self.epochs:
                    self.samples.append((epoch, self.generate(samples.count)))
                notify(self.callbacks, "on_epoch_end", self, epoch, logs)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            state = good
            history.stopped(StopReason.INTERRUPTED, "interrupted")
        nnx.update(self._objects(), state)
        history.seconds = time.perf_counter() - start
        notify(self.callbacks, "on_fit_end", self, history)
        return history

    def generate(self, n: int, seed: int = 1234) -> np.ndarray:
        """`n` generated examples from a fixed noise key (the same every time: comparable grids)."""
        return np.asarray(self._generate(nnx.state(self.generator), jax.random.key(seed), n))

    def evaluate(self, split: str = "test") -> dict[str, float]:
        x = jnp.asarray(self.splits.get(split, self.splits["train"])[0])
        g, d = self.generator, self.discriminator
        z = self.program.sample_noise(jax.random.key(7), x.shape[0])
        real = jax.nn.sigmoid(d(x)).mean()
        fake = jax.nn.sigmoid(d(g(z))).mean()
        return {"d_real": float(real), "d_fake": float(fake)}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.generate(len(x))

    def state(self) -> dict:
        return {
            "model": to_pure(nnx.state((self.generator, self.discriminator))),
            "optimizer": to_pure(nnx.state((self.g_opt, self.d_opt))),
        }

    def load_state(self, state: dict) -> None:
        if "model" in state:
            models = (self.generator, self.discriminator)
            nnx.update(models, from_pure(nnx.state(models), state["model"]))
        if "optimizer" in state:
            opts = (self.g_opt, self.d_opt)
            nnx.update(opts, from_pure(nnx.state(opts), state["optimizer"]))


def write_samples(run: Path, trainer: GanTrainer) -> list[Path]:
    """One PNG grid per kept epoch: samples/epoch_<N>.png."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = []
    folder = run / "samples"
    folder.mkdir(exist_ok=True)
    for epoch, images in trainer.samples:
        assert trainer.config.gan is not None
        images = _as_images(images, trainer.config.gan.example_shape)
        n = len(images)
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        fig = Figure(figsize=(cols * 0.6, rows * 0.6))
        FigureCanvasAgg(fig)
        for i, img in enumerate(images):
            ax = fig.add_subplot(rows, cols, i + 1)
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            ax.axis("off")
        fig.suptitle(f"epoch {epoch}", fontsize=8)
        path = folder / f"epoch_{epoch:04d}.png"
        fig.savefig(path, dpi=80)
        out.append(path)
    return out


def _as_images(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) == 3:
        return x[..., 0] if shape[-1] == 1 else np.clip(x, 0, 1)
    side = math.isqrt(int(np.prod(shape)))
    if side * side == int(np.prod(shape)):
        return x.reshape(len(x), side, side)
    return x.reshape(len(x), 1, -1)
