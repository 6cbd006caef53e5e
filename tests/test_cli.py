"""The `nncompile` command: exit codes, JSON diagnostics, summaries, and no heavy imports for
check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nncompile.cli import main

ROOT = Path(__file__).resolve().parents[1]

MLP = """\
# a small MLP on iris; parameters by hand: 4*8+8 = 40, 0, 8*3+3 = 27 -> 67
data iris { source: sklearn("iris")  split: {train: 0.7, val: 0.15, test: 0.15} }

model IrisMLP {
  input x: [4]
  dense(8, activation=relu)
  dropout(0.1)
  dense(3, activation=softmax)
}

model NoBias {
  input x: [4]
  dense(16, use_bias=false)   # 4*16 = 64
  batch_norm()                # scale, bias, mean, variance: 4*16 = 64
  relu
  dense(3, activation=softmax)  # 16*3+3 = 51 -> 179
}

train { model: IrisMLP  data: iris  loss: categorical_crossentropy  metrics: [accuracy] }
"""

BROKEN = """\
data iris { source: sklearn("iris") }
model IrisMLP {
  input x: [4]
  dense(8, activaton=relu)
  dense(3, activation=softmx)
}
"""


def nn(tmp_path: Path, text: str, name: str = "spec.nn") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """main(argv) in-process; argparse's SystemExit becomes the exit code."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(text: str):
    def no_constants(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=no_constants)


