"""gaussian_sample, a VAE's sampling layer: the KL term it adds to the loss (emitted, trained,
evaluated, recorded as kl_loss), draws in training and the mean in evaluation, and `sample` decoding
draws from N(0, I). Tiny arrays, in-process; the tests that fit are slow-tier (the digits VAE's
stated results: test_vae_slow.py)."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile
from nncompile.runtime.latent import decode_prior

VAE = """
model V {
  input x: [8]
  h = dense(16, activation=relu)(x)
  mean = dense(2)(h)
  log_var = dense(2)(h)
  z = gaussian_sample(mean, log_var, kl_weight=0.5)
  out = dense(8, activation=sigmoid)(z)
  output out
}
train { model: V  loss: mse  optimizer: adam(lr=1e-2)  batch_size: 16  epochs: 3  metrics: [mse]
        seed: 0 }
"""


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(96, 8)).astype(np.float32)
    program = nncompile.compile(text=VAE)
    history = program.fit(data={"train": (x[:64], x[:64]), "val": (x[64:], x[64:])})
    return program, history, x


def test_the_weighted_kl_term_is_added_to_loss_fn():
    source = nncompile.compile(text=VAE).source
    assert "    loss += 0.5 * model.z.kl[...]  # <string>:7" in source  # the layer's line
    assert "return {'kl_loss': model.z.kl[...]}" in source  # layer_losses: what the history records
    assert "self.z = GaussianSample(rngs=rngs)" in source


@pytest.mark.slow  # a fit: ~10 s on 2 busy cores
def test_kl_is_recorded_and_the_loss_is_reconstruction_plus_weighted_kl(trained):
    program, history, _ = trained
    last = history.epochs[-1]
    for key in ("kl_loss", "val_kl_loss"):
        assert np.isfinite(last[key]) and last[key] > 0, (key, last)
    # evaluation is deterministic (z = mean): loss = mse + kl_weight x KL exactly as recorded
    metrics = program.evaluate("val")
    assert set(metrics) == {"loss", "mse", "kl_loss"}
    assert metrics["loss"] == pytest.approx(metrics["mse"] + 0.5 * metrics["kl_loss"], rel=1e-5)
    assert metrics["kl_loss"] == pytest.approx(last["val_kl_loss"], rel=1e-5)


@pytest.mark.slow  # a fit: ~10 s on 2 busy cores
def test_evaluation_uses_the_mean_and_training_draws(trained):
    program, _, x = trained
    first, again = program.predict(x[:8]), program.predict(x[:8])
    np.testing.assert_array_equal(first, again)
    model = program.trainer.model  # training mode: z is drawn, so two calls differ
    assert not np.allclose(np.asarray(model(x[:8])), np.asarray(model(x[:8])))


@pytest.mark.slow  # a fit: ~10 s on 2 busy cores
def test_sample_decodes_draws_from_the_prior(trained):
    program, _, _ = trained
    a = decode_prior(program.trainer, 5, seed=1)
    b = decode_prior(program.trainer, 5, seed=1)
    c = decode_prior(program.trainer, 5, seed=2)
    assert a.shape == (5, 8) and ((a >= 0) & (a <= 1)).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a[0], a[1])  # each row its own draw
    sample = program.sample(4, seed=3)
    assert sample.kind == "examples" and sample.values.shape == (4, 8)


def test_kl_loss_is_monitorable():
    spec = VAE.replace("seed: 0", "seed: 0  early_stopping: {monitor: val_kl_los}")
    problems = nncompile.check(text=spec)
    assert any("val_kl_los" in str(p) and "val_kl_loss" in str(p) for p in problems), problems
    ok = VAE.replace("seed: 0", "seed: 0  early_stopping: {monitor: val_kl_loss}")
    assert nncompile.check(text=ok) == []


@pytest.mark.slow  # a fit (shared with the tests above)
def test_export_runs_the_mean_like_predict(trained):
    import jax

    from nncompile.runtime.export import inference_function

    program, _, x = trained
    infer, _ = inference_function(program.trainer)  # arrays given to fit: no normalisation
    np.testing.assert_allclose(
        np.asarray(jax.jit(infer)(x[:8])), program.predict(x[:8]), rtol=1e-6, atol=1e-6
    )


def test_eject_writes_the_layer_and_refuses_monitoring_its_kl(tmp_path, capsys):
    from pathlib import Path

    from nncompile.cli import main

    spec = Path(__file__).resolve().parents[1] / "specs" / "digits_vae.nn"
    assert main(["eject", str(spec), "-o", str(tmp_path / "ok")]) == 0
    model_py = (tmp_path / "ok" / "model.py").read_text()
    assert "class GaussianSample(nnx.Module):" in model_py
    assert "loss += 0.002 * model.z.kl[...]" in model_py  # the ejected loss includes the KL term
    monitored = tmp_path / "monitored.nn"
    text = spec.read_text().replace(
        "  seed:       0", "  seed: 0  early_stopping: {monitor: val_kl_loss}"
    )
    assert "val_kl_loss" in text
    monitored.write_text(text)
    capsys.readouterr()
    assert main(["eject", str(monitored), "-o", str(tmp_path / "no")]) != 0
    err = capsys.readouterr().err
    assert (
        "cannot eject `train main`: early stopping monitors val_kl_loss, a layer's loss term, "
        "which the ejected train.py does not record yet (its loss includes it)"
    ) in err
    assert "monitor val_loss to eject" in err


def test_a_sample_inside_a_model_used_as_a_layer_adds_its_term_by_path():
    text = """
model Enc {
  input x: [8]
  h = dense(16, activation=relu)(x)
  mean = dense(2)(h)
  log_var = dense(2)(h)
  code = gaussian_sample(mean, log_var)
  output code
}
model V {
  input x: [8]
  z = Enc()(x)
  out = dense(8, activation=sigmoid)(z)
  output out
}
train { model: V  loss: mse }
"""
    source = nncompile.compile(text=text).source
    assert "    loss += model.z.code.kl[...]  # <string>:7" in source  # kl_weight 1: no factor
    assert "return {'kl_loss': model.z.code.kl[...]}" in source


def test_an_output_whose_loss_key_is_the_layers_term_is_refused(tmp_path):
    """An output named `kl` records `kl_loss`, the KL term's history key: one would hide the
    other in the history (and in early stopping's monitor)."""
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x=rng.normal(size=(32, 8)).astype(np.float32),
        kl=rng.normal(size=(32, 4)).astype(np.float32),
        big=rng.integers(0, 2, size=(32, 1)),
    )
    text = (
        VAE.replace(
            "  out = dense(8, activation=sigmoid)(z)\n  output out\n",
            ("  kl = dense(4)(z)\n  big = dense(1, activation=sigmoid)(z)\n  output kl, big\n"),
        )
        .replace(
            "train { model: V  loss: mse",
            (
                'data d { source: npz("d.npz", x="x", y=["kl", "big"])  split: {train: 1} }\n'
                "train { model: V  data: d  loss: {kl: mse, big: binary_crossentropy}"
            ),
        )
        .replace("  metrics: [mse]", "")
    )
    spec = tmp_path / "v.nn"
    spec.write_text(text)
    with pytest.raises(nncompile.CompileError) as caught:
        nncompile.compile(path=str(spec))
    said = str(caught.value)
    assert (
        "error[E202]: output 'kl' records its loss as 'kl_loss', the history key of the loss term "
        "the layer on line 7 adds" in said
    )
    assert "hint: rename the output (e.g. `output kl_out`): the history keeps one 'kl_loss'" in said
