"""Text -> syntax tree. The only module that touches Lark; its errors become diagnostics here."""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .. import diagnostics as D
from ..diagnostics import CompileError, Diagnostic
from ..source import Source, Span
from . import ast

MAX_NESTING = 64  # brackets deeper than this are refused before parsing (no recursion blow-up)
MAX_BYTES = 4_000_000


def grammar_text() -> str:
    """The grammar shipped inside the package (wheel), or the repository's ``grammar/nn.lark``."""
    packaged = resources.files("nncompile").joinpath("grammar/nn.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "nn.lark").read_text(encoding="utf-8")


@functools.cache
def _parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def decode(data: bytes, path: str) -> Source:
    """Bytes from a file -> Source; non-UTF-8 or oversized input is a diagnostic, not a crash."""
    if len(data) > MAX_BYTES:
        raise CompileError(
            [
                Diagnostic(
                    D.BAD_ENCODING,
                    f"file is too large ({len(data)} bytes; the limit is {MAX_BYTES})",
                    path=path,
                )
            ]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise CompileError(
            [
                Diagnostic(
                    D.BAD_ENCODING,
                    f"not UTF-8 text: the byte 0x{data[e.start]:02x} here cannot be decoded",
                    Span(line, column, line, column + 1),
                    "save the file as UTF-8 (or check that it is a spec, not a binary file)",
                    path,
                )
            ]
        ) from None
    return Source(text.lstrip("\ufeff"), path)


def parse(source: Source) -> ast.Spec:
    """Parse one spec; raises CompileError with the syntax error(s)."""
    _check_nesting(source)
    try:
        tree = _parser().parse(source.text)
    except UnexpectedInput as e:
        raise CompileError([_diagnose(e, source)], source) from None
    return _Builder(source).spec(tree)


# ---- syntax errors -------------------------------------------------------------------------
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_WHAT = {"(": "parenthesis", "[": "bracket", "{": "block"}


def _scan_brackets(text: str):
    """Yield (char, line, column) for every bracket outside strings and comments."""
    line, column, in_string, in_comment = 1, 0, False, False
    escaped = False
    for ch in text:
        column += 1
        if ch == "\n":
            line, column, in_string, in_comment = line + 1, 0, False, False
            continue
        if in_comment:
            continue
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "#":
            in_comment = True
        elif ch in _OPENERS or ch in _CLOSERS:
            yield ch, line, column


def _check_nesting(source: Source) -> None:
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


def _expected(names) -> str:
    shown = sorted({_TOKEN_TEXT.get(n, n) for n in names if not n.startswith("__")})
    if not shown or len(shown) > 6:
        return ""
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _diagnose(e: UnexpectedInput, source: Source) -> Diagnostic:
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
        ch = source.text[e.pos_in_stream] if e.pos_in_stream < len(source.text) else "?"
        span = Span(e.line, e.column, e.line, e.column + 1)
        hints = {
            "'": 'strings are written in double quotes: "digits"',
            ";": "statements need no separators: remove the ';'",
            "}": "this '}' closes nothing: remove it or open a block before it",
            ")": "this ')' closes nothing",
            "]": "this ']' closes nothing",
        }
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        return Diagnostic(
            D.BAD_CHARACTER, f"unexpected character {shown}", span, hints.get(ch), path
        )
    assert isinstance(e, UnexpectedToken)
    token = e.token
    special = _malformed_number(source, token) or _misplaced_keyword(source, token)
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
    if (
        token.type not in _CLOSERS_BY_TYPE
        and opener is not None
        and opener[0] in "(["
        and opener[1] < token.line
        and _CLOSER_TYPES[opener[0]] in accepts
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
    return Diagnostic(D.SYNTAX, f"unexpected {_describe(token)}", span, hint, path)


_CLOSERS_BY_TYPE = {"RPAR", "RSQB", "RBRACE"}
_CLOSER_TYPES = {"(": "RPAR", "[": "RSQB", "{": "RBRACE"}


def _innermost_open(source: Source, token: Token) -> tuple[str, int, int] | None:
    """The innermost bracket still open just before ``token``: (char, line, column)."""
    stack: list[tuple[str, int, int]] = []
    for ch, line, column in _scan_brackets(source.text):
        if (line, column) >= (token.line, token.column):
            break
        if ch in _OPENERS:
            stack.append((ch, line, column))
        elif stack:
            stack.pop()
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
    column = token.column - (token.start_pos - start)
    span = Span(token.line, column, token.line, column + len(word[0]))
    hint = (
        "an exponent needs digits, e.g. 1e-3"
        if word[0][-1] in "eE"
        else "a number looks like 64, 0.5, -2 or 1e-3"
    )
    return Diagnostic(D.SYNTAX, f"malformed number '{word[0]}'", span, hint, source.path)


_BLOCK_LINE = re.compile(r"\s*(data|model|train|sweep)\b")
_CONSTRUCTS = {  # a keyword's own construct, told apart from its use as a property key (`data: digits`)
    "let": re.compile(r"\s*let\s+\w+\s*="),
    "data": re.compile(r"\s*data\s+\w+\s*\{"),
    "model": re.compile(r"\s*model\s+\w+\s*[({]"),
    "train": re.compile(r"\s*train(\s+\w+)?\s*\{"),
    "sweep": re.compile(r"\s*sweep(\s+\w+)?\s*\{"),
    "input": re.compile(r"\s*input\s+\w+\s*:"),
    "output": re.compile(r"\s*output\s+\w+"),
}


def _misplaced_keyword(source: Source, token: Token) -> Diagnostic | None:
    """A top-level construct inside a block (`let` in a model, a `}` forgotten), or `input` outside a model."""
    text = source.line(token.line)
    kw = next((k for k, pattern in _CONSTRUCTS.items() if pattern.match(text)), None)
    if kw is None:
        return None
    column = len(text) - len(text.lstrip()) + 1
    anchor = Token("NAME", kw, line=token.line, column=column)
    opener = _innermost_open(source, anchor)
    if opener is None or opener[0] != "{":
        return None
    block = _BLOCK_LINE.match(source.line(opener[1]))
    if block is None:
        return None
    kind = block[1]
    span = Span(token.line, column, token.line, column + len(kw))
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
        ch, line, col = opener
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
        f"{'`let` values are' if kw == 'let' else 'blocks are'} defined at the top level of the file: "
        f"move it out of the {kind} block",
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


# ---- parse tree -> syntax tree -------------------------------------------------------------
def _span(node) -> Span:
    if isinstance(node, Token):
        return Span(node.line, node.column, node.end_line, node.end_column)
    m = node.meta
    return Span(m.line, m.column, m.end_line, m.end_column)


class _Builder:
    """One method per grammar rule; returns frozen AST nodes."""

    def __init__(self, source: Source):
        self.source = source

    def spec(self, tree: Tree) -> ast.Spec:
        return ast.Spec(tuple(getattr(self, t.data)(t) for t in tree.children), self.source.path)

    # blocks
    def let_stmt(self, t: Tree) -> ast.Let:
        name, value = t.children
        return ast.Let(str(name), _span(name), self.value(value), _span(t))

    def _properties(self, children) -> tuple[ast.Property, ...]:
        return tuple(
            self.property(c) for c in children if isinstance(c, Tree) and c.data == "property"
        )

    def data_block(self, t: Tree) -> ast.DataBlock:
        name = t.children[0]
        return ast.DataBlock(str(name), _span(name), self._properties(t.children[1:]), _span(t))

    def train_block(self, t: Tree) -> ast.TrainBlock:
        return self._named(t, ast.TrainBlock)

    def sweep_block(self, t: Tree) -> ast.SweepBlock:
        return self._named(t, ast.SweepBlock)

    def _named(self, t: Tree, cls):
        name = t.children[0]
        if name is None:  # unnamed: the span of the keyword itself
            m = t.meta
            return cls(
                "main",
                Span(m.line, m.column, m.line, m.column + 5),
                self._properties(t.children[1:]),
                _span(t),
            )
        return cls(str(name), _span(name), self._properties(t.children[1:]), _span(t))

    def property(self, t: Tree) -> ast.Property:
        key, value = t.children
        token = key.children[0]
        return ast.Property(str(token), _span(token), self.value(value), _span(t))

    def model_block(self, t: Tree) -> ast.ModelBlock:
        name, params, *body = t.children
        plist = (
            tuple(self.model_param(p) for p in params.children if p is not None) if params else ()
        )
        return ast.ModelBlock(
            str(name), _span(name), plist, tuple(getattr(self, s.data)(s) for s in body), _span(t)
        )

    def model_param(self, t: Tree) -> ast.ModelParam:
        name, default = t.children
        return ast.ModelParam(
            str(name), self.value(default) if default is not None else None, _span(t)
        )

    # model statements
    def input_stmt(self, t: Tree) -> ast.Input:
        _, name, shape = t.children
        int_type, *dims = shape.children
        nodes = tuple(
            ast.Number(int(d.children[0]), _span(d.children[0]))
            if d.data == "dim_int"
            else ast.Name(str(d.children[0]), _span(d.children[0]))
            for d in dims
            if d is not None
        )
        return ast.Input(
            str(name), _span(name), nodes, "int32" if int_type else "float32", _span(t)
        )

    def output_stmt(self, t: Tree) -> ast.Output:
        return ast.Output(tuple(ast.Name(str(n), _span(n)) for n in t.children[1:]), _span(t))

    def layer_stmt(self, t: Tree) -> ast.LayerStmt:
        target, name, arguments, inputs = t.children
        args = self.arguments(arguments) if arguments is not None else ()
        call_span = _span(name) if arguments is None else _span(name).cover(_span(arguments))
        call = ast.Call(str(name), _span(name), args, call_span)
        ins = None
        if inputs is not None:
            ins = tuple(ast.Name(str(n), _span(n)) for n in inputs.children if n is not None)
        return ast.LayerStmt(
            str(target) if target is not None else None,
            _span(target) if target is not None else None,
            call,
            arguments is None,
            ins,
            _span(t),
        )

    def arguments(self, t: Tree) -> tuple[ast.Arg, ...]:
        out = []
        for a in t.children:
            if a is None:
                continue
            if a.data == "positional":
                out.append(ast.Arg(None, None, self.value(a.children[0]), _span(a)))
            else:
                key, value = a.children
                out.append(ast.Arg(str(key), _span(key), self.value(value), _span(a)))
        return tuple(out)

    # values
    def value(self, t) -> ast.Value:
        kind = t.data
        span = _span(t)
        if kind == "number":
            text = str(t.children[0])
            is_int = not any(c in text for c in ".eE")
            return ast.Number(int(text) if is_int else float(text), span)
        if kind == "string":
            return ast.String(_unescape(str(t.children[0])), span)
        if kind in ("true", "false"):
            return ast.Bool(kind == "true", span)
        if kind == "name":
            return ast.Name(str(t.children[0]), span)
        if kind == "call":
            name, arguments = t.children
            return ast.Call(str(name), _span(name), self.arguments(arguments), span)
        if kind == "list":
            return ast.List(tuple(self.value(c) for c in t.children if c is not None), span)
        if kind == "dict":
            pairs = []
            for p in t.children:
                if p is None:
                    continue
                key, value = p.children
                token = key.children[0] if isinstance(key, Tree) else key
                text = _unescape(str(token)) if token.type == "STRING" else str(token)
                pairs.append(ast.Pair(text, _span(token), self.value(value), _span(p)))
            return ast.Dict(tuple(pairs), span)
        raise AssertionError(f"unhandled value rule {kind}")


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(quoted: str) -> str:
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
