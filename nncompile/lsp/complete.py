"""Completion: what may be written at the cursor, read from the text before it (which, while
typing, rarely parses) and from the registries and block schema (``fields.expect``).

The text before the cursor is scanned once into a stack of open brackets: a block (``model
X {``, ``train {``), a dict, a call (``dense(``) or a list, each remembering the property key or
argument name last written in it. The innermost one and the token before the word being typed
say what fits: layer names at the start of a model statement, ``activation=`` inside
``dense(``, activations after ``activation=``, the properties of a train block, a loss after
``loss:``, names in scope (``let`` values, models, data blocks, the model's tensors)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lsprotocol import types as lsp
from pydantic_core import PydanticUndefined

from ..reference import signature
from ..registry import Params, registries
from .document import Analysis
from .fields import Expect, block_model, entry, expect

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|[0-9.][0-9.eE+-]*|//|\S')
BLOCK_KEYWORDS = ("let", "data", "model", "train", "sweep")
Known = Callable[[str, str], list[str]]  # (kind, model scope) -> the names defined
KINDS = {
    "layer": lsp.CompletionItemKind.Class,
    "activation": lsp.CompletionItemKind.Function,
}


@dataclass
class Frame:
    bracket: str  # '{' block or dict, '(' call or group, '['
    block: str | None = None  # the block keyword, for a block
    name: str | None = None  # the block's name (model scope) or the call's name
    want: Expect = field(default_factory=Expect)  # what the bracket's own values are
    params: type[Params] | None = None  # a call's arguments, a block's or dict's properties
    key: str | None = None  # the last `key:` (blocks, dicts) or `arg=` (calls)
    commas: int = 0


@dataclass
class Context:
    frames: list[Frame]
    prev: str  # the token before the word being typed ('' at the start)
    word: str
    tokens: list[str]
    defined: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def in_output(self) -> bool:
        """Whether the cursor is in an `output a, b` statement."""
        name_next = False  # walking back from the cursor: `output a, b,` alternates
        for t in reversed(self.tokens):
            if t == "output" and not name_next:
                return True
            if name_next != bool(re.fullmatch(r"[A-Za-z_]\w*", t)) or (not name_next and t != ","):
                return False
            name_next = not name_next
        return False


def value_want(f: Frame) -> Expect:
    """What a value written now in frame ``f`` may be."""
    if f.bracket == "(":
        if f.key is not None:
            return expect(f.params, f.key)
        found = entry(f.name or "", f.want.registry) if f.params is not None else None
        positional = found[1].positional if found else ()
        return expect(f.params, positional[f.commas]) if f.commas < len(positional) else Expect()
    if f.bracket == "{" and f.block == "model":
        return Expect(registry="layer")
    if f.bracket == "{" and f.params is not None:
        return expect(f.params, f.key or "")
    return f.want


def scan(text: str) -> Context:
    """The open brackets of ``text`` (everything before the cursor)."""
    word = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", text)
    typed = word.group(0) if word else ""
    tokens = [t for t in TOKEN.findall(text[: len(text) - len(typed)]) if not t.startswith("#")]
    frames: list[Frame] = []
    item = ""  # the keyword of the top-level item being read
    defined: dict[tuple[str, str], list[str]] = {}
    for i, t in enumerate(tokens):
        before = tokens[i - 1] if i else ""
        top = frames[-1] if frames else None
        if not frames and t in BLOCK_KEYWORDS:
            item = t
        _define(tokens, i, frames, defined)
        if t == "{":
            if top is None:
                frames.append(Frame("{", block=item, name=_header_name(tokens, i)))
                frames[-1].params = block_model(item)
                if item == "model" and frames[-1].name:
                    scope = ("local", frames[-1].name)
                    defined.setdefault(scope, []).extend(_parameters(tokens, i))
            else:
                want = value_want(top)
                frames.append(Frame("{", want=want, params=want.nested))
        elif t == "(":
            if re.fullmatch(r"[A-Za-z_]\w*", before):
                want = value_want(top) if top is not None else Expect()
                found = entry(before, want.registry)
                frames.append(
                    Frame("(", name=before, want=want, params=found[1].params if found else None)
                )
            else:
                frames.append(Frame("(", want=value_want(top) if top else Expect()))
        elif t == "[":
            frames.append(Frame("[", want=value_want(top) if top else Expect()))
        elif t in ")]}" and frames:
            frames.pop()
        elif top is not None:
            if t == ":" and before and before not in ",{":
                top.key = before.strip('"')
            elif t == "=" and top.bracket == "(":
                top.key = before
            elif t == ",":
                top.commas += 1
                if top.bracket == "(":
                    top.key = None
    return Context(frames, tokens[-1] if tokens else "", typed, tokens, defined)


def _define(tokens: list[str], i: int, frames: list[Frame], out: dict) -> None:
    """Record the name token ``i`` defines, if any: `let x`, `model M`, `data d`, `train t` at
    the top; in a model block `input x` and the targets of `a, b = ...`."""
    t, before = tokens[i], tokens[i - 1] if i else ""
    if not NAME.fullmatch(t):
        return
    if not frames:
        if before in ("let", "model", "data", "train"):
            out.setdefault((before, ""), []).append(t)
        return
    if len(frames) != 1 or frames[0].block != "model" or frames[0].name is None:
        return
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if before == "input" or nxt == "=" or (nxt == "," and _targets(tokens, i)):
        out.setdefault(("local", frames[0].name), []).append(t)


def _parameters(tokens: list[str], i: int) -> list[str]:
    """The parameters of a block whose `{` is token ``i``: `model B(width, rate=0.1) {`."""
    if i == 0 or tokens[i - 1] != ")":
        return []
    j, depth = i - 1, 0
    while j >= 0:
        depth += {")": 1, "(": -1}.get(tokens[j], 0)
        if depth == 0:
            break
        j -= 1
    names, depth = [], 0
    for k in range(j, i):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(tokens[k], 0)
        if depth == 1 and tokens[k - 1] in ("(", ",") and NAME.fullmatch(tokens[k]):
            names.append(tokens[k])
    return names


def _targets(tokens: list[str], i: int) -> bool:
    """Whether the name at ``i`` followed by ',' is one of several targets (`seq, h = ...`)."""
    j = i + 1
    while j + 1 < len(tokens) and tokens[j] == "," and NAME.fullmatch(tokens[j + 1]):
        j += 2
    return j < len(tokens) and tokens[j] == "="


def _header_name(tokens: list[str], i: int) -> str | None:
    """The name in a block's header (``model Name(...) {``), None for an unnamed block."""
    j = i - 1
    depth = 0
    while j >= 0:
        t = tokens[j]
        if t == ")":
            depth += 1
        elif t == "(":
            depth -= 1
        elif depth == 0 and t in BLOCK_KEYWORDS:
            nxt = tokens[j + 1] if j + 1 < i else ""
            return nxt if re.fullmatch(r"[A-Za-z_]\w*", nxt) else None
        j -= 1
    return None


