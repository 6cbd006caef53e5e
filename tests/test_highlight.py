"""Highlighting: the Pygments lexer (plugin `nn`), the TextMate grammar and the VS Code folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, String

from nncompile import highlight
from nncompile.highlight import NNLexer, textmate_grammar
from nncompile.registry.layers import LAYERS

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "nn.tmLanguage.json"
SPECS = sorted((ROOT / "specs").glob("*.nn"))

SNIPPET = """# a comment
let hidden = 32
data iris { source: sklearn("iris") }
model Net(width, rate=0.1) {
  input x: int[4]
  h = dense(width, activation=relu)
  output h
}
train fast { model: Net  epochs: 1e-3 * 2  shuffle: true }
"""


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in NNLexer().get_tokens(text) if v.strip()]


def test_each_part_of_a_spec_gets_its_token():
    got: dict = {}
    for t, v in tokens(SNIPPET):
        got.setdefault(v, t)  # the first occurrence (`model Net` before `model: Net`)
    assert got["# a comment"] is Comment.Single
    assert got["let"] is Keyword.Declaration and got["hidden"] is Name.Variable
    assert got["model"] is Keyword.Declaration and got["Net"] is Name.Class
    assert got["iris"] in (Name.Namespace, Name) and got['"iris"'] is String.Double
    assert got["fast"] is Name.Namespace
    assert got["input"] is Keyword and got["int"] is Keyword.Type
    assert got["dense"] is Name.Builtin  # a layer
    assert got["relu"] is Name.Function and got["sklearn"] is Name.Function  # registry names
    assert got["source"] is Name.Attribute and got["epochs"] is Name.Attribute
    assert got["activation"] is Name.Variable and got["rate"] is Name.Variable
    assert got["1e-3"] is Number.Float and got["2"] is Number.Integer
    assert got["true"] is Keyword.Constant and got["output"] is Keyword


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_lexes_without_error_tokens(path):
    text = path.read_text()
    lexed = list(NNLexer().get_tokens(text))
    assert "".join(v for _, v in lexed) == text if text.endswith("\n") else text + "\n"
    assert [v for t, v in lexed if t is Error] == []
    assert any(t is Name.Builtin for t, _ in lexed)


def test_names_come_from_the_registries(monkeypatch):
    twin = LAYERS["dense"].__class__.__new__(LAYERS["dense"].__class__)
    twin.__dict__.update(LAYERS["dense"].__dict__)
    object.__setattr__(twin, "name", "dense_twin")
    monkeypatch.setitem(LAYERS._entries, "dense_twin", twin)
    layers, others = highlight.registry_names()
    assert "dense_twin" in layers and "relu" in others and "adam" in others
    rule = next(p for p, groups in highlight.rules() if groups[0][1] == "support.function.layer.nn")
    assert re.fullmatch(rule, "dense_twin")


def test_the_plugin_entry_point_makes_pygmentize_l_nn_work(tmp_path):
    """`pip install` writes the entry point of pyproject into the package's dist-info; a dist-info
    with that entry point on the path is what pygments' plugin loader sees."""
    points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert points["pygments.lexers"] == {"nn": "nncompile.highlight:NNLexer"}
    info = tmp_path / "nncompile_plugin_probe-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nncompile-plugin-probe\nVersion: 0\n"
    )
    (info / "entry_points.txt").write_text("[pygments.lexers]\nnn = nncompile.highlight:NNLexer\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "nn", "-f", "html", str(SPECS[0])],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert '<span class="nb">' in done.stdout and '<span class="c1">#' in done.stdout
    probe = "from pygments.lexers import get_lexer_by_name as g; print(type(g('nn')).__name__)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "NNLexer", done.stderr


def test_the_textmate_grammar_file_is_generated_from_the_rules(update_golden):
    text = json.dumps(textmate_grammar(), indent=2) + "\n"
    if update_golden:
        GRAMMAR.write_text(text)
    assert GRAMMAR.read_text() == text, "regenerate: pytest tests/test_highlight.py --update-golden"


def test_textmate_patterns_match_like_the_lexer():
    grammar = textmate_grammar()
    assert grammar["scopeName"] == "source.nn"
    compiled = [re.compile(rule["match"], re.M) for rule in grammar["patterns"]]
    line = "  h = dense(64, activation=relu)  # hidden"
    found = {}
    pos = 0
    while pos < len(line):
        for regex, rule in zip(compiled, grammar["patterns"], strict=True):
            m = regex.match(line, pos)
            if m and m.end() > pos:
                scopes = [rule["name"]] if "name" in rule else []
                scopes += [c["name"] for c in rule.get("captures", {}).values()]
                found[m.group(0).split("=")[0].strip()] = scopes
                pos = m.end()
                break
        else:
            pos += 1
    assert found["dense"] == ["support.function.layer.nn"]
    assert found["relu"] == ["support.constant.registry.nn"]
    assert found["activation"][0] == "variable.parameter.nn"
    assert found["# hidden"] == ["comment.line.number-sign.nn"]


def test_the_vscode_extension_folder_starts_nncompile_lsp():
    package = json.loads((VSCODE / "package.json").read_text())
    language = package["contributes"]["languages"][0]
    assert language["id"] == "nn" and language["extensions"] == [".nn"]
    assert (VSCODE / language["configuration"]).is_file()
    grammar = package["contributes"]["grammars"][0]
    assert grammar["scopeName"] == "source.nn" and (VSCODE / grammar["path"]) == GRAMMAR
    assert package["activationEvents"] == ["onLanguage:nn"]
    default = package["contributes"]["configuration"]["properties"]["nncompile.server.command"]
    assert default["default"] == ["nncompile", "lsp"]
    main = (VSCODE / package["main"]).read_text()
    assert "vscode-languageclient/node" in main and "server.command" in main
    assert "vscode-languageclient" in package["dependencies"]
    config = json.loads((VSCODE / "language-configuration.json").read_text())
    assert config["comments"]["lineComment"] == "#"