def python(code: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


# ---- exit codes ----------------------------------------------------------------------------------
def test_check_clean_spec_exits_0(tmp_path, capsys):
    code, out, err = run(["check", nn(tmp_path, MLP)], capsys)
    assert code == 0, err
    assert "checked 1 file: ok" in out
    assert err == ""


def test_check_errors_exit_1_with_every_error(tmp_path, capsys):
    path = nn(tmp_path, BROKEN)
    code, _, err = run(["check", path], capsys)
    assert code == 1
    assert f"{path}:4:12: error[E302]: dense() has no argument 'activaton'" in err
    assert f"{path}:5:23: error[E200]: unknown activation 'softmx'" in err
    assert "did you mean 'activation'?" in err and "did you mean 'softmax'?" in err
    assert err.rstrip().endswith("checked 1 file: 2 errors")


def test_check_several_files_counts_all(tmp_path, capsys):
    code, _, err = run(["check", nn(tmp_path, MLP, "a.nn"), nn(tmp_path, BROKEN, "b.nn")], capsys)
    assert code == 1
    assert err.rstrip().endswith("checked 2 files: 2 errors")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["check"],
        ["check", "--bogus", "x.nn"],
        ["frobnicate"],
        ["check", "--format", "yaml", "x.nn"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert "usage:" in out + err
    assert "Traceback" not in out + err


def test_no_arguments_exit_2_from_the_real_command():
    result = subprocess.run(
        [sys.executable, "-m", "nncompile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 2
    assert "usage:" in result.stdout + result.stderr


def test_check_help(capsys):
    code, out, _ = run(["check", "--help"], capsys)
    assert code == 0
    assert "usage:" in out and "--format" in out and "FILE" in out


# ---- JSON ----------------------------------------------------------------------------------------
def test_check_json(tmp_path, capsys):
    path = nn(tmp_path, BROKEN)
    code, out, _ = run(["check", "--format", "json", path], capsys)
    assert code == 1
    found = strict_json(out)
    assert isinstance(found, list) and len(found) == 2
    for d in found:
        assert {"path", "line", "column", "end", "code", "message", "hint"} <= set(d)
        assert d["path"] == path
        assert isinstance(d["line"], int) and isinstance(d["column"], int)
        assert set(d["end"]) == {"line", "column"}
    first = found[0]
    assert (first["line"], first["column"], first["end"]) == (4, 12, {"line": 4, "column": 21})
    assert (first["code"], first["message"]) == ("E302", "dense() has no argument 'activaton'")
    assert first["hint"] == "did you mean 'activation'?"


def test_check_json_clean_and_syntax_error(tmp_path, capsys):
    code, out, _ = run(["check", "--format", "json", nn(tmp_path, MLP)], capsys)
    assert (code, strict_json(out)) == (0, [])
    code, out, _ = run(
        ["check", "--format", "json", nn(tmp_path, "model M { input x: [4]", "bad.nn")], capsys
    )
    assert code == 1
    (d,) = strict_json(out)
    assert d["code"] == "E102"


def test_check_json_unreadable_file(tmp_path, capsys):
    (tmp_path / "bytes.nn").write_bytes(b"model \xff\xfe {}")
    code, out, _ = run(
        ["check", "--format", "json", str(tmp_path / "bytes.nn"), str(tmp_path / "gone.nn")], capsys
    )
    assert code == 1
    assert [d["code"] for d in strict_json(out)] == ["E103", "E504"]


# ---- summary -------------------------------------------------------------------------------------
def test_summary_lists_layers_and_parameters(tmp_path, capsys):
    code, out, err = run(["summary", nn(tmp_path, MLP)], capsys)
    assert code == 0, err
    tables = {}  # model -> {layer: (shape, params)}, and its total
    for part in out.split("\nmodel ")[0:]:
        name = part.removeprefix("model ").split("\n", 1)[0].strip()
        rows = [line.split() for line in part.splitlines()]
        tables[name] = {r[1]: (r[-2], r[-1]) for r in rows if len(r) >= 5 and r[0].isdigit()}
        tables[name]["input"] = next(
            ((r[-1]) for r in rows if len(r) >= 3 and r[1] == "input"), None
        )
        tables[name]["total"] = next(
            (r[-1] for r in rows if r[:2] == ["total", "parameters:"]), None
        )
    assert tables["IrisMLP"] == {
        "dense_1": ("[8]", "40"),
        "dropout_1": ("[8]", "0"),
        "dense_2": ("[3]", "27"),
        "input": "[4]",
        "total": "67",
    }
    assert tables["NoBias"]["dense_1"] == ("[16]", "64")
    assert tables["NoBias"]["batch_norm_1"] == ("[16]", "64")
    assert tables["NoBias"]["dense_2"] == ("[3]", "51")
    assert tables["NoBias"]["total"] == "179"


def test_summary_json(tmp_path, capsys):
    code, out, _ = run(["summary", "--format", "json", nn(tmp_path, MLP)], capsys)
    assert code == 0
    models = strict_json(out)["models"]
    assert models["IrisMLP"]["params"] == 67 and models["NoBias"]["params"] == 179
    assert [layer["params"] for layer in models["IrisMLP"]["layers"]] == [0, 40, 0, 27]


def test_summary_of_a_broken_spec_exits_1(tmp_path, capsys):
    code, out, err = run(["summary", nn(tmp_path, BROKEN)], capsys)
    assert code == 1
    assert "error[E302]" in err and out == ""


# ---- no heavy imports ----------------------------------------------------------------------------
HEAVY = (
    "print(sorted(m for m in sys.modules "
    "if m.split('.')[0] in {'jax', 'flax', 'optax', 'sklearn'}))"
)


@pytest.mark.parametrize("command", ["check", "summary"])
def test_check_and_summary_import_no_jax(tmp_path, command):
    path = nn(tmp_path, MLP)
    result = python(
        f"import sys; from nncompile.cli import main; code = main([{command!r}, {path!r}]); "
        f"{HEAVY}; print(code)"
    )
    assert result.returncode == 0, result.stderr
    *_, modules, code = result.stdout.strip().splitlines()
    assert (modules, code) == ("[]", "0")


def test_check_of_errors_imports_no_jax(tmp_path):
    path = nn(tmp_path, BROKEN)
    result = python(
        f"import sys; from nncompile.cli import main; code = main(['check', {path!r}]); {HEAVY}"
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


# ---- files that are not specs --------------------------------------------------------------------
@pytest.mark.parametrize("what", ["directory", "missing"])
def test_check_of_a_directory_or_missing_file(tmp_path, what):
    target = tmp_path if what == "directory" else tmp_path / "nope.nn"
    result = python(
        f"import sys; from nncompile.cli import main; sys.exit(main(['check', {str(target)!r}]))"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{target}:1:1: error[E504]: " in result.stderr
    assert ("is a directory" if what == "directory" else "no such file") in result.stderr
    assert result.stderr.rstrip().endswith("checked 1 file: 1 error")


def test_summary_of_a_missing_file(tmp_path, capsys):
    code, _, err = run(["summary", str(tmp_path / "nope.nn")], capsys)
    assert code == 1
    assert "error[E504]" in err and "no such file" in err
