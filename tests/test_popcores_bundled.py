"""Popcores helper package (issue 15, a sweep's fixed costs): scikit-learn's bundled datasets are
read from its files without importing scikit-learn (~1 CPU-second a process), with the arrays of
its own loaders bit for bit; anything unexpected falls back to scikit-learn."""

import builtins

import numpy as np
import pytest

import nncompile
from nncompile.registry import bundled
from nncompile.registry.bundled import read_bundled
from nncompile.registry.sources import SKLEARN


@pytest.mark.parametrize("name", sorted(bundled.FILES))
def test_the_files_give_sklearns_arrays_bit_for_bit(name):
    from sklearn import datasets

    want_x, want_y = getattr(datasets, f"load_{name}")(return_X_y=True)
    found = read_bundled(name, SKLEARN[name][0])
    assert found is not None
    x, y = found
    assert (x.dtype, x.shape, y.dtype, y.shape) == (
        want_x.dtype,
        want_x.shape,
        want_y.dtype,
        want_y.shape,
    )
    assert x.tobytes() == np.ascontiguousarray(want_x).tobytes()
    assert y.tobytes() == want_y.tobytes()


def test_a_spec_loads_digits_without_importing_sklearn(tmp_path, monkeypatch):
    path = tmp_path / "s.nn"
    path.write_text(
        'data d { source: sklearn("digits")  split: {train: 0.8, test: 0.2} }\n'
        "model M { input x: [64]  dense(10, activation=softmax) }\n"
        "train { model: M  data: d  loss: categorical_crossentropy  optimizer: adam() }\n"
    )
    real = builtins.__import__

    def guarded(name, *args, **kwargs):
        assert name.split(".")[0] != "sklearn", "scikit-learn was imported"
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", guarded)
    splits = nncompile.compile(str(path)).load_data().splits
    assert len(splits["train"][0]) + len(splits["test"][0]) == 1797


def test_unexpected_files_fall_back_to_sklearn(tmp_path, monkeypatch):
    assert read_bundled("linnerud", 3) is None  # not a dataset read here
    assert read_bundled("iris", 5) is None  # not the dataset's shape
    bad = tmp_path / "iris.csv"
    bad.write_text("150,4,setosa,versicolor,virginica\n5.1,3.5,1.4,0.2,0\n")  # rows missing
    monkeypatch.setattr(bundled, "data_file", lambda name: bad)
    assert read_bundled("iris", 4) is None
    bad.write_text("not,a,header\n")
    assert read_bundled("iris", 4) is None
    monkeypatch.setattr(bundled, "data_file", lambda name: tmp_path / "gone.csv")
    assert read_bundled("iris", 4) is None
