"""`nncompile fmt FILE... [--check] [--diff]` and the pre-commit hooks."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from nncompile.cli import main

ROOT = Path(__file__).resolve().parents[1]
UGLY = "let  a=1\nmodel M{input x:[a]\ndense(2)}\n"
PRETTY = "let a = 1\n\nmodel M {\n  input x: [a]\n  dense(2)\n}\n"


def test_fmt_rewrites_files_in_place(tmp_path, capsys):
    ugly, pretty = tmp_path / "ugly.nn", tmp_path / "pretty.nn"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    assert main(["fmt", str(ugly), str(pretty)]) == 0
    assert ugly.read_text() == PRETTY and pretty.read_text() == PRETTY
    err = capsys.readouterr().err
    assert f"reformatted {ugly}\n" in err and "1 of 2 files reformatted" in err
    assert str(pretty) not in err


def test_check_exits_1_on_unformatted_input_and_changes_nothing(tmp_path, capsys):
    ugly, pretty = tmp_path / "ugly.nn", tmp_path / "pretty.nn"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    assert main(["fmt", "--check", str(ugly), str(pretty)]) == 1
    assert ugly.read_text() == UGLY
    assert f"would reformat {ugly}" in capsys.readouterr().err
    assert main(["fmt", "--check", str(pretty)]) == 0


def test_diff_prints_a_unified_diff(tmp_path, capsys):
    ugly = tmp_path / "ugly.nn"
    ugly.write_text(UGLY)
    assert main(["fmt", "--diff", str(ugly)]) == 0
    out = capsys.readouterr().out
    assert ugly.read_text() == UGLY
    assert out.startswith(f"--- {ugly} (original)\n+++ {ugly} (formatted)\n@@ ")
    assert "\n-let  a=1\n" in out and "\n+let a = 1\n" in out and "\n+  dense(2)\n" in out


def test_syntax_errors_are_diagnostics_and_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.nn"
    bad.write_text("let a = (1\n")
    assert main(["fmt", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:1:9: error[E102]" in err and "Traceback" not in err
    assert bad.read_text() == "let a = (1\n"


def test_stdin_to_stdout(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(UGLY.encode())))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == PRETTY


def test_the_cli_entry_point_runs_it(tmp_path):
    ugly = tmp_path / "ugly.nn"
    ugly.write_text(UGLY)
    done = subprocess.run(
        [sys.executable, "-m", "nncompile", "fmt", "--check", str(ugly)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 1 and "would reformat" in done.stderr


def test_pre_commit_hooks_run_fmt_and_check_on_nn_files():
    # a list of mappings, each `- id:` followed by its `key: value` lines (no YAML parser needed)
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    hooks = {}
    for chunk in text.split("\n- ")[1:]:
        fields = dict(line.strip().split(": ", 1) for line in chunk.splitlines() if ": " in line)
        hooks[fields["id"]] = fields
    assert hooks["nncompile-fmt"]["entry"] == "nncompile fmt"
    assert hooks["nncompile-fmt-check"]["entry"] == "nncompile fmt --check"
    assert hooks["nncompile-check"]["entry"] == "nncompile check"
    assert all(h["files"] == r"\.nn$" and h["language"] == "python" for h in hooks.values())
