"""Transfer learning: init from another run's params by layer name, freeze, unfreeze_after,
diagnostics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from interrupts import StopAt

import nncompile
from nncompile.diagnostics import CompileError
from nncompile.runtime.digest import sha256
from nncompile.runtime.transfer import read_params

ROOT = Path(__file__).resolve().parents[2]

PRETRAIN = """
data d {
  source: sklearn("digits")
  classes: [0, 1, 2, 3, 4]
  split: {train: 0.7, val: 0.15, test: 0.15}
}
model Features {
  input x: [64]
  dense(32, activation=relu)
}
model P {
  input x: [64]
  Features
  dropout(0.2)
  dense(5, activation=softmax)
}
train {
  model: P  data: d  loss: categorical_crossentropy
  optimizer: adam(lr=1e-2)  batch_size: 32  epochs: 4  seed: 1
}
"""

FINETUNE = """
data d {
  source: sklearn("digits")
  classes: [5, 6, 7, 8, 9]
  subset: 0.3
  split: {train: 0.7, val: 0.15, test: 0.15}
}
model Features {
  input x: [64]
  dense(32, activation=relu)
}
model F {
  input x: [64]
  Features
  dropout(0.2)
  dense(16, activation=relu)
  dense(5, activation=softmax)
}
train {
  model: F  data: d  loss: categorical_crossentropy
  init: checkpoint("runs/pre-main", layers=LAYERS)
  freeze: [Features]  unfreeze_after: 3
  optimizer: adam(lr=1e-2)  schedule: cosine(warmup=3)  batch_size: 16  epochs: 6
  early_stopping: {monitor: val_loss, patience: 3, restore_best: true}
  checkpoint: {every: 1, keep: 2}
  metrics: [accuracy]  seed: 2
}
"""


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """runs/pre-main inside a working directory of its own (init paths are relative to it)."""
    home = tmp_path_factory.mktemp("transfer")
    cwd = os.getcwd()
    os.chdir(home)
    try:
        program = nncompile.compile(text=PRETRAIN)
        program.fit(log=lambda line: None)
        program.save("runs/pre-main")
    finally:
        os.chdir(cwd)
    return home


def finetune(layers: str = "[Features]") -> str:
    return FINETUNE.replace("LAYERS", layers)


def features_kernel(trainer) -> np.ndarray:
    return np.asarray(nnx.state(trainer.model, nnx.Param)["Features"]["dense_1"]["kernel"][...])


def test_init_loads_by_name_freezes_then_unfreezes(pretrained, monkeypatch):
    monkeypatch.chdir(pretrained)
    source = read_params("runs/pre-main")["Features"]["dense_1"]["kernel"]
    seen = []

    class Watch:
        def on_epoch_end(self, trainer, epoch, logs):
            shapes = [np.shape(a) for a in jax.tree.leaves(nnx.state(trainer.optimizer))]
            seen.append(
                (epoch, np.array_equal(features_kernel(trainer), source), shapes.count((64, 32)))
            )

    notes = []
    program = nncompile.compile(text=finetune())
    program.fit(callbacks=[Watch()], log=notes.append)
    # epochs 1-3: the loaded features stay as loaded, and no optimizer state exists for them
    assert seen[:3] == [(1, True, 0), (2, True, 0), (3, True, 0)]
    # from epoch 4 on they train, with Adam's two moments for the kernel
    assert [(changed, n) for _, changed, n in seen[3:]] == [(False, 2)] * 3
    assert any("unfroze Features" in n for n in notes)
    # the new head was not loaded: dense_1 here is 32 -> 16, not the pretrain head
    assert np.shape(nnx.state(program.trainer.model, nnx.Param)["dense_1"]["kernel"][...]) == (
        32,
        16,
    )


def test_frozen_layers_get_no_optimizer_state_in_the_emitted_program(pretrained):
    source = nncompile.compile(text=finetune()).source
    assert "stay = optax.set_to_zero() if frozen else tx" in source
    assert 'optax.multi_transform({"train": tx, "frozen": stay}, freeze_labels)' in source
    assert "FROZEN = ('Features',)" in source
    assert "'init': {'run': 'runs/pre-main', 'layers': ['Features']}" in source


@pytest.mark.parametrize("stop", [2, 4])  # before and after unfreeze_after: 3
def test_resume_across_unfreeze_is_exact(pretrained, monkeypatch, stop):
    monkeypatch.chdir(pretrained)

    reference = nncompile.compile(text=finetune())
    reference.fit(run_dir=f"ref{stop}", log=lambda line: None)
    first = nncompile.compile(text=finetune())
    stopped = first.fit(run_dir=f"run{stop}", callbacks=[StopAt(stop)], log=lambda line: None)
    assert stopped.interrupted
    again = nncompile.compile(text=finetune())
    again.fit(run_dir=f"run{stop}", resume=True, log=lambda line: None)
    assert sha256(again.trainer.state()) == sha256(reference.trainer.state())


def test_shape_mismatch_names_both_layers_and_shapes(pretrained, monkeypatch):
    monkeypatch.chdir(pretrained)
    program = nncompile.compile(text=finetune("[Features, dense_1]"))
    with pytest.raises(CompileError) as e:
        program.fit()
    (d,) = e.value.diagnostics
    assert d.code == "E505" and d.span.line > 0
    assert (
        "dense_1" in d.message
        and "[32, 16]" in d.message
        and "[32, 5]" in d.message
        and "runs/pre-main" in d.message
    )
    assert "model F" in d.message and "model P of <string>" in d.message
    assert "leave 'dense_1' out of `layers`" in d.hint and "another name" in d.hint


def test_layer_missing_from_the_run(pretrained, monkeypatch):
    monkeypatch.chdir(pretrained)
    with pytest.raises(CompileError) as e:
        nncompile.compile(text=finetune("[Features, dense_2]")).fit()
    (d,) = e.value.diagnostics
    assert "layer 'dense_2' is not in runs/pre-main" in d.message and "Features" in d.message
    assert "leave 'dense_2' out of `layers`" in d.hint


def test_finetune_spec_without_its_pretrain_run_says_to_train_it_first(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "nncompile", "train", str(ROOT / "specs" / "transfer_finetune.nn")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "error[E505]" in r.stderr and "no trained run at runs/transfer_pretrain-main" in r.stderr
    assert "relative to the working directory" in r.stderr
    assert f"nncompile train {ROOT / 'specs' / 'transfer_pretrain.nn'}" in r.stderr
    assert not (tmp_path / "runs").exists()
