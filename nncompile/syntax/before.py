"""Hints for a syntax error from the text before the unexpected token on its line: a second value
for one property (`epochs: 10 10`), a call without parentheses (`dense 64`), a keyword argument
without `=` (`activation relu`), two commas in a row (`dense(128,, ...)`)."""

from __future__ import annotations

import re

from lark import Token

from ..source import Source

_VALUE = ("NUMBER", "NAME", "STRING", "TRUE", "FALSE")
_ONE_VALUE = re.compile(r"(\w+)\s*:\s*[^\s:{}\[\](),]+\s+$")  # `key: value ` before the token
_CALLED = re.compile(r"(?:^|[\s{])(\w+)\s+$")  # `dense ` before the token
_BLOCK_OPENER = re.compile(r"\s*(data|model|train|sweep)\b[^{]*$")  # the text before its `{`


def before(source: Source, token: Token, accepts, opener) -> str | None:
    """A hint from what precedes the token on its line: a second value for one property
    (`epochs: 10 10`), a call without parentheses (`dense 64`), a keyword argument without `=`
    (`activation relu`), two commas in a row."""
    line, column = token.line, token.column
    assert line is not None and column is not None
    prefix = source.line(line)[: column - 1]
    if token.type == "COMMA" and prefix.rstrip().endswith((",", "(")):
        return (
            "two ',' in a row: remove one"
            if prefix.rstrip().endswith(",")
            else "an argument is missing before this ','"
        )
    called = _CALLED.search(prefix)
    if token.type not in _VALUE or opener is None:
        return None
    if opener[0] == "(" and called is not None and "EQUAL" in accepts:
        return f"keyword arguments are written key=value: {called[1]}={token.value}"
    block = _BLOCK_OPENER.match(source.line(opener[1])[: opener[2] - 1])
    if opener[0] != "{" or block is None:
        return None  # (in a dict or a list: the expected tokens say it)
    value = _ONE_VALUE.search(prefix)
    call = called is not None and "LPAR" in accepts and not called[1][0].isdigit()
    if called is not None and call and (token.type in ("NUMBER", "STRING") or value is None):
        return f"arguments go in parentheses: {called[1]}({token.value})"  # (`sklearn "digits"`)
    if value is not None:
        return f"`{value[1]}` takes one value: remove the extra one (a list is written [a, b])"
    return None
