"""The error corpus: one small, realistic spec per mistake, with the diagnostics a user sees.

``tests/errors/NAME.nn`` starts with a comment saying what is wrong. ``NAME.expected`` holds exactly
what ``nncompile check tests/errors/NAME.nn`` prints to stderr when run from the repository root,
without its last line (``checked 1 file: N errors``). Regenerate with ``pytest --update-golden``,
then read every changed file as a user would: right span, clear message, helpful hint.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nncompile
from nncompile.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "errors"
SPECS = sorted(p.stem for p in CORPUS.glob("*.nn"))
HEADLINE = re.compile(
    r"^(?P<path>\S+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>E\d{3})\]: ", re.M
)


def run_check(name: str, capsys, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.chdir(ROOT)
    capsys.readouterr()
    code = main(["check", f"tests/errors/{name}.nn"])
    out, err = capsys.readouterr()
    return code, out, err


def expected_text(stderr: str) -> str:
    """stderr minus its final ``checked ...`` line."""
    lines = stderr.rstrip("\n").split("\n")
    assert lines[-1].startswith("checked 1 file: "), f"no summary line at the end of:\n{stderr}"
    return "\n".join(lines[:-1]) + "\n"


@pytest.mark.parametrize("name", SPECS)
def test_error_corpus(name, capsys, monkeypatch, update_golden):
    code, out, err = run_check(name, capsys, monkeypatch)
    assert "Traceback" not in out + err
    assert code == 1, f"{name}.nn should have errors:\n{err}"
    assert HEADLINE.search(err), err
    text = expected_text(err)
    golden = CORPUS / f"{name}.expected"
    if update_golden:
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"missing {golden.name}: run pytest --update-golden and review it"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SPECS)
def test_corpus_file_says_what_is_wrong(name):
    first = (CORPUS / f"{name}.nn").read_bytes().split(b"\n", 1)[0]
    assert re.match(rb"# mistakes?\b", first), f"{name}.nn must start with '# mistake: ...'"


def test_diagnostics_are_sorted_and_inside_the_file():
    for name in SPECS:
        path = CORPUS / f"{name}.nn"
        diagnostics = nncompile.check(path=str(path))
        assert diagnostics, name
        positions = [(d.span.line, d.span.column) for d in diagnostics]
        assert positions == sorted(positions), name
        lines = path.read_bytes().count(b"\n") + 1
        assert all(1 <= line <= lines for line, _ in positions), name


def test_files_with_several_mistakes_report_them_all():
    multi = [n for n in SPECS if n.startswith("multi_")]
    assert len(multi) >= 3
    for name in multi:
        said = re.search(r"\((\d+)", (CORPUS / f"{name}.nn").read_text().split("\n", 1)[0])
        assert said, f"{name}.nn: say how many mistakes, '# mistakes (N): ...'"
        found = HEADLINE.findall((CORPUS / f"{name}.expected").read_text())
        assert len(found) == int(said[1]) >= 3, name
        assert len({line for _, line, _, _ in found}) == len(found), (
            f"{name}: one diagnostic per mistake"
        )


def test_no_stale_expected_files():
    assert sorted(p.stem for p in CORPUS.glob("*.expected")) == SPECS


def test_corpus_size_and_variety():
    assert len(SPECS) >= 36
    pairs = set()
    for name in SPECS:
        for d in nncompile.check(path=str(CORPUS / f"{name}.nn")):
            pairs.add((d.code, " ".join(d.message.split()[:2])))
    assert len(pairs) >= 30, sorted(pairs)
