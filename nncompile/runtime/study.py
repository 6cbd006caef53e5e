"""A sweep run as an Optuna study: any number of `nncompile sweep` processes (workers) share its
trials through the study's storage (any database URL Optuna accepts; none: memory).

The trials are the study's queue: the worker that creates the study enqueues all of them (each grid
point with its values; a random sweep's `trials:` empty trials whose values the sampler draws when
a worker takes one), then marks the study ready. Every worker takes WAITING trials one at a time
(atomically: WAITING -> RUNNING in the storage, as Optuna's own queue does), so no trial runs
twice and the sweep runs exactly its trials however many workers join. A running trial beats a
heartbeat; a worker that dies leaves a RUNNING trial whose heartbeat stops: the next worker that
looks fails it and Optuna's RetryFailedTrialCallback enqueues it again (up to `retries` times),
training in the same trial folder, so it resumes from the dead worker's checkpoints when the train
block writes some. A worker ends when no trial waits and none runs elsewhere.

Each trial reports its objective after every epoch; the pruner (median, successive halving) may
stop it there (`pruned at epoch k`). trials.csv and best.json cover the whole study, rewritten by
whichever worker finishes a trial (runtime.sweep's format, with a `state` column's note).
"""

from __future__ import annotations

import math
import random
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import NncompileError
from .checkpoint_files import steps
from .runfolder import sibling
from .sweep import Trained, Trial, as_text, scored, write_results

READY = "nncompile.trials"  # study attribute: the queue is complete (its value: the trial count)
SPACE = "nncompile.space"  # study attribute: what is searched, to refuse a different sweep
WAIT_READY_S = 60.0
OPEN_ATTEMPTS = 5
STALE = "its worker stopped (no heartbeat): rerun as another trial"


class StudyError(NncompileError):
    """The sweep's study cannot be used: Optuna missing, storage unreachable, another sweep's."""


def optuna_module():
    try:
        import optuna
    except ImportError:
        raise StudyError(
            "`engine: optuna(...)`, `sampler:` and `pruner:` need Optuna",
            "pip install 'nncompile[optuna]'",
        ) from None
    return optuna


