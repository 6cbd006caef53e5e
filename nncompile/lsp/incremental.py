"""Incremental parsing: after an edit, parse again only the lines of the statements it touched.

Parsing is most of a re-check (a 200-statement spec: ~80% of the front end's time), and an edit
touches one statement or two. The statements of a model body and the top-level items are
self-delimiting (each starts with a name or a keyword and no statement can continue into one that
starts so), and no token spans two lines (strings and comments end at the line's end). So the
whole lines holding the touched statements can be parsed on their own — padded with newlines and
inside a stand-in ``model _ {`` so that every position comes out as in the whole text — and
spliced between the unchanged statements before them and the ones after them (moved by the
change in line count). Whenever that is not certain (a statement shares a line with the block's
braces, the lines do not parse on their own, a brace was typed), ``reparse`` answers None and the
caller parses the whole text: the result is always the tree a whole parse gives (tests compare
them over many edits).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeGuard

from ..diagnostics import CompileError
from ..source import Source, Span
from ..syntax import ast
from ..syntax.diagnose import check_nesting
from ..syntax.parser import parse


def changed_lines(old: str, new: str) -> tuple[int, int, int]:
    """(first, last) 1-based lines of ``old`` that an edit touched, and the change in line count."""
    limit = min(len(old), len(new))
    p = 0
    while p < limit and old[p] == new[p]:
        p += 1
    s = 0
    while s < limit - p and old[len(old) - 1 - s] == new[len(new) - 1 - s]:
        s += 1
    first = old.count("\n", 0, p) + 1
    # the line where the unchanged end begins: text after it starts a line in both texts
    last = old.count("\n", 0, len(old) - s) + 1
    return first, last, new.count("\n") - old.count("\n")


def shift(node: Any, lines: int) -> Any:
    """A copy of a syntax node ``lines`` lines further down."""
    if lines == 0:  # an edit inside a line: nothing moves
        return node
    if isinstance(node, Span):
        return Span(node.line + lines, node.column, node.end_line + lines, node.end_column)
    if isinstance(node, tuple):
        return tuple(shift(n, lines) for n in node)
    if _is_node(node):
        names = _field_names(type(node))
        return type(node)(**{n: _shift_field(getattr(node, n), lines) for n in names})
    return node


def _shift_field(value: Any, lines: int) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return shift(value, lines)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """A node class's fields (cached: shifting is per keystroke)."""
    if cls not in _FIELDS:
        _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return _FIELDS[cls]


def _is_node(value: Any) -> TypeGuard[Any]:
    """A syntax node (a dataclass instance; Span is handled before)."""
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _cover(units: list, first: int, last: int) -> tuple[int, int]:
    """Lines [first, last] grown until every unit on them lies wholly inside."""
    grown = True
    while grown:
        grown = False
        for u in units:
            touches = u.span.line <= last and u.span.end_line >= first
            if touches and (u.span.line < first or u.span.end_line > last):
                first, last = min(first, u.span.line), max(last, u.span.end_line)
                grown = True
    return first, last


def _opening_line(text_lines: list[str], block: ast.ModelBlock) -> int | None:
    """The line of a model block's `{` (after its name and parameters)."""
    start = block.params[-1].span if block.params else block.name_span
    line, column = start.end_line, start.end_column
    while line <= len(text_lines):
        at = text_lines[line - 1].find("{", column - 1)
        comment = text_lines[line - 1].find("#", column - 1)
        if at >= 0 and (comment < 0 or at < comment):
            return line
        line, column = line + 1, 1
    return None


def _fragment(
    new_lines: list[str], first: int, last: int, delta: int, path: str, padding: str
) -> ast.Spec | None:
    """Lines [first, last + delta] of the new text parsed alone, at their own positions."""
    region = "\n".join(new_lines[first - 1 : last + delta])
    pad = "\n" * (first - 2 if padding else first - 1)  # a padding line goes just above
    text = pad + padding + region + ("\n}\n" if padding else "\n")
    try:
        return parse(Source(text, path))
    except (CompileError, RecursionError):
        return None


