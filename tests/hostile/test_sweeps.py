"""Issue 10, section 5: sweeps and smaller cases.

Before: one failing trial aborted a sweep and no trials.csv/best.json was written; non-ASCII
sweep strings were mangled ("é.csv" -> "u00e9.csv"); `export --platforms evil` wrote an artifact
that never loads and `export -o DIR` left a temporary file; `--set "h=4 let h = 8"` silently
dropped the rest; `~` in a data path warned at `check` but worked at `train`; a batch_size larger
than the data silently became full-batch.
"""

from __future__ import annotations

import csv
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nncompile
import nncompile.api
from nncompile.cli import main
from nncompile.compiler import parse
from nncompile.diagnostics import CompileError
from nncompile.errors import NncompileError
from nncompile.runtime.sweep import as_text, run_sweep


# ---- a failing trial is recorded, the sweep goes on, results are written as it goes --------------
class Done:
    """A trained trial as run_sweep sees it: a history and a save()."""

    def __init__(self, loss: float):
        self.history = SimpleNamespace(epochs=[{"epoch": 1, "val_loss": loss}], reason=None)

    def save(self, run_dir, curves=False):
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir


def rows(folder) -> list[dict]:
    with open(folder / "trials.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


FAILURES = {2: RuntimeError("XLA blew up"), 3: NncompileError("no data"), 4: ValueError("bad")}
FAILURES[5] = OSError()


def test_failing_trials_are_recorded_and_the_sweep_goes_on(tmp_path):
    def train(values):
        if values["h"] in FAILURES:
            raise FAILURES[values["h"]]
        return Done(1.0 / values["h"])

    lines: list[str] = []
    out = tmp_path / "sweep"
    trials = run_sweep(
        [{"h": h} for h in range(1, 7)],
        train,
        out,
        metric="val_loss",
        direction="minimize",
        report=lines.append,
    )
    assert [t.objective for t in trials] == [1.0, None, None, None, None, 1 / 6]
    reasons = [str(t.reason) for t in trials[1:5]]
    assert reasons == ["RuntimeError: XLA blew up", "no data", "ValueError: bad", "OSError"]
    table = rows(out)
    assert [r["trial"] for r in table] == ["1", "2", "3", "4", "5", "6"]
    assert table[1]["val_loss"] == "" and table[1]["note"] == "RuntimeError: XLA blew up"
    assert json.loads((out / "best.json").read_text())["best"]["trial"] == 6
    assert all("failed" in line for line in lines[1:5])


def test_results_are_written_after_every_trial(tmp_path):
    out = tmp_path / "sweep"
    seen: list[list[str]] = []

    def train(values):
        if out.exists() and (out / "trials.csv").exists():
            seen.append([r["trial"] for r in rows(out)])
        else:
            seen.append([])
        if values["h"] == 3:
            raise KeyboardInterrupt  # the sweep stops; what ran stays recorded
        return Done(float(values["h"]))

    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            [{"h": 1}, {"h": 2}, {"h": 3}],
            train,
            out,
            metric="val_loss",
            direction="minimize",
            report=lambda line: None,
        )
    assert seen == [[], ["1"], ["1", "2"]]
    assert [r["trial"] for r in rows(out)] == ["1", "2"]
    assert json.loads((out / "best.json").read_text())["best"]["trial"] == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# ---- sweep strings reach the spec unmangled ------------------------------------------------------
def let_value(text: str):
    return parse(f"let a = {text}").items[0].value.value


STRINGS = ["é.csv", "日本.csv", 'a"b', "back\\slash", "two\nlines", "tab\there", "\\n", "emoji 🙂"]


def test_sweep_strings_round_trip_through_the_spec():
    assert [let_value(as_text(value)) for value in STRINGS] == STRINGS


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_sweep_string_round_trips(value):
    assert let_value(as_text(value)) == value


SWEEP = """
let path = "x.csv"
data D {{ source: csv(path, target="label")  split: {{train: 0.5, val: 0.5}} }}
model M {{ input x: [2]  dense(2, activation=softmax) }}
train main {{ model: M  data: D  loss: categorical_crossentropy  epochs: 1  batch_size: 8 }}
sweep s {{ train: main  grid: {{path: [{paths}]}} }}
"""


