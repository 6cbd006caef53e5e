"""Shaped IR -> the model classes of the emitted module, as data (no text yet).

A model block becomes one ``nnx.Module`` class. A parameterised block (``model Block(width, rate)``)
becomes one class whose constructor takes the parameters: every number of the block that follows a
parameter (found by comparing the block with a variant built with that parameter changed, see
``semantics.models.ModelBuilder.variants``) is written as the parameter. Uses of a block that still
differ in something no parameter explains get a class each (``Block``, ``Block_2``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..expr import Call, Snippet, Sym, T, call, render, safe_name
from ..registry import Params
from ..registry.lowering import Code
from ..semantics import ir
from . import layers as L

# the output activation folded into the loss: of the last layer, or per output name
Fold = str | dict[str, str | None] | None
RUNNING = ("x", "h", "z", "out", "act")  # names for the running tensor of a plain chain of layers


@dataclass(frozen=True)
class Where:
    """The spec statement a line comes from, with its input and output shapes."""

    spec: str
    line: int
    ins: tuple
    out: tuple
    more: tuple = ()  # the shapes of a layer's further outputs (its states)

    def __str__(self) -> str:
        shapes = ", ".join(_shape(s) for s in self.ins)
        outs = ", ".join(_shape(s) for s in (self.out, *self.more))
        return f"{self.spec}:{self.line}  {shapes} -> {outs}"


def _shape(shape: tuple) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass
class ClassPlan:
    name: Sym
    doc: str
    params: list[Sym] = field(default_factory=list)  # constructor parameters (block parameters)
    stored: list[Sym] = field(default_factory=list)  # parameters __call__ reads (kept as self.<p>)
    fields: list[tuple[Sym, Code, Where]] = field(default_factory=list)
    inputs: list[Sym] = field(default_factory=list)
    # (assignment target: a variable, or a pattern such as `(c, h), seq`; value; origin)
    body: list[tuple[Code, Code, Where]] = field(default_factory=list)
    returns: list[Code] = field(default_factory=list)

    def key(self) -> str:
        """What makes two classes the same code (names and comments aside)."""
        return repr(
            (
                self.params,
                self.stored,
                [(a, render(e)) for a, e, _ in self.fields],
                self.inputs,
                [(render(t), render(e)) for t, e, _ in self.body],
                [render(r) for r in self.returns],
            )
        )


@dataclass
class ModelPlan:
    """The classes to emit (dependencies first), the top class, and the snippets they need."""

    classes: list[ClassPlan]
    top: Sym
    snippets: set[Snippet]


class _Mismatch(Exception):
    """Two lowerings differ in structure, not only in numbers."""


# a number that follows a parameter through an expression of the block: (code of the expression
# given the parameter's symbol, its value here, its value in the variant)
Formulas = Sequence[tuple[Callable[[Sym], Code], object, object]]


def generalize(a: Any, b: Any, value: object, sym: Sym, formulas: Formulas = ()) -> Any:
    """``a`` with each number that differs in ``b`` and equals ``value`` replaced by ``sym``, and
    each that is the value of a formula here and in ``b`` by that expression of ``sym``."""
    if isinstance(a, Sym) or isinstance(b, Sym):
        if isinstance(a, Sym) and (a == b or not isinstance(b, Sym)):
            return a
        raise _Mismatch
    if isinstance(a, _Formula) and not isinstance(
        b, T
    ):  # generalized already, for another parameter
        return a
    if isinstance(a, Call) and isinstance(b, Call):
        if (
            a.fn != b.fn
            or len(a.args) != len(b.args)
            or [k for k, _ in a.kwargs] != [k for k, _ in b.kwargs]
        ):
            raise _Mismatch
        return Call(
            a.fn,
            tuple(
                generalize(x, y, value, sym, formulas) for x, y in zip(a.args, b.args, strict=True)
            ),
            tuple(
                (k, generalize(x, y, value, sym, formulas))
                for (k, x), (_, y) in zip(a.kwargs, b.kwargs, strict=True)
            ),
        )
    if isinstance(a, T) and isinstance(b, T):
        if a.template != b.template or [k for k, _ in a.parts] != [k for k, _ in b.parts]:
            raise _Mismatch
        return T(
            a.template,
            tuple(
                (k, generalize(x, y, value, sym, formulas))
                for (k, x), (_, y) in zip(a.parts, b.parts, strict=True)
            ),
        )
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        if len(a) != len(b):
            raise _Mismatch
        return type(a)(generalize(x, y, value, sym, formulas) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        raise _Mismatch
    if a != b and type(a) is type(value) and a == value:
        return sym
    if a != b and isinstance(a, (int, float)) and not isinstance(a, bool):
        for code, here, there in formulas:
            if type(a) is type(here) and a == here and b == there:
                return code(sym)
    return a


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2}


@dataclass(frozen=True)
class _Formula(T):
    """The code of a formula (renders as its template)."""


def _code_of(tree: object) -> Callable[[Sym], Code]:
    """An expression of a block's parameter (``ir.Formula``'s data) as code, given the symbol the
    parameter has where the code stands (``width`` in ``__init__``, ``self.width`` in ``__call__``).
    Operators come from a fixed set and operands are rendered as values: no spec text."""

    def code(sym: Sym) -> Code:
        return _build(tree, sym)[0]

    return code


def _build(tree: object, sym: Sym) -> tuple[Any, int]:
    """Code for ``tree`` and its precedence (3 for an operand)."""
    if isinstance(tree, tuple) and tree[0] == "param":
        return sym, 3
    if isinstance(tree, tuple) and tree[0] == "neg":
        operand, level = _build(tree[1], sym)
        return _Formula("-({x})" if level < 3 else "-{x}", (("x", operand),)), 3
    if isinstance(tree, tuple):
        op, left, right = tree
        level = _PRECEDENCE[op]
        a, la = _build(left, sym)
        b, lb = _build(right, sym)
        template = (
            ("({a})" if la < level else "{a}") + f" {op} " + ("({b})" if lb <= level else "{b}")
        )
        return _Formula(template, (("a", a), ("b", b))), level
    assert isinstance(tree, (int, float))
    return tree, 3 if tree >= 0 else 0


def _mentions(expr: Any, sym: Sym) -> bool:
    if isinstance(expr, Sym):
        return expr == sym
    if isinstance(expr, Call):
        return any(_mentions(x, sym) for x in expr.args) or any(
            _mentions(v, sym) for _, v in expr.kwargs
        )
    if isinstance(expr, T):
        return any(_mentions(v, sym) for _, v in expr.parts)
    if isinstance(expr, (tuple, list)):
        return any(_mentions(x, sym) for x in expr)
    return False


@dataclass(frozen=True)
class Names:
    """The spec names of a model tree, to keep the emitted names apart: a block parameter (a
    constructor argument that may be stored as ``self.<p>``) must shadow no class it constructs and
    no layer attribute; a class name must equal no parameter."""

    models: frozenset[str]
    layers: frozenset[str]
    params: frozenset[str]

    @staticmethod
    def of(model: ir.Model) -> Names:
        models: set[str] = set()
        layers: set[str] = set()
        params: set[str] = set()

        def visit(m: ir.Model) -> None:
            models.add(m.name)
            params.update(n for n, _ in m.bound)
            for node in m.nodes:
                layers.add(node.name)
                if node.submodel is not None:
                    visit(node.submodel)
            for _, _, variant in m.variants:
                visit(variant)

        visit(model)
        return Names(frozenset(models), frozenset(layers), frozenset(params))

    def param(self, name: str) -> Sym:
        return safe_name(name, self.models | self.layers)

    def taken_by_params(self) -> set[str]:
        return set(self.params) | {self.param(n) for n in self.params}


class _Lowerer:
    def __init__(self, spec_name: str, precision: str = "float32", names: Names | None = None):
        self.spec_name = spec_name
        self.precision = precision
        self.names = names or Names(frozenset(), frozenset(), frozenset())
        self.classes: list[ClassPlan] = []
        self.snippets: set[Snippet] = set()

    def where(self, node: ir.Node) -> Where:
        return Where(self.spec_name, node.span.line, tuple(node.in_shapes), tuple(node.shape))

    # ---- one model instance -> a class (shared with equal instances) and how to construct it
    def instance(self, model: ir.Model, fold: Fold = None) -> Call:
        plan = self.lower(model, fold)
        bound = dict(model.bound)
        for param, _, variant in model.variants:
            scratch = _Lowerer(self.spec_name, self.precision, self.names)
            try:
                sym = self.names.param(param)
                formulas = [
                    (_code_of(tree), here, there)
                    for name, tree, here, there in model.formulas
                    if name == param
                ]
                plan = _generalized(plan, scratch.lower(variant, fold), sym, bound[param], formulas)
            except _Mismatch:
                continue
        syms = {self.names.param(n): n for n, _ in model.bound}
        plan.params = [p for p in syms if p in plan.params]
        name = self.register(plan, model.name)
        args = {str(p): bound[syms[p]] for p in plan.params}
        return call(name, **args, rngs=Sym("rngs"))

    def register(self, plan: ClassPlan, block: str) -> Sym:
        key = plan.key()
        for c in self.classes:
            if c.doc == plan.doc and c.key() == key:
                return c.name
        taken = {str(c.name) for c in self.classes} | self.names.taken_by_params()
        name, n = safe_name(block), 2
        while name in taken:
            name, n = safe_name(f"{block}_{n}"), n + 1
        plan.name = name
        self.classes.append(plan)
        return name

    def lower(self, model: ir.Model, fold: Fold) -> ClassPlan:
        plan = ClassPlan(Sym("_"), f"model {model.name} ({self.spec_name}:{model.span.line})")
        names = _variables(model)
        env: dict[str, Code] = {}
        for tensor in model.inputs:
            sym = safe_name(tensor.name)
            plan.inputs.append(sym)
            env[tensor.name] = sym
        last = model.nodes[-1] if model.nodes else None
        for node in model.nodes:
            ins = [env[i] for i in node.inputs]
            attr = Sym(f"self.{node.name}")  # verbatim: FROZEN and transfer name the parameters
            folded = fold.get(node.output) if isinstance(fold, dict) else node is last and fold
            if folded and node.kind == "activation":
                env[node.output] = ins[0]
                continue
            if node.kind == "model":
                assert node.submodel is not None
                lowered = L.Lowered(self.instance(node.submodel), lambda a, xs: call(a, *xs))
            elif node.kind == "activation":
                lowered = L.Lowered(None, _activation(node.params))
            else:
                if folded and getattr(node.params, "activation", None) is not None:
                    assert isinstance(node.params, Params)
                    params = node.params.model_copy(update={"activation": None})
                    node = replace(node, params=params)
                lowered = L.lower_layer(node)
            self.snippets.update(lowered.snippets)
            if lowered.init is not None:
                init = (
                    L.compute_dtype(lowered.init) if self.precision == "bfloat16" else lowered.init
                )
                plan.fields.append((Sym(node.name), init, self.where(node)))
            target = names[node.output]
            if node.extra and lowered.apply_all is not None and lowered.unpack is not None:
                variables = [target, *(safe_name(e.name) for e in node.extra)]
                env.update((e.name, v) for e, v in zip(node.extra, variables[1:], strict=True))
                pattern = lowered.unpack(variables)
                where = replace(self.where(node), more=tuple(e.shape for e in node.extra))
                plan.body.append((pattern, lowered.apply_all(attr, ins), where))
            else:
                plan.body.append((target, lowered.apply(attr, ins), self.where(node)))
            env[node.output] = target
        plan.returns = [env[t.name] for t in model.outputs]
        return plan


def _activation(ref: Any) -> Callable[[Sym, Sequence[Code]], Code]:
    """A bare activation node's apply: the activation of its one input."""
    return lambda attr, xs: L.activation_call(ref, xs[0])


