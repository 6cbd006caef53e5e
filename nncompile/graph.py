"""`nncompile graph`: a picture of each model, drawn from the validated program.

A node per layer (its name, kind, output shape and parameter count) and per input; edges for
the data flow, skip connections included; a block used as a layer (``a = ResidualBlock(...)``)
drawn as a labelled group around its own layers. Laid out in layers top to bottom (longest path
from the inputs; long edges routed through placeholder points so that they pass between nodes;
orders by the barycentre of the neighbours; positions pulled straight under their inputs), then
written as SVG by hand or drawn to PNG with matplotlib: no system binaries (no graphviz).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from .errors import NncompileError
from .semantics import ir
from .shapes import fmt

WIDTH, HEIGHT = 190.0, 50.0  # a node's box
GAP_X, GAP_Y = 36.0, 46.0  # between boxes side by side, between layers
DUMMY = 8.0  # the width a long edge takes where it crosses a layer
PAD = 12.0  # a group's margin around its nodes (more for each enclosing group)
TITLE = 30.0  # room for a model's name above its drawing


@dataclass
class Vertex:
    id: str
    lines: tuple[str, ...]  # title, shape, parameters
    group: tuple[str, ...] = ()  # the blocks it sits in, outermost first ("a", "a.inner")
    output: bool = False  # one of the model's outputs
    kind: str = "layer"  # "input" | "layer" | "dummy"
    layer: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def width(self) -> float:
        return DUMMY if self.kind == "dummy" else WIDTH


@dataclass
class Graph:
    """One model flattened: vertices, edges (ids), and each group's title."""

    name: str
    vertices: dict[str, Vertex] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)
    params: int = 0


def flatten(model: ir.Model) -> Graph:
    """The model's vertices and edges; a block's nodes inside the group of its statement."""
    g = Graph(model.name, params=model.param_count)
    producers: dict[str, str] = {}
    for t in model.inputs:
        shape = fmt(t.shape) + (" int" if t.dtype == "int32" else "")
        g.vertices[t.name] = Vertex(t.name, (f"{t.name} · input", shape), kind="input")
        producers[t.name] = t.name
    _add(g, model, "", (), producers)
    for t in model.outputs:
        if t.name in producers:
            g.vertices[producers[t.name]].output = True
    return g


def _add(g: Graph, model: ir.Model, prefix: str, group: tuple[str, ...], producers: dict) -> None:
    for node in model.nodes:
        sources = [producers[i] for i in node.inputs if i in producers]
        if node.submodel is not None:
            path = prefix + node.name
            sub = node.submodel
            g.groups[path] = f"{node.name}: {sub.name} · {node.param_count:,} params"
            inner = {t.name: src for t, src in zip(sub.inputs, sources, strict=False)}
            _add(g, sub, path + ".", (*group, path), inner)
            for i, t in enumerate(sub.outputs):
                if t.name in inner:
                    producers[node.output if i == 0 else t.name] = inner[t.name]
            continue
        vid = prefix + node.name
        kind = str(node.params) if node.kind == "activation" else node.kind
        lines = [f"{node.name} · {kind}", fmt(node.shape)]
        if node.extra:
            lines[1] += "  " + " ".join(f"{t.name} {fmt(t.shape)}" for t in node.extra)
        if node.param_count:
            lines.append(f"{node.param_count:,} params")
        g.vertices[vid] = Vertex(vid, tuple(lines), group)
        g.edges += [(s, vid) for s in dict.fromkeys(sources)]  # h and c of one lstm: one edge
        producers[node.output] = vid
        for t in node.extra:
            producers[t.name] = vid


