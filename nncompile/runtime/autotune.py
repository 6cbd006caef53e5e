"""Measured choices: the first fit of a program shape on a machine times the candidate strategies
for a few steps and records the winner next to the compilation cache; later fits read it.

The plan's rules (nncompile/plan/: an epoch as one compiled loop, convolutions through
canonical_conv on CPU) were measured on one machine under one load. Where they may lose (a
convolutional program on a loaded CPU ran its steps faster one call at a time with XLA's native
convolution), the runtime can measure instead of assume:

* candidates: the rule's form (strategy "scan", timed as the trainer runs it: a chunk of the
  epoch's compiled loop, or a whole epoch for a scan of known length), strategy
  "step", and, for programs whose convolutions compute through the program's canonical_conv or
  im2col_conv on CPU, strategy "step" with XLA's native convolution and JAX's own gradients (which
  are ~14x slower inside lax.scan on XLA:CPU: that pair is not a candidate);
* each candidate is compiled and run from the initial state on the first epoch's batches (the
  results are thrown away: training starts from the same state whichever wins), timed in
  interleaved rounds of ~ROUND_S, the fastest round per candidate counting; another candidate must
  beat the rule's by MARGIN, else the rule stays;
* a first fit measures only programs whose rule is a chunked loop (the rule's candidate is then
  timed on chunks of the very function training runs); a scan of known length (tiny steps, or a
  recurrent program: runtime.loop's CHUNK_MIN_WORK) is timed only as whole epochs, which `nncompile
  tune` does and a first run cannot afford;
* budget: what the tuning adds to a first run is held under BUDGET_S. The rule's candidate is
  compiled anyway; another is measured only when its compilation (estimated by the rule's) and its
  rounds fit in what is left, else it is reported as not measured;
* the record: `autotune.json` next to JAX's compilation cache (`$NNCOMPILE_AUTOTUNE_FILE`
  overrides), one entry per program fingerprint (runtime.identity, less the seed, early
  stopping and float constants), batch size, backend, device kind and jax version; written
  atomically (a temporary file renamed over it); an unreadable record is ignored with a warning
  and written anew (runtime.tunerecord).

Off: `NNCOMPILE_AUTOTUNE=0`, `nncompile train --no-autotune`, a train block's `strategy: scan` or
`strategy: step` (a pin), a strategy set by `Trainer(config=...)`, and several devices (the rule).
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from flax import nnx

from ..errors import NncompileError
from .batches import epoch_order
from .identity import module_identity
from .tunerecord import describe, enabled, fingerprint, key_of, read, write

BUDGET_S = 1.0  # the most a first run spends on tuning beyond the rule's own compilation
ROUND_S = 0.03  # one timed round of a candidate
ROUNDS = 3
MARGIN = 0.05  # a candidate replaces the rule only when its steps are this much faster
MIN_STEPS = 4  # epochs of fewer steps keep the rule: per-step dispatch cannot matter much


@dataclass(frozen=True)
class Candidate:
    strategy: str  # "scan" or "step"
    # "canonical", "im2col" or "native" for programs whose convolutions compute through a function
    # of the program (canonical_conv, im2col_conv or col2im_conv)
    conv: str | None = None

    @property
    def name(self) -> str:
        return self.strategy + ("" if self.conv is None else f", {self.conv} conv")


def machine() -> dict[str, str]:
    device = jax.local_devices()[0]
    return {
        "backend": jax.default_backend(),
        "device_kind": str(device.device_kind),
        "jax": jax.__version__,
    }


# ---- measuring ----------------------------------------------------------------------------------
def skip_reason(trainer, *, asked: bool = False) -> str | None:
    """Why a fit keeps the rule without measuring (None: it may measure or read the record);
    `asked`: `nncompile tune` measures whatever NNCOMPILE_AUTOTUNE says."""
    cfg = trainer.config
    if not asked and not enabled():
        return "autotune off"
    if not cfg.autotune:
        return "the train block pins its strategy"
    if cfg.strategy != "scan":
        return f"strategy {cfg.strategy} set for this run"
    if trainer.placement is not None:
        return "several devices"
    if trainer.batching.steps < MIN_STEPS:
        return f"an epoch of {trainer.batching.steps} steps"
    if not asked and not trainer.chunked:
        # timing its steps needs whole epochs (W5 under load: 11 s) or another compilation whose
        # chunked loop times them wrongly (W3: 50x slower than the scan it stands for)
        return "a scan of known length: its steps are timed only as whole epochs"
    return None


def tune(trainer, x, y) -> None:
    """Before a trainer's first fit: train with the recorded or measured winner (trainer.tuning
    says which and how); nothing when skip_reason says so or the trainer was tuned already."""
    if trainer.tuning is not None or trainer.epochs < 1 or skip_reason(trainer) is not None:
        return
    identity = module_identity(trainer.program)
    if identity is None:
        trainer.tuning = {"choice": "rule", "why": "the program has no source to fingerprint"}
        return
    program, where = fingerprint(identity), machine()
    key = key_of(program, trainer.batching.size, where)
    entry = read().get(key)
    if entry is not None and _apply(trainer, entry.get("choice_parts")):
        trainer.tuning = {**entry, "source": "record"}
        return
    entry = measure(trainer, x, y, BUDGET_S)
    record(trainer, entry, program, where)
    trainer.log(f"autotune: {describe(entry)}; {entry['seconds']:.2f} s")


def record(trainer, entry: dict, program: str, where: dict[str, str]) -> str:
    """Write a measured entry under its key (returned); trainer.tuning is the entry."""
    entry.update(program=program, batch=trainer.batching.size, **where)
    entry.update(spec=trainer.config.spec, train=trainer.config.train)
    entry["when"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    key = key_of(program, trainer.batching.size, where)
    write(key, entry)
    trainer.tuning = {**entry, "source": "measured"}
    return key


def measure_now(trainer) -> dict:
    """`nncompile tune`: measure every candidate (no budget), record the winner; the entry."""
    identity = module_identity(trainer.program)
    if identity is None:
        raise NncompileError(
            "this program has no source to fingerprint: nothing to record",
            "tune a spec (`nncompile tune FILE`) or a program compiled from one",
        )
    x, y = jax.device_put(trainer.splits["train"])
    entry = measure(trainer, x, y, float("inf"))
    record(trainer, entry, fingerprint(identity), machine())
    return entry


def _convs(model: nnx.Module) -> list[nnx.Conv]:
    """The model's convolutions computing through another function than XLA's own (the program's
    canonical_conv or im2col_conv)."""
    return [
        m
        for _, m in nnx.iter_graph(model)
        if isinstance(m, nnx.Conv) and m.conv_general_dilated is not jax.lax.conv_general_dilated
    ]


def candidates(trainer) -> list[Candidate]:
    """The rule's candidate first, then the others in the order they are worth measuring."""
    convs = _convs(trainer.model)
    if convs:  # the program's CPU convolution: canonical_conv (the plan's rule) or im2col
        rule = (
            "canonical" if convs[0].conv_general_dilated.__name__ == "canonical_conv" else "im2col"
        )
        return [Candidate("scan", rule), Candidate("step", "native"), Candidate("step", rule)]
    return [Candidate("scan"), Candidate("step")]


