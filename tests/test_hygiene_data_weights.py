"""`nncompile data` reads data leniently: sample weights that are missing (NaN, an empty or NA csv
cell), infinite or negative are counted and reported as a finding, like other bad values, instead
of refusing the report; loading for training still refuses them with their row."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nncompile
from nncompile.cli import main
from nncompile.errors import DataError

SPEC = """data d {
  source: SOURCE
  split: {train: 0.5, val: 0.25, test: 0.25}
  shuffle: false
}
model M { input x: [4]  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy  batch_size: 8  epochs: 1 }
"""
FINDING_HINT = (
    "training refuses them: weights must be finite numbers >= 0 (0 leaves an example out of the "
    "loss); fill them in or drop those rows"
)


def write(tmp_path, source: str) -> str:
    (tmp_path / "s.nn").write_text(SPEC.replace("SOURCE", source))
    return str(tmp_path / "s.nn")


def report(path: str, capsys) -> tuple[dict, str]:
    assert main(["data", path, "--format", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert main(["data", path]) == 0
    return as_json, capsys.readouterr().out


def test_bad_npz_weights_are_counted_not_refused(tmp_path, capsys):
    rng = np.random.default_rng(0)
    w = np.ones(20)
    w[[3, 12]], w[7], w[16] = np.nan, -2.0, np.inf
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(20, 4)), y=rng.integers(0, 3, 20), w=w)
    path = write(tmp_path, 'npz("d.npz", sample_weight="w")')
    data, text = report(path, capsys)
    weights = [f for f in data["findings"] if f["kind"] == "weights"]
    assert weights == [
        {
            "kind": "weights",
            "message": "2 missing (NaN) and 1 infinite and 1 negative sample weight(s) (4 row(s); "
            "the first: row 3, counting from 0)",
            "hint": FINDING_HINT,
        }
    ]
    splits = data["sample_weights"]
    for kind, n in (("missing", 2), ("infinite", 1), ("negative", 1)):
        assert sum(s.get(kind, 0) for s in splits.values()) == n
    for s in splits.values():  # the valid weights' statistics
        assert (s["min"], s["mean"], s["max"], s["zeros"]) == (1.0, 1.0, 1.0, 0)
    shown = [line for line in text.splitlines() if "missing 1" in line or "negative 1" in line]
    assert shown and all("  min 1  mean 1  max 1  zeros 0  " in line for line in shown)
    with pytest.raises(DataError) as e:  # training still refuses them
        nncompile.compile(path).load_data()
    assert e.value.message.startswith("data 'd': sample weight nan at row 3 (array 'w' of ")


def test_bad_csv_weights_are_counted_and_a_split_without_valid_ones_says_so(tmp_path, capsys):
    cells = ["", "NA", "-1", "?", "nan", "-0.5", "", "null", "-3", ""]
    rows = [f"{i},1,2,3,{w},{i % 3}" for i, w in enumerate(cells)]
    (tmp_path / "d.csv").write_text("a,b,c,d,weight,y\n" + "\n".join(rows) + "\n")
    path = write(tmp_path, 'csv("d.csv", target="y", sample_weight="weight")')
    data, text = report(path, capsys)
    [finding] = [f for f in data["findings"] if f["kind"] == "weights"]
    assert finding["message"] == (
        "7 missing (NaN) and 3 negative sample weight(s) (10 row(s); the first: row 0, counting "
        "from 0)"
    )
    assert {k: s["min"] for k, s in data["sample_weights"].items()} == dict.fromkeys(
        ("train", "val", "test")
    )
    lines = [line for line in text.splitlines() if "no valid weight" in line]
    assert [line.split()[0] for line in lines] == ["train", "val", "test"]