# ---- layout --------------------------------------------------------------------------------
def layout(g: Graph) -> tuple[list[list[str]], list[list[str]]]:
    """Positions every vertex; returns the layers (ids in order) and each edge's route."""
    preds: dict[str, list[str]] = {v: [] for v in g.vertices}
    for a, b in g.edges:
        preds[b].append(a)
    for vid in g.vertices:  # insertion order is a topological order (statements in order)
        ps = preds[vid]
        g.vertices[vid].layer = 1 + max(g.vertices[p].layer for p in ps) if ps else 0
    routes: list[list[str]] = []
    for a, b in g.edges:
        route = [a]
        for layer in range(g.vertices[a].layer + 1, g.vertices[b].layer):
            did = f"{a}->{b}#{layer}"
            g.vertices[did] = Vertex(did, (), kind="dummy", layer=layer)
            route.append(did)
        routes.append([*route, b])
    up: dict[str, list[str]] = {v: [] for v in g.vertices}
    down: dict[str, list[str]] = {v: [] for v in g.vertices}
    for route in routes:
        for a, b in itertools.pairwise(route):
            down[a].append(b)
            up[b].append(a)
    layers: list[list[str]] = [[] for _ in range(1 + max(v.layer for v in g.vertices.values()))]
    for vid, v in g.vertices.items():
        layers[v.layer].append(vid)
    _order(layers, up, down)
    _place(g, layers, up, down)
    return layers, routes


def _order(layers: list[list[str]], up: dict, down: dict) -> None:
    """Fewer crossings: each layer sorted by the mean position of its neighbours, both ways."""
    for sweep in range(4):
        rows = layers[1:] if sweep % 2 == 0 else layers[-2::-1]
        for row in rows:
            i = layers.index(row)
            other = layers[i - 1] if sweep % 2 == 0 else layers[i + 1]
            where = {v: k for k, v in enumerate(other)}
            links = up if sweep % 2 == 0 else down
            keys = {}
            for k, v in enumerate(row):
                near = [where[n] for n in links[v] if n in where]
                keys[v] = sum(near) / len(near) if near else k
            row.sort(key=lambda v: keys[v])


def _place(g: Graph, layers: list[list[str]], up: dict, down: dict) -> None:
    """x: each vertex under the mean of its neighbours, pushed apart where boxes would overlap;
    y: by layer."""
    vs = g.vertices
    for row in layers:  # start packed and centred
        x = 0.0
        for v in row:
            vs[v].x = x + vs[v].width / 2
            x += vs[v].width + GAP_X
        for v in row:
            vs[v].x -= (x - GAP_X) / 2
    for sweep in range(6):
        links = up if sweep % 2 == 0 else down
        for row in layers if sweep % 2 == 0 else layers[::-1]:
            want = {}
            for v in row:
                near = [vs[n].x for n in links[v]]
                want[v] = sum(near) / len(near) if near else vs[v].x
            placed: list[float] = []
            for k, v in enumerate(row):
                x = want[v]
                if k:
                    prev = vs[row[k - 1]]
                    x = max(x, placed[-1] + prev.width / 2 + GAP_X + vs[v].width / 2)
                placed.append(x)
            shift = sum(want[v] - x for v, x in zip(row, placed, strict=True)) / len(row)
            for v, x in zip(row, placed, strict=True):
                vs[v].x = x + shift
    for i, row in enumerate(layers):
        for v in row:
            vs[v].y = i * (HEIGHT + GAP_Y)


def boxes(g: Graph) -> dict[str, tuple[float, float, float, float]]:
    """Each group's rectangle (x0, y0, x1, y1) around its vertices, nested groups inside."""
    out = {}
    depth = {p: p.count(".") for p in g.groups}
    deepest = max(depth.values(), default=0)
    for path in g.groups:
        members = [v for v in g.vertices.values() if path in v.group]
        if not members:
            continue
        pad = PAD + 8 * (deepest - depth[path])
        out[path] = (
            min(v.x - v.width / 2 for v in members) - pad,
            min(v.y for v in members) - pad - 14,
            max(v.x + v.width / 2 for v in members) + pad,
            max(v.y + HEIGHT for v in members) + pad,
        )
    return out


