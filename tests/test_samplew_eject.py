"""Sample weights in an ejected folder: data.py reads and splits them like the runtime (npz array,
csv column left out of the features, `classes`), train.py passes each batch's weights to
train_step and trains to nncompile's test metrics."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import nncompile
from nncompile.codegen.eject import eject
from nncompile.compiler import analyse, read
from tests.test_eject import load_module

SPEC = """data d {
  source: SOURCE
  split: {train: 0.6, val: 0.2, test: 0.2}
  EXTRA
}
model M { input x: [4]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: 8  epochs: 3  seed: 3 }
"""


def write_data(folder) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)
    w = rng.uniform(0, 3, 60).astype(np.float32)
    np.savez(folder / "d.npz", x=x, y=y, w=w)
    lines = ["a,w,b,c,y,d"] + [
        f"{a},{wi},{b},{c},{yi},{d}" for (a, b, c, d), wi, yi in zip(x, w, y, strict=True)
    ]
    (folder / "d.csv").write_text("\n".join(lines) + "\n")


def ejected(tmp_path, source: str, extra: str = ""):
    write_data(tmp_path)
    spec = tmp_path / "s.nn"
    text = SPEC.replace("SOURCE", source).replace("EXTRA", extra)
    if "classes" in extra:  # two of the three classes kept
        text = text.replace("dense(3, activation=softmax)", "dense(2, activation=softmax)")
    spec.write_text(text)
    program, diagnostics = analyse(read(str(spec)))
    assert program is not None, diagnostics
    eject(program, None, tmp_path / "out")
    return spec, tmp_path / "out"


@pytest.mark.parametrize(
    ("source", "extra"),
    [
        ('npz("d.npz", sample_weight="w")', ""),
        ('npz("d.npz", sample_weight="w")', "classes: [0, 2]"),
        ('csv("d.csv", target="y", sample_weight="w")', ""),
    ],
)
def test_data_py_splits_the_weights_like_the_runtime(tmp_path, source, extra):
    spec, folder = ejected(tmp_path, source, extra)
    sys.path.insert(0, str(folder))
    try:
        data = load_module(folder / "data.py", "ejected_data")
        splits = data.load()
    finally:
        sys.path.remove(str(folder))
    dataset = nncompile.compile(spec).load_data()
    for name, (x, y) in dataset.splits.items():
        np.testing.assert_allclose(splits[name][0], x, rtol=1e-6)
        np.testing.assert_array_equal(splits[name][1], y)
        np.testing.assert_array_equal(data.WEIGHTS[name], dataset.weights[name])
    train = (folder / "train.py").read_text()
    assert "train_batch(model, optimizer, x[batch], y[batch], key, i, w[batch])" in train
    assert 'w = data.WEIGHTS["train"]' in train


@pytest.mark.slow  # a subprocess that trains, and the same fit in nncompile
def test_the_ejected_loop_trains_with_the_weights(tmp_path):
    spec, folder = ejected(tmp_path, 'npz("d.npz", sample_weight="w")')
    run = subprocess.run(
        [sys.executable, str(folder / "train.py")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(line for line in run.stdout.splitlines() if line.startswith("test: "))
    got = float(re.search(r"loss (-?[\d.]+)", line).group(1))
    epoch = next(line for line in run.stdout.splitlines() if line.startswith("epoch 3/3"))
    program = nncompile.compile(spec)
    history = program.fit()
    assert got == pytest.approx(program.evaluate("test")["loss"], abs=6e-5, rel=0.005)
    trained = float(re.search(r"  loss (-?[\d.]+)", epoch).group(1))
    assert trained == pytest.approx(history.epochs[-1]["loss"], abs=6e-5, rel=0.005)
