"""Hyperparameter search from the API: a spec's sweep block, each trial a compiled and trained
Program (the trials' bookkeeping is runtime.sweep's)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api import Program, compile
from .diagnostics import CompileError
from .errors import NncompileError
from .runtime.history import History
from .runtime.sweep import Trial, as_text
from .semantics import ir
from .semantics.schema import SweepProps


def uses_study(p: SweepProps) -> bool:
    """Whether a sweep runs as an Optuna study (runtime.study): `engine: optuna(...)`, or a sampler
    or pruner, which are Optuna's (then in this process's memory); else trials run one by one."""
    engine = p.engine.name if p.engine is not None else "local"
    return engine == "optuna" or p.sampler is not None or p.pruner is not None


@dataclass(frozen=True)
class SweepResult:
    name: str
    out: Path  # trials.csv, best.json, trial_<k>/
    trials: list[Trial]
    best: Trial | None
    metric: str
    direction: str  # "minimize" or "maximize"


def study_error(spec: ir.Program, block: ir.Sweep, e: NncompileError) -> CompileError:
    from .diagnostics import STUDY, Diagnostic

    span = block.property_spans.get("engine", block.span)
    found = [Diagnostic(STUDY, e.message, span, e.hint, spec.source.path)]
    return CompileError(found, spec.source)


def as_population(
    path: str,
    train: str,
    sets: Mapping[str, str] | None,
    values: list[dict[str, Any]],
    epochs: int | None,
    report: Callable[[str], None],
) -> Members | None:
    """Train the trials as one population program when the plan says they can be (see
    nncompile.population): then the trained Members, giving each trial's Program in order; None
    (after saying why) when they need separate programs."""
    from .population import population

    try:
        programs = [
            compile(
                path, train=train, sets={**(sets or {}), **{n: as_text(v) for n, v in pt.items()}}
            )
            for pt in values
        ]
    except NncompileError:
        report(f"{len(values)} trials as separate programs: a trial's values do not compile")
        return None
    decision = population([prog.spec for prog in programs], train)
    if not decision.value:
        report(f"{len(values)} trials as separate programs: {decision.why}")
        return None
    from .runtime.population import NotAPopulation, Population

    first = programs[0]
    try:
        trainer = Population(
            first.module, first.splits(), [prog.module for prog in programs], epochs=epochs
        )
    except NotAPopulation as e:
        report(f"{len(values)} trials as separate programs: {e.message}")
        return None
    how = "vmapped" if trainer.layout == "vmap" else "one after another (CPU)"
    if len(trainer.groups) > 1:
        how += f" in {len(trainer.groups)} groups at once"
    report(f"{len(values)} trials as one population program, members {how}: {decision.why}")
    from .runtime.background import prewarm

    try:  # what saving and the figure import, on another core while the members train
        histories = trainer.fit_population(compiled=prewarm)
    except Exception as e:  # out of memory with P members, ...: the trials on their own
        line = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        report(f"the population program failed ({line}): the trials as separate programs")
        return None
    return Members(programs, trainer, histories)


class Members:
    """A trained population's trials in order: each call gives the next trial's Program, the
    population's trainer holding that member's state; `histories`: every member's, known before
    the run folders are written."""

    def __init__(self, programs: list[Program], trainer: Any, histories: list[History]):
        self.programs, self.trainer, self.histories = programs, trainer, histories
        self.taken = iter(range(len(programs)))

    def __call__(self, point: dict[str, Any]) -> Program:
        k = next(self.taken)
        program, first = self.programs[k], self.programs[0]
        self.trainer.select(k)
        program.trainer, program.history = self.trainer, self.histories[k]
        program.dataset = first.dataset
        return program


def sweep(
    spec: ir.Program,
    name: str | None = None,
    *,
    sets: Mapping[str, str] | None = None,
    out: str | Path | None = None,
    epochs: int | None = None,
    report: Callable[[str], None] = print,
    population: bool = True,
    trial_curves: bool = False,
) -> SweepResult:
    """Run a sweep block's trials (default: the first sweep): each recompiles the spec with the
    trial's `let` values (over `sets`) and trains; results in `out` (default runs/<spec>-<sweep>).
    Trials that differ only in optimizer hyperparameters train as one population program unless
    `population=False` (nncompile.population decides; runtime.population trains). The sweep's
    curves.png shows every trial; `trial_curves` draws each trial's own too (runtime.sweepplot).
    """
    from .runtime.sweep import best_trial, points, run_sweep

    path = spec.source.path
    if not spec.sweeps:
        raise NncompileError(f"{path} has no sweep block")
    name = name or next(iter(spec.sweeps))
    if name not in spec.sweeps:
        raise NncompileError(
            f"no sweep '{name}' in {path}; the sweeps are {', '.join(spec.sweeps)}"
        )
    p = spec.sweeps[name].props
    direction, metric = (
        (p.objective.name, str(p.objective.params.model_dump()["metric"]))
        if p.objective is not None
        else ("minimize", "val_loss")
    )
    folder = Path(out or Path("runs") / f"{Path(path).stem}-{name}")

    def train(
        values: dict[str, Any], callbacks=(), run_dir: Path | None = None, resume: bool = False
    ) -> Program:
        program = compile(
            path, train=p.train, sets={**(sets or {}), **{n: as_text(v) for n, v in values.items()}}
        )
        program.fit(epochs=epochs, callbacks=callbacks, run_dir=run_dir, resume=resume)
        return program

    if uses_study(p):
        from .runtime.study import StudyError, Worker

        grid = points(p.grid, None, p.trials, p.seed) if p.grid is not None else None
        try:
            worker = Worker(
                name=f"{Path(path).stem}-{name}",
                space=dict(p.grid if p.grid is not None else p.random or {}),
                grid=grid,
                trials=p.trials,
                metric=metric,
                direction=direction,
                engine=p.engine,
                sampler=p.sampler,
                pruner=p.pruner,
                seed=p.seed,
                out=folder,
                report=report,
            )
        except StudyError as e:  # at the engine property: file:line, what, hint
            raise study_error(spec, spec.sweeps[name], e) from None
        report(f"sweep {name}: study '{worker.name}', {worker.total} trials{worker.where}")
        trials = worker.run(train)
        return SweepResult(name, folder, trials, best_trial(trials, direction), metric, direction)

    values = points(p.grid, p.random, p.trials, p.seed)
    together = as_population(path, p.train, sets, values, epochs, report) if population else None
    trials = run_sweep(
        values,
        train if together is None else together,
        folder,
        metric=metric,
        direction=direction,
        report=report,
        trial_curves=trial_curves,
        histories=None if together is None else together.histories,
    )
    return SweepResult(name, folder, trials, best_trial(trials, direction), metric, direction)
