"""Syntax-tree values -> Python values, registry references resolved, pydantic errors -> spans.

Resolution order for a bare name (LANGUAGE.md): model parameters and `let` values first, then
symbols (``relu``, ``same``, ``val_loss``) whose validity the field's type decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from .. import diagnostics as D
from ..diagnostics import Collector, did_you_mean, one_of
from ..registry import BlockRef, Params, Ref, RefTo, registries
from ..source import Span
from ..syntax import ast
from .arith import Failed, evaluate, is_arithmetic
from .keras_names import argument_hint, literal_hint, symbol_hint
from .pydantic_errors import KEY, is_dict, is_list, kind_label, kinds_label, nested_model, report


class Invalid(Exception):
    """A value could not be resolved; its diagnostic is already recorded."""


@dataclass
class Scope:
    """Names visible to a value: `let`s, and a parameterised model's bound arguments."""

    lets: dict[str, ast.Value]
    params: dict[str, tuple[ast.Value, Scope]] = field(default_factory=dict)

    def lookup(self, name: str) -> tuple[ast.Value, Scope] | None:
        if name in self.params:
            return self.params[name]
        if name in self.lets:
            return self.lets[name], Scope(self.lets)
        return None

    def names(self) -> list[str]:
        return [*self.params, *self.lets]


