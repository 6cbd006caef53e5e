"""Hardening: bracket diagnostics (one string-aware scanner, syntax/lines.py): brackets in strings
and comments do not count, and a closer of an outer bracket names the inner one left open."""

from __future__ import annotations

import pytest

import nncompile
from nncompile.diagnostics import CompileError
from nncompile.syntax.lines import code_chars, scan


def test_code_chars_skip_strings_and_stop_at_the_comment():
    line = 'dense(3, name="a(b\\"(")  # (x'
    assert "".join(ch for _, ch in code_chars(line)) == "dense(3, name=)  #"
    assert scan(line) == ("dense(3, name=)  ", line.index("#"))


@pytest.mark.parametrize(
    ("body", "message", "hint"),
    [
        (
            '  input x: [4]   # a comment ( with a bracket\n  dense(3, name="a(b\\"(")\n'
            "  dense(2\n}\n",
            "<string>:5:1: error[E100]: unexpected '}': the parenthesis '(' opened at line 4 is "
            "not closed",
            "add the closing ')' before it",
        ),
        (
            "  input x: [4]\n  dense(3, activation=[relu)\n}\n",
            "<string>:3:28: error[E100]: unexpected ')': the bracket '[' opened at line 3 is not "
            "closed",
            "add the closing ']' before it",
        ),
        (
            "  input x: [4]\n  dense(3))\n}\n",
            "<string>:3:11: error[E100]: unexpected ')'",
            "this ')' closes nothing: remove it",
        ),
    ],
)
def test_unclosed_brackets_are_named(body, message, hint):
    with pytest.raises(CompileError) as e:
        nncompile.compile(text="model M {\n" + body)
    (d,) = e.value.diagnostics
    assert str(e.value).startswith(message), str(e.value)
    assert d.hint is not None and d.hint.startswith(hint)
