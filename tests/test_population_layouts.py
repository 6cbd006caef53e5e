"""Population helper package (issue 15): how the members run inside the one program (vmapped, or
one after another on a CPU) and what a sweep draws (one curves.png for all trials)."""

from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.runtime.history import History
from nncompile.runtime.population import Population, member_layout
from nncompile.runtime.sweep import run_sweep

SPEC = """
let lr = 0.01
data iris { source: sklearn("iris")  split: {train: 0.6, val: 0.2, test: 0.2} }
model M { input x: [4]  dense(8, activation=relu)  dropout(0.2)  dense(3, activation=softmax) }
train { model: M  data: iris  loss: categorical_crossentropy  optimizer: adam(lr=lr)
        epochs: 3  batch_size: 16  metrics: [accuracy] }
"""


def test_the_layout_follows_the_backend():
    assert member_layout("cpu") == "map"
    assert member_layout("gpu") == member_layout("tpu") == "vmap"


def test_vmapped_members_match_the_members_run_one_after_another(tmp_path):
    path = tmp_path / "s.nn"
    path.write_text(SPEC)
    programs = [nncompile.compile(str(path), sets={"lr": v}) for v in ("0.05", "0.001")]
    first = programs[0]
    modules = [p.module for p in programs]
    fits = {}
    for layout in ("map", "vmap"):
        trainer = Population(first.module, first.splits(), modules, layout=layout)
        assert trainer.layout == layout
        fits[layout] = [h.epochs for h in trainer.fit_population()]
    for mapped, vmapped in zip(fits["map"], fits["vmap"], strict=True):
        assert len(mapped) == len(vmapped) == 3
        for a, b in zip(mapped, vmapped, strict=True):
            for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
                assert a[key] == pytest.approx(b[key], rel=2e-5, abs=1e-6)
    assert fits["map"][0][-1]["loss"] != fits["map"][1][-1]["loss"]  # the rates differ


class Trained:
    """A trial's result as runtime.sweep sees it: a history; save() records how it was asked."""

    def __init__(self, losses: list[float]):
        self.history = History()
        self.history.epochs = [{"epoch": i + 1, "loss": v} for i, v in enumerate(losses)]
        self.saved: list[bool] = []

    def save(self, run_dir: Path, *, curves: bool = True) -> Path:
        run_dir.mkdir(parents=True)
        self.saved.append(curves)
        return run_dir


def sweep_of(tmp_path, values, losses, **kw):
    trained = {}

    def train(point):
        if losses[point["lr"]] is None:
            raise RuntimeError("boom")
        trained[point["lr"]] = t = Trained(losses[point["lr"]])
        return t

    results = run_sweep(
        values, train, tmp_path / "sweep", metric="loss", direction="minimize", report=print, **kw
    )
    return results, trained


def test_a_sweep_draws_its_trials_together_and_not_one_by_one(tmp_path):
    losses = {0.1: [1.0, 0.5, 0.4], 0.01: [1.0, 0.2, 0.05], 0.001: None, 1.0: [1.0, float("nan")]}
    results, trained = sweep_of(tmp_path, [{"lr": v} for v in losses], losses)
    assert [t.state for t in results] == ["complete", "complete", "fail", "complete"]
    assert all(t.saved == [False] for t in trained.values())
    png = tmp_path / "sweep" / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_trial_curves_are_drawn_when_asked(tmp_path):
    losses = {0.1: [1.0, 0.5], 0.01: [1.0, 0.2]}
    _, trained = sweep_of(tmp_path, [{"lr": v} for v in losses], losses, trial_curves=True)
    assert all(t.saved == [True] for t in trained.values())


def test_many_trials_of_several_values_draw_without_a_legend(tmp_path):
    values = [{"lr": v, "b": b} for v in np.geomspace(1e-4, 1e-1, 11) for b in (0.9, 0.99)]
    losses = {(p["lr"]): [1.0, p["lr"]] for p in values}
    results, _ = sweep_of(tmp_path, values, losses)
    assert len(results) == 22 and (tmp_path / "sweep" / "curves.png").stat().st_size > 10_000


def test_a_sweep_whose_trials_all_fail_draws_nothing(tmp_path):
    results, _ = sweep_of(tmp_path, [{"lr": 0.1}], {0.1: None})
    assert results[0].state == "fail"
    assert not (tmp_path / "sweep" / "curves.png").exists()


def test_a_member_that_diverges_stops_alone_with_its_separate_runs_numbers(tmp_path):
    from nncompile.runtime.history import StopReason
    from nncompile.runtime.loop import Trainer

    path = tmp_path / "s.nn"
    path.write_text(SPEC.replace("adam(lr=lr)", "sgd(lr=lr)").replace("epochs: 3", "epochs: 4"))
    programs = [nncompile.compile(str(path), sets={"lr": v}) for v in ("0.1", "1e8")]
    first = programs[0]
    population = Population(first.module, first.splits(), [p.module for p in programs])
    calm, wild = population.fit_population()
    assert calm.stop is None and len(calm.epochs) == 4
    assert wild.stop is StopReason.NONFINITE and len(wild.epochs) < 4
    trainer = Trainer(programs[1].module, first.splits(), log=lambda line: None)
    alone = trainer.fit()
    assert alone.stop is StopReason.NONFINITE and wild.reason == alone.reason
    drop = lambda epochs: [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]
    assert drop(wild.epochs) == drop(alone.epochs)  # bit for bit (one after another on a CPU)
    population.select(1)  # both kept the state of the last good epoch
    assert population.evaluate("test") == trainer.evaluate("test")
