"""Training checkpoints (`checkpoint: {every, keep}`) and resuming from them.

A run folder's checkpoints live in `<run>/checkpoints/<epoch>/`, written by Orbax's
CheckpointManager (the files: runtime/checkpoint_files.py):

    <epoch>/state/  the Trainer's state(): model (parameters, BatchNorm statistics, dropout RNG key
                    and count) and optimizer (optax state, step count) as plain dicts of arrays,
                    PRNG keys as raw key data
    <epoch>/best/   the best epoch's state, when `restore_best` needs it
    <epoch>/meta/   JSON: the epoch, the history so far, the early-stopping state, the seed and
                    batch layout (the data order is a function of (seed, epoch)), the freeze phase,
                    a fingerprint of the state's structure, the program's identity (`identity`:
                    its code and CONFIG; resuming with another program is refused) and the
                    SHA-256 of its bytes

Why resuming is exact: the data order of epoch e is drawn from (seed, e), the dropout and
augmentation keys from (seed, e) and the model's RNG state, the learning-rate schedule's step
lives in the optimizer state. Restoring model + optimizer state, `epochs_done`, the early-stopping
counters and the history at an epoch boundary therefore continues the same computation; on CPU the
final parameters are bitwise those of an uninterrupted run. `read` returns all of it as a `Resume`
value and `Trainer.resume_from` applies it; `restore` does both.

Atomicity: Orbax writes each checkpoint into `<epoch>.orbax-checkpoint-tmp-*` and renames it into
place when complete; old checkpoints are retired by renaming them into `.deleted/` before they are
removed, so a process killed at any moment leaves every `<epoch>/` folder complete and readable.
SIGINT is held back while a checkpoint is written and delivered right after.

Safety: nothing is unpickled. Arrays are read by tensorstore into a target of known shapes and
dtypes, the metadata with `json`; the state's SHA-256 is checked after reading, so a corrupt,
truncated or foreign checkpoint is a CheckpointError (nothing in the run folder is changed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import jax

from ..runconfig import Checkpoint
from .checkpoint_files import (
    DELETED,
    FORMAT,
    VERSION,
    CheckpointError,
    older_hint,
    read_arrays,
    read_meta,
    retire,
    sigint_deferred,
    steps,
    verify_manifest,
    write_manifest,
)
from .devices import host_state, primary
from .digest import differences, fingerprint, sha256
from .history import Resume
from .hosts import agree, barrier, several
from .identity import changes, module_identity
from .trees import rows


def _supported(trainer) -> bool:
    from .gan import GanTrainer
    from .loop import Trainer

    return isinstance(trainer, (Trainer, GanTrainer))


def _meta(trainer, history, state: dict, best: dict | None) -> dict:
    import flax
    import optax

    from ..version import __version__

    cfg, b = trainer.config, trainer.batching
    stopping = trainer.stopping
    extra = trainer.checkpoint_meta() if hasattr(trainer, "checkpoint_meta") else {}
    return {
        **extra,
        "format": FORMAT,
        "version": VERSION,
        "spec": cfg.spec,
        "train": cfg.train,
        "model": cfg.model,  # None for a GAN
        "epoch": trainer.epochs_done,
        "epochs": cfg.epochs,
        "seed": trainer.seed,
        "train_examples": rows(trainer.splits["train"][0]),
        "batch_size": b.size,
        "steps_per_epoch": b.updates,
        "frozen": trainer.frozen,
        "history": history.epochs if history is not None else [],
        "best_epoch": history.best_epoch if history is not None else None,
        "stopping": None if stopping is None else stopping.state(),
        "plateau": None if trainer.plateau is None else trainer.plateau.state(),
        "fingerprint": fingerprint(state),
        "program": module_identity(trainer.program),
        "sha256": {"state": sha256(state), **({"best": sha256(best)} if best is not None else {})},
        "versions": {
            "nncompile": __version__,
            "jax": jax.__version__,
            "flax": flax.__version__,
            "optax": optax.__version__,
        },
    }


class Checkpointer:
    """A Trainer callback writing `<directory>/<epoch>/` every `every` epochs, keeping `keep`.

    `every=None` writes only when training is interrupted (Ctrl-C), so that any run can be resumed.
    A fresh (not resumed) fit replaces the checkpoints of an earlier run in `directory` when it
    writes its first one. `restore(trainer)` loads the newest checkpoint to continue from it.

    A multi-host run: every process has a Checkpointer and takes part in every save and restore
    (Orbax writes the arrays' shards from the processes that hold them and its metadata from
    process 0; the folder must be on a file system every process sees). Process 0 owns the run
    folder: the others are made with `directory=None` and learn process 0's folder at the first
    restore or at the start of the fit (`runtime.hosts.agree`). Only process 0 moves old
    checkpoints away and writes the manifest. An interrupt writes no checkpoint there (a Ctrl-C
    reaches one process, whose peers are inside a collective of another epoch).
    """

    def __init__(
        self,
        directory: str | os.PathLike | None,
        every: int | None = None,
        keep: int = Checkpoint().keep,
        log: Callable[[str], None] | None = None,
    ):
        # None: a multi-host run's process 1..: process 0's folder, learned in `_agree`
        self.directory = None if directory is None else Path(directory).absolute()
        self._agreed = False
        self.every = every
        self.keep = max(int(keep), 1)
        self.log = log or (lambda line: None)
        self.history = None
        self.saved: int | None = None  # the epoch of the newest checkpoint this object wrote
        self.resumed: int | None = None  # the epoch restore() continued from
        self._manager = None
        self._enabled = True

    @classmethod
    def for_config(
        cls, run_dir: str | os.PathLike | None, checkpoint: Checkpoint | None, log=None
    ) -> Checkpointer:
        """A run folder's checkpointer: CONFIG's `checkpoint: {every, keep}`, or interrupt-only
        (run_dir None: a multi-host run's process 1.., writing into process 0's folder)."""
        c = checkpoint or Checkpoint(every=None)
        folder = None if run_dir is None else Path(run_dir) / "checkpoints"
        return cls(folder, c.every, c.keep, log)

    # ---- callback hooks --------------------------------------------------------------------------
    def on_fit_start(self, trainer, history) -> None:
        self.history = history
        self._agree()
        if not _supported(trainer):
            self._enabled = False
            if self.every:
                self.log(
                    "checkpoints are written for nncompile's trainers only; this run writes none"
                )

    def reads_state(self, epoch: int) -> bool:
        """Whether `on_epoch_end` reads the trainer's state at `epoch` (a fused block of epochs
        ends there: runtime.blocks)."""
        every = self.every or 0
        return self._enabled and every > 0 and epoch % every == 0

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        if self._enabled and self.every and epoch % self.every == 0:
            self.save(trainer)

    def on_fit_end(self, trainer, history) -> None:
        if (
            self._enabled
            and history.interrupted
            and not several()
            and trainer.epochs_done > 0
            and self.saved != trainer.epochs_done
        ):
            self.save(trainer)
        self.close()

    # ---- saving ----------------------------------------------------------------------------------
    def save(self, trainer) -> Path:
        """Write the trainer's state at the end of epoch `trainer.epochs_done`; its folder."""
        import orbax.checkpoint as ocp

        epoch = trainer.epochs_done
        with sigint_deferred():
            manager = self._open()
            if epoch in manager.all_steps():  # already written (e.g. just before an interrupt)
                self.saved = epoch
                return self.folder / str(epoch)
            # (several processes: every process saves the global arrays, the digests of host copies)
            state = trainer.state()
            # the best epoch's state, when `restore_best` will need it and it is not the current one
            current = self.history is None or self.history.best_epoch in (None, epoch)
            best = None if current else trainer.best_state()
            host = host_state(state), None if best is None else host_state(best)
            meta = _meta(trainer, self.history, *host)
            items = {"state": ocp.args.StandardSave(state), "meta": ocp.args.JsonSave(meta)}
            if best is not None:
                items["best"] = ocp.args.StandardSave(best)
            manager.save(epoch, args=ocp.args.Composite(**items), force=True)
            manager.wait_until_finished()
            if primary():
                write_manifest(self.folder / str(epoch))
                shutil.rmtree(self.folder / DELETED, ignore_errors=True)
            barrier(f"checkpoint-{epoch}")  # complete with its manifest before anyone goes on
        self.saved = epoch
        return self.folder / str(epoch)

    @property
    def folder(self) -> Path:
        """The checkpoint folder (a multi-host run's process 1.. learns it at the fit's start)."""
        assert self.directory is not None
        return self.directory

    def _open(self):
        import orbax.checkpoint as ocp

        if self._manager is None:
            assert self.directory is not None  # (a multi-host run agreed on it at the fit's start)
            if self.resumed is None and primary() and steps(self.directory):
                self.log(
                    f"replacing the checkpoints of an earlier run in {self.directory} (epochs "
                    f"{', '.join(map(str, steps(self.directory)))}); `--resume` continues a run "
                    "instead"
                )
                retire(self.directory)
            barrier("checkpoints-open")  # (process 0 has retired the old ones)
            options = ocp.CheckpointManagerOptions(
                preservation_policy=ocp.checkpoint_managers.LatestN(self.keep),
                enable_async_checkpointing=False,
                todelete_subdir=DELETED,
                create=True,
            )
            self._manager = ocp.CheckpointManager(self.directory, options=options)
        return self._manager

    def _agree(self, source=None) -> Path | None:
        """A multi-host run: process 0's checkpoint folder (and `source`, the one a resume reads)
        on every process, once; with one process `source` as it is."""
        if not several() or self._agreed:
            return None if source is None else Path(source)
        self._agreed = True
        mine = [str(self.directory), None if source is None else str(source)]
        directory, source = agree(mine)
        self.directory = Path(directory)
        return None if source is None else Path(source)

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    # ---- resuming --------------------------------------------------------------------------------
    def restore(self, trainer, epochs: int | None = None, directory=None) -> dict:
        """Continue `trainer` from the newest complete checkpoint (`restore`) of `directory`
        (default: this one, which must hold the same checkpoints); later saves go on here."""
        source = self._agree(self.directory if directory is None else directory)
        assert source is not None
        meta = restore(trainer, source, epochs=epochs, log=self.log)
        self.resumed = self.saved = meta["epoch"]
        return meta


