"""Syntax errors whose message alone said little (`unexpected number 10`, `unexpected ','`,
`unexpected character '@'`) get a hint from the text before the token: a second value for one
property, a call without parentheses, a keyword argument without `=`, two commas in a row, a
character the language does not use, an unclosed string."""

from __future__ import annotations

import pytest

import nncompile

MODEL = "model M {\n  input x: [4]\n  LINE\n}\n"


def hint_of(text: str) -> tuple[str, str | None]:
    (d,) = nncompile.check(text=text)
    return d.message, d.hint


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            "train {\n  epochs:    10 10\n}\n",
            "unexpected number 10",
            "`epochs` takes one value: remove the extra one (a list is written [a, b])",
        ),
        (
            "train { model: M  epochs: 10 10 }\n",
            "unexpected number 10",
            "`epochs` takes one value: remove the extra one (a list is written [a, b])",
        ),
        (
            MODEL.replace("LINE", "dense 64"),
            "unexpected number 64",
            "arguments go in parentheses: dense(64)",
        ),
        (
            'data d {\n  source: sklearn "digits"\n}\n',
            'unexpected string "digits"',
            'arguments go in parentheses: sklearn("digits")',
        ),
        (
            MODEL.replace("LINE", "dense(32, activation relu)"),
            "unexpected name relu",
            "keyword arguments are written key=value: activation=relu",
        ),
        (
            MODEL.replace("LINE", "h = dense(128,, activation=relu)"),
            "unexpected ','",
            "two ',' in a row: remove one",
        ),
        (
            MODEL.replace("LINE", "h = dense(, 3)"),
            "unexpected ','",
            "an argument is missing before this ','",
        ),
        (
            MODEL.replace("LINE", "@dense(3)"),
            "unexpected character '@'",
            "'@' is not part of the language: remove it",
        ),
        (
            MODEL.replace("LINE", "dense(3)\u200b"),
            "unexpected character U+200B",
            "an invisible character (often pasted with the text): delete it",
        ),
        (
            'data d { source: sklearn("digits) }\n',
            "unexpected character '\"'",
            'a string ends on its line: "digits"',
        ),
    ],
)
def test_the_hint_says_what_to_change(text, message, hint):
    assert hint_of(text) == (message, hint)


def test_a_missing_comma_in_a_dict_keeps_the_expected_tokens():
    """Inside a dict or a list the tokens the parser expects say it (not `takes one value`)."""
    text = 'data d { source: sklearn("digits")  split: {train: 0.8 val: 0.2} }\n'
    assert hint_of(text) == ("unexpected name val", "expected ',' or '}'")
