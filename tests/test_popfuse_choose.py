"""Popfuse helper package (issue 15): an epoch whose members all train on keeps the new stacked
state whole; a member that stops on a non-finite loss still keeps its last good epoch's state,
vmapped (its lane computed on and is masked) as one after another (skipped)."""

import numpy as np
import pytest

import nncompile
from nncompile.runtime.history import StopReason
from nncompile.runtime.loop import Trainer
from nncompile.runtime.population import Population

SPEC = """
let lr = 0.01
data iris { source: sklearn("iris")  split: {train: 0.6, val: 0.2, test: 0.2} }
model M { input x: [4]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: M  data: iris  loss: categorical_crossentropy  optimizer: sgd(lr=lr)
        epochs: 4  batch_size: 16  metrics: [accuracy] }
"""


def test_a_vmapped_member_that_diverges_keeps_its_last_good_state(tmp_path):
    # (one after another: tests/test_population_layouts.py, bit for bit)
    path = tmp_path / "s.nn"
    path.write_text(SPEC)
    programs = [nncompile.compile(str(path), sets={"lr": v}) for v in ("0.1", "1e8")]
    first = programs[0]
    population = Population(
        first.module, first.splits(), [p.module for p in programs], layout="vmap"
    )
    calm, wild = population.fit_population()
    assert calm.stop is None and len(calm.epochs) == 4
    assert wild.stop is StopReason.NONFINITE and len(wild.epochs) < 4
    alone = Trainer(programs[1].module, first.splits(), log=lambda line: None)
    alone.fit()
    population.select(1)
    mine, theirs = population.evaluate("test"), alone.evaluate("test")
    assert np.isfinite(mine["loss"])
    assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-4)