def _in_model(old_lines, new_lines, spec, i, first, last, delta, path) -> ast.Spec | None:
    block = spec.items[i]
    assert isinstance(block, ast.ModelBlock)
    opening = _opening_line(old_lines, block)
    a, b = _cover(list(block.body), first, last)
    # the statement before the touched ones is parsed again with them: the lexer then reads the
    # first touched token in the state the whole text's parser is in there (LALR merges states,
    # so after `dense(4)` it may accept `let` as a keyword where after `{` it reads a name)
    earlier = [s for s in block.body if s.span.end_line < a]
    if earlier:
        a = _cover(list(block.body), earlier[-1].span.line, b)[0]
    later = [s for s in block.body if s.span.line > b]
    if later and _starts_with_keyword(later[0]):  # it may read differently after the change
        return None
    if opening is None or a <= opening or b >= block.span.end_line or first <= opening:
        return None
    part = _fragment(new_lines, a, b, delta, path, "model _ {\n")
    if part is None or len(part.items) != 1:
        return None
    stand_in = part.items[0]
    if not isinstance(stand_in, ast.ModelBlock) or stand_in.name != "_" or stand_in.params:
        return None
    body = (
        *(s for s in block.body if s.span.end_line < a),
        *stand_in.body,
        *(shift(s, delta) for s in block.body if s.span.line > b),
    )
    end = block.span
    new_block = dataclasses.replace(
        block, body=body, span=Span(end.line, end.column, end.end_line + delta, end.end_column)
    )
    items = (*spec.items[:i], new_block, *(shift(x, delta) for x in spec.items[i + 1 :]))
    return ast.Spec(items, spec.path)


def reparse(old: str, spec: ast.Spec | None, new: str, path: str) -> ast.Spec | None:
    """The syntax tree of ``new``, given ``spec`` parsed from ``old``, parsing only the touched
    lines; None when that is not certain to equal a whole parse (then parse the whole text)."""
    if spec is None or old == new or "\r" in new or "\r" in old:
        return None
    first, last, delta = changed_lines(old, new)
    old_lines, new_lines = old.split("\n"), new.split("\n")
    try:
        check_nesting(Source(new, path))
    except CompileError:
        return None
    for i, item in enumerate(spec.items):
        inside_block = item.span.line < first and last < item.span.end_line
        if isinstance(item, ast.ModelBlock) and inside_block:
            inside = _in_model(old_lines, new_lines, spec, i, first, last, delta, path)
            if inside is not None:
                return inside
            break  # the touched lines include the block's braces: parse the block again
    a, b = _cover(list(spec.items), first, last)
    part = _fragment(new_lines, a, b, delta, path, "")
    if part is None:
        return None
    before = [x for x in spec.items if x.span.end_line < a]
    replaced = [x for x in spec.items if a <= x.span.line and x.span.end_line <= b]
    after = [x for x in spec.items if x.span.line > b]
    # Lark's contextual lexer reads a keyword glued to a name (`datax`) differently after a `let`
    # value than at the start or after a block: the lines parsed alone start as the text does,
    # so they must follow a block (or nothing), and what follows them must see the same kind
    if _after_let(before):
        return None
    if after and _after_let(before + replaced) != _after_let(before + list(part.items)):
        return None
    return ast.Spec((*before, *part.items, *(shift(x, delta) for x in after)), spec.path)


KEYWORDS = {"let", "data", "model", "train", "sweep", "input", "output", "true", "false", "int"}


def _starts_with_keyword(statement: ast.Input | ast.LayerStmt | ast.Output) -> bool:
    """A layer statement whose first name is spelled like a keyword (`let = dense(3)`)."""
    if not isinstance(statement, ast.LayerStmt):
        return False
    return (statement.target or statement.call.name) in KEYWORDS


def _after_let(items: list) -> bool:
    return bool(items) and isinstance(items[-1], ast.Let)
