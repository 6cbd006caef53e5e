"""Startup package: the LALR parser's tables kept between processes as JSON (syntax.tables), never
pickled; the parser read back parses every spec to the same tree as one built from the grammar."""

from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import UnexpectedInput
from lark.grammar import Rule
from lark.lexer import TerminalDef

from nncompile.syntax import parser, tables

OPTIONS = dict(parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_kept_tables_read_back_to_the_same_parser(cache_home):
    grammar = parser.grammar_text()
    built = tables.load(grammar, **OPTIONS)  # built, and kept
    path = tables.cache_file(grammar, OPTIONS)
    assert path.is_file() and path.parent == cache_home / "nncompile"
    assert path.read_text(encoding="utf-8").startswith('{"data":')  # JSON text, not a pickle
    loaded = tables.load(grammar, **OPTIONS)  # read back
    assert loaded.memo_serialize([TerminalDef, Rule]) == built.memo_serialize([TerminalDef, Rule])
    specs = sorted((ROOT / "specs").glob("*.nn")) + sorted((ROOT / "tests").rglob("*.nn"))
    assert len(specs) > 50
    for spec in specs:  # the same tree, or the same syntax error at the same place
        text = spec.read_bytes().decode("utf-8", errors="replace")  # (some test non-UTF-8 input)
        assert outcome(loaded, text) == outcome(built, text), spec.name


def outcome(lark: Lark, text: str):
    try:
        return lark.parse(text)
    except UnexpectedInput as e:
        return type(e).__name__, e.line, e.column


def test_encoding_keeps_tuples_and_integer_keys():
    value = {"a": (1, "x", None), "b": {3: [(True, 2.5)], 4: {}}, "c": []}
    import json

    text = json.dumps(tables.encode(value))
    assert json.loads(text, object_hook=tables.decode) == value
    assert isinstance(json.loads(text, object_hook=tables.decode)["a"], tuple)
    with pytest.raises(TypeError):
        tables.encode({1: "x", "y": 2})
    with pytest.raises(TypeError):
        tables.encode({"s": {1, 2}})


def test_a_damaged_or_unusable_cache_only_means_building(cache_home, monkeypatch):
    grammar = 'start: "a"+\n'
    path = tables.cache_file(grammar, OPTIONS)
    path.parent.mkdir(parents=True)
    for damage in ("{not json", '{"data": {}, "memo": {}}', "[]"):
        path.write_text(damage)
        assert tables.load(grammar, **OPTIONS).parse("aa").children == []
        assert path.read_text() != damage  # built, and kept again
    monkeypatch.setenv("NNCOMPILE_CACHE", "0")  # the compilation cache's switch, not this one's
    assert tables.cache_file(grammar, OPTIONS) == path
    assert tables.load(grammar, **OPTIONS).parse("a") is not None
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_folder_that_cannot_be_written_still_parses(cache_home):
    (cache_home / "nncompile").write_text("a file where the folder would be")
    assert tables.load('start: "a"\n', **OPTIONS).parse("a") is not None
