"""A model's sampling layers (a VAE's latent view) are the registry entries with `latent=True`, not
the layer name `gaussian_sample`: a second sampling layer is one entry (here a copy of the entry
under another name, registered for the test), found by the api (api.latent) and decoded through by
the runtime (runtime.sampling, runtime.latent), its messages naming it. A tiny VAE in-process, its
trainer built but not fitted (as in tests/test_latent_sample.py)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

import nncompile
from nncompile.api.latent import latent_spaces
from nncompile.registry.layers import LAYERS
from nncompile.runtime.latent import LatentSpace
from nncompile.runtime.sampling import SampleError, sample

VAE = """
model Enc {
  input x: [8]
  h = dense(16, activation=relu)(x)
  mean = dense(2)(h)
  log_var = dense(2)(h)
  code = SAMPLER(mean, log_var, kl_weight=0.5)
  output code
}
model V {
  input x: [8]
  z = Enc()(x)
  out = dense(8, activation=sigmoid)(z)
  output out
}
train { model: V  loss: mse  optimizer: adam(lr=1e-2)  batch_size: 16  epochs: 1  seed: 0 }
"""


@pytest.fixture
def draw(monkeypatch):
    """A second sampling layer, `gauss_draw`: the gaussian_sample entry under another name."""
    entry = dataclasses.replace(LAYERS["gaussian_sample"], name="gauss_draw")
    monkeypatch.setitem(LAYERS._entries, "gauss_draw", entry)
    return entry


def built(sampler: str):
    x = np.random.default_rng(0).uniform(size=(32, 8)).astype(np.float32)
    program = nncompile.compile(text=VAE.replace("SAMPLER", sampler))
    program.trainer = program.trainer_for(program.splits({"train": (x, x)}))
    return program


def test_the_registry_marks_the_sampling_layers():
    assert [e.name for e in LAYERS.entries() if e.latent] == ["gaussian_sample"]
    spec = nncompile.compile(text=VAE.replace("SAMPLER", "gaussian_sample"))
    assert latent_spaces(spec.train_block.model) == {"z.code": LatentSpace("gaussian_sample", (2,))}
    assert latent_spaces(None) == {}


def test_a_second_sampling_layer_is_one_entry(draw):
    program = built("gauss_draw")
    assert latent_spaces(program.train_block.model) == {"z.code": LatentSpace("gauss_draw", (2,))}
    drawn = program.sample(5, seed=1)  # draws from the prior, decoded
    assert drawn.values.shape == (5, 8) and np.isfinite(drawn.values).all()
    assert not np.allclose(drawn.values, program.sample(5, seed=2).values)
    given = program.sample(latent=np.zeros((3, 2), np.float32))
    assert given.values.shape == (3, 8) and np.allclose(given.values, given.values[0])
    assert program.sample(grid=2).values.shape == (4, 8)
    with pytest.raises(SampleError) as e:
        program.sample(latent=np.zeros((2, 3)))
    assert str(e.value) == (
        "latent points of shape [2, 3] do not fit the latent space of `z.code = gauss_draw(...)`: "
        "it takes [n, 2]\n  hint: give one row of 2 values per point"
    )


def test_the_runtime_messages_name_the_sampling_layers(draw):
    trainer = SimpleNamespace(config=SimpleNamespace(kind="supervised"))
    with pytest.raises(SampleError) as e:
        sample(trainer, None, None, grid=3, latents={})
    assert str(e.value) == (
        "latent points (--grid) are decoded by a variational autoencoder, a model with a "
        "gaussian_sample or gauss_draw layer; this model has none"
    )
    two = {"a": LatentSpace("gauss_draw", (2,)), "b": LatentSpace("gaussian_sample", (2,))}
    with pytest.raises(SampleError) as e:
        sample(trainer, None, None, grid=3, latents=two)
    assert str(e.value).startswith(
        "latent points are decoded through one gauss_draw or gaussian_sample layer; this model "
        "has 2 (a, b)"
    )
    with pytest.raises(SampleError) as e:
        sample(trainer, None, None, grid=3, latents={"z": LatentSpace("gauss_draw", (3,))})
    assert str(e.value).startswith(
        "--grid spans a 2-D latent space; `z = gauss_draw(...)` has 3 latent values ([3])"
    )
