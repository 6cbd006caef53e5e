"""Text -> syntax tree. This module, diagnose.py (its errors as diagnostics), recover.py (several
errors in one run), printer.py (the canonical layout) and tables.py (the parser's tables kept
between processes) alone touch Lark."""

from __future__ import annotations

import functools
import math
import re
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from .. import diagnostics as D
from ..diagnostics import CompileError, Diagnostic
from ..source import Source, Span
from . import ast, tables
from .diagnose import check_nesting, diagnose, where
from .recover import Result
from .recover import parse_all as recover_all

MAX_BYTES = 4_000_000


def grammar_text() -> str:
    """The grammar shipped inside the package (wheel), or the repository's ``grammar/nn.lark``."""
    packaged = resources.files("nncompile").joinpath("grammar/nn.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "nn.lark").read_text(encoding="utf-8")


@functools.cache
def _parser() -> Lark:
    # its tables kept between processes as JSON (syntax.tables), not Lark's pickle cache
    return tables.load(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
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


def parse_tree(source: Source) -> Tree:
    """The Lark parse tree of one spec; raises CompileError with the syntax error(s)."""
    check_nesting(source)
    try:
        return _parser().parse(source.text)
    except UnexpectedInput as e:
        raise CompileError([diagnose(e, source)], source) from None


def parse(source: Source) -> ast.Spec:
    """Parse one spec; raises CompileError with every syntax error (see recover.py)."""
    result = parse_all(source)
    if result.diagnostics:
        raise CompileError(sorted(result.diagnostics, key=Diagnostic.sort_key), source)
    return result.spec


def parse_all(source: Source) -> Result:
    """The items that parse, every syntax error, and the names of the items that did not parse
    (semantic checks still run on the rest; see recover.py)."""
    return recover_all(source, _parser(), build)


def build(tree: Tree, source: Source) -> ast.Spec:
    """Parse tree -> syntax tree."""
    return _Builder(source).spec(tree)


# ---- parse tree -> syntax tree -------------------------------------------------------------
def where_end(token: Token) -> tuple[int, int]:
    assert token.end_line is not None and token.end_column is not None
    return token.end_line, token.end_column


def _span(node) -> Span:
    if isinstance(node, Token):
        return Span(*where(node), *where_end(node))
    m = node.meta
    return Span(m.line, m.column, m.end_line, m.end_column)


class _Builder:
    """One method per grammar rule; returns frozen AST nodes."""

    def __init__(self, source: Source):
        self.source = source

    def number(self, text: str, span: Span) -> int | float:
        """A literal's value; one no parameter can take (not a finite float, an integer beyond 64
        bits, a non-zero float that rounds to 0) is a diagnostic, not an overflow later."""
        if not any(c in text for c in ".eE"):
            digits = text.lstrip("+-").lstrip("0")
            if len(digits) <= 19 and abs(value := int(text)) < 2**63:
                return value
            problem = f"the integer {_abbreviated(text)} is out of range"
            hint = "integers must lie between -9223372036854775807 and 9223372036854775807"
        else:
            number = float(text)
            mantissa = re.split("[eE]", text)[0]
            if math.isfinite(number) and (number != 0 or not re.search("[1-9]", mantissa)):
                return number
            problem = f"the number {_abbreviated(text)} cannot be represented as a float"
            hint = "numbers must lie between about 1e-308 and 1.8e308 in magnitude"
        raise CompileError(
            [Diagnostic(D.BAD_VALUE, problem, span, hint, self.source.path)], self.source
        )

    def spec(self, tree: Tree) -> ast.Spec:
        for item in tree.children:
            self.spaced(item)
        return ast.Spec(tuple(getattr(self, t.data)(t) for t in tree.children), self.source.path)

    def spaced(self, item: Tree) -> None:
        """`datadigits {` lexes as `data digits {` where only a keyword can start an item: a
        keyword glued to the name after it is an error, as it is everywhere else."""
        keyword = item.data.split("_")[0]
        name = item.children[0]
        if isinstance(name, Token) and name.start_pos == item.meta.start_pos + len(keyword):
            raise CompileError(
                [
                    Diagnostic(
                        D.SYNTAX,
                        f"`{keyword}{name}` is not a keyword: `{keyword}` needs a space after it",
                        Span(item.meta.line, item.meta.column, *where_end(name)),
                        f"write `{keyword} {name}`",
                        self.source.path,
                    )
                ],
                self.source,
            )

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
        nodes = tuple(self.value(d) for d in dims if d is not None)
        return ast.Input(
            str(name), _span(name), nodes, "int32" if int_type else "float32", _span(t)
        )

    def output_stmt(self, t: Tree) -> ast.Output:
        return ast.Output(tuple(ast.Name(str(n), _span(n)) for n in t.children[1:]), _span(t))

    def layer_stmt(self, t: Tree) -> ast.LayerStmt:
        targets, name, arguments, inputs = t.children
        names = [n for n in targets.children if n is not None] if targets is not None else []
        target = names[0] if names else None
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
            tuple(ast.Name(str(n), _span(n)) for n in names[1:]),
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
            return ast.Number(self.number(str(t.children[0]), span), span)
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
                assert isinstance(token, Token)
                text = _unescape(str(token)) if token.type == "STRING" else str(token)
                pairs.append(ast.Pair(text, _span(token), self.value(value), _span(p)))
            return ast.Dict(tuple(pairs), span)
        if kind in _OPERATORS:
            left, right = t.children
            return ast.BinOp(_OPERATORS[kind], self.value(left), self.value(right), span)
        if kind == "neg":
            return ast.Neg(self.value(t.children[0]), span)
        raise AssertionError(f"unhandled value rule {kind}")


_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//"}


def _abbreviated(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} characters)"


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
