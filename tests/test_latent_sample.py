"""Decoding chosen latent points of a VAE (package latent): `Program.sample(latent=z)` and
`sample(grid=N)` (Keras' plot_latent_space) through the emitted GaussianSample's `latent` view, and
their diagnostics. A tiny VAE in-process, its trainer built but not fitted (the decoding is checked
against the model's own layers, so training does not matter); the CLI test on the trained digits VAE
is slow-tier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.runtime.latent import grid_points
from nncompile.runtime.sampling import SampleError

VAE = """
model V {
  input x: [8]
  h = dense(16, activation=relu)(x)
  mean = dense(LATENT)(h)
  log_var = dense(LATENT)(h)
  z = gaussian_sample(mean, log_var, kl_weight=0.5)
  out = dense(8, activation=sigmoid)(z)
  output out
}
train { model: V  loss: mse  optimizer: adam(lr=1e-2)  batch_size: 16  epochs: 1  seed: 0 }
"""


def fitted(latent: int = 2, text: str = VAE):
    """The program with a trainer on 32 random rows, not trained: decoding is checked against the
    model's own layers, whatever their weights (a fit would cost seconds of compiling)."""
    x = np.random.default_rng(0).uniform(size=(32, 8)).astype(np.float32)
    program = nncompile.compile(text=text.replace("LATENT", str(latent)))
    program.trainer = program.trainer_for(program.splits({"train": (x, x)}))
    return program, x


@pytest.fixture(scope="module")
def vae():
    return fitted()


def test_latent_points_decode_like_predict_of_inputs_with_those_means(vae):
    program, x = vae
    model = program.trainer.model
    means = np.asarray(model.mean(np.maximum(np.asarray(model.h(x[:5])), 0)))
    got = program.sample(latent=means)
    assert got.kind == "examples" and got.values.shape == (5, 8)
    # predict runs z = mean in evaluation: decoding the means is predicting the inputs
    np.testing.assert_allclose(got.values, program.predict(x[:5]), rtol=1e-5, atol=1e-6)
    one = program.sample(latent=means[0])  # one point of the latent's shape alone: n = 1
    np.testing.assert_allclose(one.values, got.values[:1], rtol=1e-6)
    far = program.sample(latent=means + 3.0)
    assert not np.allclose(far.values, got.values)  # the points, not the inputs, decide


def test_grid_spans_the_central_quantiles_row_by_row_from_the_top():
    points, title = grid_points(3, (2,), "z")
    q = 1.6448536  # N(0, 1)'s 95 % quantile
    np.testing.assert_allclose(
        points,
        [[-q, q], [0, q], [q, q], [-q, 0], [0, 0], [q, 0], [-q, -q], [0, -q], [q, -q]],
        atol=1e-6,
    )
    assert title == "z[0] -1.64 to 1.64 across, z[1] 1.64 to -1.64 down"


def test_grid_decodes_its_points_in_a_grid(vae, tmp_path):
    from nncompile.runtime.sampling import write

    program, _ = vae
    got = program.sample(grid=4)
    assert got.values.shape == (16, 8) and got.columns == 4
    assert got.title and got.title.startswith("z[0] -1.64 to 1.64 across")
    points, _ = grid_points(4, (2,), "z")
    np.testing.assert_allclose(got.values, program.sample(latent=points).values, rtol=1e-6)
    got.kind = "images"  # (an [8] output is not an image: the grid's writer, shown as rows)
    assert write(got, tmp_path / "grid.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"latent": np.zeros((4, 3))},
            "latent points of shape [4, 3] do not fit the latent space of "
            "`z = gaussian_sample(...)`: it takes [n, 2]\n  hint: give one row of 2 values per "
            "point",
        ),
        ({"latent": [[0.0, np.nan]]}, "latent point 0 is not finite: [ 0. nan]"),
        ({"latent": [["a", "b"]]}, "latent points must be numbers, an array [n, 2]"),
        ({"latent": np.zeros((0, 2))}, "latent points of shape [0, 2] do not fit"),
        ({"latent": np.zeros((5000, 2))}, "5000 latent points: decode at most 4096 in one call"),
        ({"grid": 1}, "--grid 1: a grid is 2 to 64 points a side"),
        ({"grid": 65}, "--grid 65: a grid is 2 to 64 points a side"),
        ({"grid": 3, "latent": np.zeros((1, 2))}, "give latent points or a grid, not both"),
        (
            {"grid": 3, "n": 5},
            "-n 5: the latent points given decide how many examples are decoded\n"
            "  hint: leave -n out (it counts draws from the prior)",
        ),
    ],
)
def test_bad_points_are_refused_with_the_latent_size(vae, options, message):
    program, _ = vae
    n = options.pop("n", None)
    with pytest.raises(SampleError) as e:
        program.sample(n, **options)
    assert message in str(e.value)


