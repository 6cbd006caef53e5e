"""Sample weights: what `check` refuses (a missing array or column with did-you-mean, weights of
another length, a GAN, windows) and what loading and fit() refuse (negative or non-finite weights
with their row, a wrong length, a program without weights), each with its exact message."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nncompile
from nncompile.errors import ConfigError, DataError, NncompileError
from tests.gan_specs import tiny_gan

SPEC = """data d {
  source: SOURCE
  split: {train: 0.5, val: 0.25, test: 0.25}
}
model M { input x: [4]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy  batch_size: 8  epochs: 1 }
"""


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    ones = np.ones(20)
    bad = {
        "weights": ones,
        "short": ones[:19],
        "neg": np.r_[ones[:5], -1.0, ones[6:]],
        "nan": np.r_[ones[:7], np.nan, ones[8:]],
        "pairs": np.ones((20, 2)),
    }
    np.savez(tmp_path / "d.npz", x=x, y=rng.integers(0, 3, 20), **bad)
    lines = ["a,b,c,d,weight,y"] + [f"{i},1,2,3,{1 - i % 2 * 3},{i % 3}" for i in range(12)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def spec(folder, source: str) -> tuple[str, str]:
    return SPEC.replace("SOURCE", source), str(folder / "s.nn")


def only(text: str, path: str):
    diagnostics = nncompile.check(text=text, path=path)
    assert len(diagnostics) == 1, diagnostics
    d = diagnostics[0]
    assert (d.severity, d.span.line) == ("error", 2)
    return d


def test_a_missing_npz_array_is_named_with_a_suggestion(folder):
    d = only(*spec(folder, 'npz("d.npz", sample_weight="weight")'))
    assert d.message == (
        "d.npz has no array 'weight' for `sample_weight`; it holds x, y, weights, short, neg, "
        "nan, pairs"
    )
    assert d.hint == "did you mean 'weights'? name the array of the examples' weights"


def test_a_missing_csv_column_is_named_with_a_suggestion(folder):
    d = only(*spec(folder, 'csv("d.csv", target="y", sample_weight="weights")'))
    assert d.message == (
        "d.csv has no column 'weights' for `sample_weight`; its columns are a, b, c, d, weight, y"
    )
    assert d.hint == "did you mean 'weight'? name the column of the examples' weights"


def test_weights_of_another_length_are_caught_by_check(folder):
    d = only(*spec(folder, 'npz("d.npz", sample_weight="short")'))
    assert d.message == (
        "d.npz: the arrays have different numbers of examples (x: 20, y: 20, short: 19)"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("neg", "sample weight -1 at row 5 (array 'neg' of {path}) is negative"),
        ("nan", "sample weight nan at row 7 (array 'nan' of {path}) is not finite"),
    ],
)
def test_negative_or_non_finite_weights_are_refused_with_their_row(folder, name, message):
    text, path = spec(folder, f'npz("d.npz", sample_weight="{name}")')
    assert nncompile.check(text=text, path=path) == []  # (the values are read at loading)
    with pytest.raises(DataError) as e:
        nncompile.compile(text=text, path=path).load_data()
    at = message.format(path=folder / "d.npz")
    assert e.value.message == f"data 'd': {at}; 1 weight(s) are negative or not finite"
    assert (
        e.value.hint == "weights must be finite numbers >= 0 (0 leaves an example out of the loss)"
    )


def test_a_negative_csv_weight_is_named_by_its_line(folder):
    text, path = spec(folder, 'csv("d.csv", target="y", sample_weight="weight")')
    with pytest.raises(DataError) as e:
        nncompile.compile(text=text, path=path).load_data()
    assert e.value.message == (
        f"data 'd': sample weight -2 at line 3 (column 'weight' of {folder / 'd.csv'}) is "
        "negative; 6 weight(s) are negative or not finite"
    )


def test_weights_need_one_number_per_example(folder):
    text, path = spec(folder, 'npz("d.npz", sample_weight="pairs")')
    assert only(text, path).message == (
        "d.npz: the sample weights 'pairs' have shape [20, 2]; they need one weight per example, "
        "shape [n]"
    )
    from nncompile.runtime.data import DataSpec
    from nncompile.runtime.several import load_any

    args = {"path": "d.npz", "sample_weight": "pairs"}  # the loader refuses it too
    with pytest.raises(DataError) as e:
        load_any(DataSpec("d", "npz", args, base_dir=str(folder)))
    assert e.value.message == (
        f"data 'd': the sample weights (array 'pairs' of {folder / 'd.npz'}) have shape [20, 2]; "
        "they need one weight per example, shape [n]"
    )


def test_windows_have_no_weights(folder):
    text, path = spec(folder, 'npz("d.npz", sample_weight="weights")')
    text = text.replace("  split:", "  windows: {length: 3}\n  split:")
    text = text.replace("input x: [4]  dense(8, activation=relu)", "input x: [3, 4]  flatten()")
    d = next(d for d in nncompile.check(text=text, path=path) if "sample weights" in d.message)
    assert d.message == (
        "data d names sample weights ('weights') and cuts its rows into `windows`; a window has "
        "no weight of its own"
    )
    assert d.hint == "remove `sample_weight='weights'` or `windows`"


def test_a_gan_has_no_examples_to_weigh(folder):
    np.savez(folder / "g.npz", x=np.zeros((10, 64), np.float32), w=np.ones(10))
    train = """
