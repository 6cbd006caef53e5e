"""Input dimensions: whole numbers, or names and expressions that evaluate to one."""

from __future__ import annotations

from .. import diagnostics as D
from ..syntax import ast
from .resolve import Invalid, Resolver, Scope


def input_dim(resolver: Resolver, dim: ast.Value, scope: Scope) -> int | None:
    """The value of one dimension of an `input` shape; None (reported) when it has none."""
    out = resolver.out
    try:
        value, _ = resolver.deref(dim, scope)
    except Invalid:
        return None
    if isinstance(value, ast.Number) and isinstance(value.value, int):
        return value.value
    if isinstance(value, ast.Name) and isinstance(dim, ast.Name):
        out.error(
            D.UNKNOWN_REFERENCE,
            f"unknown name '{dim.id}'",
            dim.span,
            D.did_you_mean(dim.id, scope.names()) or "define it with `let`",
        )
    elif isinstance(value, ast.Number):
        out.error(
            D.BAD_VALUE,
            f"input dimensions must be whole numbers, got {value.value!r}",
            dim.span,
            "`/` gives a float: use `//` to divide whole numbers (7 // 2 = 3)"
            if _divides(resolver.follow(dim, scope)[0])
            else None,
        )
    else:
        what = f"'{dim.id}'" if isinstance(dim, ast.Name) else "this"
        out.error(D.BAD_VALUE, f"{what} is not a whole number", dim.span)
    return None


def _divides(value: ast.Value) -> bool:
    """Whether an expression's value comes from a `/` (a float even for whole numbers)."""
    if isinstance(value, ast.BinOp):
        return value.op == "/" or any(_divides(v) for v in (value.left, value.right))
    return isinstance(value, ast.Neg) and _divides(value.operand)
