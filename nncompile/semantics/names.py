"""Names a spec may not give: the emitted code writes a layer's name verbatim as an attribute of an
``nnx.Module`` (``self.<name>``: parameter paths, ``freeze:`` and transfer name it), and a block
parameter may be stored the same way. Model, input and tensor names need no rule: codegen renames
them where they would shadow something (``expr.safe_name``)."""

from __future__ import annotations

import keyword

from .. import diagnostics as D
from ..diagnostics import Collector
from ..syntax import ast

# the public attributes of flax's nnx.Module (a layer named so would replace a method the runtime
# calls); tests/hostile/test_injection.py checks this against the installed flax
MODULE_ATTRS = frozenset(
    {"eval", "iter_children", "iter_modules", "perturb", "set_attributes", "sow", "train"}
)


def problem(name: str) -> str | None:
    """Why ``name`` cannot name a layer or a block parameter, or None."""
    if name.startswith("_"):
        return "names starting with '_' are reserved for Python's object internals"
    if keyword.iskeyword(name):
        return f"'{name}' is a Python keyword"
    if name in MODULE_ATTRS:
        return f"'{name}' is a method of every model (nnx.Module.{name})"
    return None


def check_model_names(block: ast.ModelBlock, out: Collector) -> None:
    """A diagnostic for each layer binding and block parameter whose name is reserved."""
    for param in block.params:
        if why := problem(param.name):
            out.error(
                D.BAD_NAME,
                f"parameter '{param.name}' of model {block.name}: {why}",
                param.span,
                "choose another name",
            )
    for stmt in block.body:
        if not (isinstance(stmt, ast.LayerStmt) and stmt.target and stmt.target_span):
            continue
        if why := problem(stmt.target):
            out.error(
                D.BAD_NAME,
                f"layer name '{stmt.target}' in model {block.name}: {why}",
                stmt.target_span,
                "choose another name",
            )
        for extra in stmt.more_targets:
            if why := problem(extra.id):
                out.error(
                    D.BAD_NAME,
                    f"tensor name '{extra.id}' in model {block.name}: {why}",
                    extra.span,
                    "choose another name",
                )
