"""Startup package (process start to first step): what a path does NOT import or compute, asserted
without timing (bench/startup.py measures the seconds)."""

import builtins
import gzip

import numpy as np

import nncompile
from nncompile.registry import bundled
from nncompile.registry.bundled import read_bundled

DIABETES = (
    'data d { source: sklearn("diabetes")  split: {train: 0.8, test: 0.2}  normalize: standard }\n'
    "model M { input x: [10]  dense(1) }\n"
    "train { model: M  data: d  loss: mse  optimizer: sgd(lr=0.01) }\n"
)


def test_diabetes_loads_without_importing_sklearn(tmp_path, monkeypatch):
    # importing scikit-learn cost ~1.2 of W3's ~4 CPU seconds to its first step
    path = tmp_path / "s.nn"
    path.write_text(DIABETES)
    real = builtins.__import__

    def guarded(name, *args, **kwargs):
        assert name.split(".")[0] != "sklearn", "scikit-learn was imported"
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", guarded)
    splits = nncompile.compile(str(path)).load_data().splits
    x, y = splits["train"]
    assert len(x) + len(splits["test"][0]) == 442
    assert x.shape[1:] == (10,) and y.dtype.kind == "f"


def test_diabetes_without_its_target_file_falls_back(tmp_path, monkeypatch):
    features = tmp_path / bundled.FILES["diabetes"]
    with gzip.open(features, "wt") as f:
        f.write("59 2 32.1 101.0 157 93.2 38.0 4.0 4.8598 87\n" * 3)
    monkeypatch.setattr(bundled, "data_file", lambda name: features)
    assert read_bundled("diabetes", 10) is None  # no diabetes_target.csv.gz beside it
    with gzip.open(tmp_path / bundled.DIABETES_TARGET, "wt") as f:
        f.write("151\n75\n141\n")
    x, y = read_bundled("diabetes", 10)
    assert x.shape == (3, 10) and y.tolist() == [151.0, 75.0, 141.0]
    assert np.all(x == 0)  # three equal rows: centred to 0, their scale (0) taken as 1
    features.write_bytes(b"not gzip")
    assert read_bundled("diabetes", 10) is None