# ---- reading -------------------------------------------------------------------------------------
def read(trainer, directory: str | os.PathLike, *, step: int | None = None) -> Resume:
    """Checkpoint `step` (default: the newest complete one) of `directory`, checked against
    `trainer` (freshly built from the same program and data), which is not changed. Raises
    CheckpointError, leaving the directory untouched."""
    directory = Path(directory).absolute()
    if not _supported(trainer):
        raise CheckpointError("resuming is supported for nncompile's trainers only")
    found = steps(directory)
    if not found:
        raise CheckpointError(
            f"no checkpoint to resume from in {directory}",
            "train without --resume first (Ctrl-C writes a checkpoint; `checkpoint: {every: N}` "
            "in the train block writes one every N epochs)",
        )
    step = found[-1] if step is None else step
    if step not in found:
        raise CheckpointError(
            f"no complete checkpoint of epoch {step} in {directory}",
            f"the complete ones are epochs {', '.join(map(str, found))}",
        )
    step_dir = directory / str(step)
    meta = read_meta(step_dir)
    _check_compatible(trainer, meta, step_dir)
    target = _target(trainer, meta.get("frozen"))
    have = fingerprint(target)
    if meta.get("fingerprint") != have:
        written = f"train {meta.get('train')} of {meta.get('spec')} (model {meta.get('model')})"
        raise CheckpointError(
            f"{step_dir} was written by {written} and does not fit this program: "
            + "; ".join(differences(have, meta.get("fingerprint") or [])),
            "resume with the spec (and --set values) that wrote it, or train from the start "
            "without --resume",
        )
    _check_program(trainer, meta, step_dir)
    verify_manifest(step_dir)
    state = read_arrays(step_dir / "state", target)
    if sha256(state) != meta.get("sha256", {}).get("state"):
        raise CheckpointError(
            f"{step_dir} is corrupt: its arrays do not match the checksum written with them",
            older_hint(step_dir),
        )
    best = None
    if "best" in meta.get("sha256", {}):
        best = read_arrays(step_dir / "best", target)
        if sha256(best) != meta["sha256"]["best"]:
            raise CheckpointError(
                f"{step_dir} is corrupt: its best-epoch state does not match its checksum",
                older_hint(step_dir),
            )
    return Resume(
        epoch=int(meta["epoch"]),
        state=state,
        frozen=meta.get("frozen"),
        epochs=[dict(e) for e in meta.get("history") or []],
        best_epoch=meta.get("best_epoch"),
        stopping=meta.get("stopping"),
        best_state=best,
        plateau=meta.get("plateau"),
        meta=meta,
    )


