"""The plan's `cores` rule (plan.cores) and the host devices it asks for (runtime.cores): which
programs it splits, NNCOMPILE_CORES, CONFIG, and training that stays deterministic."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.compiler import analyse
from nncompile.errors import NncompileError
from nncompile.plan import describe, plan_for
from nncompile.runtime import cores as runtime_cores
from nncompile.source import Source

ROOT = Path(__file__).resolve().parents[1]

LSTM = """
model M { input x: [6, 1]  lstm(8)  dense(1) }
train { model: M  loss: mse  optimizer: adam(lr=1e-2)  batch_size: BATCH  epochs: 2  seed: 0EXTRA }
"""


def spec(batch: int = 8, extra: str = "", body: str = LSTM) -> str:
    return body.replace("BATCH", str(batch)).replace("EXTRA", extra)


def program(text: str):
    analysed, diagnostics = analyse(Source(text, "s.nn"))
    assert analysed is not None, diagnostics
    return analysed


def decision(text: str):
    return plan_for(program(text)).cores


def test_on_by_default_and_the_plan_says_how_to_turn_it_off(monkeypatch):
    monkeypatch.delenv("NNCOMPILE_CORES", raising=False)
    d = decision(spec())
    assert d.value == 2
    assert d.why == (
        "on a CPU with 2+ cores, each batch is cut into 2 logical shards computed on 2 host "
        "devices, one a core, their gradients added in a fixed order: XLA:CPU runs the time loop "
        "of lstm on one thread; NNCOMPILE_CORES=1 keeps one core"
    )
    assert nncompile.compile(text=spec()).config["cpu_cores"] == 2
    dense = "model M { input x: [4]  dense(1) }\ntrain { model: M  loss: mse  epochs: 1 }\n"
    assert "cpu_cores" not in nncompile.compile(text=dense).config  # CONFIG as before


def test_nncompile_cores_pins_the_rule(monkeypatch):
    monkeypatch.setenv("NNCOMPILE_CORES", "2")
    d = decision(spec())
    assert d.value == 2
    assert d.why.endswith("runs the time loop of lstm on one thread (NNCOMPILE_CORES=2)")
    assert nncompile.compile(text=spec()).config["cpu_cores"] == 2
    monkeypatch.setenv("NNCOMPILE_CORES", "1")
    d = decision(spec())
    assert (d.value, d.why) == (
        1,
        "pinned by NNCOMPILE_CORES=1 (the rule would split the step over 2 cores)",
    )


def test_a_bad_setting_is_a_diagnostic(monkeypatch):
    monkeypatch.setenv("NNCOMPILE_CORES", "4")
    with pytest.raises(NncompileError) as e:
        decision(spec())
    assert str(e.value).splitlines()[0] == (
        "NNCOMPILE_CORES=4: takes 1 (every step on one core) or 2 (a recurrent program's steps "
        "split over two host CPU devices)"
    )


@pytest.mark.parametrize(
    "text, why",
    [
        (
            "model M { input x: [4]  dense(8)  dense(1) }\n"
            "train { model: M  loss: mse  optimizer: adam  batch_size: 8 }",
            "no recurrent layer: the rule splits recurrent time loops only (measured on W5)",
        ),
        (spec(batch=9), "the batch does not split into 2 equal shards"),
        (spec(extra="  devices: 1"), "the train block sets `devices:` or `logical_shards:` itself"),
        (
            "model M { input x: [6, 1]  lstm(8)  batch_norm  dense(1) }\n"
            "train { model: M  loss: mse  optimizer: adam  batch_size: 8 }",
            "a layer keeps batch statistics: the step cannot be cut into shards",
        ),
    ],
)
def test_programs_the_rule_does_not_split(monkeypatch, text, why):
    monkeypatch.setenv("NNCOMPILE_CORES", "2")
    assert (decision(text).value, decision(text).why) == (1, why)


def test_bidirectional_and_gru_are_recurrent(monkeypatch):
    monkeypatch.setenv("NNCOMPILE_CORES", "2")
    for layer in ("gru(8)", "simple_rnn(8)", "bidirectional(lstm(4))"):
        assert decision(spec().replace("lstm(8)", layer)).value == 2


def test_the_plan_prints_the_decision(monkeypatch):
    monkeypatch.setenv("NNCOMPILE_CORES", "2")
    text = describe(program(spec()))
    assert "  cores:              2\n" in text


def test_after_jax_started_the_step_runs_whole_on_one_device(monkeypatch):
    """In a process whose JAX backend is running (this one), the split cannot get its devices:
    the trainer keeps `devices: auto` (one CPU device) and no logical shards: the plain step
    every other test trains."""
    import jax

    jax.devices()  # started
    monkeypatch.setattr(runtime_cores, "CLAIMED", None)
    assert runtime_cores.claim(2) is False and runtime_cores.CLAIMED is None
    assert runtime_cores.devices("auto", 2) == "auto"
    assert runtime_cores.shards(None, 1, 2) is None
    assert runtime_cores.claim(1) is False  # a program the plan does not split asks for nothing


def test_claimed_devices_serve_only_the_programs_the_plan_splits(monkeypatch):
    monkeypatch.setattr(runtime_cores, "CLAIMED", 2)
    monkeypatch.setattr(runtime_cores.jax, "default_backend", lambda: "cpu")
    monkeypatch.setattr(runtime_cores.jax, "devices", lambda: [0, 1])
    assert runtime_cores.devices("auto", 2) == 2
    assert runtime_cores.devices("auto", 1) == 1  # a program the plan does not split
    assert runtime_cores.devices(4, 1) == 4  # a train block's own count
    assert runtime_cores.shards(None, 2, 2) == 2
    assert runtime_cores.shards(None, 1, 1) is None
    assert runtime_cores.shards(4, 2, 2) == 4  # `logical_shards:` of the train block


RUN = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import nncompile
    text = sys.argv[1]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 1)).astype(np.float32)
    y = x.sum(1) * 0.5
    runs = [nncompile.compile(text=text) for _ in range(2)]
    program, history = runs[0], runs[0].fit(data=(x, y), epochs=2)
    again = runs[1].fit(data=(x, y), epochs=2)
    import jax
    dense = nncompile.compile(text="model D { input x: [3]  dense(1) }\\n"
        "train { model: D  loss: mse  optimizer: adam  batch_size: 8  epochs: 1 }")
    dense.fit(data=(x[:, :3, 0], y), epochs=1)
    print(json.dumps({
        "devices": len(jax.devices()),
        "placement": program.trainer.placement.count if program.trainer.placement else 1,
        "shards": program.trainer._fns.shards,
        "dense_placement": dense.trainer.placement.count if dense.trainer.placement else 1,
        "losses": [e["loss"] for e in history.epochs],
        "again": [e["loss"] for e in again.epochs],
    }))
    """
)


