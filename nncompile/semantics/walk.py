"""One model block's statements -> layer nodes: tensor wiring, arguments and shape inference."""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry.activations import ACTIVATIONS
from ..registry.layers import LAYERS
from ..shapes import ShapeError, fmt
from ..source import Span
from ..syntax import ast
from . import ir
from .bindings import auto_name, extra_outputs, tensor_arguments
from .dims import input_dim
from .keras_names import layer_hint
from .resolve import Invalid, Resolver, Scope


class Builder(Protocol):
    """What a walk needs of the models.ModelBuilder that runs it (blocks used as layers)."""

    resolver: Resolver
    out: Collector
    blocks: dict[str, ast.ModelBlock]
    probing: bool

    def plain_value(self, value: ast.Value, scope: Scope) -> object | None: ...

    def scope_for(self, block: ast.ModelBlock, call: ast.Call, caller: Scope) -> Scope | None: ...

    def submodel(
        self,
        stmt: ast.LayerStmt,
        caller: Scope,
        inputs: tuple[str, ...],
        given: tuple[ir.Tensor, ...],
        in_shapes: tuple[tuple[int, ...], ...],
        out_name: str,
    ) -> ir.Node | None: ...


class ModelWalk:
    """One pass over a model's statements, threading the 'current' tensor."""

    def __init__(
        self,
        builder: Builder,
        block: ast.ModelBlock,
        scope: Scope,
        given: tuple[ir.Tensor, ...] | None,
        use_span: Span | None,
    ):
        self.b, self.block, self.scope, self.given, self.use_span = (
            builder,
            block,
            scope,
            given,
            use_span,
        )
        self.out = builder.out
        self.tensors: dict[str, ir.Tensor] = {}
        self.inputs: list[ir.Tensor] = []
        self.nodes: list[ir.Node] = []
        self.counts: Counter[str] = Counter()
        self.current: str | None = None
        self.outputs: list[ir.Tensor] | None = None
        self.broken = False
        self.failed: set[str] = (
            set()
        )  # outputs of statements with errors: what reads them is not checked

    def run(self) -> ir.Model | None:
        declared = [s for s in self.block.body if isinstance(s, ast.Input)]
        if not self.block.body and self.given is None:
            self.out.error(
                D.NO_INPUT,
                f"model '{self.block.name}' is empty",
                self.block.name_span,
                "declare its input and layers, e.g. `input x: [64]` then `dense(10)`",
            )
            return None
        for stmt in declared:
            self.input(stmt)
        if self.broken:
            return None
        if self.given is not None:
            self.bind_given(declared, self.given)
        elif not declared:
            self.out.error(
                D.NO_INPUT,
                f"model '{self.block.name}' has no input",
                self.block.name_span,
                "declare one as its first statement, e.g. `input x: [64]`",
            )
            return None
        for item in self.block.body:
            if isinstance(item, ast.LayerStmt):
                self.layer(item)
            elif isinstance(item, ast.Output):
                self.output(item)
        if self.broken:
            return None
        outputs = self.outputs
        if not self.nodes and self.given is None:
            self.out.error(
                D.GRAPH,
                f"model '{self.block.name}' has no layers",
                self.block.name_span,
                "add layers after its input, e.g. `dense(10, activation=softmax)`",
            )
            return None
        if outputs is None:
            if self.current is None:
                self.out.error(
                    D.GRAPH, f"model '{self.block.name}' has no layers", self.block.name_span
                )
                return None
            outputs = [self.tensors[self.current]]
        bound = tuple(
            (k, v)
            for k, v in ((k, self.b.plain_value(*pair)) for k, pair in self.scope.params.items())
            if v is not None
        )
        return ir.Model(
            self.block.name,
            tuple(self.inputs),
            tuple(self.nodes),
            tuple(outputs),
            self.block.span,
            bound,
        )

    # ---- statements -------------------------------------------------------------------------
    def input(self, stmt: ast.Input) -> None:
        dims: list[int] = []
        bad = False
        for d in stmt.dims:  # every dimension is checked, so all their errors are reported
            value = self.dim(d)
            if value is not None and value < 1:
                self.out.error(
                    D.BAD_VALUE, f"input dimensions must be at least 1, got {value}", d.span
                )
                value = None
            if value is None:
                bad = True
            else:
                dims.append(value)
        if bad:
            self.broken = True
            return
        if not dims:
            self.out.error(D.BAD_VALUE, f"input '{stmt.name}' needs a shape, e.g. [64]", stmt.span)
            self.broken = True
            return
        if stmt.name in self.tensors:
            self.out.error(
                D.DUPLICATE,
                f"'{stmt.name}' is already defined in model {self.block.name}",
                stmt.name_span,
            )
            return
        tensor = ir.Tensor(stmt.name, tuple(dims), stmt.dtype)
        self.tensors[stmt.name] = tensor
        self.inputs.append(tensor)
        self.current = stmt.name

    def dim(self, dim: ast.Value) -> int | None:
        return input_dim(self.b.resolver, dim, self.scope)

    def bind_given(self, declared: list[ast.Input], given: tuple[ir.Tensor, ...]) -> None:
        """A model used as a layer: its inputs are the caller's tensors."""
        if not declared:
            tensor = ir.Tensor("x", given[0].shape, given[0].dtype)
            self.tensors["x"] = tensor
            self.inputs = [tensor]
            self.current = "x"
            return
        # (a count mismatch is reported below, after the shapes of the inputs both sides have)
        for stmt, tensor, have in zip(declared, self.inputs, given, strict=False):
            if tensor.shape != have.shape:
                self.out.error(
                    D.SHAPE,
                    f"model {self.block.name} expects {stmt.name}: {fmt(tensor.shape)}, "
                    f"but receives {fmt(have.shape)}",
                    self.use_span or stmt.span,
                    f"see its input at line {stmt.span.line}",
                )
                self.broken = True
        if len(declared) != len(given):
            self.out.error(
                D.SHAPE,
                f"model {self.block.name} takes {len(declared)} input(s), receives {len(given)}",
                self.use_span or self.block.name_span,
            )
            self.broken = True
        self.current = self.inputs[-1].name if self.inputs else None

    def output(self, stmt: ast.Output) -> None:
        outs = []
        for n in stmt.names:
            if n.id in self.failed:
                continue
            if n.id not in self.tensors:
                self.unknown_tensor(n)
            else:
                outs.append(self.tensors[n.id])
        self.outputs = outs

    def unknown_tensor(self, n: ast.Name) -> None:
        self.out.error(
            D.UNKNOWN_REFERENCE,
            f"unknown tensor '{n.id}' in model {self.block.name}",
            n.span,
            D.did_you_mean(n.id, self.tensors) or "bind it first: `h = dense(64)`",
        )
        self.broken = True

    def layer(self, stmt: ast.LayerStmt) -> None:
        call = stmt.call
        name = call.name
        if name in LAYERS:
            entry = LAYERS[name]
            kind = name
        elif name in ACTIVATIONS:
            entry, kind = None, "activation"
        elif name in self.b.blocks:
            entry, kind = None, "model"
        else:
            candidates = [*LAYERS, *ACTIVATIONS, *self.b.blocks]
            self.out.error(
                D.UNKNOWN_NAME,
                f"unknown layer '{name}'",
                call.name_span,
                layer_hint(name, candidates)
                or D.did_you_mean(name, candidates)
                or "see `nncompile docs layers`",
            )
            self.fail(stmt)
            return
        merge = entry is not None and entry.merge
        inputs, args = self.wiring(stmt, merge)
        if inputs is not None and entry is not None and entry.tensor_args:
            more, args = tensor_arguments(self, stmt, entry.tensor_args, args)
            inputs = None if more is None else (*inputs, *more)
        if inputs is None:
            self.fail(stmt)
            return
        if any(
            i in self.failed for i in inputs
        ):  # an earlier statement failed: the input shape is unknown,
            self.check_arguments(stmt, kind, entry, args)  # so only the arguments are checked
            self.fail(stmt)
            return
        in_shapes = tuple(self.tensors[i].shape for i in inputs)
        tokens = self.tensors[inputs[0]].dtype == "int32"
        if tokens and kind != "model" and not (entry is not None and entry.reads_tokens):
            self.out.error(
                D.SHAPE,
                f"{name} receives integer token ids",
                stmt.span,
                "put embedding(vocab, dim) first to turn token ids into vectors",
            )
            self.fail(stmt)
            return
        if entry is not None and entry.needs_tokens and not tokens:
            source = self.tensors[inputs[0]]
            self.out.error(
                D.SHAPE,
                f"{name} takes integer token ids, but receives float values "
                f"{source.name}: {fmt(source.shape)}",
                stmt.span,
                f"declare the input as token ids: `input {source.name}: int{fmt(source.shape)}`"
                if source in self.inputs
                else f"{name} must read the model's integer input",
            )
            self.fail(stmt)
            return
        out_name = stmt.target or self.auto_name(name)
        if stmt.target and stmt.target in self.tensors:
            self.out.error(
                D.DUPLICATE,
                f"'{stmt.target}' is already defined in model {self.block.name}",
                stmt.target_span or stmt.span,
                "choose another name",
            )
            self.broken = True
            return
        try:
            if kind == "model":
                given = tuple(self.tensors[i] for i in inputs)
                node = self.b.submodel(stmt, self.scope, inputs, given, in_shapes, out_name)
            elif kind == "activation":
                ref = self.b.resolver.ref(
                    ast.Call(name, call.name_span, args, call.span)
                    if not stmt.bare
                    else ast.Name(name, call.name_span),
                    "activation",
                    self.scope,
                )
                node = ir.Node(
                    out_name,
                    "activation",
                    ref,
                    inputs,
                    out_name,
                    in_shapes,
                    in_shapes[0],
                    stmt.span,
                    named=stmt.target is not None,
                )
            else:
                assert entry is not None  # a layer statement
                params = self.b.resolver.call_args(
                    name, entry.params, entry.positional, args, self.scope, call.span
                )
                shape = entry.shape(params, list(in_shapes))
                count = entry.count(params, list(in_shapes), shape)
                several = entry.outputs(params, list(in_shapes)) if entry.outputs else None
                fields = frozenset(entry.params.model_fields)
                extra = extra_outputs(self, stmt, self.block.name, several, fields)
                if extra is None:
                    self.fail(stmt)
                    return
                node = ir.Node(
                    out_name,
                    kind,
                    params,
                    inputs,
                    out_name,
                    in_shapes,
                    shape,
                    stmt.span,
                    count,
                    named=stmt.target is not None,
                    extra=extra,
                )
        except Invalid:
            self.fail(stmt)
            return
        except ShapeError as e:
            self.out.error(D.SHAPE if not merge else D.MERGE_SHAPES, e.message, stmt.span, e.hint)
            self.fail(stmt)
            return
        if node is None or (node.kind in ("model", "activation") and stmt.more_targets):
            if node is not None:
                extra_outputs(self, stmt, self.block.name, None)
            self.fail(stmt)
            return
        for tensor in node.extra:
            self.tensors[tensor.name] = tensor
        dtype = "int32" if tokens and not (entry is not None and entry.needs_tokens) else "float32"
        self.tensors[out_name] = ir.Tensor(out_name, node.shape, dtype)
        self.nodes.append(node)
        self.current = out_name

    def check_arguments(self, stmt: ast.LayerStmt, kind: str, entry, args) -> None:
        call = stmt.call
        try:
            if kind == "model":
                self.b.scope_for(self.b.blocks[call.name], call, self.scope)
            elif kind == "activation":
                if not stmt.bare:
                    self.b.resolver.ref(
                        ast.Call(call.name, call.name_span, args, call.span),
                        "activation",
                        self.scope,
                    )
            else:
                self.b.resolver.call_args(
                    call.name, entry.params, entry.positional, args, self.scope, call.span
                )
        except Invalid:
            pass

    def fail(self, stmt: ast.LayerStmt) -> None:
        """A statement had an error: its outputs count as defined, but nothing that reads them is
        checked."""
        self.broken = True
        name = stmt.target or f"<line {stmt.span.line}>"
        self.failed.add(name)
        self.failed.update(n.id for n in stmt.more_targets)
        self.current = name

    def wiring(
        self, stmt: ast.LayerStmt, merge: bool
    ) -> tuple[tuple[str, ...] | None, tuple[ast.Arg, ...]]:
        """Which tensors a statement reads, and the arguments left for its parameters."""
        args = stmt.call.args
        if merge:
            names = [a for a in args if a.key is None]
            args = tuple(a for a in args if a.key is not None)
            refs = []
            for a in names:
                if not isinstance(a.value, ast.Name):
                    self.out.error(
                        D.BAD_VALUE,
                        f"{stmt.call.name} takes tensor names, e.g. {stmt.call.name}(h, r)",
                        a.span,
                    )
                    return None, args
                refs.append(a.value)
            if stmt.inputs is not None:
                refs.extend(stmt.inputs)
            if not refs:  # `multi_head_attention(heads=4)`: the previous statement's output
                return self.previous(stmt), args
        elif stmt.inputs is not None:
            refs = list(stmt.inputs)
            if len(refs) != 1:
                self.out.error(
                    D.GRAPH,
                    f"{stmt.call.name} takes one input, got {len(refs)}",
                    stmt.span,
                    "merge tensors first with add(...) or concat(...)",
                )
                return None, args
        else:
            return self.previous(stmt), args
        for r in refs:
            if r.id not in self.tensors and r.id not in self.failed:
                self.unknown_tensor(r)
                return None, args
        return tuple(r.id for r in refs), args

    def previous(self, stmt: ast.LayerStmt) -> tuple[str, ...] | None:
        """The input of a statement that names none: the previous statement's output."""
        if self.current is None:
            self.out.error(
                D.NO_INPUT,
                f"'{stmt.call.name}' has no input",
                stmt.span,
                "declare the model's input first: `input x: [64]`",
            )
            return None
        return (self.current,)

    def auto_name(self, kind: str) -> str:
        """Keras-style names: dense_1, dense_2, ...; a model used once keeps its own name."""
        return auto_name(kind, self.counts, kind in self.b.blocks, self.tensors)