def write_csv(path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    lines = [f"{a:.3f},{b:.3f},{int(a > 0)}" for a, b in x]
    path.write_text("a,b,label\n" + "\n".join(lines) + "\n", encoding="utf-8")


def test_a_sweep_over_non_ascii_paths_with_failing_trials(tmp_path, monkeypatch, capsys):
    for name in ("é.csv", "b.csv", "c.csv"):
        write_csv(tmp_path / name)
    path = tmp_path / "s.nn"
    paths = '"é.csv", "missing.csv", "b.csv", "c.csv"'
    path.write_text(SWEEP.format(paths=paths), encoding="utf-8")
    fit, calls = nncompile.api.Program.fit, []

    def flaky(self, *args, **kwargs):  # the third trial fails inside XLA
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("INTERNAL: XLA failed to compile")
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(nncompile.api.Program, "fit", flaky)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    table = rows(out)
    assert [r["path"] for r in table] == ["é.csv", "missing.csv", "b.csv", "c.csv"]
    done = [r["val_loss"] != "" for r in table]
    assert done == [True, False, False, True]  # é.csv trains; the sweep goes on past two failures
    assert "missing.csv" in table[1]["note"] and "XLA failed" in table[2]["note"]
    assert json.loads((out / "best.json").read_text(encoding="utf-8"))["best"]["trial"] in (1, 4)


# ---- export --------------------------------------------------------------------------------------
def test_export_rejects_unknown_platforms_with_the_choices(tmp_path, capsys):
    spec = tmp_path / "s.nn"
    spec.write_text(SWEEP.format(paths='"x.csv"'))
    out = tmp_path / "m.stablehlo"
    code = main(
        ["export", str(spec), "--run", str(tmp_path), "-o", str(out), "--platforms", "evil"]
    )
    err = capsys.readouterr().err
    assert code == 1 and "unknown platform 'evil'" in err and "cpu, cuda, rocm, tpu" in err
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_export_to_a_folder_is_refused_and_leaves_no_temporary_file(tmp_path, capsys):
    spec = tmp_path / "s.nn"
    spec.write_text(SWEEP.format(paths='"x.csv"'))
    folder = tmp_path / "artifacts"
    folder.mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = main(["export", str(spec), "--run", str(tmp_path), "-o", str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and "is a folder" in err and "model.stablehlo" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


# ---- --set takes one value -----------------------------------------------------------------------
def test_set_with_trailing_text_is_rejected(tmp_path, capsys):
    spec = tmp_path / "s.nn"
    spec.write_text("let h = 2\n" + SWEEP.format(paths='"x.csv"').replace("dense(2,", "dense(h,"))
    with pytest.raises(CompileError) as e:
        nncompile.compile(spec, sets={"h": "4 let h = 8"})
    (d,) = e.value.diagnostics
    assert d.code == "E300" and "more than one value" in d.message and d.hint
    assert main(["plan", "--set", "h=4 let h = 8", str(spec)]) == 1
    assert "more than one value" in capsys.readouterr().err


# ---- ~ in data paths: check and train agree (both expand it) -------------------------------------
def test_tilde_paths_check_and_train_alike(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    write_csv(home / "d.csv")
    monkeypatch.setenv("HOME", str(home))
    spec = tmp_path / "s.nn"
    spec.write_text(SWEEP.format(paths='"~/d.csv"').replace('"x.csv"', '"~/d.csv"'))
    assert main(["check", str(spec)]) == 0
    assert "not found" not in capsys.readouterr().err
    program = nncompile.compile(spec)
    splits = program.load_data().splits
    assert len(splits["train"][0]) + len(splits["val"][0]) == 40
    spec.write_text(SWEEP.format(paths='"~/nope.csv"').replace('"x.csv"', '"~/nope.csv"'))
    main(["check", str(spec)])
    assert f"looked for {home / 'nope.csv'}" in capsys.readouterr().err


# ---- batch_size larger than the data: said, not silent -------------------------------------------
def test_batch_size_larger_than_the_data_is_a_warning(tmp_path, capsys):
    write_csv(tmp_path / "x.csv")
    spec = tmp_path / "s.nn"
    spec.write_text(SWEEP.format(paths='"x.csv"').replace("batch_size: 8", "batch_size: 1000"))
    assert main(["train", str(spec), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert re.search(
        r"warning: batch_size 1000 is larger than the train split \(2\d examples\)", err
    )
    assert "full-batch" in err
