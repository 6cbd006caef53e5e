"""Syntax errors as diagnostics: what Lark reports, turned into the language's words at the place
the mistake was made (unclosed brackets, malformed numbers, keywords out of place)."""

from __future__ import annotations

import re
from typing import cast

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .. import diagnostics as D
from ..diagnostics import CompileError, Diagnostic
from ..source import Source, Span
from .before import before
from .lines import code_chars

MAX_NESTING = 64  # brackets deeper than this are refused before parsing (no recursion blow-up)


def where(token: Token) -> tuple[int, int]:
    """A token's line and column (lark types them optional; a token of the text has both)."""
    assert token.line is not None and token.column is not None
    return token.line, token.column


_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_WHAT = {"(": "parenthesis", "[": "bracket", "{": "block"}


def _scan_brackets(text: str):
    """Yield (char, line, column) for every bracket outside strings and comments (1-based)."""
    for line, row in enumerate(text.split("\n"), 1):
        for column, ch in code_chars(row):
            if ch in _OPENERS or ch in _CLOSERS:
                yield ch, line, column + 1


def check_nesting(source: Source) -> None:
    depth = 0
    for ch, line, column in _scan_brackets(source.text):
        depth = depth + 1 if ch in _OPENERS else max(0, depth - 1)
        if depth > MAX_NESTING:
            raise CompileError(
                [
                    Diagnostic(
                        D.SYNTAX,
                        f"brackets nested more than {MAX_NESTING} deep",
                        Span(line, column, line, column + 1),
                        "flatten the nesting",
                        source.path,
                    )
                ],
                source,
            )


def _unclosed(source: Source) -> tuple[str, int, int] | None:
    stack: list[tuple[str, int, int]] = []
    for ch, line, column in _scan_brackets(source.text):
        if ch in _OPENERS:
            stack.append((ch, line, column))
        elif stack and stack[-1][0] == _CLOSERS[ch]:
            stack.pop()
    return stack[-1] if stack else None


_TOKEN_TEXT = {
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "NAME": "a name",
    "NUMBER": "a number",
    "INT": "a whole number",
    "STRING": "a string",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "DATA": "'data'",
    "MODEL": "'model'",
    "TRAIN": "'train'",
    "SWEEP": "'sweep'",
    "LET": "'let'",
    "INPUT": "'input'",
    "OUTPUT": "'output'",
    "INT_TYPE": "'int'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "$END": "end of file",
}


