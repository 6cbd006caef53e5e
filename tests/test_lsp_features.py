"""The language server's features as functions of an analysed document (no server needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("lsprotocol")

from lsprotocol import types as lsp

from nncompile.lsp import complete, navigate
from nncompile.lsp.document import (
    analyse_text,
    code_point_column,
    diagnostics,
    utf16_column,
)
from nncompile.lsp.hover import hover

SPECS = Path(__file__).resolve().parents[1] / "specs"
RESIDUAL = (SPECS / "residual_mlp.nn").read_text()


def pos(text: str, needle: str, offset: int = 0, nth: int = 0) -> lsp.Position:
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    return lsp.Position(line=line, character=index - (text.rfind("\n", 0, index) + 1))


def labels(items) -> list[str]:
    return [i.label for i in items]


@pytest.fixture(scope="module")
def residual():
    return analyse_text(RESIDUAL, str(SPECS / "residual_mlp.nn"))


def test_utf16_columns_round_trip():
    line = 'source: csv("données/🙂.csv")'
    smile = line.index("🙂") + 1  # 1-based code point column
    assert utf16_column(line, smile) == smile - 1
    assert utf16_column(line, smile + 1) == smile + 1  # the emoji is two UTF-16 units
    assert code_point_column(line, smile + 1) == smile + 1
    assert code_point_column(line, utf16_column(line, len(line) + 1)) == len(line) + 1


def test_diagnostics_after_non_ascii_text_have_utf16_ranges():
    text = (
        'let note = "🙂🙂"\nlet x = rleu\nmodel M {\n  input x: [4]\n  dense(2, activation=x)\n}\n'
    )
    doc = analyse_text(text, "u.nn")
    assert doc.diagnostics
    for d, found in zip(doc.diagnostics, diagnostics(doc), strict=True):
        line = text.split("\n")[d.span.line - 1]
        assert (
            found.range.start.character == len(line[: d.span.column - 1].encode("utf-16-le")) // 2
        )


def test_definition_references_and_rename_of_a_block_parameter(residual):
    uri = "file:///r.nn"
    use = pos(RESIDUAL, "dense(width", 6)
    found = navigate.definition(residual, uri, use)
    assert found is not None and found.range.start == pos(RESIDUAL, "width, rate")
    refs = navigate.references(residual, uri, use)
    assert len(refs) == 4  # the parameter and its three uses in ResidualBlock
    edit = navigate.rename(residual, uri, use, "size")
    assert edit is not None and edit.changes is not None
    assert len(edit.changes[uri]) == 4
    with pytest.raises(ValueError, match="reserved word"):
        navigate.rename(residual, uri, use, "model")
    with pytest.raises(ValueError, match="already defined"):
        navigate.rename(residual, uri, use, "rate")


def test_let_model_and_data_names_resolve_across_blocks(residual):
    uri = "file:///r.nn"
    # `model: WineNet` in the train block -> the model block's name
    found = navigate.definition(residual, uri, pos(RESIDUAL, "model:      WineNet", 13))
    assert found is not None and found.range.start == pos(RESIDUAL, "WineNet {")
    found = navigate.definition(residual, uri, pos(RESIDUAL, "data:       wine", 13))
    assert found is not None and found.range.start == pos(RESIDUAL, "wine {")
    # a block used as a layer -> the block
    found = navigate.definition(residual, uri, pos(RESIDUAL, "ResidualBlock(width=", 3))
    assert found is not None and found.range.start == pos(RESIDUAL, "ResidualBlock(width,")
    refs = navigate.references(residual, uri, pos(RESIDUAL, "let hidden", 4))
    assert len(refs) == 4  # let hidden = 32, and three uses


def test_outline_lists_blocks_and_bound_tensors(residual):
    outline = navigate.outline(residual)
    assert [s.name for s in outline] == ["hidden", "wine", "ResidualBlock", "WineNet", "main"]
    block = outline[2]
    assert [c.name for c in block.children or []] == ["width", "rate", "x", "h", "d", "r", "s"]
    assert block.kind == lsp.SymbolKind.Class


def test_hover_shows_shape_and_parameters_per_instance(residual):
    found = hover(residual, pos(RESIDUAL, "h = dense", 5))
    assert found is not None
    text = found.contents.value
    assert "fully connected" in text
    assert "`WineNet.a.h` → output `[32]` · 1,056 parameters" in text
    assert "`WineNet.b.h` → output `[32]` · 1,056 parameters" in text
    let = hover(residual, pos(RESIDUAL, "dense(hidden", 7))
    assert let is not None and "= `32`" in let.contents.value
    block = hover(residual, pos(RESIDUAL, "ResidualBlock(width=hidden)", 3))
    assert block is not None
    assert "`WineNet.b`: `[32]` → `[32]` · 2,112 parameters" in block.contents.value
    tensor = hover(residual, pos(RESIDUAL, "concat(stem", 7))
    assert tensor is not None and "output of `dense`: `[32]`" in tensor.contents.value


@pytest.mark.parametrize(
    ("before", "expected", "absent"),
    [
        ("model M {\n  input x: [4]\n  ", ["dense", "lstm", "relu", "input", "output"], []),
        ("model M {\n  input x: [4]\n  h = dense(4, ", ["activation", "units", "x"], ["relu"]),
        ("model M {\n  input x: [4]\n  h = dense(4, init=", ["he_normal"], ["relu", "units"]),
        ("model M {\n  input x: [4]\n  h = conv2d(4, 3, padding=", ["same", "valid"], []),
        ("model M {\n  input x: [4]\n  h = dense(4)\n  output ", ["x", "h"], ["dense"]),
        ("train {\n  ", ["model", "loss", "optimizer", "early_stopping"], ["dense"]),
        ("train {\n  loss: ", ["mse", "categorical_crossentropy"], ["relu"]),
        ("train {\n  optimizer: sgd(", ["lr", "momentum"], []),
        ("train {\n  schedule: [warmup(10), ", ["cosine"], ["adam"]),
        ("train {\n  early_stopping: {", ["monitor", "patience"], ["loss"]),
        ("train {\n  checkpoint: {every: 2, ", ["keep"], []),
        ("data d {\n  source: ", ["sklearn", "csv"], []),
        ("data d {\n  normalize: ", ["standard", "minmax", "none"], []),
        ('data d {\n  source: sklearn("digits")\n  augment: [', ["gaussian_noise"], []),
        ("", ["let", "model", "train"], []),
        ("model B(width, rate=0.1) {\n  input x: [width]\n  dense(", ["width", "rate", "x"], []),
        (
            "let k = 3\nmodel M {\n  input x: [4]\n  s, h = lstm(4)\n  add(",
            ["s", "h", "x", "k"],
            [],
        ),
        ("# a comment with dense(\nmodel M { input x: [4]\n  dense(4, activation=", ["relu"], []),
    ],
)
def test_completion_by_place(before, expected, absent):
    doc = analyse_text("", "c.nn")
    found = labels(complete.completions(doc, before))
    for name in expected:
        assert name in found, (name, found[:20])
    for name in absent:
        assert name not in found, name


def test_completion_offers_names_in_scope(residual):
    text = RESIDUAL.replace("  both  = concat(stem, b)", "  both  = concat(")
    before = text[: text.index("concat(") + 7]
    found = labels(complete.completions(residual, before))
    assert {"stem", "a", "b", "x", "hidden"} <= set(found)
    assert "width" not in found  # ResidualBlock's parameter is not in WineNet's scope
    before = RESIDUAL[: RESIDUAL.index("model:      WineNet") + 12]
    assert labels(complete.completions(residual, before)) == ["ResidualBlock", "WineNet"]


def test_signature_help_marks_the_argument_being_written():
    help_ = complete.signature_help("model M {\n input x: [4]\n dense(4, use_bias=")
    assert help_ is not None
    label = help_.signatures[0].label
    assert label.startswith("dense(units, activation=none")
    params = help_.signatures[0].parameters or []
    start, end = params[help_.active_parameter or 0].label
    assert label[start:end] == "use_bias"
    assert complete.signature_help("train {\n loss: ") is None


def test_navigation_survives_a_syntax_error_while_typing(residual):
    broken = analyse_text(
        RESIDUAL.replace("  both  = concat(stem, b)", "  both = concat("), "r", residual
    )
    assert broken.diagnostics and broken.diagnostics[0].code.startswith("E1")
    assert broken.stale and broken.spec is residual.spec
    # names still complete from the last tree that parsed; positions are not trusted
    assert "hidden" in broken.index.names("let")
    assert navigate.definition(broken, "u", pos(RESIDUAL, "dense(hidden", 7)) is None
    assert navigate.formatting(broken) is None


def test_without_pygls_the_command_says_which_extra(monkeypatch, capsys):
    from nncompile.cli import main

    monkeypatch.setitem(sys.modules, "pygls", None)  # `import pygls` raises ImportError
    assert main(["lsp"]) == 1
    err = capsys.readouterr().err
    assert "`nncompile lsp` needs pygls, which is not installed" in err
    assert "pip install 'nncompile[lsp]'" in err
