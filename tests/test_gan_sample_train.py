"""GAN runs (issue 16): conditional GANs, label smoothing and instance noise, checkpoints and an
exact resume, as for supervised runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gan_specs import tiny_gan
from interrupts import StopAt

import nncompile
from nncompile.cli import main
from nncompile.runtime.checkpoint_files import read_meta, steps
from nncompile.runtime.digest import sha256

SPEC = tiny_gan(
    """
train {
  objective: gan(generator=G, discriminator=D, noise=normal([8]), condition=label,
                 label_smoothing=0.1, instance_noise=0.05)
  data: d  loss: non_saturating  optimizer: adam(lr=1e-3, b1=0.5)
  batch_size: 32  epochs: 4
  checkpoint: {every: 1, keep: 2}
  samples: {every: 2, count: 20}
  seed: 3
}
""",
    conditional=True,
    dropout=0.3,
    subset=0.25,
)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "cgan.nn"
    path.write_text(SPEC)
    return path


def state_sha(program) -> str:
    return sha256(program.trainer.state())


def test_conditional_gan_program_feeds_the_label_to_both_models(spec):
    source = nncompile.compile(spec).source
    assert "def g_condition(y):\n" in source and "return y[:, None]" in source
    assert "return jax.nn.one_hot(y, 10)" in source
    assert "real = discriminator(x, d_condition(y))" in source
    assert "0.9 * jax.nn.softplus(-real) + 0.1 * jax.nn.softplus(real)" in source
    assert "x = x + 0.05 * jax.random.normal(kr, x.shape)" in source
    assert "def generate(generator, key, n, y):" in source


def test_gan_resume_is_bitwise_exact_and_keeps_history_and_samples(spec, tmp_path, capsys):
    reference = nncompile.compile(spec)
    history = reference.fit(run_dir=tmp_path / "ref")
    want = state_sha(reference)
    assert steps(tmp_path / "ref" / "checkpoints") == [3, 4]

    run = tmp_path / "run"
    first = nncompile.compile(spec)
    assert first.fit(run_dir=run, callbacks=[StopAt(2)]).interrupted
    assert steps(run / "checkpoints")[-1] == 2
    assert [e for e, _ in read_meta(run / "checkpoints" / "2")["samples"]] == [2]
    again = nncompile.compile(spec)
    resumed = again.fit(run_dir=run, resume=True)
    assert state_sha(again) == want
    assert [(e["d_loss"], e["g_loss"]) for e in resumed.epochs] == [
        (e["d_loss"], e["g_loss"]) for e in history.epochs
    ]
    got, ref = again.trainer.samples, reference.trainer.samples
    assert [e for e, _ in got] == [e for e, _ in ref] == [2, 4]
    for (_, a), (_, b) in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)
    saved = again.save(run)
    assert sorted(p.name for p in (saved / "samples").iterdir()) == [
        "epoch_0002.png",
        "epoch_0004.png",
    ]
    # the run samples from the command line: a grid (a row per class), or one class as CSV
    assert (
        main(["sample", str(spec), "--run", str(saved), "-n", "20", "-o", str(tmp_path / "g.png")])
        == 0
    )
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["sample", str(spec), "--run", str(saved), "-n", "3", "--label", "7"]) == 0
    rows = [r.split(",") for r in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == ["7", "7", "7"] and {len(r) for r in rows} == {65}


def test_conditional_generate_draws_requested_classes_and_checks_them(spec):
    program = nncompile.compile(spec)
    program.fit(epochs=1)
    trainer = program.trainer
    assert trainer.classes == 10
    assert trainer.grid_labels(20).tolist() == [i // 2 for i in range(20)]
    a = trainer.generate(4, labels=[0, 0, 0, 0])
    b = trainer.generate(4, labels=[7, 7, 7, 7])
    assert a.shape == (4, 64) and not np.array_equal(a, b)  # the label changes the drawing
    with pytest.raises(ValueError, match=r"class ids in 0\.\.9"):
        trainer.generate(2, labels=[3, 10])