def _describe(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type in ("NAME", "NUMBER", "INT", "STRING"):
        return (
            f"{_TOKEN_TEXT[token.type].split(' ', 1)[1]} {token.value}"
            if token.type != "STRING"
            else f"string {token.value}"
        )
    return f"'{token.value}'"


# arithmetic operators may follow any value: listing them would only hide what else is expected
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH"}


def _expected(names) -> str:
    shown = sorted(
        {_TOKEN_TEXT.get(n, n) for n in names if not n.startswith("__") and n not in _OPERATORS}
    )
    if not shown or len(shown) > 6:
        return ""
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def diagnose(e: UnexpectedInput, source: Source) -> Diagnostic:
    path = source.path
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        opener = _unclosed(source)
        if opener:
            ch, line, column = opener
            return Diagnostic(
                D.UNCLOSED,
                f"unexpected end of file: the {_WHAT[ch]} '{ch}' opened here is never closed",
                Span(line, column, line, column + 1),
                f"add the closing '{_OPENERS[ch]}'",
                path,
            )
        expected = _expected(e.accepts or e.expected)
        return Diagnostic(
            D.UNCLOSED,
            "unexpected end of file",
            source.end(),
            f"expected {expected}" if expected else None,
            path,
        )
    if isinstance(e, UnexpectedCharacters):
        # lark's base class declares pos_in_stream = None; UnexpectedCharacters sets the offset
        pos = cast(int, e.pos_in_stream)
        ch = source.text[pos] if pos < len(source.text) else "?"
        span = Span(e.line, e.column, e.line, e.column + 1)
        hints = {
            "'": 'strings are written in double quotes: "digits"',
            ";": "statements need no separators: remove the ';'",
            "}": "this '}' closes nothing: remove it or open a block before it",
            ")": "this ')' closes nothing",
            "]": "this ']' closes nothing",
        }
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        what = hints.get(ch) or (
            'a string ends on its line: "digits"'
            if ch == '"'
            else f"{shown} is not part of the language: remove it"
            if ch.isprintable()
            else "an invisible character (often pasted with the text): delete it"
        )
        return Diagnostic(D.BAD_CHARACTER, f"unexpected character {shown}", span, what, path)
    assert isinstance(e, UnexpectedToken)
    token = e.token
    special = (
        _malformed_number(source, token)
        or _misplaced_keyword(source, token)
        or _keras_style(source, token)
    )
    if special:
        return special
    span = Span(
        token.line,
        token.column,
        token.end_line or token.line,
        token.end_column or token.column + len(str(token.value)),
    )
    accepts = e.accepts or e.expected
    expected = _expected(accepts)
    hint = f"expected {expected}" if expected else None
    opener = _innermost_open(source, token)
    # a closer of another bracket than the innermost open one (`dense(2` then `}`): that one
    # is left open, not the closer extra
    wrong_closer = (
        token.type in _CLOSERS_BY_TYPE
        and opener is not None
        and token.value != _OPENERS[opener[0]]
        and _CLOSERS[token.value] in [ch for ch, _, _ in _open_before(source, token)]
    )
    if opener is not None and (
        wrong_closer
        or (
            token.type not in _CLOSERS_BY_TYPE
            and opener[0] in "(["
            and opener[1] < token.line
            and _CLOSER_TYPES[opener[0]] in accepts
        )
    ):
        ch, line, _ = opener
        more = (
            f" (or a ',' if the {'arguments go' if ch == '(' else 'list goes'} on)"
            if "COMMA" in accepts
            else ""
        )
        return Diagnostic(
            D.SYNTAX,
            f"unexpected {_describe(token)}: the {_WHAT[ch]} '{ch}' opened at line {line} "
            "is not closed",
            span,
            f"add the closing '{_OPENERS[ch]}' before it{more}",
            path,
        )
    if token.type in _CLOSERS_BY_TYPE and not _closes_something(source, token):
        hint = f"this '{token.value}' closes nothing: remove it"
    elif token.type == "EQUAL" and "COLON" in (e.accepts or e.expected):
        hint = "properties are written 'key: value'"
    elif token.type == "COLON" and "EQUAL" in (e.accepts or e.expected):
        hint = "arguments are written 'key=value'"
    elif token.type == "COMMA" and opener is not None and _BLOCK_LINE.match(source.line(opener[1])):
        hint = "properties and statements need no separators: remove the ','"
    else:
        hint = before(source, token, accepts, opener) or hint
    return Diagnostic(D.SYNTAX, f"unexpected {_describe(token)}", span, hint, path)


_CLOSERS_BY_TYPE = {"RPAR", "RSQB", "RBRACE"}
_CLOSER_TYPES = {"(": "RPAR", "[": "RSQB", "{": "RBRACE"}


def _open_before(source: Source, token: Token) -> list[tuple[str, int, int]]:
    """The brackets still open just before ``token``, outermost first: (char, line, column)."""
    stack: list[tuple[str, int, int]] = []
    for ch, line, column in _scan_brackets(source.text):
        if (line, column) >= (token.line, token.column):
            break
        if ch in _OPENERS:
            stack.append((ch, line, column))
        elif stack:
            stack.pop()
    return stack


def _innermost_open(source: Source, token: Token) -> tuple[str, int, int] | None:
    """The innermost bracket still open just before ``token``: (char, line, column)."""
    stack = _open_before(source, token)
    return stack[-1] if stack else None


_NUMBERISH = re.compile(r"[0-9A-Za-z_.]+")


def _malformed_number(source: Source, token: Token) -> Diagnostic | None:
    """`1.2.3`, `1e` or `64x`: the lexer split one bad number into several tokens."""
    if token.type not in ("NUMBER", "INT", "NAME") or token.start_pos is None:
        return None
    text = source.text
    start = token.start_pos
    while start > 0 and _NUMBERISH.fullmatch(text[start - 1]):
        start -= 1
    word = _NUMBERISH.match(text, start)
    if start == token.start_pos or word is None or not (word[0][0].isdigit() or word[0][0] == "."):
        return None
    line, column = where(token)
    column -= token.start_pos - start
    span = Span(line, column, line, column + len(word[0]))
    hint = (
        "an exponent needs digits, e.g. 1e-3"
        if word[0][-1] in "eE"
        else "a number looks like 64, 0.5, -2 or 1e-3"
    )
    return Diagnostic(D.SYNTAX, f"malformed number '{word[0]}'", span, hint, source.path)


_BLOCK_LINE = re.compile(r"\s*(data|model|train|sweep)\b")
# a keyword's own construct, told apart from its use as a property key (`data: digits`)
_CONSTRUCTS = {
    "let": re.compile(r"\s*let\s+\w+\s*="),
    "data": re.compile(r"\s*data\s+\w+\s*\{"),
    "model": re.compile(r"\s*model\s+\w+\s*[({]"),
    "train": re.compile(r"\s*train(\s+\w+)?\s*\{"),
    "sweep": re.compile(r"\s*sweep(\s+\w+)?\s*\{"),
    "input": re.compile(r"\s*input\s+\w+\s*:"),
    "output": re.compile(r"\s*output\s+\w+"),
}


def _misplaced_keyword(source: Source, token: Token) -> Diagnostic | None:
    """A top-level construct inside a block (`let` in a model, a `}` forgotten), or `input`
    outside a model."""
    line_no, _ = where(token)
    text = source.line(line_no)
    kw = next((k for k, pattern in _CONSTRUCTS.items() if pattern.match(text)), None)
    if kw is None:
        return None
    column = len(text) - len(text.lstrip()) + 1
    anchor = Token("NAME", kw, line=line_no, column=column)
    opener = _innermost_open(source, anchor)
    if opener is None or opener[0] != "{":
        return None
    block = _BLOCK_LINE.match(source.line(opener[1]))
    if block is None:
        return None
    kind = block[1]
    span = Span(line_no, column, line_no, column + len(kw))
    if kw in ("input", "output"):
        if kind == "model":
            return None
        return Diagnostic(
            D.SYNTAX,
            f"'{kw}' statements belong in model blocks, not in a {kind} block",
            span,
            "move it into the model block",
            source.path,
        )
    if column == 1 and kw != "let":
        _, line, col = opener
        return Diagnostic(
            D.UNCLOSED,
            f"unexpected '{kw}' at line {token.line}: the block '{{' opened here is never closed",
            Span(line, col, line, col + 1),
            f"add the closing '}}' before line {token.line}",
            source.path,
        )
    return Diagnostic(
        D.SYNTAX,
        f"'{kw}' cannot appear inside a {kind} block",
        span,
        f"{'`let` values are' if kw == 'let' else 'blocks are'} defined at the top level of the "
        f"file: move it out of the {kind} block",
        source.path,
    )


def _closes_something(source: Source, token: Token) -> bool:
    """Whether the innermost bracket still open before ``token`` is the one it closes."""
    stack: list[str] = []
    for ch, line, column in _scan_brackets(source.text):
        if (line, column) >= (token.line, token.column):
            break
        if ch in _OPENERS:
            stack.append(ch)
        elif stack:
            stack.pop()
    return bool(stack) and _OPENERS[stack[-1]] == token.value


def _keras_style(source: Source, token: Token) -> Diagnostic | None:
    """What a Keras user writes that the language spells otherwise, inside a bracket: a call
    nested in a layer's inputs (`dense(8)(concat(a, b))`), a keyword among a layer's inputs
    (`lstm(8)(r, initial_state=[h, c])`), a tuple (`conv2d(1, (3, 3))`)."""
    opener = _innermost_open(source, token)
    if opener is None or opener[0] != "(" or token.type not in ("LPAR", "EQUAL", "COMMA"):
        return None
    _, line, column = opener
    before = source.line(line)[: column - 1].rstrip()
    line_, col = where(token)
    here = source.line(line_)[: col - 1].rstrip()
    word = re.search(r"(\w+)$", here)
    inputs = before.endswith(")")  # `layer(...)(` : the layer's inputs follow
    span = Span(line_, col, line_, col + 1)
    if token.type == "LPAR" and inputs and word:
        return Diagnostic(
            D.SYNTAX,
            f"unexpected '(': a layer's inputs are tensor names, not calls ({word[1]}(...))",
            span,
            f"bind the inner call on a line of its own, `t = {word[1]}(...)`, and pass t",
            source.path,
        )
    if token.type == "EQUAL" and inputs and word:
        return Diagnostic(
            D.SYNTAX,
            f"unexpected '=': the parentheses after a layer's call hold its inputs, "
            f"not arguments ({word[1]}=...)",
            span,
            f"move {word[1]}=... into the layer's call, before its inputs: "
            f"`layer(..., {word[1]}=...)(inputs)`",
            source.path,
        )
    grouped = not before or not re.search(r"[\w)\]]$", before)  # `(` of a group, not a call
    if token.type == "COMMA" and grouped:
        rest = source.line(line)[column - 1 :]
        shown = rest[: rest.index(")") + 1] if ")" in rest else "(...)"
        items = shown[1:-1] if shown.endswith(")") else "..."
        return Diagnostic(
            D.SYNTAX,
            f"unexpected ',': {shown} is a tuple; the language writes lists in brackets",
            span,
            f"write [{items}]",
            source.path,
        )
    return None