def _generalized(
    plan: ClassPlan, other: ClassPlan, sym: Sym, value: object, formulas: Formulas = ()
) -> ClassPlan:
    """``plan`` with the numbers that follow a parameter (compared with ``other``) written as its
    symbol ``sym``."""
    own = Sym(f"self.{sym}")
    if len(plan.fields) != len(other.fields) or len(plan.body) != len(other.body):
        raise _Mismatch
    fields = [
        (a, generalize(e, o, value, sym, formulas), replace(w, **_shapes(w, ow, value, sym)))
        for (a, e, w), (_, o, ow) in zip(plan.fields, other.fields, strict=True)
    ]
    body = [
        (t, generalize(e, o, value, own, formulas), replace(w, **_shapes(w, ow, value, sym)))
        for (t, e, w), (_, o, ow) in zip(plan.body, other.body, strict=True)
    ]
    used_init = any(_mentions(e, sym) for _, e, _ in fields)
    used_call = any(_mentions(e, own) for _, e, _ in body)
    out = replace(plan, fields=fields, body=body)
    if used_init or used_call:
        out.params = [*plan.params, sym]
    if used_call:
        out.stored = [*plan.stored, sym]
    return out


def _shapes(w: Where, other: Where, value: object, sym: Sym) -> dict:
    try:
        return {
            "ins": generalize(w.ins, other.ins, value, sym),
            "out": generalize(w.out, other.out, value, sym),
            "more": generalize(w.more, other.more, value, sym),
        }
    except _Mismatch:
        return {}


