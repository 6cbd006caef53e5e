"""Measured choices (runtime.autotune, issue 15): the record is written by the first fit of a
program shape and read by later ones without timing again; a pin wins; a corrupt record is ignored
with a warning; a recorded choice trains like the pinned strategy; `nncompile plan` and `nncompile
tune` show and fill the record."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nncompile
from nncompile.cli import main
from nncompile.runtime import autotune, loop, tunerecord

MLP = """
model M {
  input x: [8]
  dense(16, activation=relu)
  dense(4, activation=softmax)
}
train {
  model: M  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
  batch_size: 16  epochs: 2  seed: 0STRATEGY
}
"""


def spec(strategy: str | None = None) -> str:
    return MLP.replace("STRATEGY", f"  strategy: {strategy}" if strategy else "")


def data() -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8)).astype(np.float32)
    return {"train": (x, (x[:, 0] > 0).astype(np.int32) + 2 * (x[:, 1] > 0))}


@pytest.fixture
def record(tmp_path, monkeypatch):
    path = tmp_path / "autotune.json"
    monkeypatch.setenv("NNCOMPILE_AUTOTUNE", "1")
    monkeypatch.setenv("NNCOMPILE_AUTOTUNE_FILE", str(path))
    # a first fit measures programs whose epochs run in chunks: these tiny ones too
    monkeypatch.setattr(loop, "CHUNK_MIN_WORK", 0)
    return path


def fit(text: str, **kw):
    program = nncompile.compile(text=text)
    history = program.fit(data(), log=lambda line: None, **kw)
    return program, history


def test_the_first_fit_measures_and_records_later_fits_read_without_timing(record, monkeypatch):
    program, _ = fit(spec())
    tuning = program.trainer.tuning
    assert tuning["source"] == "measured"
    assert set(tuning["timings"]) == {"scan", "step"}
    entries = json.loads(record.read_text())["entries"]
    assert len(entries) == 1
    (entry,) = entries.values()
    assert entry["choice"] == program.trainer.tuning["choice"]
    assert entry["choice"] in ("scan", "step") and entry["backend"] == "cpu"
    assert program.trainer.strategy == entry["choice_parts"]["strategy"]
    # training went on with the winner's functions, compiled once (during the measurement)
    traces = program.trainer.traces
    assert traces["train_step"] == 1 and traces["train_epoch"] <= 1, traces
    before = record.read_text()

    def no_timing(*args, **kw):
        raise AssertionError("measured again")

    monkeypatch.setattr(autotune, "measure", no_timing)
    # another seed, learning rate and number of epochs: the same program shape
    again, _ = fit(spec().replace("seed: 0", "seed: 3").replace("1e-2", "3e-3"), epochs=1)
    assert again.trainer.tuning["source"] == "record"
    assert again.trainer.strategy == entry["choice_parts"]["strategy"]
    assert record.read_text() == before


def write_record(path, program: nncompile.Program, strategy: str, conv: str | None = None):
    """A record whose entry for `program` (batch 16, this machine) chose `strategy`."""
    from nncompile.runtime.identity import module_identity

    key = tunerecord.key_of(
        tunerecord.fingerprint(module_identity(program.module)), 16, autotune.machine()
    )
    parts = {"strategy": strategy, "conv": conv}
    name = autotune.Candidate(strategy, conv).name
    tunerecord.write(key, {"choice": name, "choice_parts": parts, "timings": {}}, path)


def test_a_recorded_choice_trains_like_the_pinned_strategy(record):
    write_record(record, nncompile.compile(text=spec()), "step")
    tuned, h1 = fit(spec())
    assert tuned.trainer.strategy == "step" and tuned.trainer.tuning["source"] == "record"
    pinned, h2 = fit(spec("step"))
    assert pinned.trainer.tuning is None
    assert [e["loss"] for e in h1.epochs] == pytest.approx([e["loss"] for e in h2.epochs], 1e-6)


def test_a_pin_wins_over_the_record(record, monkeypatch):
    program = nncompile.compile(text=spec("scan"))
    assert program.module.CONFIG["autotune"] is False
    write_record(record, program, "step")
    monkeypatch.setattr(autotune, "measure", lambda *a, **k: pytest.fail("measured"))
    program.fit(data(), log=lambda line: None)
    assert program.trainer.strategy == "scan" and program.trainer.tuning is None
    # a strategy set for one run is a pin too
    plain = nncompile.compile(text=spec())
    write_record(record, plain, "step")
    trainer = plain.trainer_for(plain.splits(data()), epochs=1)
    trainer.config = trainer.config.model_copy(update={"strategy": "scan", "autotune": False})
    assert autotune.skip_reason(trainer) == "the train block pins its strategy"


def test_unpinned_programs_emit_the_config_they_did():
    assert "autotune" not in nncompile.compile(text=spec()).module.CONFIG
    assert nncompile.compile(text=spec("step")).module.CONFIG["strategy"] == "step"


def test_a_corrupt_record_is_ignored_with_a_warning_and_written_anew(record):
    record.write_text('{"version": 1, "entries": [tru')
    with pytest.warns(UserWarning, match=r"autotune record .* ignored \(.*\); measuring again"):
        program, _ = fit(spec())
    assert program.trainer.tuning["source"] == "measured"
    assert len(json.loads(record.read_text())["entries"]) == 1
    record.write_text(json.dumps({"version": 99, "entries": {}}))
    with pytest.warns(UserWarning, match="not a version 1 record"):
        assert tunerecord.read(record) == {}


def test_over_budget_candidates_are_not_measured(record, monkeypatch):
    monkeypatch.setattr(autotune, "BUDGET_S", 0.0)
    program, _ = fit(spec())
    tuning = program.trainer.tuning
    assert tuning["choice"] == "scan" and program.trainer.strategy == "scan"
    assert tuning["timings"]["step"]["skipped"].startswith("not measured: compiling it takes")
    # nothing else to compare with: the rule's steps are not timed (no cost beyond its compilation)
    assert tuning["timings"]["scan"]["skipped"].startswith("kept without timing")
    assert tuning["overhead_s"] < 0.5


def test_off_by_setting_and_by_flag(record, monkeypatch):
    monkeypatch.setenv("NNCOMPILE_AUTOTUNE", "0")
    program = nncompile.compile(text=spec())
    trainer = program.trainer_for(program.splits(data()), epochs=1)
    assert autotune.skip_reason(trainer) == "autotune off"
    monkeypatch.setenv("NNCOMPILE_AUTOTUNE", "1")
    assert autotune.skip_reason(trainer) is None
    monkeypatch.setattr(loop, "CHUNK_MIN_WORK", 10**9)  # a scan of known length: whole epochs
    trainer = program.trainer_for(program.splits(data()), epochs=1)
    assert autotune.skip_reason(trainer).startswith("a scan of known length")
    assert autotune.skip_reason(trainer, asked=True) is None  # (`nncompile tune` measures it)
    # `--no-autotune` switches it off for the process before the command runs
    assert main(["train", "missing.nn", "--no-autotune"]) == 1
    assert autotune.skip_reason(trainer) == "autotune off"


def test_plan_shows_the_rule_then_the_record_and_tune_fills_it(record, tmp_path, capsys):
    path = tmp_path / "m.nn"
    # tune trains on the spec's own data: a small generated source
    source = "synthetic(blobs, n=160, features=8, classes=4)"
    path.write_text(
        f"data d {{\n  source: {source}\n  split: {{train: 0.8, test: 0.2}}\n}}\n"
        + spec().replace("loss:", "data: d  loss:")
    )
    assert main(["plan", str(path)]) == 0
    assert "autotune:           rule: not measured on this machine" in capsys.readouterr().out
    assert main(["tune", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(rule: scan; measured in" in out and "ms/step" in out
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "measured on cpu/cpu" in out and "batch 16" in out
    pinned = tmp_path / "p.nn"
    pinned.write_text(path.read_text().replace("seed: 0", "seed: 0  strategy: step"))
    assert main(["plan", str(pinned)]) == 0
    out = capsys.readouterr().out
    assert "rule: the train block pins `strategy: step`" in out
    assert "pinned by the train block (`strategy: step`)" in out


CNN = """
model C {
  input x: [6, 6, 1]
  conv2d(4, 3, activation=relu)
  flatten()
  dense(3, activation=softmax)
}
train {
  model: C  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
  batch_size: 16  epochs: 1  seed: 0STRATEGY
}
"""


def test_a_recorded_native_convolution_is_what_the_model_computes_with(record):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6, 6, 1)).astype(np.float32)
    splits = {"train": (x, (x[:, 0, 0, 0] > 0).astype(np.int32))}
    write_record(record, nncompile.compile(text=CNN.replace("STRATEGY", "")), "step", "native")
    tuned = nncompile.compile(text=CNN.replace("STRATEGY", ""))
    h1 = tuned.fit(splits, log=lambda line: None)
    assert tuned.trainer.tuning["choice"] == "step, native conv"
    assert autotune.candidates(tuned.trainer)[0].conv is None  # no im2col convolution left
    pinned = nncompile.compile(text=CNN.replace("STRATEGY", "  strategy: step"))
    h2 = pinned.fit(splits, log=lambda line: None)
    assert autotune.candidates(pinned.trainer)[0].conv == "im2col"
    assert h1.epochs[-1]["loss"] == pytest.approx(h2.epochs[-1]["loss"], rel=1e-5)
    np.testing.assert_allclose(tuned.predict(x[:8]), pinned.predict(x[:8]), atol=1e-5)
