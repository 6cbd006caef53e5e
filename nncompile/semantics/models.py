"""Model blocks -> shaped layer graphs: parameterised models bound to their arguments, blocks used
as layers; the statements of one block are walked in walk.py."""

from __future__ import annotations

from dataclasses import replace

from .. import diagnostics as D
from ..diagnostics import Collector
from ..source import Span
from ..syntax import ast
from . import ir
from .arith import Failed, evaluate, formula, mentions
from .resolve import Invalid, Resolver, Scope
from .walk import ModelWalk


class ModelBuilder:
    """Builds ``ir.Model`` for model blocks; parameterised models once per set of arguments."""

    def __init__(
        self, resolver: Resolver, blocks: dict[str, ast.ModelBlock], lets: dict[str, ast.Value]
    ):
        self.resolver = resolver
        self.out = resolver.out
        self.blocks = blocks
        self.lets = lets
        self.stack: list[str] = []
        self.probing = (
            False  # building a variant: errors are not the user's, variants are not nested
        )

    def plain_value(self, value: ast.Value, scope: Scope) -> object | None:
        """A parameter's value when it is a number, string or bool (after following names)."""
        try:
            value, _ = self.resolver.deref(value, scope)
        except Invalid:
            return None
        return value.value if isinstance(value, (ast.Number, ast.String, ast.Bool)) else None

    def variants(
        self, block: ast.ModelBlock, scope: Scope, given: tuple[ir.Tensor, ...], model: ir.Model
    ) -> tuple[tuple[tuple[str, object, ir.Model], ...], tuple[ir.Formula, ...]]:
        """The model rebuilt once per numeric parameter, that parameter changed (and the inputs it
        declares with it): the numbers that change with it are the ones code can write as the
        parameter; and the block's arithmetic on each such parameter, with its value here and in
        the variant (``ir.Model.formulas``). A change that makes the model invalid just gives no
        variant; a whole-number parameter is changed further when its first change leaves one of
        its expressions the same (``width // 2``)."""
        out = []
        formulas: list[ir.Formula] = []
        quiet = Resolver(Collector(self.out.path))
        for name, value in model.bound:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            exprs = [e for stmt in block.body for e in mentions(stmt, name)]
            probes = [value + 1, 2 * value + 1] if isinstance(value, int) else [value / 2 or 0.5]
            found = None
            for probe in probes:
                variant = self.probe(block, scope, given, name, probe)
                if variant is None:
                    continue
                found = (probe, variant, self.formulas(quiet, exprs, scope, name, probe))
                if all(here != there for _, _, here, there in found[2]):
                    break
            if found is not None:
                probe, variant, changed = found
                out.append((name, probe, variant))
                formulas += [f for f in changed if f[2] != f[3]]
        return tuple(out), tuple(formulas)

    def probe(
        self,
        block: ast.ModelBlock,
        scope: Scope,
        given: tuple[ir.Tensor, ...],
        name: str,
        probe: int | float,
    ) -> ir.Model | None:
        """The block built with parameter ``name`` set to ``probe``; None when that is invalid."""
        number = ast.Number(probe, scope.params[name][0].span)
        params = {**scope.params, name: (number, Scope(self.lets))}
        quiet = Resolver(Collector(self.out.path))
        builder = ModelBuilder(quiet, self.blocks, self.lets)
        builder.probing = True
        declared = any(isinstance(s, ast.Input) for s in block.body)
        try:
            variant = builder.build(block, Scope(self.lets, params), None if declared else given)
        except Exception:  # a probe never fails a check: the class is then written per instance
            return None
        return variant if variant is not None and not quiet.out.errors else None

    def formulas(
        self, quiet: Resolver, exprs: list, scope: Scope, name: str, probe: int | float
    ) -> list[ir.Formula]:
        """Each of ``exprs`` (arithmetic on parameter ``name``) as data, with its value here and
        with the parameter set to ``probe``."""
        out: list[ir.Formula] = []
        probed = (
            Scope(
                self.lets,
                {**scope.params, name: (ast.Number(probe, exprs[0].span), Scope(self.lets))},
            )
            if exprs
            else scope
        )
        for expr in exprs:
            tree = formula(quiet, expr, scope, name)
            try:
                here = evaluate(quiet, expr, scope).value
                there = evaluate(quiet, expr, probed).value
            except Failed:
                continue
            if tree is not None:
                out.append((name, tree, here, there))
        return out

    def build(
        self,
        block: ast.ModelBlock,
        scope: Scope | None = None,
        given: tuple[ir.Tensor, ...] | None = None,
        use_span: Span | None = None,
    ) -> ir.Model | None:
        """A model from its block; ``given`` are the incoming tensors when used as a layer."""
        if block.name in self.stack:
            self.out.error(
                D.GRAPH,
                f"model '{block.name}' uses itself",
                use_span or block.name_span,
                " -> ".join([*self.stack, block.name]),
            )
            return None
        self.stack.append(block.name)
        try:
            return ModelWalk(self, block, scope or Scope(self.lets), given, use_span).run()
        finally:
            self.stack.pop()

    def scope_for(self, block: ast.ModelBlock, call: ast.Call, caller: Scope) -> Scope | None:
        """Binds a use's arguments (``Block(width=64)``) to the model's parameters."""
        names = [p.name for p in block.params]
        bound: dict[str, tuple[ast.Value, Scope]] = {}
        ok = True
        for i, arg in enumerate(call.args):
            key = arg.key if arg.key is not None else (names[i] if i < len(names) else None)
            if key is None:
                self.out.error(
                    D.TOO_MANY_ARGUMENTS,
                    f"model {block.name} takes {len(names)} parameter(s)",
                    arg.span,
                )
                ok = False
            elif key not in names:
                self.out.error(
                    D.UNKNOWN_ARGUMENT,
                    f"model {block.name} has no parameter '{key}'",
                    arg.key_span or arg.span,
                    D.did_you_mean(key, names)
                    or (
                        f"its parameters are {D.one_of(names)}"
                        if names
                        else "it takes no parameters"
                    ),
                )
                ok = False
            elif key in bound:
                self.out.error(
                    D.REPEATED_ARGUMENT,
                    f"parameter '{key}' of {block.name} is given twice",
                    arg.span,
                )
                ok = False
            else:
                bound[key] = (arg.value, caller)
        for p in block.params:
            if p.name not in bound:
                if p.default is not None:
                    bound[p.name] = (p.default, Scope(self.lets))
                elif ok:  # after a misspelt parameter, its absence is no news
                    self.out.error(
                        D.MISSING_ARGUMENT,
                        f"model {block.name} needs its parameter '{p.name}'",
                        call.span,
                        f"write {block.name}({p.name}=...)",
                    )
                    ok = False
        return Scope(self.lets, bound) if ok else None

    def submodel(
        self,
        stmt: ast.LayerStmt,
        caller: Scope,
        inputs: tuple[str, ...],
        given: tuple[ir.Tensor, ...],
        in_shapes: tuple[tuple[int, ...], ...],
        out_name: str,
    ) -> ir.Node | None:
        """A model used as a layer (``Block(width=64)``): built with the caller's tensors."""
        block = self.blocks[stmt.call.name]
        scope = self.scope_for(block, stmt.call, caller)
        if scope is None:
            return None
        model = self.build(block, scope, given, stmt.span)
        if model is None:
            return None
        if len(model.outputs) != 1:
            self.out.error(
                D.GRAPH,
                f"model {block.name} has {len(model.outputs)} outputs; a layer needs one",
                stmt.span,
            )
            return None
        if not self.probing:
            variants, formulas = self.variants(block, scope, given, model)
            model = replace(model, variants=variants, formulas=formulas)
        return ir.Node(
            out_name,
            "model",
            None,
            inputs,
            out_name,
            in_shapes,
            model.outputs[0].shape,
            stmt.span,
            model.param_count,
            model,
            named=stmt.target is not None,
        )