train {
  objective: gan(generator=G, discriminator=D, noise=normal([8]))
  data: d  loss: non_saturating  batch_size: 5  epochs: 1
}"""
    text = tiny_gan(train).replace('sklearn("digits")', 'npz("g.npz", sample_weight="w")')
    d = next(
        d
        for d in nncompile.check(text=text, path=str(folder / "s.nn"))
        if "sample weights" in d.message
    )
    assert d.message == (
        "data d names sample weights ('w'), but train main is a GAN (`objective: gan(...)`), "
        "whose losses weigh no examples"
    )


NO_DATA = """
model M { input x: [4]  dense(3, activation=softmax) }
train { model: M  loss: categorical_crossentropy  batch_size: 5  epochs: 1 }
"""


def test_fit_weights_of_the_wrong_length_or_sign():
    x, y = np.zeros((10, 4), np.float32), np.arange(10) % 3
    program = nncompile.compile(text=NO_DATA)
    with pytest.raises(DataError) as e:
        program.fit(data=(x, y), sample_weight=np.ones(9))
    assert e.value.message == (
        "sample_weight has shape [9], but the train split has 10 examples: give one weight per "
        "example, shape [10]"
    )
    with pytest.raises(DataError) as e:
        program.fit(data=(x, y), sample_weight=np.r_[np.ones(9), np.inf])
    assert e.value.message == "sample_weight[9] is inf; 1 weight(s) are negative or not finite"
    with pytest.raises(DataError) as e:
        program.fit(data={"train": (x, y), "val": (x, y)}, sample_weight={"val": np.ones(3)})
    assert e.value.message == (
        "the val split's sample_weight has shape [3], but the val split has 10 examples: give one "
        "weight per example, shape [10]"
    )


def test_a_dict_of_weights_needs_the_splits_it_weighs(folder):
    text, path = spec(folder, 'npz("d.npz")')
    with pytest.raises(NncompileError) as e:
        nncompile.compile(text=text, path=path).fit(sample_weight={"train": np.ones(10)})
    assert e.value.message == (
        "sample_weight for the spec's data is one weight per row of its source, split with the "
        "rows; a dict of splits' weights goes with fit(data={...})"
    )


def test_the_runtime_refuses_weights_for_a_program_without_them():
    from nncompile.runtime.loop import Trainer

    module = nncompile.compile(text=NO_DATA).module
    x, y = np.zeros((10, 4), np.float32), np.zeros(10, np.int64)
    with pytest.raises(ConfigError) as e:
        Trainer(module, {"train": (x, y)}, sample_weight=np.ones(10))
    assert (
        e.value.message == "sample weights were given, but this program's loss weighs no examples"
    )


def test_sources_without_weights_and_the_keras_property_say_where_weights_go(folder):
    d = only(*spec(folder, 'sklearn("iris", sample_weight="w")'))
    assert d.message == "sklearn() has no argument 'sample_weight'"
    assert d.hint == (
        "sample_weight is an argument of the npz and csv sources (the array or column of the "
        "weights); for other data, pass them to `program.fit(sample_weight=w)`"
    )
    text = SPEC.replace("SOURCE", 'sklearn("iris")').replace("epochs: 1", "sample_weight: w")
    found = nncompile.check(text=text)
    assert [x.hint for x in found] == [
        'per-example weights come with the data: `source: npz("d.npz", sample_weight="w")` (or '
        "csv's) names their array or column; from Python, `program.fit(sample_weight=w)`"
    ]


def test_the_data_report_shows_each_splits_weights(folder, capsys):
    from nncompile.cli import main

    text, path = spec(folder, 'npz("d.npz", sample_weight="weights")')
    (folder / "s.nn").write_text(text)
    assert main(["data", path]) == 0
    out = capsys.readouterr().out
    assert "sample weights (per split):\n  train  min 1  mean 1  max 1  zeros 0\n" in out
    assert main(["data", path, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sample_weights"]["val"] == {"min": 1.0, "mean": 1.0, "max": 1.0, "zeros": 0}


def test_loading_refuses_weights_twice_and_weights_with_windows(folder):
    from nncompile.runtime.data import DataSpec
    from nncompile.runtime.several import load_any

    text, path = spec(folder, 'npz("d.npz", sample_weight="weights")')
    with pytest.raises(DataError) as e:
        nncompile.compile(text=text, path=path).fit(sample_weight=np.ones(20))
    assert e.value.message == (
        "data 'd': the source names its sample weights already (`sample_weight='weights'`); "
        "fit(sample_weight=...) would replace them"
    )
    args = {"path": "d.npz", "sample_weight": "weights"}  # (check refuses it before loading)
    with pytest.raises(DataError) as e:
        load_any(DataSpec("d", "npz", args, windows={"length": 3}, base_dir=str(folder)))
    assert e.value.message == "data 'd': `sample_weight` weighs examples; windows have none"
