"""`nncompile sample` and Program.sample (issue 16): what each kind of program samples, the files
written, and clear errors for what cannot be sampled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.cli import main
from nncompile.runtime.sampling import Sample, SampleError, as_csv, write

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"

CLASSIFIER = """
data d { source: sklearn("iris")  split: {train: 0.8, test: 0.2} }
model M {
  input x: [4]
  dense(3, activation=softmax)
}
train { model: M  data: d  loss: categorical_crossentropy  optimizer: adam  epochs: 1 }
"""


@pytest.fixture(scope="module")
def char_model():
    """specs/char_rnn.nn, small and trained for one epoch: enough to sample from."""
    program = nncompile.compile(SPECS / "char_rnn.nn", sets={"units": 8, "embed": 4})
    program.fit(epochs=1)
    return program


def test_unknown_output_type_is_refused_before_anything_is_loaded(tmp_path, capsys):
    code = main(["sample", str(SPECS / "digits_gan.nn"), "--run", "nowhere", "-o", "x.gif"])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot write samples to x.gif: unknown file type" in err
    assert "hint: use .png, .npy or .txt" in err


@pytest.mark.parametrize("value", ["-1", "hot", "101"])
def test_temperature_out_of_range_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as e:
        main(["sample", "x.nn", "--run", "r", "--temperature", value])
    assert e.value.code == 2 and "--temperature" in capsys.readouterr().err


def test_text_from_a_prompt_at_temperatures(char_model):
    text = char_model.sample(40, prompt="the ", seed=1)
    assert text.kind == "text" and text.values.startswith("the ") and len(text.values) == 44
    assert set(text.values) <= set(char_model.dataset.vocab)
    greedy = [char_model.sample(20, prompt="the ", temperature=0, seed=s).values for s in (1, 2)]
    assert greedy[0] == greedy[1]  # temperature 0: the most likely token, whatever the seed
    assert char_model.sample(20, seed=3).values == char_model.sample(20, seed=3).values


def test_text_prompt_errors_name_the_problem(char_model):
    with pytest.raises(SampleError, match="not in the vocabulary: 'Q', '€'") as e:
        char_model.sample(5, prompt="Q€x")
    assert "abcdefghijklmnopqrstuvwxyz" in (e.value.hint or "")
    with pytest.raises(SampleError, match="the prompt is empty"):
        char_model.sample(5, prompt="")
    with pytest.raises(SampleError, match="labels are for conditional GANs"):
        char_model.sample(5, labels=[1])


def test_a_classifier_has_nothing_to_sample(tmp_path):
    path = tmp_path / "iris.nn"
    path.write_text(CLASSIFIER)
    program = nncompile.compile(path)
    with pytest.raises(RuntimeError, match="call fit"):
        program.sample()
    program.fit()
    with pytest.raises(SampleError, match="this model outputs \\[3\\] per example") as e:
        program.sample()
    assert "nncompile predict" in (e.value.hint or "")


def test_written_files(tmp_path):
    images = Sample("images", np.random.default_rng(0).random((6, 8, 8, 1)), np.arange(6) // 2, 2)
    write(images, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    write(images, tmp_path / "x.npy")
    assert np.load(tmp_path / "x.npy").shape == (6, 8, 8, 1)
    rows = as_csv(images).splitlines()
    assert len(rows) == 6 and rows[2].startswith("1,") and len(rows[2].split(",")) == 65
    with pytest.raises(SampleError, match=r"text is written to a \.txt file"):
        write(Sample("text", "abc"), tmp_path / "t.png")
    sequences = Sample("sequences", np.zeros((3, 20, 1)))
    write(sequences, tmp_path / "s.png")
    assert (tmp_path / "s.png").is_file()
