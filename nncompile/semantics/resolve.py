"""Syntax-tree values -> Python values, registry references resolved, pydantic errors -> spans.

Resolution order for a bare name (LANGUAGE.md): model parameters and `let` values first, then
symbols (``relu``, ``same``, ``val_loss``) whose validity the field's type decides.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from .. import diagnostics as D
from ..diagnostics import Collector, did_you_mean, one_of
from ..registry import BlockRef, Params, Ref, RefTo, registries
from ..source import Span
from ..syntax import ast


class Invalid(Exception):
    """A value could not be resolved; its diagnostic is already recorded."""


KEY = "@key"  # spans[(*loc, KEY)] is the span of a dict key (spans[loc] is its value's)


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


def kind_label(kind: str) -> str:
    return kind.replace("_", " ")


def kinds_label(kind: str) -> str:
    """The plural: 'losses', 'layers'."""
    label = kind_label(kind)
    return label + ("es" if label.endswith("s") else "s")


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
                lambda v, s, l: self.plain(v, s, spans, l, symbols),
            )
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
            if _is_list(info.annotation):
                items = value.items if isinstance(value, ast.List) else (value,)
                return [self.ref(v, meta.kind, scope) for v in items]
            return self.ref(value, meta.kind, scope)
        if isinstance(meta, BlockRef):
            value, scope = self.deref(value, scope)
            spans[loc] = value.span
            if isinstance(value, (ast.Name, ast.String)):
                return value.id if isinstance(value, ast.Name) else value.value
            self.out.error(D.BAD_VALUE, f"expected the name of a {meta.kind} block", value.span)
            raise Invalid
        nested = _nested_model(info.annotation)
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
                    lambda v, s, l: self.typed(v, nested, l[-1], s, spans, l, symbols),
                )
        return self.plain(value, scope, spans, loc, symbols)

    def typed(self, value, model: type[Params], key: str, scope, spans, loc, symbols):
        info = model.model_fields.get(key)
        if info is None:  # unknown key: pydantic reports extra_forbidden at this loc
            return self.plain(value, scope, spans, loc, symbols)
        return self.field_value(value, info, scope, spans, loc, symbols)

    def deref(self, value: ast.Value, scope: Scope) -> tuple[ast.Value, Scope]:
        """Follow `let` values and model parameters to the value they name."""
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
        if isinstance(value, ast.Name):
            name, args, name_span = value.id, (), value.span
        elif isinstance(value, ast.Call):
            name, args, name_span = value.name, value.args, value.name_span
        else:
            example = next(iter(registry))
            self.out.error(
                D.BAD_VALUE,
                f"expected a {kind_label(kind)}, e.g. {example}",
                value.span,
                f"the {kinds_label(kind)} are {one_of(registry)}",
            )
            raise Invalid
        entry = registry.get(name)
        if entry is None:
            hint = (
                did_you_mean(name, [*registry, *scope.names()])
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
                    takes = f"takes {len(positional)} positional argument{'s' if len(positional) != 1 else ''}"
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
                    hint = did_you_mean(key, fields) or (
                        f"{owner} takes {one_of(fields)}"
                        if fields
                        else f"{owner} takes no arguments"
                    )
                    self.out.error(
                        D.UNKNOWN_ARGUMENT, f"{owner}() has no argument '{key}'", key_span, hint
                    )
                    failed = True
                    continue
            if key in raw or key in arg_spans:
                hint = None
                if key in given_by_position:
                    hint = (
                        f"the {_ORDINALS.get(given_by_position[key], 'same')} positional argument of {owner}() "
                        f"is {key}: remove one of the two"
                    )
                self.out.error(
                    D.REPEATED_ARGUMENT,
                    f"argument '{key}' of {owner}() is given twice",
                    key_span,
                    hint,
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
            self.report(e, model, spans, symbols, scope, owner, whole, missing_what)
            raise Invalid from None

    def report(
        self, e: ValidationError, model, spans, symbols, scope, owner, whole, missing_what
    ) -> None:
        reported: set[tuple] = set()
        errors = []
        for err in e.errors(include_url=False):
            loc = tuple(
                p
                for p in err["loc"]
                if not (isinstance(p, str) and p.startswith(("function-", "literal[")))
            )
            errors.append((_strip_union_tags(loc), err))
        # of a union's alternatives, the one that got deepest into the value is the one meant:
        # strides=[0, 1] is a list with a bad item, not a bad whole number
        errors.sort(key=lambda le: -len(le[0]))
        options_at: dict[tuple, list[str]] = {}
        for loc, err in errors:
            if err["type"] == "literal_error":
                options_at.setdefault(loc, []).extend(_literal_options(err))
        for loc, err in errors:
            if err["type"] == "missing":
                where = "" if len(loc) <= 1 else f" in '{'.'.join(map(str, loc[:-1]))}'"
                key = (loc, "missing")
                if key not in reported:
                    reported.add(key)
                    self.out.error(
                        D.MISSING_ARGUMENT if missing_what == "argument" else D.MISSING_PROPERTY,
                        f"{owner} is missing required {missing_what} '{loc[-1]}'{where}",
                        _lookup(spans, loc[:-1], whole),
                        _missing_hint(model, loc, owner, missing_what, self.registries),
                    )
                continue
            span = _lookup(spans, loc, whole)
            field_name = ".".join(str(p) for p in loc) or owner
            if any(
                k == "value" and (r == loc[: len(r)] or loc == r[: len(loc)]) for r, k in reported
            ):
                continue  # one error per value: not its union alternatives, not its parts too
            reported.add((loc, "value"))
            symbol = symbols.get(loc)
            if err["type"] == "extra_forbidden":
                parent = loc[:-1]
                sub = _sub_model(model, parent)
                fields = list(sub.model_fields) if sub else []
                hint = did_you_mean(str(loc[-1]), fields) or (
                    f"the keys are {one_of(fields)}" if fields else None
                )
                self.out.error(
                    D.UNKNOWN_PROPERTY,
                    f"unknown key '{loc[-1]}' in {'.'.join(map(str, parent))}",
                    spans.get((*loc, KEY), span),
                    hint,
                )
            elif symbol is not None and loc in options_at:
                options = options_at[loc]
                self.out.error(
                    D.UNKNOWN_NAME,
                    f"unknown value '{symbol.id}' for {field_name} of {owner}",
                    symbol.span,
                    did_you_mean(symbol.id, options) or f"expected {one_of(options)}",
                )
            elif loc in options_at and isinstance(err.get("input"), str):
                options = options_at[loc]
                self.out.error(
                    D.UNKNOWN_NAME,
                    f'unknown value "{err["input"]}" for {field_name} of {owner}',
                    span,
                    did_you_mean(err["input"], options) or f"expected {one_of(options)}",
                )
            elif symbol is not None:
                self.out.error(
                    D.UNKNOWN_REFERENCE,
                    f"unknown name '{symbol.id}'",
                    symbol.span,
                    did_you_mean(symbol.id, scope.names())
                    or "define it with `let` or use a literal value",
                )
            else:
                msg = err["msg"]
                if msg.startswith("Value error, "):
                    msg = msg[len("Value error, ") :]
                msg = msg[0].lower() + msg[1:]
                subject = f"{field_name} of {owner}" if loc else owner
                hint = None
                if err["type"] == "too_short" and "min_length" in err.get("ctx", {}):
                    n = err["ctx"]["min_length"]
                    msg = f"expected at least {n} item{'s' if n != 1 else ''}, got {err['ctx'].get('actual_length', 0)}"
                if err["type"] in _COMPARISONS and "input" in err:
                    msg = f"{msg}, got {_describe(err['input'])}"
                if err["type"] in _EXPECTED:
                    msg = f"expected {_EXPECTED[err['type']]}, got {_describe(err.get('input'))}"
                    if isinstance(err.get("input"), str) and _is_number(err["input"]):
                        hint = f"remove the quotes: {err['input']}"
                if err["type"] == "literal_error" and isinstance(err.get("input"), str):
                    hint = did_you_mean(err["input"], _literal_options(err))
                self.out.error(D.BAD_VALUE, f"invalid {subject}: {msg}", span, hint)


def _strip_union_tags(loc: tuple) -> tuple:
    """pydantic puts the union member ('int', 'list[int]', 'constrained-int') into locs."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS)))