def candidate_fns(trainer, cand: Candidate, *, keep: bool = False):
    """The compiled functions of a candidate. With native convolutions its layout has them; the
    model's modules compute so from then on with `keep` (training), else as before (measuring)."""
    from .compiled import Layout

    convs = _convs(trainer.model) if cand.conv == "native" else []
    saved = [m.conv_general_dilated for m in convs]
    for m in convs:
        m.conv_general_dilated = jax.lax.conv_general_dilated
    layout = Layout.of(trainer.model, trainer.optimizer)
    for m, f in zip(convs if not keep else [], saved, strict=False):
        m.conv_general_dilated = f
    # (the rule's scan is the trainer's own form: training keeps it when it wins)
    return trainer.compiled_for(cand.strategy, cand.strategy == "scan" and trainer.chunked, layout)


def _apply(trainer, parts: dict | None) -> bool:
    """Train with a recorded choice ({"strategy", "conv"}); False when it does not fit."""
    if not isinstance(parts, dict):
        return False
    cand = Candidate(str(parts.get("strategy")), parts.get("conv"))
    if cand not in candidates(trainer):
        return False
    if cand != candidates(trainer)[0]:  # the rule's is what the trainer was built with
        trainer.use(candidate_fns(trainer, cand, keep=True))
    return True


