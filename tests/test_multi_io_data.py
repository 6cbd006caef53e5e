"""Data with several named inputs and targets (issue 11): npz arrays and csv column groups, split
once for all arrays, each normalised on its own; checked against the model by name."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile
from nncompile.diagnostics import CompileError
from nncompile.runtime.data import DataSpec
from nncompile.runtime.several import load_any

MODEL = """
model G {
  input a: [3]
  input b: [2]
  ha = dense(8, activation=relu)(a)
  hb = dense(8, activation=relu)(b)
  c = concat(ha, hb)
  label = dense(2, activation=softmax)(c)
  value = dense(1)(c)
  output label, value
}
train { model: G data: g loss: {label: categorical_crossentropy, value: mse} epochs: 8
        optimizer: adam(lr=1e-2) batch_size: 16
        metrics: [accuracy, mae] }
"""


def write_csv(folder, n: int = 120) -> None:
    r = np.random.default_rng(1)
    a, b = r.normal(size=(n, 3)) * 10 + 5, r.normal(size=(n, 2))
    label = (a[:, 0] + b[:, 0]) > 5
    value = a[:, 1] - b[:, 1]
    lines = ["a1,a2,a3,b1,b2,label,value"]
    for i in range(n):
        cells = [f"{v:.4f}" for v in [*a[i], *b[i]]]
        lines.append(",".join([*cells, "yes" if label[i] else "no", f"{value[i]:.4f}"]))
    (folder / "g.csv").write_text("\n".join(lines) + "\n")


CSV = (
    'data g { source: csv("g.csv", target={label: "label", value: "value"}, '
    'inputs={a: ["a1", "a2", "a3"], b: ["b1", "b2"]})\n'
    "  split: {train: 0.75, val: 0.25}  normalize_target: standard }"
)


def test_csv_column_groups_load_split_and_normalise(tmp_path):
    write_csv(tmp_path)
    args = {
        "path": "g.csv",
        "target": {"label": "label", "value": "value"},
        "inputs": {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"]},
    }
    spec = DataSpec("g", "csv", args, split={"train": 0.75, "val": 0.25}, base_dir=str(tmp_path))
    data = load_any(spec)
    x, y = data.splits["train"]
    assert set(x) == {"a", "b"} and set(y) == {"label", "value"}
    assert x["a"].shape == (90, 3) and x["b"].shape == (90, 2) and y["value"].shape == (90, 1)
    assert y["label"].dtype == np.int32 and set(np.unique(y["label"])) == {0, 1}  # "no", "yes"
    np.testing.assert_allclose(x["a"].mean(0), 0, atol=1e-5)  # each input on its own statistics
    np.testing.assert_allclose(x["a"].std(0), 1, atol=1e-4)
    xv, yv = data.splits["val"]
    assert len(xv["a"]) == len(xv["b"]) == len(yv["label"]) == 30
    raw = {"a": np.full((1, 3), 5.0), "b": np.zeros((1, 2))}
    stat = data.stats["inputs"]["a"]["stat"]
    want = (5.0 - np.asarray(stat["shift"])) / np.asarray(stat["scale"])
    np.testing.assert_allclose(data.transform_inputs(raw)["a"][0], want, rtol=1e-5)


def test_csv_column_groups_train(tmp_path, monkeypatch):
    write_csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.nn").write_text(CSV + MODEL)
    program = nncompile.compile(tmp_path / "g.nn")
    history = program.fit()
    assert {"label_accuracy", "value_mae", "val_label_accuracy"} <= set(history.epochs[-1])
    assert history.epochs[-1]["loss"] < history.epochs[0]["loss"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            CSV.replace("b: [", "c: ["),
            "data g has no array for input 'b' (its inputs: a, c) | name the arrays after the "
            "model's inputs, in order: inputs={a: [columns], b: [columns]}",
        ),
        (
            CSV.replace(', inputs={a: ["a1", "a2", "a3"], b: ["b1", "b2"]}', ""),
            "model G has 2 inputs (a, b), but data g gives one array (inputs: the feature columns)",
        ),
        (
            CSV.replace(
                'target={label: "label", value: "value"}', 'target={value: "value", label: "label"}'
            ),
            "data g lists the outputs in another order than model G (its target: value, label)",
        ),
        (
            CSV.replace('target={label: "label", value: "value"}', 'target="label"'),
            "model G has 2 outputs (label, value), but data g gives one array (target: label)",
        ),
    ],
)
def test_source_names_are_checked_against_the_model(data, message):
    with pytest.raises(CompileError) as e:
        nncompile.compile(text=data + MODEL)
    found = [f"{d.message} | {d.hint}" for d in e.value.diagnostics]
    assert any(message in m for m in found), found


def test_a_list_of_names_for_a_one_input_model_is_refused():
    text = """
