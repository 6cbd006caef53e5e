"""Shaped IR -> a plan of the emitted module: model classes as data (no text yet)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..registry.layers import fmt
from ..semantics import ir
from . import layers as L
from .expr import Expr, Sym, call, safe_name

HEADS = {"softmax", "sigmoid"}


@dataclass
class ClassPlan:
    name: Sym
    doc: str
    fields: list[tuple[Sym, Expr, str]] = field(default_factory=list)
    inputs: list[Sym] = field(default_factory=list)
    body: list[tuple[Sym, Expr, str]] = field(default_factory=list)
    returns: list[Expr] = field(default_factory=list)


@dataclass
class ModelPlan:
    """The classes to emit (dependencies first), the top class, helpers, and the folded head."""

    classes: list[ClassPlan]
    top: Sym
    helpers: set[str]
    head: str | None  # activation removed from the model because the loss fuses it
    convolutional: bool


def head_activation(model: ir.Model) -> str | None:
    """The model's final activation when it is one a loss can fuse (softmax, sigmoid)."""
    last = model.last
    if last is None:
        return None
    if last.kind == "activation":
        return last.params.name if last.params.name in HEADS else None
    if last.kind == "model":
        return None
    act = getattr(last.params, "activation", None)
    return act.name if act is not None and act.name in HEADS else None


class _Lowerer:
    def __init__(self, spec_name: str, precision: str = "float32"):
        self.spec_name = spec_name
        self.precision = precision
        self.classes: list[ClassPlan] = []
        self.keys: dict[tuple, Sym] = {}
        self.helpers: set[str] = set()

    def comment(self, node: ir.Node) -> str:
        ins = ", ".join(fmt(s) for s in node.in_shapes)
        return f"{self.spec_name}:{node.span.line}  {ins} -> {fmt(node.shape)}"

    def model(self, model: ir.Model, fold: str | None = None) -> Sym:
        key = (model.name, repr(model.inputs), repr(model.nodes))
        if key in self.keys and fold is None:
            return self.keys[key]
        taken = {str(c.name) for c in self.classes}
        name = safe_name(model.name)
        n = 2
        while name in taken:
            name, n = safe_name(f"{model.name}_{n}"), n + 1
        plan = ClassPlan(name, f"model {model.name} ({self.spec_name}:{model.span.line})")
        variables = _variables(model)
        env: dict[str, Expr] = {}
        for tensor in model.inputs:
            sym = safe_name(tensor.name)
            plan.inputs.append(sym)
            env[tensor.name] = sym
        last = model.nodes[-1] if model.nodes else None
        for node in model.nodes:
            ins = [env[i] for i in node.inputs]
            attr = Sym(f"self.{safe_name(node.name)}")
            target = variables[node.output]
            if node is last and fold is not None and node.kind == "activation":
                env[node.output] = ins[0]
                continue
            if node.kind == "model":
                sub = self.model(node.submodel)
                lowered = L.Lowered(call(sub, rngs=Sym("rngs")), lambda a, xs: call(a, *xs))
            elif node.kind == "activation":
                lowered = L.Lowered(None, lambda a, xs, ref=node.params: L.activation(ref, xs[0]))
            else:
                lowering = L.LAYERS[node.kind]
                if node is last and fold is not None and getattr(node.params, "activation", None) is not None:
                    node = _without_activation(node)
                lowered = lowering(node)
            self.helpers.update(lowered.helpers)
            if lowered.init is not None:
                init = L.compute_dtype(lowered.init) if self.precision == "bfloat16" else lowered.init
                plan.fields.append((Sym(safe_name(node.name)), init, self.comment(node)))
            plan.body.append((target, lowered.apply(attr, ins), self.comment(node)))
            env[node.output] = target
        plan.returns = [env[t.name] for t in model.outputs]
        self.classes.append(plan)
        if fold is None:
            self.keys[key] = name
        return name


def _without_activation(node: ir.Node) -> ir.Node:
    from dataclasses import replace
    return replace(node, params=node.params.model_copy(update={"activation": None}))


def _variables(model: ir.Model) -> dict[str, Sym]:
    """Python variable for each tensor: a running ``x`` for plain sequences, names where reused."""
    explicit: set[str] = set()
    previous = model.inputs[-1].name if model.inputs else None
    for node in model.nodes:
        if node.inputs != (previous,):
            explicit.update(node.inputs)
        previous = node.output
    explicit.update(t.name for t in model.outputs if model.nodes and t.name != model.nodes[-1].output)
    running = next(n for n in ("x", "h", "z", "out", "act") if n not in explicit)
    return {node.output: safe_name(node.output) if node.output in explicit else Sym(running)
            for node in model.nodes}


def lower_model(model: ir.Model, spec_path: str, fold: str | None, precision: str = "float32") -> ModelPlan:
    """``precision="bfloat16"``: the layers with weights compute in bfloat16 and keep float32 parameters."""
    lowerer = _Lowerer(Path(spec_path).name, precision)
    top = lowerer.model(model, fold)
    return ModelPlan(lowerer.classes, top, lowerer.helpers, fold, L.uses_convolution(model))
