"""Hover: the registry's docs and signature of the name under the cursor, and for a layer
statement the output shape and parameter count the front end inferred (as `nncompile summary`)."""

from __future__ import annotations

from collections.abc import Iterator

from lsprotocol import types as lsp

from ..reference import signature
from ..registry import registries
from ..semantics import ir
from ..shapes import fmt
from ..source import Span
from .document import Analysis
from .symbols import Key


def nodes_at(model: ir.Model, span: Span, path: str = "") -> Iterator[tuple[str, ir.Node]]:
    """The nodes built from the statement at ``span`` (a block used twice: one each), with
    where they sit (``WineNet.a``)."""
    where = path or model.name
    for node in model.nodes:
        if node.span == span:
            yield where, node
        if node.submodel is not None:
            yield from nodes_at(node.submodel, span, f"{where}.{node.name}")


def uses(model: ir.Model, block: str, path: str = "") -> Iterator[tuple[str, ir.Node]]:
    """The nodes that are the block ``block`` used as a layer, with where they sit."""
    where = path or model.name
    for node in model.nodes:
        if node.submodel is not None:
            if node.submodel.name == block:
                yield where, node
            yield from uses(node.submodel, block, f"{where}.{node.name}")


def shape_lines(program: ir.Program | None, statement: Span) -> list[str]:
    if program is None:
        return []
    out = []
    for model in program.models.values():
        for where, node in nodes_at(model, statement):
            params = f" · {node.param_count:,} parameters" if node.param_count else ""
            extra = "".join(f", {t.name} {fmt(t.shape)}" for t in node.extra)
            out.append(f"`{where}.{node.name}` → output `{fmt(node.shape)}`{extra}{params}")
    return out


def _tensor(program: ir.Program | None, key: Key) -> str | None:
    """The shape of a model's input or bound tensor."""
    if program is None or key[0] != "local":
        return None
    model = program.models.get(key[1])
    if model is None:
        return None
    for t in model.inputs:
        if t.name == key[2]:
            return f"input `{fmt(t.shape)}`" + (" (int)" if t.dtype == "int32" else "")
    for node in model.nodes:
        if node.output == key[2]:
            return f"output of `{node.kind}`: `{fmt(node.shape)}`"
        for t in node.extra:
            if t.name == key[2]:
                return f"state of `{node.kind}`: `{fmt(t.shape)}`"
    return None


def _name(doc: Analysis, key: Key) -> str:
    kind, scope, name = key
    program = doc.program
    lines = [f"**{kind if kind != 'local' else 'tensor'}** `{name}`"]
    if kind == "let" and program is not None and name in program.lets:
        lines.append(f"= `{program.lets[name]!r}` (override: `--set {name}=...`)")
    elif kind == "model" and program is not None and name in program.models:
        m = program.models[name]
        shapes = ", ".join(f"{t.name} {fmt(t.shape)}" for t in m.inputs)
        outs = ", ".join(f"{t.name} {fmt(t.shape)}" for t in m.outputs)
        lines.append(f"inputs {shapes} → outputs {outs} · {m.param_count:,} parameters")
    elif kind == "model" and program is not None:  # a block only used inside other models
        lines += [
            f"`{where}.{n.name}`: `{', '.join(fmt(x) for x in n.in_shapes)}` → `{fmt(n.shape)}`"
            f" · {n.param_count:,} parameters"
            for m in program.models.values()
            for where, n in uses(m, name)
        ]
    elif kind == "local":
        lines[0] = f"**{scope}** `{name}`"
        described = _tensor(program, key)
        if described:
            lines.append(described)
    elif kind == "data" and program is not None and name in program.data:
        info = program.data[name].info
        shape = fmt(info.feature_shape) if info.feature_shape else "(known when loaded)"
        classes = f", {info.num_classes} classes" if info.num_classes else ""
        lines.append(f"examples {shape}{classes}")
    return "\n\n".join(lines)


def hover(doc: Analysis, position: lsp.Position) -> lsp.Hover | None:
    if doc.stale:
        return None
    line, column = doc.at(position)
    mention = doc.index.mention(line, column)
    if mention is not None:
        entry = registries()[mention.kind][mention.name]
        title = mention.kind.replace("_", " ")
        parts = [f"```nn\n{signature(entry)}\n```", f"*{title}* — {entry.doc}"]
        if mention.statement is not None:
            parts += shape_lines(doc.program, mention.statement)
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n".join(parts)),
            range=doc.range(mention.span),
        )
    found = doc.index.at(line, column)
    if found is not None:
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=_name(doc, found.key)),
            range=doc.range(found.span),
        )
    return None
