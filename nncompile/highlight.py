"""Syntax highlighting for `.nn` specs: one table of rules, read by two highlighters.

- ``NNLexer``: a Pygments lexer, registered as the plugin ``nn`` (pyproject's
  ``[project.entry-points."pygments.lexers"]``), so ``pygmentize -l nn spec.nn`` and Sphinx or
  MkDocs code blocks fenced as ``nn`` highlight specs;
- ``textmate_grammar()``: the TextMate grammar VS Code (and most other editors) read,
  ``editors/vscode/syntaxes/nn.tmLanguage.json`` (tests/test_highlight.py keeps the file equal to
  it; regenerate with ``pytest tests/test_highlight.py --update-golden``).

The names of layers, activations, losses, optimizers, schedules, sources, ... come from the
registries, so a new registry entry is highlighted without a change here.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from .registry import registries

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def registry_names() -> tuple[list[str], list[str]]:
    """(layer names, every other registry name), longest first (alternations try them in order)."""
    regs = registries()
    layers = set(regs["layer"])
    others = {n for kind, r in regs.items() if kind != "layer" for n in r} - layers
    return (
        sorted(layers, key=lambda n: (-len(n), n)),
        sorted(others, key=lambda n: (-len(n), n)),
    )


def _alternation(names: list[str]) -> str:
    return r"\b(" + "|".join(re.escape(n) for n in names) + r")\b"


def rules() -> list[tuple[str, list[tuple[object, str]]]]:
    """(pattern, [(Pygments token, TextMate scope) per capture group]); the first match wins."""
    layers, others = registry_names()
    ws = (Whitespace, "")
    return [
        (r"(#.*)$", [(Comment.Single, "comment.line.number-sign.nn")]),
        (r'("(?:[^"\\\n]|\\.)*")', [(String.Double, "string.quoted.double.nn")]),
        (
            rf"\b(let)(\s+)({IDENT})",
            [
                (Keyword.Declaration, "storage.type.let.nn"),
                ws,
                (Name.Variable, "variable.other.nn"),
            ],
        ),
        (
            rf"\b(model)(\s+)({IDENT})(?=\s*[({{])",
            [
                (Keyword.Declaration, "storage.type.model.nn"),
                ws,
                (Name.Class, "entity.name.type.nn"),
            ],
        ),
        (
            rf"\b(data|train|sweep)(\s+)({IDENT})(?=\s*\{{)",
            [
                (Keyword.Declaration, "storage.type.block.nn"),
                ws,
                (Name.Namespace, "entity.name.section.nn"),
            ],
        ),
        (r"\b(data|train|sweep)(?=\s*\{)", [(Keyword.Declaration, "storage.type.block.nn")]),
        (
            rf"\b(input)(\s+)({IDENT})",
            [(Keyword, "keyword.other.input.nn"), ws, (Name.Variable, "variable.other.nn")],
        ),
        (r"\b(output)(?=\s+[A-Za-z_])", [(Keyword, "keyword.other.output.nn")]),
        (r"\b(int)(?=\s*\[)", [(Keyword.Type, "storage.type.int.nn")]),
        (r"\b(true|false)\b", [(Keyword.Constant, "constant.language.boolean.nn")]),
        (
            rf"({IDENT})(\s*)(:)",
            [(Name.Attribute, "entity.other.attribute-name.nn"), ws, (Punctuation, "")],
        ),
        (
            rf"({IDENT})(\s*)(=)(?!=)",
            [(Name.Variable, "variable.parameter.nn"), ws, (Operator, "keyword.operator.nn")],
        ),
        (_alternation(layers), [(Name.Builtin, "support.function.layer.nn")]),
        (_alternation(others), [(Name.Function, "support.constant.registry.nn")]),
        (
            r"((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+|[0-9]+\.[0-9]*|\.[0-9]+)",
            [(Number.Float, "constant.numeric.float.nn")],
        ),
        (r"([0-9]+)", [(Number.Integer, "constant.numeric.integer.nn")]),
        (r"(//|[-+*/=])", [(Operator, "keyword.operator.nn")]),
        (r"([()\[\]{},:])", [(Punctuation, "punctuation.nn")]),
        (rf"({IDENT})", [(Name, "variable.other.nn")]),
    ]


def _pygments_tokens() -> dict:
    table: list = [(r"\s+", Whitespace)]
    for pattern, groups in rules():
        tokens = [token for token, _ in groups]
        table.append((pattern, bygroups(*tokens) if len(tokens) > 1 else tokens[0]))
    table.append((r".", Error))
    return {"root": table}


class NNLexer(RegexLexer):
    """Pygments lexer for nncompile's `.nn` model specs."""

    name = "nn"
    aliases: ClassVar[list[str]] = ["nn", "nncompile"]
    filenames: ClassVar[list[str]] = ["*.nn"]
    mimetypes: ClassVar[list[str]] = ["text/x-nncompile"]
    url = "https://github.com/nncompile/nncompile"
    flags = re.MULTILINE
    tokens = _pygments_tokens()


def textmate_grammar() -> dict:
    """The TextMate grammar (VS Code's ``contributes.grammars``) from the same rules."""
    patterns = []
    for pattern, groups in rules():
        rule: dict = {"match": pattern}
        captures = {str(i): {"name": scope} for i, (_, scope) in enumerate(groups, 1) if scope}
        if len(captures) == 1 and len(groups) == 1:
            rule["name"] = captures["1"]["name"]
        else:
            rule["captures"] = captures
        patterns.append(rule)
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "nn",
        "scopeName": "source.nn",
        "fileTypes": ["nn"],
        "comment": "Generated by nncompile.highlight.textmate_grammar(): do not edit by hand.",
        "patterns": patterns,
    }
