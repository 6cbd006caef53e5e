"""`sample --seed` out of range (package fuzz, session 24: `--seed -5` was an internal error,
numpy's "expected non-negative integer")."""

from __future__ import annotations

import pytest

from nncompile.cli import main
from nncompile.runtime.sampling import SampleError, sample


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("-5", "takes 0 to 4294967295, got -5"),
        ("4294967296", "takes 0 to 4294967295, got 4294967296"),
        ("x", "takes a whole number, got 'x'"),
    ],
)
def test_the_cli_refuses_a_seed_out_of_range(tmp_path, capsys, value, said):
    with pytest.raises(SystemExit) as e:
        main(["sample", str(tmp_path / "s.nn"), "--seed", value])
    assert e.value.code == 2
    assert f"argument --seed: {said}" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "3"])
def test_the_api_refuses_it_before_drawing(seed):
    class Trainer:  # (reached only past the seed check)
        config = None

    with pytest.raises(SampleError, match=r"seed .*: takes a whole number from 0 to 4294967295"):
        sample(Trainer(), None, None, seed=seed, latents={})


def test_inputs_beyond_float32_are_refused_not_predicted_as_nan():
    """(`predict --input` of float64 values 1e39 printed NaN predictions: finite as float64,
    infinite once cast to float32)"""
    import numpy as np

    from nncompile.errors import DataError
    from nncompile.runtime.fit_checks import check_inputs

    x = np.zeros((3, 2))
    x[1, 1] = -1e39
    with pytest.raises(DataError, match=r"x.npy: 1 input value\(s\) beyond 32-bit floats") as e:
        check_inputs(x, "x.npy")
    assert "example 2 (index [1, 1])" in str(e.value)
    check_inputs(np.full((2, 2), 3e38), "x.npy")  # (within float32)


def test_text_sampling_of_a_model_that_is_not_next_token_is_refused():
    """(`sample` of addition_seq2seq.nn: token inputs and a vocabulary, but 3 answer steps for 5
    question tokens: IndexError "index 4 is out of bounds for axis 0 with size 3"). The real spec,
    made small: 200 sums, 8 units, one epoch."""
    from pathlib import Path

    import nncompile

    text = (Path(__file__).parents[1] / "specs" / "addition_seq2seq.nn").read_text()
    assert "n=6000" in text and "epochs:     20" in text
    text = text.replace("n=6000", "n=200").replace("epochs:     20", "epochs:     1")
    prog = nncompile.compile(text=text, sets={"units": "8"})
    prog.fit()
    with pytest.raises(SampleError, match=r"this model outputs \[3, 12\] for 5 input tokens"):
        prog.sample(4)