def fresh_fit(cores: str) -> dict:
    env = dict(os.environ, NNCOMPILE_CORES=cores, PYTHONPATH=str(ROOT), NNCOMPILE_CACHE="0")
    env.pop("XLA_FLAGS", None)
    done = subprocess.run(
        [sys.executable, "-c", RUN, spec()], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_a_fresh_process_splits_the_step_deterministically():
    """NNCOMPILE_CORES=2 in a fresh process: 2 host devices, 2 logical shards, the same numbers
    fit after fit, within float tolerance of one core; a dense program of the same process keeps
    one device."""
    split, whole = fresh_fit("2"), fresh_fit("1")
    assert (split["devices"], split["placement"], split["shards"]) == (2, 2, 2)
    assert split["dense_placement"] == 1
    assert split["losses"] == split["again"]  # bitwise run to run
    assert whole["losses"] == whole["again"]
    assert (whole["placement"], whole["shards"], whole["devices"]) == (1, 1, 1)
    np.testing.assert_allclose(split["losses"], whole["losses"], rtol=1e-5)


CLI = textwrap.dedent(
    """
    import contextlib, io, sys
    from nncompile.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", sys.argv[1], "--epochs", "1", "--out", sys.argv[2], "--quiet"])
    import jax
    from nncompile.runtime import cores
    print(code, len(jax.devices()), cores.CLAIMED)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_nncompile_train_claims_the_cores_before_jax_starts(tmp_path):
    """The CLI's `train` asks whether it is process 0 without starting JAX (one process), so the
    fit can still claim its 2 host devices."""
    path = tmp_path / "s.nn"
    data = (
        'data d { source: synthetic("sine", n=200, noise=0.05)\n'
        "  windows: {length: 6, horizon: 1, targets: last} }\n"
    )
    path.write_text(data + spec().replace("train {", "train {  data: d"))
    env = dict(os.environ, NNCOMPILE_CORES="2", PYTHONPATH=str(ROOT), NNCOMPILE_CACHE="0")
    env.pop("XLA_FLAGS", None)
    done = subprocess.run(
        [sys.executable, "-c", CLI, str(path), str(tmp_path / "runs")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["0", "2", "2"]
