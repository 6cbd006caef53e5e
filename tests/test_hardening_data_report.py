"""Hardening: `nncompile data` draws its report with rich in a terminal and prints plain text when
piped; the target range table is headed "target" (it said "feature")."""

from __future__ import annotations

import sys
from pathlib import Path

from nncompile.cli import main

SPEC = str(Path(__file__).resolve().parents[1] / "specs" / "simple_ann_regression.nn")


def test_piped_report_is_plain_text(capsys):
    assert main(["data", SPEC]) == 0
    out = capsys.readouterr().out
    assert "┏" not in out and "\x1b[" not in out
    head = out.split("target range y (data units, all rows):\n")[1].splitlines()[0]
    assert head.split() == ["target", "min", "mean", "max", "std", "missing"]


def test_terminal_report_is_drawn_with_rich(capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["data", SPEC]) == 0
    out = capsys.readouterr().out
    assert "┏" in out and "│ age " in out  # tables
    assert "target range y (data units, all rows)" in out
    assert "no problems found" in out and "train 310 rows" in out
