"""Go to definition, find references, rename, the document outline and formatting."""

from __future__ import annotations

import keyword

from lsprotocol import types as lsp

from ..diagnostics import CompileError
from ..fmt import format_text
from ..syntax import ast
from .document import Analysis
from .symbols import Occurrence, name_span

KEYWORDS = {"let", "data", "model", "train", "sweep", "input", "output", "true", "false", "int"}


def _under(doc: Analysis, position: lsp.Position) -> Occurrence | None:
    if doc.stale:  # positions of an older text would point at the wrong characters
        return None
    return doc.index.at(*doc.at(position))


def definition(doc: Analysis, uri: str, position: lsp.Position) -> lsp.Location | None:
    found = _under(doc, position)
    if found is None:
        return None
    span = doc.index.definitions[found.key]
    return lsp.Location(uri=uri, range=doc.range(span))


def references(
    doc: Analysis, uri: str, position: lsp.Position, include_declaration: bool = True
) -> list[lsp.Location]:
    found = _under(doc, position)
    if found is None:
        return []
    return [
        lsp.Location(uri=uri, range=doc.range(o.span))
        for o in sorted(doc.index.references(found.key), key=lambda o: o.span)
        if include_declaration or not o.definition
    ]


def prepare_rename(doc: Analysis, position: lsp.Position) -> lsp.Range | None:
    found = _under(doc, position)
    return None if found is None else doc.range(found.span)


def rename(
    doc: Analysis, uri: str, position: lsp.Position, new_name: str
) -> lsp.WorkspaceEdit | None:
    """Every occurrence of the name under the cursor renamed; a new name the language cannot
    use is refused with the reason (raised as ValueError: the server answers it as an error)."""
    found = _under(doc, position)
    if found is None:
        return None
    if not new_name.isidentifier() or not new_name.isascii():
        raise ValueError(f"'{new_name}' is not a name: use letters, digits and _")
    if new_name in KEYWORDS or keyword.iskeyword(new_name) or new_name.startswith("_"):
        raise ValueError(f"'{new_name}' cannot name a {found.key[0]} (a reserved word)")
    kind, scope, _ = found.key
    taken = doc.index.names(kind, scope)
    if new_name in taken and new_name != found.key[2]:
        raise ValueError(f"'{new_name}' is already defined here")
    edits = [
        lsp.TextEdit(range=doc.range(o.span), new_text=new_name)
        for o in sorted(doc.index.references(found.key), key=lambda o: o.span)
    ]
    return lsp.WorkspaceEdit(changes={uri: edits})


def _symbol(doc: Analysis, name: str, kind: lsp.SymbolKind, detail: str, span, selection, kids):
    return lsp.DocumentSymbol(
        name=name,
        kind=kind,
        detail=detail,
        range=doc.range(span),
        selection_range=doc.range(selection),
        children=kids or None,
    )


def outline(doc: Analysis) -> list[lsp.DocumentSymbol]:
    """Blocks and `let` values; a model's inputs and bound tensors inside it."""
    if doc.spec is None or doc.stale:
        return []
    out = []
    for item in doc.spec.items:
        if isinstance(item, ast.Let):
            out.append(
                _symbol(
                    doc, item.name, lsp.SymbolKind.Constant, "let", item.span, item.name_span, []
                )
            )
        elif isinstance(item, ast.ModelBlock):
            kids = []
            for s in item.body:
                if isinstance(s, ast.Input):
                    kids.append(
                        _symbol(
                            doc, s.name, lsp.SymbolKind.Variable, "input", s.span, s.name_span, []
                        )
                    )
                elif isinstance(s, ast.LayerStmt) and s.target and s.target_span:
                    kids.append(
                        _symbol(
                            doc, s.target, lsp.SymbolKind.Variable, s.call.name, s.span,
                            s.target_span, [],
                        )
                    )  # fmt: skip
            params = [
                _symbol(
                    doc, p.name, lsp.SymbolKind.TypeParameter, "parameter", p.span,
                    name_span(p.span, p.name), [],
                )
                for p in item.params
            ]  # fmt: skip
            out.append(
                _symbol(
                    doc, item.name, lsp.SymbolKind.Class, "model", item.span, item.name_span,
                    params + kids,
                )
            )  # fmt: skip
        else:
            keyword_ = {ast.DataBlock: "data", ast.TrainBlock: "train"}.get(type(item), "sweep")
            kids = [
                _symbol(doc, p.key, lsp.SymbolKind.Property, "", p.span, p.key_span, [])
                for p in item.properties
            ]
            kind = lsp.SymbolKind.Struct if keyword_ == "data" else lsp.SymbolKind.Function
            out.append(_symbol(doc, item.name, kind, keyword_, item.span, item.name_span, kids))
    return out


def formatting(doc: Analysis) -> list[lsp.TextEdit] | None:
    """One edit replacing the whole text with `nncompile fmt`'s layout ([] when it already is;
    None when the text has syntax errors: nothing to format safely)."""
    try:
        formatted = format_text(doc.source.text, doc.source.path)
    except (CompileError, RuntimeError):  # syntax errors; fmt refusing to change the meaning
        return None
    if formatted == doc.source.text:
        return []
    return [lsp.TextEdit(range=doc.whole(), new_text=formatted)]
