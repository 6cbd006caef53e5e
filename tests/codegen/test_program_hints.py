"""What the compiler tells the runtime about a program in CONFIG: XLA:CPU options chosen from its
layers (codegen.layers.cpu_compiler_options) and the activation size that sizes evaluation batches.

Convolutional programs compile with XLA:CPU's elemental emitters (0.57-0.60 of the compile time,
epochs 0.95-1.01x); dense programs and capsule networks keep the default fusion emitters, which run
them faster (bench/results/emitters.md). The choice travels in CONFIG; the runtime applies it on
CPU only.
"""

from pathlib import Path

import jax
import pytest

from nncompile import api

SPECS = Path(__file__).resolve().parents[2] / "specs"
ELEMENTAL = {"xla_cpu_use_fusion_emitters": False}


@pytest.mark.parametrize(
    "spec, train, options",
    [
        ("digits_cnn.nn", None, ELEMENTAL),
        ("transfer_pretrain.nn", None, ELEMENTAL),
        ("transfer_finetune.nn", "scratch", ELEMENTAL),
        ("capsnet.nn", None, None),  # capsule routing: epochs 1.23x with the elemental emitters
        ("digits_mlp.nn", None, None),  # dense programs: W1 epochs 1.13x
        ("char_rnn.nn", None, None),
    ],
)
def test_options_follow_the_layers(spec, train, options):
    program = api.compile(SPECS / spec, train=train)
    assert program.module.CONFIG.get("cpu_compiler_options") == options


def test_runtime_compiles_with_the_programs_options():
    program = api.compile(SPECS / "digits_cnn.nn")
    trainer = program.trainer_for(dict(program.load_data().splits), epochs=3, log=lambda line: None)
    # the XLA:CPU options apply on CPU only (test_the_options_apply_on_cpu_only)
    expected = ELEMENTAL if jax.default_backend() == "cpu" else None
    assert trainer.compiler_options == expected
    losses = trainer.fit().series("loss")
    assert losses[2] < losses[1] < losses[0] < 2.31  # it trains (chance: ln 10 = 2.30)


@pytest.mark.parametrize("backend, options", [("cpu", ELEMENTAL), ("gpu", None), ("tpu", None)])
def test_the_options_apply_on_cpu_only(monkeypatch, backend, options):
    program = api.compile(SPECS / "digits_cnn.nn")
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    trainer = program.trainer_for(dict(program.load_data().splits), epochs=1, log=lambda line: None)
    assert trainer.compiler_options == options


def test_activation_floats_count_outputs_and_im2col_patches():
    config = api.compile(
        Path(__file__).resolve().parents[2] / "bench" / "specs" / "w2_cnn.nn"
    ).module.CONFIG
    # input 64; conv 8x8x32 + patches 64 x 9 x 1; conv 8x8x64 + patches 64 x 9 x 32;
    # flatten 4096; dense 128, 10
    assert config["activation_floats"] == 64 + 2048 + 576 + 4096 + 18432 + 4096 + 128 + 10