# ---- items -------------------------------------------------------------------------------
def _entries(kind: str) -> list[lsp.CompletionItem]:
    reg = registries().get(kind)
    if reg is None:
        return []
    return [
        lsp.CompletionItem(
            label=e.name,
            kind=KINDS.get(kind, lsp.CompletionItemKind.EnumMember),
            detail=signature(e),
            documentation=e.doc,
            sort_text=f"1{e.name}",
        )
        for e in reg.entries()
    ]


def _names(known: Known, kind: str, scope: str = "", sort: str = "0") -> list[lsp.CompletionItem]:
    item_kind = {
        "let": lsp.CompletionItemKind.Constant,
        "model": lsp.CompletionItemKind.Module,
        "data": lsp.CompletionItemKind.Struct,
        "train": lsp.CompletionItemKind.Event,
        "local": lsp.CompletionItemKind.Variable,
    }[kind]
    return [
        lsp.CompletionItem(label=n, kind=item_kind, detail=kind if kind != "local" else "tensor",
                           sort_text=f"{sort}{n}")
        for n in known(kind, scope)
    ]  # fmt: skip


def _properties(model: type[Params] | None) -> list[lsp.CompletionItem]:
    if model is None:
        return []
    out = []
    for name, info in model.model_fields.items():
        default = "required" if info.default is PydanticUndefined else f"default {info.default!r}"
        out.append(
            lsp.CompletionItem(
                label=name,
                kind=lsp.CompletionItemKind.Property,
                detail=default,
                insert_text=f"{name}: ",
                sort_text=f"0{name}",
            )
        )
    return out


