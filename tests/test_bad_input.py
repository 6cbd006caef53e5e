"""Bad input of any kind gives a clear error that says where and what to do: never a traceback."""

import numpy as np
import pytest

from nncompile.cli import main

SPEC = """
data rows {{ source: csv("{csv}", target="label")  split: {{train: 0.6, val: 0.2, test: 0.2}} }}
model M {{ input x: [3]  dense(8, activation=relu)  dense(2, activation=softmax) }}
train {{ model: M  data: rows  loss: categorical_crossentropy  optimizer: {opt}  epochs: 3
         batch_size: 8 }}
"""


def write(tmp_path, rows, header="a,b,c,label", opt="adam(lr=1e-2)"):
    csv = tmp_path / "rows.csv"
    csv.write_text(header + "\n" + "\n".join(rows) + "\n")
    spec = tmp_path / "s.nn"
    spec.write_text(SPEC.format(csv="rows.csv", opt=opt))
    return spec


def good_rows(n=60):
    rng = np.random.default_rng(0)
    return [f"{a:.3f},{b:.3f},{c:.3f},{int(a + b > 0)}" for a, b, c in rng.normal(size=(n, 3))]


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.out + out.err


def test_clean_csv_trains(tmp_path, capsys):
    code, text = run(
        capsys,
        "train",
        str(write(tmp_path, good_rows())),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
    )
    assert code == 0 and "test: loss" in text


def test_missing_file(tmp_path, capsys):
    spec = write(tmp_path, good_rows())
    (tmp_path / "rows.csv").unlink()
    code, text = run(capsys, "train", str(spec), "--quiet")
    assert code == 1 and "rows.csv" in text and "does not exist" in text


def test_nan_in_data(tmp_path, capsys):
    rows = good_rows()
    rows[7] = "0.1,nan,0.3,1"
    code, text = run(capsys, "train", str(write(tmp_path, rows)), "--quiet")
    assert code == 1 and "rows.csv" in text and "nan" in text.lower()


def test_non_numeric_value(tmp_path, capsys):
    rows = good_rows()
    rows[3] = "0.1,abc,0.3,1"
    code, text = run(capsys, "train", str(write(tmp_path, rows)), "--quiet")
    assert code == 1 and "'abc'" in text and "b" in text


def test_missing_target_column(tmp_path, capsys):
    code, text = run(
        capsys, "train", str(write(tmp_path, good_rows(), header="a,b,c,lable")), "--quiet"
    )
    assert code == 1 and "label" in text and "lable" in text


def test_feature_count_mismatch_names_the_data(tmp_path, capsys):
    rows = [r + ",0.5" for r in good_rows()]
    code, text = run(capsys, "train", str(write(tmp_path, rows, header="a,b,c,label,d")), "--quiet")
    assert code == 1 and "[4]" in text and "[3]" in text and "rows" in text


def test_diverging_loss_stops_and_says_why(tmp_path, capsys):
    code, text = run(
        capsys,
        "train",
        str(write(tmp_path, good_rows(), opt="sgd(lr=1e30)")),
        "--quiet",
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 1 and "epoch" in text and "learning rate" in text
    assert (tmp_path / "run" / "params").is_dir(), "the last good parameters were not kept"


@pytest.mark.parametrize(
    "args", [["train", "nope.nn"], ["eval", "nope.nn", "--run", "x"], ["emit", "nope.nn"]]
)
def test_missing_spec(args, capsys):
    code, text = run(capsys, *args)
    assert code == 1 and "nope.nn" in text