def restore(
    trainer,
    directory: str | os.PathLike,
    *,
    step: int | None = None,
    epochs: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """`read` checkpoint `step` of `directory` and continue `trainer` from it
    (`Trainer.resume_from`): `trainer.fit()` then trains from the end of that epoch up to `epochs`
    in all (default: CONFIG["epochs"]). Returns the checkpoint's metadata."""
    log = log or (lambda line: None)
    resume = read(trainer, directory, step=step)
    total = trainer.config.epochs if epochs is None else int(epochs)
    try:
        trainer.resume_from(resume, total)
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # metadata edited by hand
        step_dir = Path(directory).absolute() / str(resume.epoch)
        raise CheckpointError(
            f"{step_dir} is corrupt: its metadata (meta/metadata) does not describe a training "
            f"state this program can continue ({type(e).__name__}: {e})",
            older_hint(step_dir),
        ) from None
    if total != resume.meta["epochs"]:
        log(
            f"the checkpoint's run had {resume.meta['epochs']} epochs; continuing to {total} (a "
            "learning-rate schedule over the epochs keeps the original length)"
        )
    log(
        f"resuming from the checkpoint of epoch {trainer.epochs_done} in "
        f"{Path(directory).absolute()}"
        + ("" if trainer.epochs else " (the run had already finished)")
    )
    return resume.meta


def _target(trainer, frozen: bool | None) -> dict:
    """What `trainer.state()` gives in the freeze phase `frozen` (False: unfrozen), the trainer left
    unchanged: the arrays a checkpoint of that phase holds."""
    if frozen is False and trainer.frozen:
        from flax import nnx

        from .freeze import unfrozen_optimizer
        from .state import to_pure

        optimizer, _ = unfrozen_optimizer(
            trainer.program,
            trainer.model,
            trainer.optimizer,
            trainer.batching.updates,
            trainer.config.epochs,
            trainer.config.unfreeze_lr,
        )
        return {"model": trainer.state()["model"], "optimizer": to_pure(nnx.state(optimizer))}
    return trainer.state()


def _check_compatible(trainer, meta: dict, step_dir: Path) -> None:
    """The data order and batches depend on the seed and the train split: they must be the same."""
    here = {
        "seed": trainer.seed,
        "train_examples": rows(trainer.splits["train"][0]),
        "batch_size": trainer.batching.size,
    }
    for key, value in here.items():
        if meta.get(key) != value:
            raise CheckpointError(
                f"{step_dir} was written with {key.replace('_', ' ')} {meta.get(key)}, but this "
                f"run has {value}: resuming would not continue the same training",
                "resume with the spec and data that wrote it, or train from the start without "
                "--resume",
            )


def _check_program(trainer, meta: dict, step_dir: Path) -> None:
    """Same shapes are not the same program: another activation, learning rate or normalisation
    would continue a different computation (checkpoints written before this check have none)."""
    written, here = meta.get("program"), module_identity(trainer.program)
    if not written or here is None:
        return
    from ..version import __version__

    same_version = (meta.get("versions") or {}).get("nncompile") == __version__
    changed = changes(written, here, code=same_version)
    if changed:
        raise CheckpointError(
            f"{step_dir} was written by a different program (same parameter shapes): "
            + "; ".join(changed),
            "resume with the spec (and --set values) that wrote it, or train from the start "
            "without --resume",
        )
