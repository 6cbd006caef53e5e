"""pydantic's validation errors -> diagnostics at the spans of the values they are about, and the
facts about argument models (nested models, list fields) that resolution and reporting share."""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from .. import diagnostics as D
from ..diagnostics import Collector, did_you_mean, one_of
from ..registry import Params, Ref, RefTo
from ..source import Span
from .keras_names import literal_hint

KEY = "@key"  # spans[(*loc, KEY)] is the span of a dict key (spans[loc] is its value's)


def kind_label(kind: str) -> str:
    return kind.replace("_", " ")


def kinds_label(kind: str) -> str:
    """The plural: 'losses', 'layers'."""
    label = kind_label(kind)
    return label + ("es" if label.endswith("s") else "s")


def report(
    out: Collector,
    e: ValidationError,
    model: type[Params],
    spans: dict,
    symbols: dict,
    names: Callable[[], list[str]],
    owner: str,
    whole: Span,
    missing_what: str,
    known: dict,
) -> None:
    """pydantic's errors as diagnostics at the spans of the values they are about: one per value,
    the deepest of a union's alternatives, with the language's words and a hint."""
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
                out.error(
                    D.MISSING_ARGUMENT if missing_what == "argument" else D.MISSING_PROPERTY,
                    f"{owner} is missing required {missing_what} '{loc[-1]}'{where}",
                    _lookup(spans, loc[:-1], whole),
                    _missing_hint(model, loc, owner, missing_what, known),
                )
            continue
        span = _lookup(spans, loc, whole)
        field_name = ".".join(str(p) for p in loc) or owner
        if any(k == "value" and (r == loc[: len(r)] or loc == r[: len(loc)]) for r, k in reported):
            continue  # one error per value: not its union alternatives, not its parts too
        reported.add((loc, "value"))
        symbol = symbols.get(loc)
        if err["type"] == "extra_forbidden":
            parent = loc[:-1]
            sub = sub_model(model, parent)
            fields = list(sub.model_fields) if sub else []
            hint = did_you_mean(str(loc[-1]), fields) or (
                f"the keys are {one_of(fields)}" if fields else None
            )
            out.error(
                D.UNKNOWN_PROPERTY,
                f"unknown key '{loc[-1]}' in {'.'.join(map(str, parent))}",
                spans.get((*loc, KEY), span),
                hint,
            )
        elif symbol is not None and loc in options_at:
            options = options_at[loc]
            out.error(
                D.UNKNOWN_NAME,
                f"unknown value '{symbol.id}' for {field_name} of {owner}",
                symbol.span,
                did_you_mean(symbol.id, options) or f"expected {one_of(options)}",
            )
        elif loc in options_at and isinstance(err.get("input"), str):
            options = options_at[loc]
            out.error(
                D.UNKNOWN_NAME,
                f'unknown value "{err["input"]}" for {field_name} of {owner}',
                span,
                did_you_mean(err["input"], options) or f"expected {one_of(options)}",
            )
        elif symbol is not None:
            out.error(
                D.UNKNOWN_REFERENCE,
                f"unknown name '{symbol.id}'",
                symbol.span,
                literal_hint(symbol.id)
                or did_you_mean(symbol.id, names())
                or "define it with `let` or use a literal value",
            )
        elif err["loc"] and err["loc"][-1] == "[key]":  # a dict's key, not its value
            at = spans.get((*loc[:-1], str(loc[-1]), KEY), span)  # (pydantic's `-1` for "-1")
            message, hint = _key_problem(loc, err, owner)
            out.error(D.BAD_VALUE, message, at, hint)
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            msg = msg[0].lower() + msg[1:]
            if msg.startswith("input should be "):  # (a layer's `input` is another thing)
                msg = "must be " + msg[len("input should be ") :]
            subject = f"{field_name} of {owner}" if loc else owner
            hint = None
            if err["type"] == "too_short" and "min_length" in err.get("ctx", {}):
                n = err["ctx"]["min_length"]
                got = err["ctx"].get("actual_length", 0)
                msg = f"expected at least {n} item{'s' if n != 1 else ''}, got {got}"
            if err["type"] in _COMPARISONS and "input" in err:
                msg = f"{msg}, got {_describe(err['input'])}"
            if err["type"] in _EXPECTED:
                msg = f"expected {_EXPECTED[err['type']]}, got {_describe(err.get('input'))}"
                if isinstance(err.get("input"), str) and _is_number(err["input"]):
                    hint = f"remove the quotes: {err['input']}"
                if isinstance(err.get("input"), float) and err["type"].startswith("int_"):
                    hint = "`/` gives a float even for whole numbers: use `//` (7 // 2 = 3)"
                if isinstance(err.get("input"), list) and err["type"] in _NUMBERS:
                    hint = (
                        "give one value; to try several, name it (`let n = ...`, then n here) "
                        f"and sweep over it: `sweep {{ grid: {{n: {_listed(err['input'])}}} }}`"
                    )
            hint = getattr(err.get("ctx", {}).get("error"), "hint", None) or hint
            if err["type"] == "literal_error" and isinstance(err.get("input"), str):
                hint = did_you_mean(err["input"], _literal_options(err))
            out.error(D.BAD_VALUE, f"invalid {subject}: {msg}", span, hint)


