"""`nncompile export`: a StableHLO artifact that reloads with jax alone and predicts like
`nncompile predict`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NNCOMPILE = [sys.executable, "-m", "nncompile"]

SPEC = """
data d {
  source: sklearn("digits")
  split: {train: 0.8, test: 0.2}
  normalize: minmax
  reshape: [8, 8, 1]
}
model C {
  input x: [8, 8, 1]
  conv2d(4, 3, activation=relu)
  batch_norm()
  flatten()
  dropout(0.2)
  dense(10, activation=softmax)
}
train { model: C  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)  batch_size: 64
        epochs: 2 }
"""

LOADER = """
import sys, numpy as np, jax
from jax import export
fn = export.deserialize(bytearray(open(sys.argv[1], "rb").read()))
x = np.load(sys.argv[2])
np.save(sys.argv[3], np.asarray(fn.call(x)))
np.save(sys.argv[4], np.asarray(fn.call(x[:3])))          # any batch size
bad = [m for m in sys.modules if m.split(".")[0] in ("flax", "nncompile", "optax")]
assert not bad, bad
"""


def run(*args, **kw):
    r = subprocess.run(
        [*NNCOMPILE, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        **kw,
    )
    assert r.returncode == 0, r.stderr
    return r


def test_exported_stablehlo_reloads_without_flax_and_predicts_like_nncompile(tmp_path):
    from sklearn.datasets import load_digits

    spec = tmp_path / "cnn.nn"
    spec.write_text(SPEC)
    run("train", spec, "--out", tmp_path / "run", "--quiet")
    x = load_digits().data[:37].astype(np.float32)  # raw pixels, as `predict --input` takes them
    np.save(tmp_path / "x.npy", x)
    run(
        "predict",
        spec,
        "--run",
        tmp_path / "run",
        "--input",
        tmp_path / "x.npy",
        "--output",
        tmp_path / "want.npy",
    )
    out = tmp_path / "model.stablehlo"
    r = run("export", spec, "--run", tmp_path / "run", "-o", out)
    assert "parameters baked in" in r.stderr
    info = json.loads(out.with_name("model.stablehlo.json").read_text())
    assert info["input"] == {"shape": ["b", 64], "dtype": "float32"} and info["output"][
        "shape"
    ] == ["b", 10]
    assert set(info["platforms"]) == {"cpu", "cuda"}
    loader = tmp_path / "load.py"
    loader.write_text(LOADER)
    r = subprocess.run(
        [
            sys.executable,
            loader,
            out,
            tmp_path / "x.npy",
            tmp_path / "got.npy",
            tmp_path / "got3.npy",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert r.returncode == 0, r.stderr
    want, got = np.load(tmp_path / "want.npy"), np.load(tmp_path / "got.npy")
    assert got.shape == want.shape == (37, 10)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert (got.argmax(1) == want.argmax(1)).all()
    np.testing.assert_allclose(np.load(tmp_path / "got3.npy"), want[:3], rtol=1e-5, atol=1e-6)