def _arguments(f: Frame) -> list[lsp.CompletionItem]:
    found = entry(f.name or "", f.want.registry)
    if found is None:
        return []
    sig = signature(found[1])
    return [
        lsp.CompletionItem(
            label=name,
            kind=lsp.CompletionItemKind.Field,
            detail=sig,
            documentation=found[1].doc,
            insert_text=f"{name}=",
            sort_text=f"0{name}",
        )
        for name in found[1].params.model_fields
    ]


def _values(known: Known, want: Expect, scope: str) -> list[lsp.CompletionItem]:
    out: list[lsp.CompletionItem] = []
    if want.registry is not None:
        out += _entries(want.registry)
        if want.registry == "layer":
            out += _entries("activation") + _names(known, "model")
    if want.block is not None:
        out += _names(known, want.block)
    out += [
        lsp.CompletionItem(label=s, kind=lsp.CompletionItemKind.Keyword, sort_text=f"0{s}")
        for s in want.symbols
    ]
    if want.registry is None and want.block is None:
        out += _names(known, "let", sort="2")
        if scope:
            out += _names(known, "local", scope, sort="1")
    return out


def completions(doc: Analysis, text_before: str) -> list[lsp.CompletionItem]:
    """The items that fit at the end of ``text_before`` (the document up to the cursor)."""
    ctx = scan(text_before)

    def known(kind: str, scope: str = "") -> list[str]:
        """Names from the last tree that parsed, then those written since (while typing)."""
        names = doc.index.names(kind, scope)
        return names + [n for n in ctx.defined.get((kind, scope), []) if n not in names]

    if not ctx.frames:
        if ctx.prev == "=":
            return _names(known, "let")
        return [
            lsp.CompletionItem(label=k, kind=lsp.CompletionItemKind.Keyword) for k in BLOCK_KEYWORDS
        ]
    f = ctx.frames[-1]
    scope = next((x.name or "" for x in ctx.frames if x.block == "model"), "")
    if f.bracket == "(":
        if ctx.prev in ("(", ","):
            return _arguments(f) + _values(known, value_want(f), scope)
        return _values(known, value_want(f), scope)
    if f.bracket == "[":
        return _values(known, f.want, scope)
    if f.block == "model":
        if ctx.in_output():
            return _names(known, "local", scope)
        if ctx.prev == ":":
            return []
        out = _values(known, Expect(registry="layer"), scope)
        if ctx.prev != "=":
            out += [
                lsp.CompletionItem(label=k, kind=lsp.CompletionItemKind.Keyword, sort_text=f"2{k}")
                for k in ("input", "output")
            ]
        return out
    if ctx.prev == ":":
        return _values(known, value_want(f), scope)
    return _properties(f.params)


def signature_help(text_before: str) -> lsp.SignatureHelp | None:
    """The signature of the call the cursor is in, its argument being written highlighted."""
    ctx = scan(text_before)
    call = next((f for f in reversed(ctx.frames) if f.bracket == "(" and f.name), None)
    found = entry(call.name or "", call.want.registry) if call is not None else None
    if call is None or found is None:
        return None
    names = list(found[1].params.model_fields)
    if call.key in names:
        active = names.index(call.key)
    else:
        positional = found[1].positional
        active = names.index(positional[call.commas]) if call.commas < len(positional) else 0
    label = signature(found[1])
    return lsp.SignatureHelp(
        signatures=[
            lsp.SignatureInformation(
                label=label,
                documentation=found[1].doc,
                parameters=[lsp.ParameterInformation(label=_offsets(label, n)) for n in names],
            )
        ],
        active_signature=0,
        active_parameter=active,
    )


def _offsets(label: str, name: str) -> tuple[int, int]:
    """Where the argument ``name`` is written in a signature ``f(a, b=1, ...)``."""
    match = re.search(rf"[(,] ?({name})\b", label)
    return (match.start(1), match.end(1)) if match else (0, 0)
