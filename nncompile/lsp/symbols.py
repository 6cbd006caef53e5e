"""Where each name of a spec is defined and used: `let` values, models, data and train blocks,
and inside a model its inputs, parameters and bound tensors. Built from the syntax tree alone (it
works on specs with semantic errors), it answers go-to-definition, find-references, rename, the
outline, and which registry name sits under the cursor (for hover)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..registry import Params
from ..source import Span
from ..syntax import ast
from .fields import Expect, block_model, entry, expect

# (kind, model scope or '', name): kind is 'let', 'model', 'data', 'train', 'sweep' or 'local'
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Occurrence:
    key: Key
    span: Span
    definition: bool


@dataclass(frozen=True)
class Mention:
    """A registry name in the text (a layer call, ``activation=relu``, ``loss: mse``)."""

    kind: str  # the registry
    name: str
    span: Span
    statement: Span | None = None  # the layer statement it is the call of


@dataclass
class Index:
    occurrences: list[Occurrence] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    definitions: dict[Key, Span] = field(default_factory=dict)
    items: tuple[ast.Item, ...] = ()

    def at(self, line: int, column: int) -> Occurrence | None:
        return next((o for o in self.occurrences if contains(o.span, line, column)), None)

    def mention(self, line: int, column: int) -> Mention | None:
        return next((m for m in self.mentions if contains(m.span, line, column)), None)

    def references(self, key: Key) -> list[Occurrence]:
        return [o for o in self.occurrences if o.key == key]

    def names(self, kind: str, scope: str = "") -> list[str]:
        """The names defined of one kind (for 'local': in the model ``scope``)."""
        return [k[2] for k in self.definitions if k[0] == kind and k[1] == scope]


def contains(span: Span, line: int, column: int) -> bool:
    """Whether the position lies in the span or just after its end (the cursor after a word)."""
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def name_span(span: Span, name: str) -> Span:
    """The span of a name written first in ``span`` (model parameters carry no name span)."""
    return Span(span.line, span.column, span.line, span.column + len(name))


class _Builder:
    def __init__(self, spec: ast.Spec):
        self.out = Index(items=spec.items)
        self.globals: dict[str, set[str]] = {"let": set(), "model": set(), "data": set()}
        self.globals["train"] = set()
        for item in spec.items:
            kind = {
                ast.Let: "let",
                ast.ModelBlock: "model",
                ast.DataBlock: "data",
                ast.TrainBlock: "train",
            }.get(type(item))
            if kind is not None:
                self.globals[kind].add(item.name)
        self.locals: set[str] = set()
        self.scope = ""

    def define(self, key: Key, span: Span) -> None:
        first = key not in self.out.definitions
        if first:
            self.out.definitions[key] = span
        self.out.occurrences.append(Occurrence(key, span, first))

    def use(self, name: str, span: Span, block: str | None = None) -> None:
        key = self.resolve(name, block)
        if key is not None:
            self.out.occurrences.append(Occurrence(key, span, False))

    def resolve(self, name: str, block: str | None) -> Key | None:
        if self.scope and name in self.locals:
            return ("local", self.scope, name)
        if block is not None and name in self.globals.get(block, ()):
            return (block, "", name)
        for kind in ("let", "model", "data"):
            if name in self.globals[kind]:
                return (kind, "", name)
        return None

    # values ---------------------------------------------------------------------------------
    def value(self, v: ast.Value, want: Expect, statement: Span | None = None) -> None:
        if isinstance(v, ast.Name):
            key = self.resolve(v.id, want.block)
            if key is not None:
                self.out.occurrences.append(Occurrence(key, v.span, False))
            elif want.registry is not None and entry(v.id, want.registry):
                self.out.mentions.append(Mention(want.registry, v.id, v.span))
        elif isinstance(v, ast.Call):
            self.call(v, want.registry, statement)
        elif isinstance(v, ast.List):
            for x in v.items:
                self.value(x, want)
        elif isinstance(v, ast.Dict):
            for p in v.pairs:
                self.value(p.value, expect(want.nested, p.key) if want.nested else want)
        elif isinstance(v, ast.BinOp):
            self.value(v.left, Expect())
            self.value(v.right, Expect())
        elif isinstance(v, ast.Neg):
            self.value(v.operand, Expect())

    def call(self, c: ast.Call, kind: str | None, statement: Span | None = None) -> None:
        model: type[Params] | None = None
        if c.name in self.globals["model"] and kind in (None, "layer"):
            self.use(c.name, c.name_span, "model")
        else:
            found = entry(c.name, kind)
            if found is not None:
                self.out.mentions.append(Mention(found[0], c.name, c.name_span, statement))
                model = found[1].params
        for a in c.args:
            self.value(a.value, expect(model, a.key) if a.key else Expect())

    # blocks ---------------------------------------------------------------------------------
    def properties(self, keyword: str, props: tuple[ast.Property, ...]) -> None:
        model = block_model(keyword)
        for p in props:
            if keyword == "sweep" and p.key in ("grid", "random") and isinstance(p.value, ast.Dict):
                for pair in p.value.pairs:  # grid: {hidden: [...]} names let values
                    self.use(pair.key, pair.key_span, "let")
                    self.value(pair.value, Expect())
                continue
            self.value(p.value, expect(model, p.key))

    def model(self, m: ast.ModelBlock) -> None:
        self.scope, self.locals = m.name, set()
        for p in m.params:
            self.locals.add(p.name)
            self.define(("local", m.name, p.name), name_span(p.span, p.name))
            if p.default is not None:
                self.value(p.default, Expect())
        for s in m.body:
            if isinstance(s, ast.Input):
                for d in s.dims:
                    self.value(d, Expect())
                self.locals.add(s.name)
                self.define(("local", m.name, s.name), s.name_span)
            elif isinstance(s, ast.LayerStmt):
                for n in s.inputs or ():
                    self.use(n.id, n.span)
                if s.bare and s.call.name in self.locals:
                    self.use(s.call.name, s.call.name_span)
                else:
                    kind = "activation" if s.bare and entry(s.call.name, "activation") else "layer"
                    self.call(s.call, kind, s.span)
                targets = [(s.target, s.target_span)] if s.target and s.target_span else []
                targets += [(n.id, n.span) for n in s.more_targets]
                for name, span in targets:
                    self.locals.add(name)
                    self.define(("local", m.name, name), span)
            elif isinstance(s, ast.Output):
                for n in s.names:
                    self.use(n.id, n.span)
        self.scope, self.locals = "", set()

    def build(self, spec: ast.Spec) -> Index:
        for item in spec.items:
            if isinstance(item, ast.Let):
                self.define(("let", "", item.name), item.name_span)
                self.value(item.value, Expect())
            elif isinstance(item, ast.ModelBlock):
                self.define(("model", "", item.name), item.name_span)
                self.model(item)
            elif isinstance(item, ast.DataBlock):
                self.define(("data", "", item.name), item.name_span)
                self.properties("data", item.properties)
            elif isinstance(item, ast.TrainBlock):
                self.define(("train", "", item.name), item.name_span)
                self.properties("train", item.properties)
            else:
                self.define(("sweep", "", item.name), item.name_span)
                self.properties("sweep", item.properties)
        return self.out


def index(spec: ast.Spec | None) -> Index:
    """The names of a syntax tree (empty without one)."""
    return Index() if spec is None else _Builder(spec).build(spec)
