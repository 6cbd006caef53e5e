"""objkeys: sweeps whose objective is a layer's loss term (digits_vae's val_kl_loss) or an output's
key (multi_io's val_digit_accuracy) run to the end, as one population program and as separate
trials, and each trial's objective is the best value of that key in its run's history."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

import nncompile
from nncompile.search import sweep
from tests.gan_specs import tiny_gan

# each case compiles and trains two tiny trials (7-12 s on 2 busy cores): the slow tier
pytestmark = pytest.mark.slow

SPECS = Path(__file__).resolve().parent.parent / "specs"


def tiny_vae() -> str:
    text = (SPECS / "digits_vae.nn").read_text()
    for old, new in (
        ("let hidden = 128", "let hidden = 16\nlet lr = 0.002"),
        ("adam(lr=2e-3)", "adam(lr=lr)"),
        ("epochs:     60", "epochs: 2"),
    ):
        assert old in text
        text = text.replace(old, new)
    return text


def tiny_multi() -> str:
    text = (SPECS / "multi_io.nn").read_text()
    for old, new in (
        ("let width = 64", "let width = 8\nlet lr = 0.002"),
        ("adam(lr=2e-3)", "adam(lr=lr)"),
        ("epochs:       40", "epochs: 2"),
        ('"data/digits_halves.npz"', f'"{SPECS / "data" / "digits_halves.npz"}"'),
    ):
        assert old in text
        text = text.replace(old, new)
    return text


def tiny_gan_lr() -> str:
    return "let lr = 0.001\n" + tiny_gan(
        "train { data: d  objective: gan(generator=G, discriminator=D, noise=normal([8]))\n"
        "  loss: non_saturating  optimizer: adam(lr=lr)  epochs: 2 }"
    )


def run(tmp_path, text: str, grid: str, objective: str, population: bool = True):
    path = tmp_path / "s.nn"
    path.write_text(f"{text}\nsweep {{ grid: {grid}  objective: {objective} }}\n")
    lines: list[str] = []
    result = sweep(
        nncompile.load_spec(str(path)),
        out=tmp_path / "out",
        report=lines.append,
        population=population,
    )
    return result, lines


def best_in_history(run_dir, key: str, pick) -> float:
    with open(Path(run_dir) / "metrics.csv") as f:
        values = [float(r[key]) for r in csv.DictReader(f) if r.get(key)]
    assert len(values) == 2, values  # both epochs recorded the key
    return pick(values)


@pytest.mark.parametrize(
    ("make", "grid", "objective", "population"),
    [
        (tiny_vae, "{lr: [0.002, 0.01]}", "minimize(val_kl_loss)", True),
        (tiny_vae, "{latent: [2, 3]}", "minimize(val_kl_loss)", False),
        (tiny_multi, "{lr: [0.002, 0.01]}", "maximize(val_digit_accuracy)", True),
        (tiny_multi, "{width: [8, 12]}", "minimize(val_big_loss)", False),
        (tiny_gan_lr, "{lr: [0.001, 0.01]}", "minimize(d_loss)", False),
    ],
    ids=["vae-population", "vae-separate", "outputs-population", "outputs-separate", "gan"],
)
def test_a_sweep_on_a_recorded_key_runs_to_the_end(tmp_path, make, grid, objective, population):
    result, lines = run(tmp_path, make(), grid, objective)
    said_population = any("as one population program" in line for line in lines)
    assert said_population == population, lines
    direction, key = objective.rstrip(")").split("(")
    assert (result.metric, result.direction) == (key, direction)
    pick = min if direction == "minimize" else max
    assert len(result.trials) == 2
    for trial in result.trials:
        assert trial.objective is not None and math.isfinite(trial.objective), trial
        assert trial.objective == pytest.approx(best_in_history(trial.run, key, pick), rel=1e-6)
    assert result.best is not None
    with open(result.out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r[key]) for r in rows] == pytest.approx([t.objective for t in result.trials])
