"""Work beside the main thread (runtime.background): the figure of a population's sweep is drawn
on a thread while the run folders are written, and is the figure the sweep draws at its end, byte
for byte; when a trial's folder fails it is drawn again from what the sweep recorded."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

import nncompile
from nncompile.runtime.background import Background, prewarm, settle
from nncompile.runtime.population import Population
from nncompile.runtime.sweep import run_sweep

LOSSES = {1: [2.0, 1.5, 1.2], 2: [2.0, 0.9, 0.4], 3: [2.0, float("nan"), float("nan")], 4: [3.0]}


class Done:
    """A trained trial as run_sweep sees it; `broken`: its save fails."""

    def __init__(self, k: int, broken: bool = False):
        epochs = [{"epoch": e, "loss": v} for e, v in enumerate(LOSSES[k], start=1)]
        self.history = SimpleNamespace(epochs=epochs, reason=None)
        self.broken = broken

    def save(self, run_dir, curves=False):
        if self.broken:
            raise OSError("disk full")
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir


def sweep(out, early: bool, broken: int | None = None, own: bool = False) -> tuple[list, bytes]:
    values = [{"lr": 10.0**-k} for k in LOSSES]
    done = {10.0**-k: Done(k, broken=k == broken) for k in LOSSES}
    trials = run_sweep(
        values,
        lambda point: done[point["lr"]],
        out,
        metric="loss",
        direction="minimize",
        report=lambda line: None,
        histories=[done[v["lr"]].history for v in values] if early else None,
        trial_curves=own,
    )
    shown = [(t.number, t.objective, t.state, t.run is not None) for t in trials]
    return shown, (out / "curves.png").read_bytes()


def test_the_figure_drawn_early_is_the_figure_drawn_at_the_end(tmp_path):
    late = sweep(tmp_path / "late", early=False)
    early = sweep(tmp_path / "early", early=True)
    assert early == late
    assert late[0][2] == (3, 2.0, "complete", True)  # NaN epochs: not the objective
    assert late[1][:8] == b"\x89PNG\r\n\x1a\n"


def test_with_the_trials_own_curves_the_figure_is_drawn_at_the_end(tmp_path, monkeypatch):
    import nncompile.runtime.sweep as sweep_module

    monkeypatch.setattr(sweep_module, "_draw_early", lambda *a: pytest.fail("drawn early"))
    assert sweep(tmp_path / "own", early=True, own=True) == sweep(tmp_path / "late", early=False)


def test_a_failed_folder_draws_the_figure_again_from_what_the_sweep_recorded(tmp_path):
    late = sweep(tmp_path / "late", early=False, broken=2)
    early = sweep(tmp_path / "early", early=True, broken=2)
    assert early == late
    assert late[0][1] == (2, 0.4, "complete", False)  # its curve is left out of the figure
    assert late[1] != sweep(tmp_path / "whole", early=False)[1]


def test_prewarm_imports_on_its_own_thread_and_leaves_failures_to_their_importer():
    name = "nncompile.runtime.dataplot"  # a module the sweep does not import by itself
    sys.modules.pop(name, None)
    thread = prewarm((name, "no_such_module_popfixed"))
    settle()
    assert not thread.is_alive() and name in sys.modules
    assert "no_such_module_popfixed" not in sys.modules


def test_background_hands_back_the_value_or_the_exception():
    assert Background(lambda a, b: a + b, 2, 3).result() == 5

    def fails():
        raise ValueError("drawn wrong")

    with pytest.raises(ValueError, match="drawn wrong"):
        Background(fails).result()


SPEC = """
let lr = 0.01
data iris { source: sklearn("iris")  split: {train: 0.6, val: 0.2, test: 0.2} }
model M { input x: [4]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: M  data: iris  loss: categorical_crossentropy  optimizer: sgd(lr=lr)
        epochs: 3  batch_size: 16 }
"""


def test_a_population_says_when_its_first_epoch_is_compiled(tmp_path):
    path = tmp_path / "s.nn"
    path.write_text(SPEC)
    programs = [nncompile.compile(str(path), sets={"lr": v}) for v in ("0.1", "0.01")]
    first = programs[0]
    trainer = Population(first.module, first.splits(), [p.module for p in programs])
    calls: list[int] = []
    histories = trainer.fit_population(compiled=lambda: calls.append(len(trainer.histories)))
    assert calls == [0]  # once, during the first epoch's bookkeeping
    assert [len(h.epochs) for h in histories] == [3, 3]
