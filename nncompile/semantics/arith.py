"""Arithmetic in specs (``size * 2``, ``(hidden + 1) // 2``, ``-rate``): evaluated at compile time
to a number literal, with a diagnostic at the sub-expression that fails (an unknown name, a value
that is not a number, a division by zero, a result out of range)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Protocol

from .. import diagnostics as D
from ..diagnostics import Collector
from ..syntax import ast


class Scope(Protocol):
    """The names an expression can use (``resolve.Scope``)."""

    def lookup(self, name: str) -> tuple[ast.Value, Scope] | None: ...

    def names(self) -> list[str]: ...


class Resolver(Protocol):
    """Where diagnostics go and which values are being expanded (``resolve.Resolver``)."""

    out: Collector
    expanding: list[ast.Value]

    def cycle(self, name: ast.Name, value: ast.Value) -> Exception: ...


INT_LIMIT = 2**63  # what a spec's integer literal may be (syntax/parser.py): results keep to it

_APPLY: dict[str, Callable[[int | float, int | float], int | float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
}


class Failed(Exception):
    """The expression has no value; its diagnostic is recorded."""


def is_arithmetic(value: ast.Value) -> bool:
    return isinstance(value, (ast.BinOp, ast.Neg))


def evaluate(resolver: Resolver, value: ast.BinOp | ast.Neg, scope: Scope) -> ast.Number:
    """The value of an expression as a number literal spanning the whole expression."""
    return ast.Number(_Evaluator(resolver).number(value, scope), value.span)


class _Evaluator:
    def __init__(self, resolver: Resolver):
        self.r = resolver
        self.out = resolver.out

    def number(self, value: ast.Value, scope: Scope) -> int | float:
        if isinstance(value, ast.Number):
            return value.value
        if isinstance(value, ast.Neg):
            return self.checked(-self.number(value.operand, scope), value)
        if isinstance(value, ast.BinOp):
            left = right = None
            failed = False
            for side in ("left", "right"):  # both sides, so both their errors are reported
                try:
                    if side == "left":
                        left = self.number(value.left, scope)
                    else:
                        right = self.number(value.right, scope)
                except Failed:
                    failed = True
            if failed or left is None or right is None:
                raise Failed
            if value.op in ("/", "//") and right == 0:
                self.out.error(
                    D.BAD_VALUE,
                    "division by zero",
                    value.right.span,
                    "this divisor evaluates to 0",
                )
                raise Failed
            try:
                result = _APPLY[value.op](left, right)
            except OverflowError:
                result = math.inf
            return self.checked(result, value)
        if isinstance(value, ast.Name):
            return self.name(value, scope)
        self.out.error(
            D.BAD_VALUE,
            f"{_what(value)} cannot be used in arithmetic",
            value.span,
            "arithmetic works on numbers, `let` values and model parameters",
        )
        raise Failed

    def name(self, name: ast.Name, scope: Scope) -> int | float:
        bound = scope.lookup(name.id)
        if bound is None:
            self.out.error(
                D.UNKNOWN_REFERENCE,
                f"unknown name '{name.id}'",
                name.span,
                D.did_you_mean(name.id, scope.names())
                or "arithmetic works on numbers, `let` values and model parameters: "
                "define it with `let`",
            )
            raise Failed
        target, where = bound
        if isinstance(target, ast.Name) and where.lookup(target.id) is None:
            self.out.error(
                D.BAD_VALUE,
                f"'{name.id}' is {target.id}, not a number",
                name.span,
                "arithmetic works on numbers, `let` values and model parameters",
            )
            raise Failed
        if any(target is v for v in self.r.expanding):
            self.r.cycle(name, target)
            raise Failed
        if isinstance(target, (ast.Number, ast.BinOp, ast.Neg, ast.Name)):
            self.r.expanding.append(target)
            try:
                return self.number(target, where)
            finally:
                self.r.expanding.pop()
        self.out.error(
            D.BAD_VALUE,
            f"'{name.id}' is {_what(target)}, not a number",
            name.span,
            f"'{name.id}' is defined at line {target.span.line}; arithmetic needs numbers",
        )
        raise Failed

    def checked(self, result: int | float, value: ast.Value) -> int | float:
        """A result no literal could be is an error here, not an overflow later."""
        if isinstance(result, int) and abs(result) >= INT_LIMIT:
            problem = "is out of range (integers must lie within ±9223372036854775807)"
        elif isinstance(result, float) and not math.isfinite(result):
            problem = "is too large to be a float"
        else:
            return result
        self.out.error(D.BAD_VALUE, f"the result of this expression {problem}", value.span)
        raise Failed


def _what(value: ast.Value) -> str:
    if isinstance(value, ast.String):
        return "a string"
    if isinstance(value, ast.Bool):
        return "true" if value.value else "false"
    if isinstance(value, ast.List):
        return "a list"
    if isinstance(value, ast.Dict):
        return "a dict"
    if isinstance(value, ast.Call):
        return f"a call ({value.name}(...))"
    return "this value"


# ---- the expressions of a parameterised block, for writing one class ----------------------------
def mentions(value: object, name: str) -> list[ast.BinOp | ast.Neg]:
    """Every arithmetic sub-expression inside ``value`` (a statement, an argument, a value) that
    uses the name ``name``, outermost first."""
    found: list[ast.BinOp | ast.Neg] = []

    def uses(v: ast.Value) -> bool:
        if isinstance(v, ast.Name):
            return v.id == name
        if isinstance(v, ast.BinOp):
            return uses(v.left) | uses(v.right)
        if isinstance(v, ast.Neg):
            return uses(v.operand)
        return False

    def visit(v: object) -> None:
        if isinstance(v, (ast.BinOp, ast.Neg)):
            if uses(v):
                found.append(v)
            for part in (v.left, v.right) if isinstance(v, ast.BinOp) else (v.operand,):
                visit(part)
        elif isinstance(v, ast.List):
            for item in v.items:
                visit(item)
        elif isinstance(v, ast.Dict):
            for pair in v.pairs:
                visit(pair.value)
        elif isinstance(v, ast.Call):
            for arg in v.args:
                visit(arg.value)
        elif isinstance(v, ast.LayerStmt):
            visit(v.call)
        elif isinstance(v, ast.Input):
            for dim in v.dims:
                visit(dim)

    visit(value)
    return found


def formula(resolver: Resolver, value: ast.Value, scope: Scope, name: str) -> object | None:
    """``value`` as data with ``name`` kept as ("param", name) and every other name evaluated in
    ``scope``; None when a part has no number."""
    if isinstance(value, ast.Number):
        return value.value
    if isinstance(value, ast.Name):
        if value.id == name:
            return ("param", name)
        try:
            return _Evaluator(resolver).name(value, scope)
        except Failed:
            return None
    if isinstance(value, ast.Neg):
        operand = formula(resolver, value.operand, scope, name)
        return None if operand is None else ("neg", operand)
    if isinstance(value, ast.BinOp):
        left = formula(resolver, value.left, scope, name)
        right = formula(resolver, value.right, scope, name)
        return None if left is None or right is None else (value.op, left, right)
    return None
