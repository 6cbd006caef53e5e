"""`nncompile data`: each crafted problem (leakage, imbalance, missing values, a constant column)
called exactly, and the report's numbers, JSON and PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.cli import main

SPEC = """\
data table {{
  source: csv(path="table.csv", target="y")
  split: {split}
  shuffle: {shuffle}
}}
model M {{
  input x: [{features}]
  {head}
}}
train {{ model: M  data: table  loss: {loss}  epochs: 1 }}
"""


def spec(tmp_path: Path, rows: list[list], header: list[str], **props) -> str:
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    (tmp_path / "table.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = SPEC.format(
        split=props.get("split", "{train: 0.5, test: 0.5}"),
        shuffle=props.get("shuffle", "false"),
        features=len(header) - 1,
        head=props.get("head", "dense(1)"),
        loss=props.get("loss", "mse"),
    )
    (tmp_path / "spec.nn").write_text(text, encoding="utf-8")
    return str(tmp_path / "spec.nn")


def data(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(["data", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def findings(path: str, capsys) -> list[dict]:
    code, out, _ = data([path, "--format", "json"], capsys)
    assert code == 0
    return json.loads(out)["findings"]


def distinct(n: int, start: int = 0) -> list[list]:
    """n rows with distinct features and a real-valued target."""
    return [[i, (i * 7) % 13, i + 0.5] for i in range(start, start + n)]


def test_leakage(tmp_path, capsys):
    rows = distinct(20) + distinct(5) + distinct(15, start=100)  # test's first 5 rows = train's
    found = findings(spec(tmp_path, rows, ["a", "b", "y"]), capsys)
    assert found == [
        {
            "kind": "leakage",
            "message": "leakage: 5 of 20 test rows also appear in train (same features)",
            "hint": "test metrics overstate how well the model does on new data: remove "
            "duplicate rows before splitting",
        }
    ]


def test_duplicates_inside_a_split(tmp_path, capsys):
    rows = distinct(10) + distinct(3) + distinct(7, start=50) + distinct(20, start=100)
    found = findings(spec(tmp_path, rows, ["a", "b", "y"]), capsys)
    assert [f["message"] for f in found] == [
        "repeated rows (same features as an earlier row of the split): 3 in train"
    ]


def test_imbalance(tmp_path, capsys):
    rows = [[i, i % 5, 0] for i in range(36)] + [[100 + i, i, 1] for i in range(4)]
    head, loss = "dense(1, activation=sigmoid)", "binary_crossentropy"  # (class labels: check)
    path = spec(
        tmp_path, rows, ["a", "b", "y"], split="{train: 0.75, test: 0.25}", head=head, loss=loss
    )
    found = findings(path, capsys)
    assert found == [
        {
            "kind": "imbalance",
            "message": "The classes are imbalanced: class 0 has 36 rows, class 1 has 4 (9.0x)",
            "hint": "accuracy can look good while the rare class is always missed: add f1 (or "
            "precision and recall) to `metrics`, and weigh the rare class (`class_weight: "
            "balanced` in the train block) or collect more of its rows",
        }
    ]
    _, out, _ = data([path], capsys)
    assert "classes y (rows per split):\n  class   train    test\n  0          27       9\n" in out
    assert "  1           3       1\n" in out


def test_missing_values(tmp_path, capsys):
    rows = [[i, "" if i == 3 else ("NaN" if i == 7 else i * 0.1), i + 0.5] for i in range(20)]
    path = spec(tmp_path, rows, ["age", "bmi", "y"])
    assert findings(path, capsys) == [
        {
            "kind": "nonfinite",
            "message": "2 missing (NaN) value(s) in column 'bmi' (2 row(s); the first: row 3, "
            "counting from 0)",
            "hint": "training refuses them: fill them in (e.g. with the column's train median) "
            "or drop those rows",
        }
    ]
    _, out, _ = data([path, "--format", "json"], capsys)
    bmi = json.loads(out)["features"]["x"][1]
    assert bmi["feature"] == "bmi" and bmi["missing"] == 2
    finite = [i * 0.1 for i in range(20) if i not in (3, 7)]
    assert bmi["mean"] == pytest.approx(np.mean(finite))
    assert bmi["std"] == pytest.approx(np.std(finite))
    assert (bmi["min"], bmi["max"]) == (0.0, pytest.approx(1.9))


def test_constant_column(tmp_path, capsys):
    rows = [[i, 5, i + 0.5] for i in range(20)]
    found = findings(spec(tmp_path, rows, ["a", "const", "y"]), capsys)
    assert found == [
        {
            "kind": "constant",
            "message": "constant column 'const': the value 5 in every train row",
            "hint": "a constant feature carries no information (normalisation maps it to 0): "
            "drop it",
        }
    ]


def test_text_report_and_png(tmp_path, capsys):
    rows = distinct(40)
    path = spec(tmp_path, rows, ["a", "b", "y"])
    png = tmp_path / "report.png"
    code, out, err = data([path, "-o", str(png)], capsys)
    assert code == 0 and f"wrote {png}" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.startswith(
        "data table (csv): regression\n  train 20 rows  test 20 rows\n  input x: float32 [2]\n"
    )
    assert "target range y (data units, all rows):" in out
    assert out.endswith(
        "no problems found (missing values, constant features, repeats, leakage, imbalance)\n"
    )


def test_unknown_data_block(tmp_path, capsys):
    path = spec(tmp_path, distinct(10), ["a", "b", "y"])
    code, _, err = data([path, "--data", "tabel"], capsys)
    assert code == 1
    assert err == f"nncompile: no data block 'tabel' in {path}\n  hint: did you mean 'table'?\n"


def test_digits_and_diabetes(capsys):
    """The course's data: digits has three blank pixels, diabetes targets are in their units."""
    root = Path(__file__).resolve().parents[1] / "specs"
    _, out, _ = data([str(root / "digits_mlp.nn"), "--format", "json"], capsys)
    report = json.loads(out)
    assert report["rows"] == {"train": 1259, "val": 270, "test": 268}
    assert [f["message"] for f in report["findings"]] == [
        "constant features 0, 32, 39: the value 0 in every train row"
    ]
    assert sum(report["classes"]["y"]["test"].values()) == 268
    _, out, _ = data([str(root / "simple_ann_regression.nn"), "--format", "json"], capsys)
    report = json.loads(out)
    (target,) = report["target_range"]["y"]
    assert (target["min"], target["max"]) == (25.0, 346.0)
    assert [f["feature"] for f in report["features"]["x"]][:3] == ["age", "sex", "bmi"]
    assert report["findings"] == []


SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.nn"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_in_specs(path, capsys):
    code, out, _ = data([str(path), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["rows"]["train"] > 0
    allowed = {"constant", "duplicates", "leakage"}
    if path.stem == "imbalanced_digits":  # imbalanced on purpose: it shows class_weight
        allowed.add("imbalance")
        assert "imbalance" in {f["kind"] for f in report["findings"]}
    assert all(f["kind"] in allowed for f in report["findings"])


@pytest.mark.parametrize("name", ["digits_cnn", "sine_forecast", "addition_seq2seq", "multi_io"])
def test_pictures_of_images_series_text_and_named_arrays(name, tmp_path, capsys):
    png = tmp_path / f"{name}.png"
    code, _, _ = data([str(SPECS[0].parent / f"{name}.nn"), "-o", str(png)], capsys)
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"


def test_the_report_reads_the_rows_training_reads():
    """Same source, classes, split (the train block's seed) and subset as training: the report's
    test rows, normalised like training does, are the training program's test split."""
    from nncompile.runtime.data import apply
    from nncompile.runtime.datareport import data_report

    text = (SPECS[0].parent / "digits_cnn.nn").read_text()
    text = text.replace("  shuffle:   true", "  shuffle:   true\n  subset:    0.5")
    assert "subset:    0.5" in text
    program = nncompile.compile(text=text)
    dataset = program.load_data()
    report = data_report(program.data_spec())
    x = report.x["x"]
    for split, (xs, ys) in dataset.splits.items():
        i = report.index[split]
        assert np.array_equal(apply(x[i], dataset.stats["x"]).reshape(xs.shape), xs)
        assert np.array_equal(report.y["y"][i], ys)