def test_a_grid_needs_a_2d_latent():
    program, _ = fitted(latent=3)
    with pytest.raises(SampleError) as e:
        program.sample(grid=5)
    assert str(e.value) == (
        "--grid spans a 2-D latent space; `z = gaussian_sample(...)` has 3 latent values ([3])\n"
        "  hint: decode chosen points with Program.sample(latent=z), or draw from the prior "
        "without --grid"
    )
    assert program.sample(latent=np.zeros((2, 3))).values.shape == (2, 8)  # points of 3 do


def test_latent_points_need_a_vae():
    mlp = VAE.replace("z = gaussian_sample(mean, log_var, kl_weight=0.5)", "z = add(mean, log_var)")
    program, _ = fitted(text=mlp)
    with pytest.raises(SampleError) as e:
        program.sample(grid=3)
    assert str(e.value) == (
        "latent points (--grid) are decoded by a variational autoencoder, a model with a "
        "gaussian_sample layer; this model has none"
    )


def test_latent_points_need_one_sampling_layer():
    two = VAE.replace(
        "out = dense(8, activation=sigmoid)(z)",
        "w = gaussian_sample(mean, log_var)\n  s = add(z, w)\n"
        "  out = dense(8, activation=sigmoid)(s)",
    )
    program, _ = fitted(text=two)
    with pytest.raises(SampleError) as e:
        program.sample(latent=np.zeros((2, 2)))
    assert str(e.value).startswith(
        "latent points are decoded through one gaussian_sample layer; this model has 2 (z, w)"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [("z.txt", "--latent z.txt: latent points are read from a .npy file"),
     ("none.npy", "--latent none.npy: no such file")],
)  # fmt: skip
def test_the_cli_refuses_a_latent_file_before_loading_the_run(name, message, capsys):
    from nncompile.cli import main

    spec = str(Path(__file__).resolve().parents[1] / "specs" / "digits_vae.nn")
    assert main(["sample", spec, "--run", "nowhere", "--latent", name]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.slow  # trains specs/digits_vae.nn 4 epochs (~10 s on 2 busy cores)
def test_the_cli_writes_the_latent_grid_and_decodes_given_points(tmp_path, capsys):
    from nncompile.cli import main

    spec = str(Path(__file__).resolve().parents[1] / "specs" / "digits_vae.nn")
    run = tmp_path / "run"
    assert main(["train", spec, "--epochs", "4", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["sample", "--run", str(run), "--grid", "6", "-o", str(tmp_path / "g.npy")]) == 0
    grid = np.load(tmp_path / "g.npy")
    assert grid.shape == (36, 64) and ((grid >= 0) & (grid <= 1)).all()
    assert float(np.std(grid, axis=0).mean()) > 0.01  # the decoder's output moves over the grid
    assert main(["sample", "--run", str(run), "--grid", "6", "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 1000
    np.save(tmp_path / "z.npy", grid_points(6, (2,), "z")[0][:3])
    capsys.readouterr()
    assert main(["sample", "--run", str(run), "--latent", str(tmp_path / "z.npy")]) == 0
    rows = [[float(v) for v in line.split(",")] for line in capsys.readouterr().out.splitlines()]
    np.testing.assert_allclose(rows, grid[:3], rtol=1e-4, atol=1e-5)  # (CSV: 6 digits)
    assert main(["sample", "--run", str(run), "--grid", "6", "-n", "4"]) == 1
    assert "-n 4: the latent points given decide how many examples" in capsys.readouterr().err
    np.save(tmp_path / "z3.npy", np.zeros((2, 3), np.float32))
    assert main(["sample", "--run", str(run), "--latent", str(tmp_path / "z3.npy")]) == 1
    assert (
        "latent points of shape [2, 3] do not fit the latent space of `z = gaussian_sample(...)`"
        ": it takes [n, 2]"
    ) in capsys.readouterr().err