def _variables(model: ir.Model) -> dict[str, Sym]:
    """The Python variable of each tensor: the spec's binding name where it gives one (or the
    tensor is read out of order), otherwise one running name for a plain chain of layers."""
    explicit: set[str] = {n.output for n in model.nodes if n.named}
    explicit.update(e.name for n in model.nodes for e in n.extra)
    previous = model.inputs[-1].name if model.inputs else None
    for node in model.nodes:
        if node.inputs != (previous,):
            explicit.update(node.inputs)
        previous = node.output
    explicit.update(
        t.name for t in model.outputs if model.nodes and t.name != model.nodes[-1].output
    )
    taken = explicit | {t.name for t in model.inputs if t.name in explicit}
    running = next((n for n in RUNNING if n not in taken), "out_")
    return {
        node.output: safe_name(node.output) if node.output in explicit else Sym(running)
        for node in model.nodes
    }


def lower_model(
    model: ir.Model, spec_path: str, fold: Fold, precision: str = "float32"
) -> ModelPlan:
    """``fold``: the activation folded into the loss (a dict per output name for a model with
    several outputs). ``precision="bfloat16"``: the layers with weights compute in bfloat16 and
    keep float32 parameters."""
    lowerer = _Lowerer(Path(spec_path).name, precision, Names.of(model))
    top = lowerer.instance(model, fold)
    return ModelPlan(lowerer.classes, Sym(top.fn), lowerer.snippets)
