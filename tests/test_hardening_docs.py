"""Hardening: the docs show specs in ```nn fences (the Pygments lexer of nncompile.highlight), and
every such block lexes without an error token; a bare fence holding a spec is refused."""

from __future__ import annotations

import re
from pathlib import Path

from pygments.token import Error

from nncompile.highlight import NNLexer

ROOT = Path(__file__).resolve().parents[1]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
# the first line of a spec block: a block, a `let`, a statement or layer call, a property
SPEC_START = re.compile(r"(model|data|train|sweep)\b[^\n]*\{|let \w+ =|[\w, ]+ = \w+\(")


def blocks(tag: str) -> list[tuple[str, str]]:
    return [
        (f"{path.name}: {body.splitlines()[0] if body else ''}", body)
        for path in DOCS
        for lang, body in FENCE.findall(path.read_text())
        if lang == tag
    ]


def test_spec_blocks_are_fenced_as_nn():
    bare = [where for where, body in blocks("") if SPEC_START.match(body)]
    assert not bare, f"spec blocks without the nn fence: {bare}"
    assert len(blocks("nn")) >= 30


def test_nn_blocks_lex_without_errors():
    lexer = NNLexer()
    for where, body in blocks("nn"):
        text = body.replace("...", "")  # (an elision in the docs)
        bad = [value for kind, value in lexer.get_tokens(text) if kind in Error]
        assert not bad, f"{where}: {bad}"