# ---- drawing ---------------------------------------------------------------------------------
def _curve(points: list[tuple[float, float]]) -> str:
    """An SVG path through the points with vertical tangents (smooth edges between layers)."""
    (x, y), *rest = points
    d = [f"M {x:.1f} {y:.1f}"]
    for nx, ny in rest:
        mid = (y + ny) / 2
        d.append(f"C {x:.1f} {mid:.1f} {nx:.1f} {mid:.1f} {nx:.1f} {ny:.1f}")
        x, y = nx, ny
    return " ".join(d)


def points(g: Graph, route: list[str]) -> list[tuple[float, float]]:
    vs = g.vertices
    first, last = vs[route[0]], vs[route[-1]]
    mids = [(vs[d].x, vs[d].y + HEIGHT / 2) for d in route[1:-1]]
    return [(first.x, first.y + HEIGHT), *mids, (last.x, last.y)]


def title(g: Graph) -> str:
    return f"model {g.name} · {g.params:,} parameters"


def prepared(models: list[ir.Model]) -> list[tuple[Graph, list[list[str]], float]]:
    """Every model laid out, side by side: (graph, routes, its left edge)."""
    out = []
    left = 10.0
    for m in models:
        g = flatten(m)
        _, routes = layout(g)
        rects = boxes(g)
        x0 = min([v.x - v.width / 2 for v in g.vertices.values()] + [r[0] for r in rects.values()])
        x1 = max([v.x + v.width / 2 for v in g.vertices.values()] + [r[2] for r in rects.values()])
        x1 = max(x1, x0 + 8.5 * len(title(g)))  # room for the title (14px bold: ~8.5px a letter)
        top = min([0.0] + [r[1] for r in rects.values()])
        for v in g.vertices.values():
            v.x += left - x0
            v.y += TITLE - top
        out.append((g, routes, left))
        left += x1 - x0 + 3 * GAP_X
    return out


def svg(models: list[ir.Model]) -> str:
    """The models as one SVG document."""
    drawn = prepared(models)
    parts = []
    right = bottom = 0.0
    for g, routes, left in drawn:
        parts.append(f'<text x="{left:.1f}" y="18" class="title">{escape(title(g))}</text>')
        for path, (x0, y0, x1, y1) in boxes(g).items():
            parts.append(
                f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
                f'rx="10" class="group"/><text x="{x0 + 8:.1f}" y="{y0 + 15:.1f}" '
                f'class="glabel">{escape(g.groups[path])}</text>'
            )
            right, bottom = max(right, x1), max(bottom, y1)
        for route in routes:
            parts.append(f'<path d="{_curve(points(g, route))}" class="edge"/>')
        for v in g.vertices.values():
            if v.kind == "dummy":
                continue
            x, y = v.x - WIDTH / 2, v.y
            cls = "input" if v.kind == "input" else "node" + (" output" if v.output else "")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{WIDTH}" height="{HEIGHT}" rx="6" '
                f'class="{cls}"/>'
            )
            for k, text in enumerate(v.lines):
                style = "name" if k == 0 else "info"
                parts.append(
                    f'<text x="{v.x:.1f}" y="{y + 16 + 14 * k:.1f}" class="{style}">'
                    f"{escape(text)}</text>"
                )
            right, bottom = max(right, x + WIDTH), max(bottom, y + HEIGHT)
        right = max(right, left + 8.5 * len(title(g)))
    w, h = right + 10, bottom + 10
    style = (
        ".node{fill:#eef4fb;stroke:#4a78a8;stroke-width:1.2}"
        ".output{stroke:#c0392b;stroke-width:2.4}"
        ".input{fill:#f3f3f3;stroke:#777;stroke-width:1.2}"
        ".group{fill:#fbf6e9;stroke:#c9a94a;stroke-dasharray:5 3}"
        ".edge{fill:none;stroke:#555;stroke-width:1.3;marker-end:url(#arrow)}"
        "text{font-family:Helvetica,Arial,sans-serif;font-size:11px}"
        ".name{font-weight:bold;text-anchor:middle}.info{text-anchor:middle;fill:#333}"
        ".title{font-size:14px;font-weight:bold}.glabel{fill:#8a6d1f;font-size:11px}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
        f'viewBox="0 0 {w:.0f} {h:.0f}">\n<style>{style}</style>\n'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
        '</defs>\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(parts)
        + "\n</svg>\n"
    )