# what the keys of a dict field with integer keys are, and an example of the dict
KEYS = {"class_weight": ("class ids", "class_weight: {0: 1.0, 1: 5.0}")}


def _key_problem(loc: tuple, err: Mapping[str, Any], owner: str) -> tuple[str, str | None]:
    """A dict key pydantic refused (`class_weight: {1.5: 2.0}`), in the words of what the keys
    are (not the generic hint about `/` and `//` of a whole-number value)."""
    key, field = err.get("input", loc[-1]), ".".join(map(str, loc[:-1]))
    meaning, example = KEYS.get(field, ("whole numbers", None))
    low = err.get("ctx", {}).get("ge")
    shown = f'"{key}"' if isinstance(key, str) else _describe(key)
    rule = f"whole numbers from {low}" if low is not None else "whole numbers"
    message = f"invalid key {shown} in {field} of {owner}: its keys are {meaning}, {rule}"
    if low is not None:
        return message, f"{meaning} start at {low}"
    if isinstance(key, float) and key.is_integer():
        return message, f"write the key as {int(key)}"
    if example is None:
        return message, None
    text = " (text labels are numbered from 0 in sorted order)" if isinstance(key, str) else ""
    return message, f"key each weight by its class id{text}: {example}"


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
        if n and isinstance(loc[n - 1], int) and (*loc[: n - 1], str(loc[n - 1])) in spans:
            return spans[(*loc[: n - 1], str(loc[n - 1]))]  # a numeric dict key, as written
    return default


def _literal_options(err: Mapping[str, Any]) -> list[str]:
    expected = err.get("ctx", {}).get("expected", "")
    return [
        part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part.strip(" '")
    ]


_NUMBERS = {"int_type", "float_type"}


def _listed(values: list) -> str:
    shown = ", ".join(_describe(v) if not isinstance(v, str) else v for v in values[:6])
    return f"[{shown}{', ...' if len(values) > 6 else ''}]"


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
        return repr(value) if value.is_integer() and abs(value) < 1e16 else f"{value:g}"
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
    sub = sub_model(model, loc[:-1]) if len(loc) > 1 else model
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


def sub_model(model, loc: tuple):
    for key in loc:
        info = model.model_fields.get(key) if isinstance(key, str) else None
        if info is None:
            return None
        model = nested_model(info.annotation)
        if model is None:
            return None
    return model


def is_list(annotation) -> bool:
    return any(typing.get_origin(t) is list for t in flatten(annotation))


def is_dict(annotation) -> bool:
    return any(typing.get_origin(t) is dict for t in flatten(annotation))


def nested_model(annotation):
    for t in flatten(annotation):
        if isinstance(t, type) and issubclass(t, Params):
            return t
    return None


def flatten(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from flatten(typing.get_args(annotation)[0])
    elif origin in (typing.Union, __import__("types").UnionType):
        for a in typing.get_args(annotation):
            yield from flatten(a)
    else:
        yield annotation
