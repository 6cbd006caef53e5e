"""Popcores helper package (issue 15): a population's members in groups, one per core, whose
epochs run at once on threads of their own; every member's numbers stay those of one group."""

import numpy as np
import pytest

import nncompile
from nncompile.runtime.population import GROUPS_ENV, Population, cores, member_groups

SPEC = """
let lr = 0.01
data iris { source: sklearn("iris")  split: {train: 0.6, val: 0.2, test: 0.2} }
model M { input x: [4]  dense(8, activation=relu)  dropout(0.2)  dense(3, activation=softmax) }
train { model: M  data: iris  loss: categorical_crossentropy  optimizer: sgd(lr=lr)
        epochs: 4  batch_size: 16  metrics: [accuracy]
        early_stopping: {patience: 1, min_delta: 0.05} }
"""


@pytest.mark.parametrize(
    "size, layout, count, groups",
    [
        (4, "map", 2, [[0, 2], [1, 3]]),
        (5, "map", 2, [[0, 2, 4], [1, 3, None]]),  # padded to one size: one compiled epoch
        (3, "map", 8, [[0], [1], [2]]),  # at most one group per member
        (3, "map", 1, [[0, 1, 2]]),
        (3, "vmap", 4, [[0, 1, 2]]),  # vmapped: one call
    ],
)
def test_members_are_dealt_to_groups(size, layout, count, groups):
    assert member_groups(size, layout, count) == groups


@pytest.mark.parametrize(
    "value, count", [(None, 1), ("3", 3), ("cores", min(cores(), 8)), ("0", 1), ("many", 1)]
)
def test_the_number_of_groups_comes_from_the_environment(monkeypatch, value, count):
    if value is None:
        monkeypatch.delenv(GROUPS_ENV, raising=False)  # one group: the members on one core
    else:
        monkeypatch.setenv(GROUPS_ENV, value)
    assert len(member_groups(8, "map")) == count
    assert len(member_groups(8, "vmap")) == 1


def test_grouped_members_train_as_in_one_group_bit_for_bit(tmp_path):
    path = tmp_path / "s.nn"
    path.write_text(SPEC)
    # the third member diverges (non-finite loss) and stops alone; early stopping stops others
    programs = [nncompile.compile(str(path), sets={"lr": v}) for v in ("0.3", "0.01", "1e8")]
    first = programs[0]
    splits, modules = first.splits(), [p.module for p in programs]
    fits = {}
    for count in (1, 2):
        trainer = Population(first.module, splits, modules, layout="map", groups=count)
        assert len(trainer.groups) == count
        histories = trainer.fit_population()
        tests = []
        for k in range(3):
            trainer.select(k)
            tests.append(trainer.evaluate("test"))
        drop = lambda epochs: [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]
        fits[count] = ([drop(h.epochs) for h in histories], [h.reason for h in histories], tests)
    assert fits[1] == fits[2]
    epochs, reasons, _ = fits[2]
    assert len({len(e) for e in epochs}) > 1, "the members stopped at different epochs"
    assert reasons[2].startswith("the training loss became non-finite")
    assert np.isfinite(epochs[0][-1]["loss"]) and epochs[0][-1]["loss"] != epochs[1][-1]["loss"]