_TYPE_TAGS = {
    "int",
    "float",
    "str",
    "bool",
    "constrained-int",
    "constrained-float",
    "is-instance[Ref]",
    "none",
}


def _lookup(spans: dict, loc: tuple, default: Span) -> Span:
    for n in range(len(loc), -1, -1):
        if loc[:n] in spans:
            return spans[loc[:n]]
    return default


def _literal_options(err: dict) -> list[str]:
    expected = err.get("ctx", {}).get("expected", "")
    return [
        part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part.strip(" '")
    ]


_ORDINALS = {0: "first", 1: "second", 2: "third", 3: "fourth"}

_COMPARISONS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}

# pydantic type errors -> what the field wanted, in the language's words
_EXPECTED = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list [...]",
    "dict_type": "a dict {key: value}",
    "model_type": "a dict {key: value}",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, Ref):
        return f"{value.name}(...)"
    return repr(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _missing_hint(model, loc: tuple, owner: str, what: str, known: dict) -> str | None:
    name = loc[-1]
    if what == "argument":
        return f"give it: {owner}({name}=...)"
    sub = _sub_model(model, loc[:-1]) if len(loc) > 1 else model
    info = sub.model_fields.get(name) if sub is not None else None
    where = f" to {'.'.join(map(str, loc[:-1]))}" if len(loc) > 1 else ""
    ref = (
        next((m for m in info.metadata if isinstance(m, RefTo)), None) if info is not None else None
    )
    if ref is not None and ref.kind in known:
        return (
            f"add `{name}: ...`{where}; the {kinds_label(ref.kind)} are {one_of(known[ref.kind])}"
        )
    return f"add `{name}: ...`{where}"


def _sub_model(model, loc: tuple):
    for key in loc:
        info = model.model_fields.get(key) if isinstance(key, str) else None
        if info is None:
            return None
        model = _nested_model(info.annotation)
        if model is None:
            return None
    return model


def _is_list(annotation) -> bool:
    for t in _flatten(annotation):
        if typing.get_origin(t) is list:
            return True
    return False


def _nested_model(annotation):
    for t in _flatten(annotation):
        if isinstance(t, type) and issubclass(t, Params):
            return t
    return None


def _flatten(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _flatten(typing.get_args(annotation)[0])
    elif origin in (typing.Union, __import__("types").UnionType):
        for a in typing.get_args(annotation):
            yield from _flatten(a)
    else:
        yield annotation
