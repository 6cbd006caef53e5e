"""The plan's decision for a sweep: train its trials as ONE population program (their values
traced inputs) or as separate programs, one per trial.

One program is possible when the trials' programs are the same program but for the optimizer's
hyperparameters (learning rate, momentum, weight decay, betas, ...): the emitted optimizers are
wrapped in optax.inject_hyperparams, which keeps those values in the optimizer state, so the
members differ only in their state, and one compiled epoch over the stacked states trains them
all (runtime.population: vmapped, or one member after another on a CPU). Anything else a value
changes — a shape, a layer, the loss, the data, a schedule (its rates are compiled into the
program), the batch size, the epochs — needs separate programs. The runtime checks the members'
state structures once more (an optimizer keyword present in one member only changes the
structure) and falls back with its reason.
"""

from __future__ import annotations

import math
from typing import Any

from .compiler import analyse
from .plan import Decision
from .semantics import ir
from .semantics.ir import select_train
from .source import as_text

# train properties that do not change the compiled program of a member (its state does)
PER_MEMBER = ("optimizer",)


def population(
    members: list[ir.Program], train: str | None = None, trials: int | None = None
) -> Decision[bool]:
    """Whether the members (the spec analysed with each trial's values) train as one program
    (`trials`: how many members the population has, when `members` are representatives)."""
    if len(members) < 2:
        return Decision(False, "one trial: nothing to train together")
    trains = [select_train(m, train) for m in members]
    first = trains[0]
    if first.props.objective is not None:
        return Decision(False, "adversarial training (objective: gan) is trained per trial")
    if first.props.unfreeze_after is not None:
        return Decision(False, "`unfreeze_after` rebuilds the optimizer during training")
    if first.props.init is not None:
        return Decision(False, "`init:` loads another run's parameters into each trial")
    if getattr(first.data.props.source.params, "sample_weight", None) is not None:
        return Decision(False, "the data's `sample_weight` weighs each trial's loss on its own")
    for t in trains[1:]:
        if why := _differs(first, t):
            return Decision(False, why)
    refs = [t.props.optimizer for t in trains]
    varied = _varied(refs)
    if not varied:
        return Decision(False, "the trials train the same program with the same values")
    for key in varied:
        values = [r.params.model_dump()[key] for r in refs if r is not None]
        if len(values) < len(refs) or not all(_number(v) for v in values):
            # optax.inject_hyperparams injects numbers only: a flag (nesterov) is compiled in
            return Decision(False, f"the values change the optimizer's `{key}`, compiled in")
    names = ", ".join(varied)
    return Decision(
        True,
        f"the trials differ only in optimizer hyperparameters ({names}), which "
        "optax.inject_hyperparams keeps in the optimizer state: one program for "
        f"{trials or len(members)} members",
    )


def _differs(a: ir.Train, b: ir.Train) -> str | None:
    if a.model != b.model:
        return f"the values change model {a.props.model}: one program per shape"
    if a.data != b.data:
        return f"the values change data {a.data.name}"
    for name in type(a.props).model_fields:
        if name not in PER_MEMBER and getattr(a.props, name) != getattr(b.props, name):
            return f"the values change `{name}:` of train {a.name}, which is compiled in"
    oa, ob = a.props.optimizer, b.props.optimizer
    if (oa.name if oa else None) != (ob.name if ob else None):
        return "the values change the optimizer itself"
    if a.props.schedule and _varied([oa, ob]):
        return "the learning rate starts a schedule, whose rates are compiled into the program"
    return None


def _varied(refs: list[Any]) -> list[str]:
    """The optimizer arguments whose values differ between the members."""
    dumps = [r.params.model_dump() if r is not None else {} for r in refs]
    keys = list(dict.fromkeys(k for d in dumps for k in d))
    return [k for k in keys if len({repr(d.get(k)) for d in dumps}) > 1]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def describe_sweeps(program: ir.Program) -> str:
    """`nncompile plan`'s lines for the sweep blocks: one program or separate ones, and why. The
    members here vary one value at a time from the first of each list (the sweep itself decides on
    its actual trials, the same way)."""
    lines = []
    for name, block in program.sweeps.items():
        p = block.props
        engine = p.engine.name if p.engine is not None else "local"
        if engine == "optuna" or p.sampler is not None or p.pruner is not None:
            how = "an Optuna study: its trials run one by one, drawn as trials finish"
        else:
            space = p.grid if p.grid is not None else p.random or {}
            base = {k: v[0] for k, v in space.items()}
            points = [base] + [{**base, k: v} for k, vs in space.items() for v in vs[1:]]
            members = []
            for point in points:
                sets = {k: as_text(v) for k, v in point.items()}
                member, _ = analyse(program.source, sets)
                if member is None:
                    break
                members.append(member)
            if len(members) < len(points):
                how = "separate programs: a trial's values do not compile"
            else:
                count = math.prod(len(v) for v in space.values()) if p.grid else p.trials
                d = population(members, p.train, count)
                how = ("one population program: " if d.value else "separate programs: ") + d.why
        lines.append(f"sweep {name}: {how}")
    return "".join(line + "\n" for line in lines)
