"""`nncompile fmt`: one canonical layout for specs, comments kept, meaning unchanged.

``format_text(text, path)`` is the whole public API (the language server formats through it).
The layout itself is described in ``nncompile.syntax.printer``.
"""

from __future__ import annotations

import dataclasses

from .diagnostics import CompileError
from .source import Source
from .syntax import ast
from .syntax.parser import build, parse, parse_tree
from .syntax.printer import Printer


def format_text(text: str, path: str = "<spec>") -> str:
    """The canonical text of a spec; raises CompileError on syntax errors.

    Idempotent (``format_text(format_text(t)) == format_text(t)``) and meaning-preserving: the
    result parses to the same syntax tree, spans aside (checked before returning).
    """
    source = Source(text.lstrip("\ufeff"), path)
    try:
        tree = parse_tree(source)
    except CompileError:
        parse(source)  # raises with every syntax error, not only the first
        raise
    out = Printer(source.text).spec(tree)
    try:
        same = skeleton(build(parse_tree(Source(out, path)), source)) == skeleton(
            build(tree, source)
        )
    except CompileError:
        same = False
    if not same:  # never write a file whose meaning changed: a bug in the printer
        raise RuntimeError(f"fmt would change the meaning of {path}; the file is left as it is")
    return out


def skeleton(node) -> object:
    """A syntax tree without its spans and path (``-1`` and ``- 1`` are the same number)."""
    if isinstance(node, ast.Neg) and isinstance(node.operand, ast.Number):
        return skeleton(dataclasses.replace(node.operand, value=-node.operand.value))
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (
            type(node).__name__,
            tuple(
                (f.name, skeleton(getattr(node, f.name)))
                for f in dataclasses.fields(node)
                if not f.name.endswith("span") and f.name != "path"
            ),
        )
    if isinstance(node, tuple):
        return tuple(skeleton(n) for n in node)
    return node
