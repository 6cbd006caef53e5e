"""Ejected data.py of the seqdata features gives the runtime's splits: integer npz ids, per-step
class ids (synthetic addition, csv), `target: input`, windows with a stride; eject refuses `pad`."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.codegen.eject import eject
from nncompile.compiler import analyse, read
from nncompile.errors import NncompileError

SPECS = Path(__file__).absolute().parent.parent / "specs"


def ejected_splits(spec: Path, out: Path) -> dict:
    program, diagnostics = analyse(read(str(spec)))
    assert program is not None, diagnostics
    eject(program, None, out)
    module_spec = importlib.util.spec_from_file_location(f"data_{abs(hash(out))}", out / "data.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.load()


def assert_same(spec: Path, out: Path) -> None:
    expected = nncompile.compile(spec).load_data().splits
    got = ejected_splits(spec, out)
    assert list(got) == list(expected)
    for name, (x, y) in expected.items():
        assert got[name][0].dtype == x.dtype and got[name][1].dtype == y.dtype
        np.testing.assert_array_equal(got[name][0], x)
        np.testing.assert_array_equal(got[name][1], y)


@pytest.mark.parametrize("name", ["addition_seq2seq", "digits_autoencoder", "token_bilstm"])
def test_ejected_data_of_the_seqdata_specs(name, tmp_path):
    assert_same(SPECS / f"{name}.nn", tmp_path / name)


def test_ejected_windows_with_a_stride(tmp_path):
    spec = tmp_path / "s.nn"
    spec.write_text("""data d {
  source: synthetic("sine", n=300)
  split: {train: 0.6, val: 0.2, test: 0.2}
  windows: {length: 12, stride: 5}
}
model M { input x: [12, 1]  lstm(4)  dense(1) }
train { model: M  data: d  loss: mse }
""")
    assert_same(spec, tmp_path / "out")
    assert "stride=5" in (tmp_path / "out" / "data.py").read_text()


def test_pad_is_refused_by_eject(tmp_path):
    np.savez(
        tmp_path / "p.npz", x=np.arange(40).reshape(10, 4) % 5, y=np.arange(20).reshape(10, 2) % 3
    )
    spec = tmp_path / "s.nn"
    spec.write_text("""data d { source: npz("p.npz")  pad: 0 }
model M { input x: int[4]  embedding(5, 4)  lstm(4)  repeat(2)  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy }
""")
    with pytest.raises(NncompileError, match=r"its data masks padding \(`pad: 0`\)"):
        ejected_splits(spec, tmp_path / "out")


def test_ejected_csv_tokens_and_per_step_targets(tmp_path):
    rows = ["t0,t1,t2,a0,a1"] + [
        f"{i % 5},{i % 3},{i % 4},{i % 2},{(i + 1) % 3}" for i in range(30)
    ]
    (tmp_path / "seq.csv").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "s.nn"
    spec.write_text("""data d { source: csv("seq.csv", target=["a0", "a1"], tokens=true) }
model M { input x: int[3]  embedding(5, 4)  lstm(4)  repeat(2)  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy }
""")
    assert_same(spec, tmp_path / "out")