def select(program: ir.Program, name: str | None) -> list[ir.Model]:
    """The model ``name``, or every model of the spec."""
    if name is None:
        if not program.models:
            raise NncompileError(f"{program.source.path} has no model to draw")
        return list(program.models.values())
    if name not in program.models:
        from .diagnostics import did_you_mean, one_of

        hint = did_you_mean(name, program.models) or f"the models are {one_of(program.models)}"
        raise NncompileError(f"no model '{name}' in {program.source.path}", hint)
    return [program.models[name]]


def write(models: list[ir.Model], path: str | Path) -> None:
    """An SVG or PNG file of the models (chosen by the file's suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(svg(models), encoding="utf-8")
    elif suffix == ".png":
        png(prepared(models), path)
    else:
        raise NncompileError(
            f"cannot draw to '{path.name}': the picture is SVG or PNG",
            "name the file model.svg or model.png",
        )


def png(drawn: list[tuple[Graph, list[list[str]], float]], path: Path) -> None:
    """The laid-out models drawn with matplotlib (Agg): the same picture as the SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as Curve

    right = bottom = 0.0
    for g, _, left in drawn:
        for v in g.vertices.values():
            right, bottom = max(right, v.x + WIDTH / 2), max(bottom, v.y + HEIGHT)
        for r in boxes(g).values():
            right, bottom = max(right, r[2]), max(bottom, r[3])
        right = max(right, left + 8.5 * len(title(g)))
    w, h = right + 10, bottom + 10
    fig = plt.figure(figsize=(w / 72, h / 72), dpi=110)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.axis("off")
    font: dict[str, Any] = {"fontsize": 8, "family": "sans-serif"}
    for g, routes, left in drawn:
        ax.text(left, 18, title(g), fontsize=10, weight="bold")
        for path_, (x0, y0, x1, y1) in boxes(g).items():
            ax.add_patch(
                FancyBboxPatch(
                    (x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=10",
                    facecolor="#fbf6e9", edgecolor="#c9a94a", linestyle="--",
                )
            )  # fmt: skip
            ax.text(x0 + 8, y0 + 14, g.groups[path_], color="#8a6d1f", **font)
        for route in routes:
            pts = points(g, route)
            verts, codes = [pts[0]], [Curve.MOVETO]
            for (x, y), (nx, ny) in itertools.pairwise(pts):
                mid = (y + ny) / 2
                verts += [(x, mid), (nx, mid), (nx, ny)]
                codes += [Curve.CURVE4] * 3
            ax.add_patch(
                FancyArrowPatch(path=Curve(verts, codes), arrowstyle="-|>", mutation_scale=10,
                                color="#555", linewidth=1.0)
            )  # fmt: skip
        for v in g.vertices.values():
            if v.kind == "dummy":
                continue
            face, edge = ("#f3f3f3", "#777") if v.kind == "input" else ("#eef4fb", "#4a78a8")
            ax.add_patch(
                FancyBboxPatch(
                    (v.x - WIDTH / 2, v.y), WIDTH, HEIGHT, boxstyle="round,pad=0,rounding_size=6",
                    facecolor=face, edgecolor="#c0392b" if v.output else edge,
                    linewidth=2.2 if v.output else 1.0,
                )
            )  # fmt: skip
            for k, text in enumerate(v.lines):
                ax.text(v.x, v.y + 16 + 14 * k, text, ha="center", va="baseline",
                        weight="bold" if k == 0 else "normal", **font)  # fmt: skip
    fig.savefig(path, dpi=110)
    plt.close(fig)