@contextmanager
def quiet(optuna):
    """Optuna's notes on the experimental parts a shared sweep uses (heartbeats, constant liar,
    failing stale trials) are not the user's concern."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
        yield


class Choices:
    """A `let`'s values as Optuna categorical choices (plain scalars as they are, anything else as
    its spec text) and back."""

    def __init__(self, values: list[Any]):
        self.values = values
        plain = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
        self.encoded = list(values) if plain else [as_text(v) for v in values]

    def decode(self, encoded: Any) -> Any:
        return self.values[self.encoded.index(encoded)]


class Pruning:
    """Runtime callback: report the objective after each epoch; stop when the pruner says so."""

    def __init__(self, trial, metric: str):
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        value = logs.get(self.metric)
        if value is None:
            return
        value = float(value)
        self.trial.report(value if math.isfinite(value) else math.nan, epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.stop_training = True


class Heartbeat:
    """Record a RUNNING trial's heartbeat every `interval` seconds in a thread (as Optuna's own
    optimize loop does), so that other workers can tell it from a dead worker's trial."""

    def __init__(self, storage, trial_id: int, interval: int | None):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.interval:
            self.storage.record_heartbeat(self.trial_id)
            self.thread = threading.Thread(target=self._beat, daemon=True)
            self.thread.start()
        return self

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            self.storage.record_heartbeat(self.trial_id)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def open_storage(optuna, url: str | None, heartbeat: int, retries: int):
    if url is None:
        return optuna.storages.InMemoryStorage(), None
    from optuna import storages

    # (Optuna 4.9 renamed RetryFailedTrialCallback, same behaviour)
    retry = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
    retry = retry or storages.RetryFailedTrialCallback

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):  # several workers on one file: wait for its lock
        kwargs["connect_args"] = {"timeout": 60}
    from sqlalchemy import exc

    for attempt in range(OPEN_ATTEMPTS):
        try:
            storage = storages.RDBStorage(
                url,
                engine_kwargs=kwargs,
                heartbeat_interval=heartbeat,
                grace_period=2 * heartbeat,
                heartbeat_stale_trial_callback=retry(max_retry=retries),
            )
            return storage, heartbeat
        except Exception as e:  # SQLAlchemy: a bad URL, a driver missing, a database unreachable
            # workers starting together on a new database race to create its tables: again
            final = isinstance(e, (exc.ArgumentError, exc.NoSuchModuleError, ImportError))
            if final or attempt == OPEN_ATTEMPTS - 1:
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
                raise StudyError(
                    f"cannot open the sweep storage {url!r}: {first}",
                    'give a database URL Optuna accepts, e.g. storage="sqlite:///sweep.db"',
                ) from None
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def shown(url: str) -> str:
    """A database URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def make_sampler(optuna, sampler, seed: int):
    name = "random" if sampler is None else sampler.name
    if name == "tpe":
        with quiet(optuna):  # constant_liar: workers' running trials count as bad ones
            return optuna.samplers.TPESampler(
                n_startup_trials=sampler.params.startup, seed=seed, constant_liar=True
            )
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(optuna, pruner):
    name = "none" if pruner is None else pruner.name
    if name == "median":
        p = pruner.params
        return optuna.pruners.MedianPruner(n_startup_trials=p.startup, n_warmup_steps=p.warmup)
    if name == "halving":
        p = pruner.params
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=p.min_epochs, reduction_factor=p.rate
        )
    return optuna.pruners.NopPruner()


class Worker:
    """One process's part of a shared sweep (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        space: dict[str, list[Any]],
        grid: list[dict[str, Any]] | None,
        trials: int,
        metric: str,
        direction: str,
        engine,
        sampler,
        pruner,
        seed: int,
        out: Path,
        report: Callable[[str], None] = print,
    ):
        optuna = self.optuna = optuna_module()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        p = engine.params if engine is not None and engine.name == "optuna" else None
        with quiet(optuna):
            self.storage, self.heartbeat = open_storage(
                optuna,
                None if p is None else p.storage,
                10 if p is None else p.heartbeat,
                2 if p is None else p.retries,
            )
        self.name = (p.study if p is not None else None) or name
        self.where = " in memory" if p is None or p.storage is None else f" in {shown(p.storage)}"
        self.choices = {n: Choices(list(v)) for n, v in space.items()}
        self.grid, self.total = grid, len(grid) if grid is not None else trials
        self.metric, self.direction, self.out, self.report = metric, direction, out, report
        self.sampler, self.seed, self.pruner = sampler, seed, make_pruner(optuna, pruner)
        with quiet(optuna):
            self.study = self._open()
        self.study_id = self.storage.get_study_id_from_name(self.name)

    # ---- the study and its queue ----------------------------------------------------------------
    def _signature(self) -> dict:
        return {
            "space": {n: c.encoded for n, c in self.choices.items()},
            "grid": self.grid is not None,
            "objective": f"{self.direction}({self.metric})",
        }

    def _open(self):
        optuna = self.optuna
        sampler = make_sampler(optuna, self.sampler, self.seed)
        try:
            study = optuna.create_study(
                storage=self.storage,
                study_name=self.name,
                direction=self.direction,
                sampler=sampler,
                pruner=self.pruner,
            )
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(
                study_name=self.name, storage=self.storage, sampler=sampler, pruner=self.pruner
            )
            self._check_same(study)
            return study
        study.set_user_attr(SPACE, self._signature())
        if self.grid is not None:
            for k, point in enumerate(self.grid):
                encoded = {
                    n: self.choices[n].encoded[self.choices[n].values.index(v)]
                    for n, v in point.items()
                }
                study.enqueue_trial(encoded, user_attrs={"nncompile.point": k})
        else:
            for _ in range(self.total):
                study.enqueue_trial({})
        study.set_user_attr(READY, self.total)
        return study

    def _check_same(self, study) -> None:
        deadline = time.monotonic() + WAIT_READY_S
        while READY not in study.user_attrs:  # its creator is still filling the queue
            if time.monotonic() > deadline:
                raise StudyError(
                    f"the study '{self.name}' was created but its trials were never queued "
                    "(its creator died while creating it?)",
                    "delete the study (optuna delete-study) or give the sweep another name",
                )
            time.sleep(0.2)
        theirs = study.user_attrs.get(SPACE)
        if theirs != self._signature() or study.direction.name.lower() != self.direction:
            raise StudyError(
                f"the study '{self.name}' in this storage belongs to a different sweep "
                f"(it searches {theirs})",
                'give this sweep another study name: engine: optuna(storage=..., study="...")',
            )

    def _pop(self) -> int | None:
        """Take a WAITING trial (its id) or None: WAITING -> RUNNING succeeds in one worker only."""
        TrialState = self.optuna.trial.TrialState
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            tid = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, t.number)
            try:
                if self.storage.set_trial_state_values(tid, state=TrialState.RUNNING):
                    return tid
            except self.optuna.exceptions.UpdateFinishedTrialError:
                continue
        return None

    # ---- the worker's loop ----------------------------------------------------------------------
    def run(self, train: Callable[..., Trained]) -> list[Trial]:
        """Run trials until none is left (`train(values, callbacks=, run_dir=, resume=)` trains
        one); every trial of the study, in order."""
        self.out.mkdir(parents=True, exist_ok=True)
        TrialState = self.optuna.trial.TrialState
        while True:
            with quiet(self.optuna):
                self.optuna.storages.fail_stale_trials(self.study)
                tid = self._pop()
            if tid is None:
                busy = self.study.get_trials(
                    deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)
                )
                if not busy:
                    break
                time.sleep(min(self.heartbeat or 1, 2))  # another worker's trial may still fail
                continue
            with quiet(self.optuna):
                self._run_trial(tid, train)
        results = self.results()
        write_results(self.out, results, self.metric, self.direction)
        return results

    def _run_trial(self, tid: int, train: Callable[..., Trained]) -> None:
        optuna, TrialState = self.optuna, self.optuna.trial.TrialState
        frozen = self.storage.get_trial(tid)
        first = frozen.system_attrs.get("failed_trial", frozen.number)  # a rerun: its original's
        self.study.sampler = make_sampler(optuna, self.sampler, self.seed * 100003 + frozen.number)
        trial = optuna.trial.Trial(self.study, tid)
        values = {
            n: c.decode(trial.suggest_categorical(n, c.encoded)) for n, c in self.choices.items()
        }
        folder = self.out / f"trial_{first + 1}"
        # a rerun continues from its dead worker's checkpoints (same folder: a shared filesystem)
        done = steps(folder / "checkpoints") or steps(sibling(folder, "next") / "checkpoints")
        resume = bool(done) and frozen.number != first
        pruning = Pruning(trial, self.metric)
        state, objective, run, reason = TrialState.FAIL, None, None, None
        with Heartbeat(self.storage, tid, self.heartbeat):
            try:
                trained = train(values, callbacks=[pruning], run_dir=folder, resume=resume)
                history = trained.history
                assert history is not None
                if history.interrupted:
                    raise KeyboardInterrupt
                _, objective = scored(history, self.metric, self.direction)
                run = str(trained.save(folder))
                if pruning.pruned_at is not None:
                    state, reason = TrialState.PRUNED, f"pruned at epoch {pruning.pruned_at}"
                elif objective is not None:
                    state, reason = TrialState.COMPLETE, history.reason
                else:
                    reason = f"the objective {self.metric} is not finite"
            except KeyboardInterrupt:
                trial.set_user_attr("nncompile.reason", "interrupted")
                self.study.tell(trial, state=TrialState.FAIL)
                raise
            except NncompileError as e:
                reason = str(e).splitlines()[0]
            except Exception as e:  # a trial's failure is the trial's; the sweep goes on
                line = (str(e).strip().splitlines() or [""])[0][:300]
                reason = f"{type(e).__name__}: {line}" if line else type(e).__name__
            for key, value in (("objective", objective), ("run", run), ("reason", reason)):
                trial.set_user_attr(f"nncompile.{key}", value)
            if state == TrialState.COMPLETE:
                self.study.tell(trial, objective)
            else:
                self.study.tell(trial, state=state)
        results = self.results()
        write_results(self.out, results, self.metric, self.direction)
        label = ", ".join(f"{n}={as_text(v)}" for n, v in values.items())
        shown = f"{objective:.5g}" if objective is not None else "-"
        note = "" if state == TrialState.COMPLETE else f"  ({reason})"
        if resume:
            note += f"  (a rerun of trial {first + 1}, resumed after epoch {done[-1]})"
        finished = sum(r.state not in ("running", "waiting") and r.reason != STALE for r in results)
        self.report(
            f"trial {frozen.number + 1} ({finished}/{self.total} done): {label}  "
            f"{self.metric} {shown}{note}"
        )

    def results(self) -> list[Trial]:
        """Every trial of the study so far (all workers'), in the study's order."""
        out = []
        for t in self.study.get_trials(deepcopy=False):
            attrs = t.user_attrs
            values = {n: c.decode(t.params[n]) for n, c in self.choices.items() if n in t.params}
            state = t.state.name.lower()
            reason = attrs.get("nncompile.reason")
            if state == "fail" and reason is None:
                reason = STALE
            out.append(
                Trial(
                    t.number + 1,
                    values,
                    attrs.get("nncompile.objective"),
                    attrs.get("nncompile.run"),
                    reason,
                    state=state,
                )
            )
        return out
