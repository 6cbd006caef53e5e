"""Syntax-error recovery: every syntax error of a file in one run, at its line, without cascades;
semantic checks still run on the items that parsed (the corpus is tests/errors/multi_syntax_*)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nncompile
from nncompile.compiler import analyse
from nncompile.diagnostics import CompileError
from nncompile.source import Source
from nncompile.syntax.parser import parse_all
from nncompile.syntax.recover import MAX_ERRORS

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.nn"))
SYNTAX = {"E100", "E101", "E102"}

MODEL = "model M{n} {{\n  input x: [4]\n  dense(3, activation=softmax)\n}}\n"
TRAIN = (
    "train {{\n  model: {model}\n  data: iris\n  loss: categorical_crossentropy\n"
    "  optimizer: adam(lr=1e-3)\n}}\n"
)
DATA = 'data iris {\n  source: sklearn("iris")\n  split: {train: 0.8, val: 0.2}\n}\n'


def errors(text: str) -> list[tuple[int, str, str]]:
    return [(d.span.line, d.code, d.message) for d in nncompile.check(text=text)]


def test_the_corpus_has_ten_files_of_several_syntax_errors():
    files = sorted((ROOT / "tests" / "errors").glob("multi_syntax_*.nn"))
    assert len(files) >= 10
    for path in files:
        codes = re.findall(r"error\[(E\d+)\]", path.with_suffix(".expected").read_text())
        assert len(codes) >= 3 and sum(c in SYNTAX for c in codes) >= 2, path.name


def test_errors_in_three_blocks_are_all_reported_and_the_rest_is_checked():
    text = (
        DATA.replace("0.8,", "0.8")
        + MODEL.format(n=1).replace("3,", "3")
        + "model Fine {\n  input x: [4]\n  dense(3, activation=sofmax)\n}\n"
        + TRAIN.format(model="M1").replace("loss:", "loss =")
    )
    assert errors(text) == [
        (3, "E100", "unexpected name val"),
        (7, "E100", "unexpected name activation"),
        (11, "E200", "unknown activation 'sofmax'"),
        (16, "E100", "unexpected '='"),
    ]


def test_no_follow_on_errors_about_items_that_did_not_parse():
    text = (
        "let width = \n"  # the let, the model and the data block are broken
        + DATA.replace("split:", "split")
        + MODEL.format(n=1).replace("[4]", "[4")
        + "model N {\n  input x: [width]\n  M1\n}\n"  # uses the broken let and model
        + TRAIN.format(model="M1")
        + TRAIN.replace("train {", "train other {").format(model="N")
    )
    found = errors(text)
    assert [line for line, _, _ in found] == [1, 4, 8]
    assert all(code in SYNTAX for _, code, _ in found), found


def test_parse_raises_every_syntax_error_sorted():
    with pytest.raises(CompileError) as e:
        nncompile.parse("let a = 1;\nlet b = 2;\nlet c = (3\n")
    assert [(d.span.line, d.code) for d in e.value.diagnostics] == [
        (1, "E101"),
        (2, "E101"),
        (3, "E102"),
    ]


def test_the_items_that_parsed_are_kept_with_their_spans():
    result = parse_all(Source("let a = 1\nlet b = = 2\nlet c = 3\n", "x.nn"))
    assert [(i.name, i.span.line) for i in result.spec.items] == [("a", 1), ("c", 3)]
    assert result.broken == {"b"}
    program, diagnostics = analyse(Source("let a = 1\nlet b = = 2\n", "x.nn"))
    assert program is None and [d.span.line for d in diagnostics] == [2]


def test_the_number_of_errors_is_capped():
    text = "".join(f"let a{i} = = {i}\n" for i in range(MAX_ERRORS + 20))
    assert len(errors(text)) == MAX_ERRORS


def test_an_error_swallowing_the_next_item_is_reported_once_at_its_place():
    # `let lr = 1e-3 +` reads the next line's `data` as a name: the error is the let's
    found = errors("let lr = 1e-3 +\n\n" + DATA + MODEL.format(n=1))
    assert found == [(1, "E102", "unexpected end of the item: line 3 starts a new `data`")]


def _comment_start(line: str) -> int:
    """Where a line's comment starts (a `#` outside a string), else the end of its code."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return i
    return len(line.rstrip())


@st.composite
def corrupted(draw):
    """A spec of specs/ with 1-4 of its code lines broken by a character the language lacks."""
    path = draw(st.sampled_from(SPECS))
    lines = path.read_text().split("\n")
    code = [n for n, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    chosen = sorted(draw(st.lists(st.sampled_from(code), min_size=1, max_size=4, unique=True)))
    for n in chosen:
        line = lines[n]
        cut = _comment_start(line)
        lines[n] = line[:cut].rstrip() + draw(st.sampled_from([" @", ";", " $"])) + line[cut:]
    return str(path), "\n".join(lines), [n + 1 for n in chosen]


@settings(settings.get_profile("repeatable"), max_examples=60)
@given(corrupted())
def test_broken_lines_are_reported_where_they_are_and_nowhere_else(case):
    path, text, broken = case
    program, diagnostics = analyse(Source(text, path))
    assert program is None
    syntax = [d.span.line for d in diagnostics if d.code in SYNTAX]
    assert syntax[0] == broken[0], (broken, syntax)  # the first is always found
    assert set(syntax) <= set(broken) and len(syntax) == len(set(syntax)), (broken, syntax)
    # the others too, unless an earlier one broke the same item at a line that cannot be blanked
    assert len(syntax) >= len({_item(text, n) for n in broken}), (broken, syntax)


def _item(text: str, line: int) -> int:
    """The first line of the top-level item that holds ``line``."""
    starts = [
        n
        for n, s in enumerate(text.split("\n"), 1)
        if re.match(r"(let|data|model|train|sweep)\b", s)
    ]
    return max([s for s in starts if s <= line], default=0)