def runner(fns, state0, x, y, idx, rest):
    """run(n): n training steps of the first epoch from the initial state, results discarded; a
    scan of known length runs the whole epoch (n: its steps)."""
    if fns.strategy == "scan" and not fns.chunked:  # (as Epochs calls it: the same compilation)
        return lambda n: fns.epoch(state0, None, 1, x, y, idx, 0, fns.batching.steps, rest)[2]
    if fns.strategy == "scan":  # (as Epochs calls a chunk: the same compiled function)
        return lambda n: fns.epoch(state0, fns.acc.zero(), 1, x, y, idx, 0, n, rest)[2]
    didx = jax.device_put(idx)
    key = np.asarray(1, np.int32)

    def run(n):
        state, acc, i = fns.copy(state0), fns.acc.zero(), np.zeros((), np.int32)
        for _ in range(n):
            state, acc, i = fns.step(state, acc, i, didx, x, y, key)
        return i

    return run


def _per_call(run, fns, steps: int, rest) -> int:
    """Steps per timed call: about ROUND_S of them (at least one), or a whole epoch for a scan of
    known length."""
    if fns.strategy == "scan" and not fns.chunked:
        return steps + (rest is not None)
    one = min(_timed(run, 1), _timed(run, 1))
    return max(1, min(steps, round(ROUND_S / max(one, 1e-6))))


def _timed(run, n: int) -> float:
    t = time.perf_counter()
    jax.block_until_ready(run(n))
    return time.perf_counter() - t


def measure(trainer, x, y, budget: float) -> dict:
    """Time the candidates (within `budget` seconds beyond the rule's compilation); the trainer
    then trains with the winner. An entry of the record without its key fields."""
    t_start = time.perf_counter()
    cands = candidates(trainer)
    state0 = jax.tree.leaves(nnx.state((trainer.model, trainer.optimizer)))
    idx, rest = epoch_order(trainer.batching, trainer.seed, 1)
    steps = trainer.batching.steps
    runs: dict[Candidate, tuple[Any, int]] = {}  # the candidates timed: (run, steps per call)
    runs_of: dict[Candidate, Any] = {}
    fns_of: dict[Candidate, Any] = {}
    compile_s: dict[Candidate, float] = {}
    timings: dict[str, dict[str, Any]] = {}
    rule = cands[0]
    for cand in cands:
        if cand != rule:
            estimate = compile_s[rule]  # (the rule's compilation)
            spent = time.perf_counter() - t_start - compile_s[rule]  # (kept if it wins)
            if spent + estimate + ROUNDS * ROUND_S * (max(len(runs), 1) + 1) > budget:
                timings[cand.name] = {
                    "skipped": f"not measured: compiling it takes about {estimate:.1f} s "
                    f"(budget {budget:g} s)"
                }
                continue
            if rule not in runs:  # another candidate fits: time the rule's steps too
                runs[rule] = (runs_of[rule], _per_call(runs_of[rule], fns_of[rule], steps, rest))
        fns = candidate_fns(trainer, cand)
        run = runner(fns, state0, x, y, idx, rest)
        # compilation (a chunk of no steps: nothing runs) or compilation and one step (or epoch)
        compile_s[cand] = _timed(run, 0 if fns.strategy == "scan" and fns.chunked else 1)
        runs_of[cand], fns_of[cand] = run, fns
        if cand != rule:
            runs[cand] = (run, _per_call(run, fns, steps, rest))
    if not runs:  # nothing else fits the budget: the rule, without timing its steps
        timings[rule.name] = {
            "skipped": "kept without timing: no other candidate fits the budget",
            "compile_s": round(compile_s[rule], 3),
        }
    best: dict[Candidate, float] = {}
    for _ in range(ROUNDS):  # interleaved: a change of load falls on every candidate
        for cand, (run, n) in runs.items():
            best[cand] = min(best.get(cand, np.inf), _timed(run, n) / n)
    winner = min(best, key=best.__getitem__) if best else rule
    if winner != rule and best[winner] > best[rule] * (1 - MARGIN):
        winner = rule
    if winner.conv == "native":  # the model itself computes so from now on (unfreezing, views)
        for m in _convs(trainer.model):
            m.conv_general_dilated = jax.lax.conv_general_dilated
    trainer.use(fns_of[winner])  # compiled already: training starts at once
    for cand in best:
        timings[cand.name] = {
            "step_ms": round(best[cand] * 1e3, 4),
            "compile_s": round(compile_s[cand], 3),
        }
    return {
        "choice": winner.name,
        "choice_parts": {"strategy": winner.strategy, "conv": winner.conv},
        "rule": rule.name,
        "timings": {c.name: timings[c.name] for c in cands},
        "seconds": round(time.perf_counter() - t_start, 3),
        # what a first run pays beyond training: all but the compilation of the functions it keeps
        "overhead_s": round(time.perf_counter() - t_start - compile_s[winner], 3),
    }
