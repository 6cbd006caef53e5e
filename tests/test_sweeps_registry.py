"""Every sweep engine, sampler and pruner entry: documented, its example valid in a spec that
passes `check`, and built into the Optuna object the study runs with."""

import optuna
import pytest

import nncompile
from nncompile.compiler import analyse
from nncompile.registry import Ref
from nncompile.registry.sweeps import ENGINES, PRUNERS, SAMPLERS
from nncompile.runtime.study import make_pruner, make_sampler
from nncompile.source import NOWHERE, Source

ENTRIES = [(r, e) for r in (ENGINES, SAMPLERS, PRUNERS) for e in r.entries()]
IDS = [f"{r.kind}:{e.name}" for r, e in ENTRIES]
PROPERTY = {"sweep_engine": "engine", "sweep_sampler": "sampler", "sweep_pruner": "pruner"}


def call(entry) -> str:
    def text(v):
        return f'"{v}"' if isinstance(v, str) else repr(v)

    args = ", ".join(f"{k}={text(v)}" for k, v in entry.example.items())
    return f"{entry.name}({args})" if args else entry.name


@pytest.mark.parametrize("registry, entry", ENTRIES, ids=IDS)
def test_entry_is_documented_and_its_example_checks(registry, entry):
    assert entry.doc
    entry.params.model_validate(entry.example)
    spec = f"""
let lr = 0.1
data d {{ source: sklearn("iris") split: {{train: 0.6, val: 0.2, test: 0.2}} }}
model M {{ input x: [4]  dense(3, activation=softmax) }}
train {{ model: M  data: d  loss: categorical_crossentropy  optimizer: sgd(lr=lr) }}
sweep {{ random: {{lr: [0.1, 0.01]}}  {PROPERTY[registry.kind]}: {call(entry)} }}
"""
    assert nncompile.check(text=spec) == []
    program, _ = analyse(Source(spec, "<spec>"))
    ref = getattr(program.sweeps["main"].props, PROPERTY[registry.kind])
    assert ref.name == entry.name and ref.params == entry.params.model_validate(entry.example)


@pytest.mark.parametrize("entry", SAMPLERS.entries(), ids=lambda e: e.name)
def test_every_sampler_builds(entry):
    ref = Ref("sweep_sampler", entry.name, entry.params.model_validate(entry.example), NOWHERE)
    assert isinstance(make_sampler(optuna, ref, 0), optuna.samplers.BaseSampler)


@pytest.mark.parametrize("entry", PRUNERS.entries(), ids=lambda e: e.name)
def test_every_pruner_builds(entry):
    ref = Ref("sweep_pruner", entry.name, entry.params.model_validate(entry.example), NOWHERE)
    pruner = make_pruner(optuna, ref)
    assert isinstance(pruner, optuna.pruners.BasePruner)
    assert (entry.name == "none") == isinstance(pruner, optuna.pruners.NopPruner)
