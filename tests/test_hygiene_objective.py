"""A sweep's trial that did not record its objective (check catches the names a train block never
records; this is the runtime's fallback, e.g. data given without a validation split): the trial's
reason names the keys it did record, in runtime.sweep and in an Optuna study (runtime.study)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nncompile.errors import NncompileError
from nncompile.runtime.history import History
from nncompile.runtime.sweep import run_sweep, scored

EPOCHS = [
    {"epoch": 1, "loss": 0.9, "accuracy": 0.5, "kl_loss": 0.1, "lr": 1e-3, "seconds": 0.2},
    {"epoch": 2, "loss": 0.7, "accuracy": 0.6, "kl_loss": 0.1, "lr": 1e-3, "seconds": 0.1},
]
NO_VAL = (
    "the sweep objective 'val_loss' was not recorded: it recorded 'accuracy', 'kl_loss' or 'loss'"
)


class Trained:
    """A trained trial as the sweeps see it: a history and save()."""

    def __init__(self, epochs: list[dict]):
        self.history = History(epochs=[dict(e) for e in epochs])

    def save(self, run_dir: Path, curves: bool = False) -> Path:
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir


def test_recorded_keys_leave_out_epoch_seconds_and_lr():
    assert History(epochs=EPOCHS).recorded() == ["loss", "accuracy", "kl_loss"]
    assert History().recorded() == []


def test_the_error_names_the_recorded_keys_and_the_validation_split():
    with pytest.raises(NncompileError) as e:
        scored(History(epochs=EPOCHS), "val_loss", "minimize")
    assert str(e.value) == (
        f"{NO_VAL}\n  hint: val_ keys need a validation split in the data; or use one of the "
        "recorded keys as the sweep's `objective:`"
    )
    with_val = [{**e, "val_loss": 1.0} for e in EPOCHS]
    with pytest.raises(NncompileError) as e:
        scored(History(epochs=with_val), "val_f1", "maximize")
    assert e.value.hint == "use one of the recorded keys as the sweep's `objective:`"
    assert "'val_loss'" in e.value.message and "loss/val_loss" not in str(e.value)
    with pytest.raises(NncompileError) as e:
        scored(History(), "loss", "minimize")
    assert e.value.message == "the sweep objective 'loss' was not recorded: it recorded no epoch"
    assert scored(History(epochs=EPOCHS), "loss", "minimize") == ([(1, 0.9), (2, 0.7)], 0.7)


def reasons(folder: Path) -> list[str]:
    with open(folder / "trials.csv", newline="", encoding="utf-8") as f:
        return [r["note"] for r in csv.DictReader(f)]


def test_a_sweep_trial_records_the_keys_in_its_reason(tmp_path):
    trials = run_sweep(
        [{"h": 1}],
        lambda values: Trained(EPOCHS),
        tmp_path / "sweep",
        metric="val_loss",
        direction="minimize",
        report=lambda line: None,
    )
    assert [(t.state, t.reason) for t in trials] == [("fail", NO_VAL)]
    assert reasons(tmp_path / "sweep") == [NO_VAL]


def test_a_study_trial_records_the_keys_in_its_reason(tmp_path):
    pytest.importorskip("optuna")
    from nncompile.runtime.study import Worker

    def train(values, callbacks=(), run_dir=None, resume=False):
        return Trained(EPOCHS if values["h"] == 1 else [{**e, "val_loss": 0.5} for e in EPOCHS])

    worker = Worker(
        name="s",
        space={"h": [1, 2]},
        grid=[{"h": 1}, {"h": 2}],
        trials=2,
        metric="val_loss",
        direction="minimize",
        engine=None,
        sampler=None,
        pruner=None,
        seed=0,
        out=tmp_path / "study",
        report=lambda line: None,
    )
    trials = worker.run(train)
    assert [(t.state, t.reason, t.objective) for t in trials] == [
        ("fail", NO_VAL, None),
        ("complete", None, 0.5),
    ]
    assert reasons(tmp_path / "study") == [NO_VAL, ""]
