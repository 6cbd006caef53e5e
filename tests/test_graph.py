"""`nncompile graph`: the picture's content (nodes, edges, groups) and its files."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nncompile import graph
from nncompile.cli import main
from nncompile.compiler import load_spec
from nncompile.errors import NncompileError

SPECS = Path(__file__).resolve().parents[1] / "specs"
NS = "{http://www.w3.org/2000/svg}"


def test_residual_blocks_are_groups_and_skips_are_edges():
    (model,) = graph.select(load_spec(SPECS / "residual_mlp.nn"), "WineNet")
    g = graph.flatten(model)
    assert set(g.groups) == {"a", "b"}
    assert g.groups["a"] == "a: ResidualBlock · 2,112 params"
    assert g.vertices["a.h"].group == ("a",)
    assert g.vertices["stem"].lines == ("stem · dense", "[32]", "448 params")
    assert g.vertices["probs"].output and not g.vertices["both"].output
    edges = set(g.edges)
    # inside the block: the skip connection from the block's input (stem's output) to add
    assert ("stem", "a.s") in edges and ("a.r", "a.s") in edges
    assert ("a.relu_1", "b.h") in edges and ("a.relu_1", "b.s") in edges  # b reads a's output
    # concat(stem, b): a skip over both blocks
    assert ("stem", "both") in edges and ("b.relu_1", "both") in edges
    assert ("x", "stem") in edges
    assert len(edges) == len(g.edges) == 16


def test_layout_keeps_layers_apart_and_boxes_from_overlapping():
    (model,) = graph.select(load_spec(SPECS / "residual_mlp.nn"), "WineNet")
    g = graph.flatten(model)
    layers, routes = graph.layout(g)
    for a, b in g.edges:  # every edge points down
        assert g.vertices[a].y < g.vertices[b].y
    for row in layers:
        xs = sorted((g.vertices[v].x, g.vertices[v].width) for v in row)
        for (x0, w0), (x1, w1) in itertools.pairwise(xs):
            assert x1 - x0 >= (w0 + w1) / 2 + graph.GAP_X - 1e-6
    # the long edge stem -> both passes through a point on each layer between them
    (route,) = [r for r in routes if r[0] == "stem" and r[-1] == "both"]
    assert len(route) == g.vertices["both"].layer - g.vertices["stem"].layer + 1
    rects = graph.boxes(g)
    assert rects["a"][3] < rects["b"][1]  # block a ends above block b


def test_svg_file_names_every_layer_and_group(tmp_path, capsys):
    out = tmp_path / "model.svg"
    assert main(["graph", str(SPECS / "residual_mlp.nn"), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    root = ET.parse(out).getroot()
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "model WineNet · 4,867 parameters" in texts
    assert "a: ResidualBlock · 2,112 params" in texts
    assert texts.count("h · dense") == 2
    assert "both · concat" in texts and "[64]" in texts
    assert len([p for p in root.iter(f"{NS}path") if p.get("class") == "edge"]) == 16


def test_capsule_png_and_every_spec_draws(tmp_path):
    out = tmp_path / "caps.png"
    assert main(["graph", str(SPECS / "capsnet.nn"), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for spec in sorted(SPECS.glob("*.nn")):
        program = load_spec(spec)
        if program.models:
            ET.fromstring(graph.svg(graph.select(program, None)))


def test_bad_model_and_suffix_are_diagnostics(tmp_path, capsys):
    program = load_spec(SPECS / "residual_mlp.nn")
    with pytest.raises(NncompileError, match="no model 'WineNte'") as e:
        graph.select(program, "WineNte")
    assert e.value.hint == "did you mean 'WineNet'?"
    spec = str(SPECS / "residual_mlp.nn")
    assert main(["graph", spec, "-o", str(tmp_path / "m.pdf")]) == 1
    assert "the picture is SVG or PNG" in capsys.readouterr().err