data d { source: npz("d.npz", x=["a"], y="y") }
model M { input a: [3]  dense(1) }
train { model: M data: d loss: mse }
"""
    with pytest.raises(CompileError) as e:
        nncompile.compile(text=text)
    (d,) = e.value.diagnostics
    assert d.message == "data d lists named arrays (x: a), but model M has one input"
    assert d.hint == 'name one array: x="a"'


def test_missing_column_is_a_data_error(tmp_path, monkeypatch):
    write_csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.nn").write_text(CSV.replace('"b2"]', '"b3"]') + MODEL)
    with pytest.raises(CompileError) as e:  # (`check` reads the header row)
        nncompile.compile(tmp_path / "g.nn")
    assert "g.csv has no column 'b3'; its columns are a1, a2, a3, b1, b2, label, value" in str(
        e.value
    )


def test_export_of_several_outputs_is_refused(tmp_path, monkeypatch):
    write_csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.nn").write_text(CSV + MODEL)
    program = nncompile.compile(tmp_path / "g.nn")
    program.fit(epochs=1)
    with pytest.raises(nncompile.errors.NncompileError) as e:
        program.export(tmp_path / "m.stablehlo")
    assert "export of a model with several inputs or outputs is not supported yet" in str(e.value)


NPZ_MODEL = """
data d { source: npz("d.npz", x=["a", "b"], y=["label", "value"]) }
model G {
  input a: [3]
  input b: int[4]
  ha = dense(8, activation=relu)(a)
  hb = embedding(10, 4)(b)
  f = flatten()(hb)
  c = concat(ha, f)
  label = dense(2, activation=softmax)(c)
  value = dense(1)(c)
  output label, value
}
train { model: G data: d loss: {label: categorical_crossentropy, value: mse} }
"""


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({}, None),
        (
            {"a": np.zeros((20, 5), "f4")},
            "model G takes a: [3], but array 'a' of data d has examples of shape [5] | declare "
            "`input a: [5]`",
        ),
        (
            {"b": np.zeros((20, 4), "f4")},
            "array 'b' of data d holds floats, but model G takes int input b",
        ),
        (
            {"label": np.zeros(20, "f4")},
            "categorical_crossentropy needs class ids, but array 'label' of data d holds floats",
        ),
    ],
)
def test_npz_arrays_are_checked_by_shape_at_compile_time(tmp_path, arrays, message):
    good = {
        "a": np.zeros((20, 3), "f4"),
        "b": np.zeros((20, 4), "i4"),
        "label": np.arange(20) % 2,
        "value": np.zeros(20, "f4"),
    }
    np.savez(tmp_path / "d.npz", **{**good, **arrays})
    (tmp_path / "d.nn").write_text(NPZ_MODEL)
    if message is None:
        nncompile.compile(tmp_path / "d.nn")
        return
    with pytest.raises(CompileError) as e:
        nncompile.compile(tmp_path / "d.nn")
    found = [f"{d.message} | {d.hint}" for d in e.value.diagnostics]
    assert any(message in m for m in found), found


def test_integer_token_input_and_npz_train(tmp_path):
    r = np.random.default_rng(0)
    b = r.integers(0, 10, size=(200, 4)).astype("i4")
    a = r.normal(size=(200, 3)).astype("f4")
    label = ((b[:, 0] >= 5) ^ (a[:, 0] > 0)).astype("i4")
    value = (a[:, 1] + b[:, 1] / 10).astype("f4")
    np.savez(tmp_path / "d.npz", a=a, b=b, label=label, value=value)
    (tmp_path / "d.nn").write_text(NPZ_MODEL)
    program = nncompile.compile(tmp_path / "d.nn")
    history = program.fit(epochs=4)
    assert history.epochs[-1]["loss"] < history.epochs[0]["loss"]
    x_test, _ = program.trainer.splits["test"]
    assert x_test["b"].dtype == np.int32  # token ids are neither cast nor normalised
    out = program.predict({"a": a[:3], "b": b[:3]})
    assert out["label"].shape == (3, 2) and out["value"].shape == (3, 1)


def test_a_source_without_named_arrays_is_refused_for_two_inputs():
    text = """
data d { source: sklearn("digits") }
model M {
  input a: [64]
  input b: [64]
  c = concat(a, b)
  dense(10, activation=softmax)
}
train { model: M data: d loss: categorical_crossentropy }
"""
    with pytest.raises(CompileError) as e:
        nncompile.compile(text=text)
    (d,) = e.value.diagnostics
    assert d.message == "model M has 2 inputs (a, b), but data d (sklearn) gives one input array"