class Resolver:
    """Converts values for one spec, recording diagnostics in ``out``."""

    def __init__(self, out: Collector):
        self.out = out
        self.registries = registries()
        self.expanding: list[
            ast.Value
        ] = []  # let values being expanded by plain(): a repeat is a cycle

    def cycle(self, name: ast.Name, value: ast.Value) -> Invalid:
        """Reports a `let` defined in terms of itself (`let a = b`, `let b = [a]`)."""
        self.out.error(
            D.GRAPH,
            f"'{name.id}' is defined in terms of itself",
            value.span,
            "give the `let` a value that does not use its own name",
        )
        return Invalid()

    # ---- plain values --------------------------------------------------------------------
    def plain(self, value: ast.Value, scope: Scope, spans: dict, loc: tuple, symbols: dict) -> Any:
        """A value with no registry meaning; remembers each sub-value's span under its loc."""
        spans[loc] = value.span
        if is_arithmetic(value):
            value = self.arithmetic(value, scope)
        if isinstance(value, (ast.Number, ast.String, ast.Bool)):
            return value.value
        if isinstance(value, ast.Name):
            bound = scope.lookup(value.id)
            if bound is not None:
                if any(bound[0] is v for v in self.expanding):
                    raise self.cycle(value, bound[0])
                self.expanding.append(bound[0])
                try:
                    return self.plain(bound[0], bound[1], spans, loc, symbols)
                finally:
                    self.expanding.pop()
            symbols[loc] = value
            return value.id
        if isinstance(value, ast.List):
            return [
                self.plain(v, scope, spans, (*loc, i), symbols) for i, v in enumerate(value.items)
            ]
        if isinstance(value, ast.Dict):
            return self.pairs(
                value,
                scope,
                spans,
                loc,
                symbols,
                lambda v, s, at: self.plain(v, s, spans, at, symbols),
            )
        assert isinstance(value, ast.Call)
        self.out.error(
            D.BAD_VALUE,
            f"a call ({value.name}(...)) is not allowed here",
            value.span,
            "write a number, a name, a list or a dict",
        )
        raise Invalid

    def pairs(
        self, value: ast.Dict, scope: Scope, spans: dict, loc: tuple, symbols: dict, convert
    ) -> dict:
        out: dict[str, Any] = {}
        repeated = False
        for pair in value.pairs:
            if pair.key in out:
                self.out.error(
                    D.DUPLICATE,
                    f"key '{pair.key}' is given twice",
                    pair.key_span,
                    f"it is already given at line {spans[(*loc, pair.key, KEY)].line}: remove one",
                )
                repeated = True
                continue
            spans[(*loc, pair.key)] = spans[(*loc, pair.key, KEY)] = pair.key_span
            out[pair.key] = convert(pair.value, scope, (*loc, pair.key))
        if repeated:  # which value was meant is unknown: checking the rest would only add noise
            raise Invalid
        return out

    # ---- typed by a pydantic field ------------------------------------------------------------
    def field_value(
        self,
        value: ast.Value,
        info: FieldInfo,
        scope: Scope,
        spans: dict,
        loc: tuple,
        symbols: dict,
    ) -> Any:
        meta = next((m for m in info.metadata if isinstance(m, (RefTo, BlockRef))), None)
        if isinstance(meta, RefTo):
            value, scope = self.deref(value, scope)
            spans[loc] = value.span
            kind = meta.kind
            if (
                info.default is None
                and isinstance(value, ast.Name)
                and value.id == "none"
                and "none" not in self.registries[kind]  # (a sweep's pruner `none` is an entry)
            ):
                return None  # `activation=none`, `init=none`: the default, as the docs print it
            refs = lambda v, s: [
                self.ref(i, kind, s) for i in (v.items if isinstance(v, ast.List) else (v,))
            ]
            if isinstance(value, ast.Dict) and is_dict(info.annotation):  # one per output
                listed = is_list(info.annotation)
                return self.pairs(
                    value,
                    scope,
                    spans,
                    loc,
                    symbols,
                    lambda v, s, at: refs(*self.deref(v, s)) if listed else self.ref(v, kind, s),
                )
            if is_list(info.annotation):
                return refs(value, scope)
            return self.ref(value, meta.kind, scope)
        if isinstance(meta, BlockRef):
            value, scope = self.deref(value, scope)
            spans[loc] = value.span
            if isinstance(value, (ast.Name, ast.String)):
                return value.id if isinstance(value, ast.Name) else value.value
            self.out.error(D.BAD_VALUE, f"expected the name of a {meta.kind} block", value.span)
            raise Invalid
        nested = nested_model(info.annotation)
        if nested is not None:
            value, scope = self.deref(value, scope)
            if isinstance(value, ast.Dict):
                spans[loc] = value.span
                return self.pairs(
                    value,
                    scope,
                    spans,
                    loc,
                    symbols,
                    lambda v, s, at: self.typed(v, nested, at[-1], s, spans, at, symbols),
                )
        return self.plain(value, scope, spans, loc, symbols)

    def typed(self, value, model: type[Params], key: str, scope, spans, loc, symbols):
        info = model.model_fields.get(key)
        if info is None:  # unknown key: pydantic reports extra_forbidden at this loc
            return self.plain(value, scope, spans, loc, symbols)
        return self.field_value(value, info, scope, spans, loc, symbols)

    def arithmetic(self, value: ast.Value, scope: Scope) -> ast.Number:
        """An expression's value (``size * 2``); its diagnostics are recorded."""
        assert isinstance(value, (ast.BinOp, ast.Neg))
        try:
            return evaluate(self, value, scope)
        except Failed:
            raise Invalid from None

    def deref(self, value: ast.Value, scope: Scope) -> tuple[ast.Value, Scope]:
        """Follow `let` values and model parameters to the value they name; an expression is
        evaluated to the number literal it stands for."""
        value, scope = self.follow(value, scope)
        if is_arithmetic(value):
            return self.arithmetic(value, scope), scope
        return value, scope

    def follow(self, value: ast.Value, scope: Scope) -> tuple[ast.Value, Scope]:
        seen = set()
        while isinstance(value, ast.Name):
            key = (
                value.id,
                id(scope.params) if scope.params else None,
            )  # a parameter may name a let
            if key in seen:
                break
            seen.add(key)
            bound = scope.lookup(value.id)
            if bound is None:
                break
            value, scope = bound
        return value, scope

    # ---- registry references --------------------------------------------------------------------
    def ref(self, value: ast.Value, kind: str, scope: Scope) -> Ref:
        """``relu`` or ``leaky_relu(0.2)`` -> Ref, its arguments validated."""
        value, scope = self.deref(value, scope)
        registry = self.registries[kind]
        args: tuple[ast.Arg, ...]
        if isinstance(value, ast.Name):
            name, args, name_span = value.id, (), value.span
        elif isinstance(value, ast.Call):
            name, args, name_span = value.name, value.args, value.name_span
        else:
            self.out.error(D.BAD_VALUE, *not_a_ref(value, kind, list(registry)))
            raise Invalid
        entry = registry.get(name)
        if entry is None:
            hint = (
                literal_hint(name)
                or symbol_hint(kind, name, list(registry))
                or did_you_mean(name, [*registry, *scope.names()])
                or f"the {kinds_label(kind)} are {one_of(registry)}"
            )
            self.out.error(D.UNKNOWN_NAME, f"unknown {kind_label(kind)} '{name}'", name_span, hint)
            raise Invalid
        params = self.call_args(entry.name, entry.params, entry.positional, args, scope, value.span)
        return Ref(kind, name, params, value.span)

    def call_args(
        self,
        owner: str,
        model: type[Params],
        positional: tuple[str, ...],
        args,
        scope: Scope,
        call_span: Span,
    ) -> Params:
        """Bind positional and keyword arguments to ``model``'s fields and validate them."""
        raw: dict[str, Any] = {}
        spans: dict[tuple, Span] = {}
        symbols: dict[tuple, ast.Name] = {}
        arg_spans: dict[str, Span] = {}
        given_by_position: dict[str, int] = {}
        failed = False
        for i, arg in enumerate(args):
            if arg.key is None:
                if i >= len(positional):
                    s = "s" if len(positional) != 1 else ""
                    takes = f"takes {len(positional)} positional argument{s}"
                    named = [f for f in model.model_fields if f not in positional]
                    hint = (
                        f"name the others: {owner}(..., {named[0]}=...)"
                        if named
                        else f"{owner} takes only {one_of(positional)}"
                        if positional
                        else f"{owner} takes no arguments"
                    )
                    self.out.error(D.TOO_MANY_ARGUMENTS, f"{owner}() {takes}", arg.span, hint)
                    failed = True
                    continue
                key, key_span = positional[i], arg.span
                given_by_position[key] = i
            else:
                key, key_span = arg.key, arg.key_span
                if key not in model.model_fields:
                    fields = list(model.model_fields)
                    hint = (
                        argument_hint(key, fields)
                        or did_you_mean(key, fields)
                        or (
                            f"{owner} takes {one_of(fields)}"
                            if fields
                            else f"{owner} takes no arguments"
                        )
                    )
                    self.out.error(
                        D.UNKNOWN_ARGUMENT, f"{owner}() has no argument '{key}'", key_span, hint
                    )
                    failed = True
                    continue
            if key in raw or key in arg_spans:
                twice: str | None = None
                if key in given_by_position:
                    nth = _ORDINALS.get(given_by_position[key], "same")
                    twice = f"the {nth} positional argument of {owner}() is {key}: "
                    twice += "remove one of the two"
                self.out.error(
                    D.REPEATED_ARGUMENT,
                    f"argument '{key}' of {owner}() is given twice",
                    key_span,
                    twice,
                )
                failed = True
                continue
            arg_spans[key] = key_span
            try:
                raw[key] = self.field_value(
                    arg.value, model.model_fields[key], scope, spans, (key,), symbols
                )
            except Invalid:
                failed = True
        if failed:
            raise Invalid
        return self.validate(model, raw, spans, symbols, scope, owner, call_span)

    def validate(
        self,
        model: type[Params],
        raw: dict,
        spans: dict,
        symbols: dict,
        scope: Scope,
        owner: str,
        whole: Span,
        missing_what: str = "argument",
    ) -> Params:
        try:
            return model.model_validate(raw, strict=True)  # strict: "64" is not a number
        except ValidationError as e:
            report(
                self.out,
                e,
                model,
                spans,
                symbols,
                scope.names,
                owner,
                whole,
                missing_what,
                self.registries,
            )
            raise Invalid from None


_ORDINALS = {0: "first", 1: "second", 2: "third", 3: "fourth"}


def not_a_ref(value: ast.Value, kind: str, names: list[str]) -> tuple[str, Span, str]:
    """(message, span, hint) for a value where a registry name (an activation, a loss, ...) is
    expected: a quoted name, a list of losses (one per output goes by name) or anything else."""
    label = kind_label(kind)
    article = "an" if label[0] in "aeiou" else "a"
    if isinstance(value, ast.String) and value.value in names:
        return (
            f"expected {article} {label} name, not a string: {value.value} is written without "
            "quotes",
            value.span,
            f"write {value.value}",
        )
    if isinstance(value, ast.List) and kind == "loss":
        return (
            "expected one loss, not a list: a model with several outputs takes a loss per output "
            "by name",
            value.span,
            "write `loss: {output_name: mse, other: binary_crossentropy}` (or one loss for all)",
        )
    return (
        f"expected {article} {label}, e.g. {names[0]}",
        value.span,
        f"the {kinds_label(kind)} are {one_of(names)}",
    )
