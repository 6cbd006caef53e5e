"""Every spec in specs/ compiles, and every one of its train blocks trains: the loss goes down."""

from pathlib import Path

import numpy as np
import pytest

import nncompile.api as api

ROOT = Path(__file__).resolve().parents[1]


def _cases():
    from nncompile.compiler import load_spec

    out = []
    for spec in sorted((ROOT / "specs").glob("*.nn")):
        for name in load_spec(spec).trains:
            out.append(pytest.param(spec, name, id=f"{spec.stem}-{name}"))
    return out


@pytest.mark.parametrize("spec,train", _cases())
def test_spec_trains(spec, train, tmp_path, monkeypatch):
    program = api.compile(spec, train=train)
    if program.init_run() is not None:
        # `init: checkpoint("runs/<spec>-<train>")` is relative to the working directory: make that
        # run there
        monkeypatch.chdir(tmp_path)
        stem, _, name = program.init_run().name.rpartition("-")
        pretrain = api.compile(spec.parent / f"{stem}.nn", train=name)
        pretrain.fit(epochs=min(pretrain.config["epochs"], 3))
        pretrain.save(program.init_run())
    epochs = min(program.config["epochs"], 6)
    history = program.fit(epochs=epochs)
    losses = [e["loss"] for e in history.epochs]
    assert len(losses) >= 2 and all(np.isfinite(losses)), history.reason
    if program.is_gan:
        assert program.trainer.samples, "no sample grid was generated"
        return
    assert min(losses[1:]) < losses[0], f"loss did not decrease: {losses}"
    metrics = program.evaluate("test" if "test" in program.trainer.splits else "train")
    assert np.isfinite(metrics["loss"])
