"""Data parallelism on 4 forced CPU devices (tests/scale/runner.py in a subprocess, since XLA_FLAGS
must be set before JAX starts): the same global batch on 4 devices trains the same parameters as on
one, for both strategies and with `shard: params`; `accumulate: 4` of batch 16 equals batch 64."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scale.forced import ROOT, arrays


def run_variants(tmp_path: Path, spec: str, epochs: int, variants: dict[str, str], rows=0):
    args = [f"{k}={v}" for k, v in variants.items()]
    out = tmp_path / "params.npz"
    return arrays("runner", ROOT / "specs" / spec, out, epochs, rows, *args)


def params(arrays: dict, name: str) -> list[np.ndarray]:
    keys = sorted(
        (k for k in arrays if k.startswith(name + "/") and k.split("/")[1].isdigit()),
        key=lambda k: int(k.split("/")[1]),
    )
    return [arrays[k] for k in keys]


def max_diff(arrays: dict, a: str, b: str) -> float:
    pa, pb = params(arrays, a), params(arrays, b)
    assert len(pa) == len(pb) and pa
    return max(
        float(np.abs(x.astype(np.float64) - y.astype(np.float64)).max())
        for x, y in zip(pa, pb, strict=True)
    )


@pytest.mark.parametrize(
    "spec", ["digits_mlp.nn", pytest.param("digits_cnn.nn", marks=pytest.mark.slow)]
)
def test_four_devices_equal_one(tmp_path, spec):
    # batch 16 on 800 training examples: 50 steps. (Over many more steps the CNN's runs drift
    # apart chaotically: the 1e-7 differences of the all-reduce's order grow to 1e-3 by step 80.)
    b = "batch_size:16"
    variants = {
        "scan1": f"devices:1,strategy:scan,{b}",
        "scan4": f"devices:4,strategy:scan,{b}",
        "step1": f"devices:1,strategy:step,{b}",
        "step4": f"devices:4,strategy:step,{b}",
        "fsdp4": f"devices:4,strategy:scan,shard:params,{b}",
    }
    arrays = run_variants(tmp_path, spec, 1, variants, rows=800)
    assert int(arrays["scan1/updates"]) == 50
    for one, four in [("scan1", "scan4"), ("step1", "step4"), ("scan1", "fsdp4")]:
        assert max_diff(arrays, one, four) < 1e-5, (one, four)
    # the work was split: the state lives on 4 devices, the epoch holds the gradients' all-reduce
    assert set(arrays["scan4/devices"]) == {4} and set(arrays["scan1/devices"]) == {1}
    assert arrays["scan4/all_reduce"] >= 1 and arrays["scan1/all_reduce"] == 0
    assert not arrays["scan4/split"].any() and arrays["fsdp4/split"].any()  # shard: params
    assert arrays["scan4/loss"][-1] < 2.25  # it learnt (chance: ln 10 = 2.30): the parameters moved


def test_accumulate_equals_larger_batch(tmp_path):
    variants = {
        "big": "devices:1,batch_size:64",
        "acc": "devices:1,batch_size:16,accumulate:4",
        "acc4": "devices:4,batch_size:16,accumulate:4",
    }
    arrays = run_variants(tmp_path, "digits_mlp.nn", 2, variants)
    assert int(arrays["acc/updates"]) == int(arrays["big/updates"])
    assert max_diff(arrays, "big", "acc") < 1e-5
    assert max_diff(arrays, "big", "acc4") < 1e-5
    np.testing.assert_allclose(arrays["big/loss"], arrays["acc/loss"], rtol=1e-5)
