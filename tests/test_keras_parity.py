"""The Keras parity specs (bench/specs/parity/, compared with Keras by bench/keras_parity.py): each
passes `check`, its data file is what its script writes, and (slow tier) each trains an epoch."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import nncompile
import nncompile.api as api

ROOT = Path(__file__).resolve().parents[1]
PARITY = ROOT / "bench" / "specs" / "parity"
SPECS = sorted(PARITY.glob("*.nn"))
TRAINS = {"cgan.nn": "gan"}


def test_the_six_parity_specs_are_there():
    names = {p.stem for p in SPECS}
    assert names == {
        "multi_io",
        "seq2seq",
        "conv_autoencoder",
        "transformer",
        "cgan",
        "regularized_mlp",
        "sample_weight",
    }


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_parity_spec_checks_clean(spec):
    assert nncompile.check(spec) == []


def test_diabetes_heads_is_what_its_script_writes():
    path = PARITY / "data" / "make_diabetes_heads.py"
    loaded = importlib.util.spec_from_file_location("make_diabetes_heads", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    want = module.arrays()
    with np.load(PARITY / "data" / "diabetes_heads.npz") as got:
        assert sorted(got.files) == sorted(want)
        for name, array in want.items():
            assert got[name].dtype == array.dtype, name
            np.testing.assert_array_equal(got[name], array, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_parity_spec_trains_an_epoch(spec):
    program = api.compile(spec, train=TRAINS.get(spec.name))
    history = program.fit(epochs=1, verbose=False)
    assert np.isfinite(history.epochs[0]["loss"])
