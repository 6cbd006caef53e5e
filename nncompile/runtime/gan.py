"""Adversarial training of an emitted GAN program (`objective: gan(...)`).

The supervised Trainer's levers: data on the device once, on-device shuffling, one compiled
function per epoch (a loop over the batches, each one discriminator step then one generator step)
over the flat state of the generator, the discriminator and their optimizers, with each layer's
kernel ahead of its bias in the loop carry (`state.carry_order`); chunked epochs when callbacks
watch steps (progress) and a step is big enough, by the supervised trainer's rule; one host sync
per epoch, and epochs shorter than loop.AHEAD_BELOW_S run one ahead; compiled once
(`compile_count`); the program's XLA:CPU options; `devices:` as a data-parallel mesh
(runtime/gan_epochs.py has the compiled functions). The state is not donated: the epoch's input
stays valid and is the rollback point for a non-finite loss, without a copy, and it is written
back into the nnx objects only when something reads them (a sample grid, a checkpoint, the end of
the fit). Every `samples.every` epochs a grid of generated examples (from one fixed noise key) is
kept.

A conditional GAN (CONFIG gan.condition) trains on (example, class id) pairs: the emitted
`train_step` takes the batch's labels, `generate` the classes to draw.

Checkpoints and resuming work as for the supervised Trainer (`runtime.checkpoint`): the data order
and noise of epoch e are drawn from (seed, e), the dropout keys live in the models' state, so
restoring (models, optimizers) and the epoch count at an epoch boundary continues the same
computation, bitwise on CPU; the sample grids kept so far travel in the checkpoint's metadata.
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

from . import cores, jaxcache
from .batches import DATA_STREAM, batching, oversized
from .chunking import traced_bounds
from .devices import check_batch, placement
from .gan_epochs import GanCompiled, GanEpochs
from .history import History, Resume, StopReason, notify, step_hooks
from .loop import AHEAD_BELOW_S, CHUNK_MIN_WORK, CHUNK_S, run_config
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
        assert self.config.gan is not None
        self.condition = self.config.gan.condition
        self.splits = {k: _split(x, y, self.condition is not None) for k, (x, y) in splits.items()}
        self.classes = 0
        if self.condition is not None:
            labels = self.splits["train"][1]
            assert labels is not None
            self.classes = self.condition.classes or int(labels.max()) + 1
        # several devices: a data-parallel mesh (runtime.devices); one: None, the plain program
        # (one device where runtime.cores claimed host devices for another program's split step)
        self.placement = placement(cores.devices(self.config.devices, 1), self.config.shard)
        # full batches only
        self.batching = batching(self.config.batch_size, len(self.splits["train"][0]), True)
        if self.placement is not None:
            check_batch(self.batching.size, self.placement.count, self.config.batch_size == "full")
        if warning := oversized(self.config.batch_size, len(self.splits["train"][0])):
            self.log(warning)
        g, d = program.make_models(self.seed)
        g_tx, d_tx = program.make_optimizers(self.batching.updates, self.epochs)
        self._objs = (
            g,
            d,
            nnx.Optimizer(g, g_tx, wrt=nnx.Param),
            nnx.Optimizer(d, d_tx, wrt=nnx.Param),
        )
        # during a fit: the latest epoch's state leaves, written back into the objects on access
        self._pending: list | None = None
        self.traces: collections.Counter = collections.Counter()
        self.samples: list[tuple[int, np.ndarray]] = []
        self.stop_training = False
        self.epochs_done = 0
        self.stopping = None  # what checkpoints read of a trainer: no early stopping, no freezing
        self.frozen = None
        self.plateau = None  # (reduce_on_plateau is refused for GANs)
        self._resume: Resume | None = None
        self._root = jax.random.fold_in(jax.random.key(self.seed), DATA_STREAM)
        gdef, state = nnx.split(self._objs)
        self._treedef = jax.tree.structure(state)
        params = jax.tree.leaves(nnx.state((g, d), nnx.Param))
        self.chunked = traced_bounds(self.batching.size, params, CHUNK_MIN_WORK)
        cpu = jax.default_backend() == "cpu"
        # the program's XLA:CPU options (chosen by the compiler's plan); other backends take none
        options = (self.config.cpu_compiler_options or None) if cpu else None
        self._fns = GanCompiled(
            program,
            gdef,
            self._treedef,
            nnx.graphdef(g),
            self.batching,
            root=self._root,
            chunked=self.chunked,
            compiler_options=options,
            traces=self.traces,
            placement=self.placement,
        )
        self._epochs = GanEpochs(self._fns, self.batching.steps)
        self._device: tuple | None = None  # the train split on the device, moved once

    def _on_device(self) -> tuple:
        """The train split's arrays on the device (replicated on a mesh), moved once."""
        if self._device is None:
            x, y = self.splits["train"]
            self._device = self._fns.place_data((x,) if y is None else (x, y))
        return self._device

    def _objects(self):
        self._sync()
        return self._objs

    def _sync(self) -> None:
        """Write the fit's latest state into the nnx objects (once per change, when read)."""
        if self._pending is not None:
            nnx.update(self._objs, jax.tree.unflatten(self._treedef, self._pending))
            self._pending = None

    def _leaves(self) -> list:
        return (
            self._pending if self._pending is not None else jax.tree.leaves(nnx.state(self._objs))
        )

    @property
    def generator(self):
        return self._objects()[0]

    @property
    def discriminator(self):
        return self._objects()[1]

    @property
    def g_opt(self):
        return self._objects()[2]

    @property
    def d_opt(self):
        return self._objects()[3]

    @property
    def model(self):
        return (self.generator, self.discriminator)

    @property
    def compile_count(self) -> int:
        """How many times a training or sampling function was traced (= compiled)."""
        return sum(self.traces.values())

    def resume_from(self, resume: Resume, epochs: int | None = None) -> None:
        """Continue from a checkpoint (runtime.checkpoint.read): its state, epochs and history, and
        the sample grids kept so far; the next fit trains the rest of `epochs` in all."""
        self.load_state(resume.state)
        self.epochs_done = resume.epoch
        total = self.config.epochs if epochs is None else int(epochs)
        self.epochs = max(total - self.epochs_done, 0)
        self.samples = [
            (int(e), np.asarray(a, np.float32)) for e, a in resume.meta.get("samples") or []
        ]
        self._resume = resume

    def best_state(self) -> None:
        return None  # no restore_best for GANs: a checkpoint holds the current state only

    def checkpoint_meta(self) -> dict:
        """What a checkpoint keeps besides the state: the sample grids so far."""
        return {"samples": [[e, a.tolist()] for e, a in self.samples]}

    def fit(self) -> History:
        b = self.batching
        history = History(
            steps_per_epoch=b.updates, examples_per_epoch=b.examples, monitor="g_loss"
        )
        data = self._on_device()
        hooks = step_hooks(self.callbacks)
        steps = max(b.steps, 1)
        samples = self.config.samples()
        if self._resume is not None:
            r, self._resume = self._resume, None
            history.epochs = [dict(e) for e in r.epochs]
        notify(self.callbacks, "on_fit_start", self, history)
        state = good = self._fns.place_state(self._leaves())
        start = time.perf_counter()
        last = self.epochs_done + self.epochs
        ahead, run_ahead = None, False  # the next epoch, dispatched before this one was read
        try:
            for epoch in range(self.epochs_done + 1, last + 1):
                t0 = time.perf_counter()
                if ahead is not None:
                    (state, sums), ahead = ahead, None
                else:
                    state, sums = self._epochs.run(state, epoch, data, hooks, self, CHUNK_S)
                if run_ahead and epoch < last:
                    # the next epoch starts from this one's state, which is kept (not donated):
                    # the device works while the host reads this epoch; no step hooks for it
                    ahead = self._epochs.run(state, epoch + 1, data, [], self, CHUNK_S)
                # the epoch's one host sync: the summed (d_loss, g_loss) of its steps
                d_loss, g_loss = (float(v) / steps for v in jax.device_get(sums))
                if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
                    state = good
                    history.stopped(
                        StopReason.NONFINITE,
                        f"a non-finite loss at epoch {epoch} (d_loss {d_loss}, "
                        f"g_loss {g_loss}); kept the last good epoch's parameters; try a lower "
                        "learning rate",
                    )
                    break
                good = self._pending = state
                logs = {
                    "epoch": epoch,
                    "loss": g_loss,
                    "d_loss": d_loss,
                    "g_loss": g_loss,
                    "seconds": time.perf_counter() - t0,
                }
                self._epochs.timed(logs["seconds"])
                run_ahead = logs["seconds"] < AHEAD_BELOW_S
                history.epochs.append(logs)
                self.epochs_done = epoch
                if epoch % samples.every == 0 or epoch == last:
                    self.samples.append((epoch, self.generate(samples.count)))
                notify(self.callbacks, "on_epoch_end", self, epoch, logs)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            state = good
            history.stopped(StopReason.INTERRUPTED, "interrupted")
        self._pending = state
        self._sync()
        history.seconds = time.perf_counter() - start
        notify(self.callbacks, "on_fit_end", self, history)
        return history

    def generate(self, n: int, seed: int = 1234, labels=None) -> np.ndarray:
        """`n` generated examples from a fixed noise key (the same every time: comparable grids).
        A conditional GAN draws the classes `labels` (default: `grid_labels(n)`)."""
        if self.condition is not None:
            labels = jnp.asarray(self.grid_labels(n) if labels is None else labels, jnp.int32)
            if labels.shape != (n,) or not bool(((labels >= 0) & (labels < self.classes)).all()):
                raise ValueError(f"labels must be {n} class ids in 0..{self.classes - 1}")
        else:
            labels = None
        key = jax.random.key(seed)
        g_state = self._fns.place_state(nnx.state(self.generator))
        return np.asarray(self._fns.generate(g_state, key, n, labels))

    def grid_labels(self, n: int) -> np.ndarray:
        """Class ids for n samples of a conditional GAN, in order: one row of the grid per class."""
        return np.minimum(np.arange(n) // math.ceil(n / self.classes), self.classes - 1)

    def evaluate(self, split: str = "test") -> dict[str, float]:
        x, y = self.splits.get(split, self.splits["train"])
        g, d, p = self.generator, self.discriminator, self.program
        z = p.sample_noise(jax.random.key(7), len(x))
        if y is None:
            real, fake = d(jnp.asarray(x)), d(g(z))
        else:
            labels = jnp.asarray(y)
            real = d(jnp.asarray(x), p.d_condition(labels))
            fake = d(g(z, p.g_condition(labels)), p.d_condition(labels))
        return {
            "d_real": float(jax.nn.sigmoid(real).mean()),
            "d_fake": float(jax.nn.sigmoid(fake).mean()),
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.generate(len(x))

    def state(self) -> dict:
        return {
            "model": to_pure(nnx.state((self.generator, self.discriminator))),
            "optimizer": to_pure(nnx.state((self.g_opt, self.d_opt))),
        }

    def load_state(self, state: dict) -> None:
        self._sync()
        if "model" in state:
            models = (self.generator, self.discriminator)
            nnx.update(models, from_pure(nnx.state(models), state["model"]))
        if "optimizer" in state:
            opts = (self.g_opt, self.d_opt)
            nnx.update(opts, from_pure(nnx.state(opts), state["optimizer"]))


def _split(x, y, conditional: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A split as the trainer keeps it: float examples, and class ids for a conditional GAN."""
    if not conditional:
        return np.asarray(x, np.float32), None
    if y is None:
        raise ValueError("a conditional GAN (condition=label) needs class labels with the examples")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows
        y = y.argmax(1)
    return np.asarray(x, np.float32), y.reshape(len(y)).astype(np.int32)


def write_samples(run: Path, trainer: GanTrainer) -> list[Path]:
    """One PNG grid per kept epoch: samples/epoch_<N>.png (a conditional GAN: a row per class)."""
    from .sampling import as_images, image_grid

    assert trainer.config.gan is not None
    folder = run / "samples"
    folder.mkdir(exist_ok=True)
    out = []
    for epoch, images in trainer.samples:
        n = len(images)
        columns = math.ceil(n / trainer.classes) if trainer.classes else None
        path = folder / f"epoch_{epoch:04d}.png"
        grid = as_images(images, trainer.config.gan.example_shape)
        image_grid(path, grid, columns=columns, title=f"epoch {epoch}")
        out.append(path)
    return out
