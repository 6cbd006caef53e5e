"""Syntax tree -> validated, shaped program (``ir.Program``), or every diagnostic found."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry import Ref
from ..registry.loading import SourceInfo, data_path
from ..registry.losses import LOSSES
from ..registry.several import UNSUPPORTED, named_arrays
from ..source import Source, Span
from ..syntax import ast
from . import checks, ir
from .history_keys import check_default_objective, check_named
from .keras_names import property_hint
from .models import ModelBuilder
from .names import check_model_names
from .resolve import KEY, Invalid, Resolver, Scope
from .schema import BLOCKS
from .sweepvalues import keep_names


def validate(spec: ast.Spec, source: Source, out: Collector | None = None) -> ir.Program:
    """Resolve names, check arguments, infer shapes and cross-check blocks.

    Raises CompileError with all diagnostics of the stage when any is an error.
    """
    out = out or Collector(source.path)
    program = _Validator(spec, source, out).run()
    out.raise_if_errors(source)
    return program


class _Validator:
    def __init__(self, spec: ast.Spec, source: Source, out: Collector):
        self.spec, self.source, self.out = spec, source, out
        self.resolver = Resolver(out)
        self.base_dir = Path(source.path).resolve().parent if source.path != "<string>" else None

    def run(self) -> ir.Program:
        items = self.unique_items()
        lets = {i.name: i.value for i in items if isinstance(i, ast.Let)}
        self.scope = Scope(lets)
        blocks = {i.name: i for i in items if isinstance(i, ast.ModelBlock)}
        for block in blocks.values():
            check_model_names(block, self.out)
        self.models = ModelBuilder(self.resolver, blocks, lets)
        data = {
            i.name: d
            for i in items
            if isinstance(i, ast.DataBlock)
            if (d := self.data(i)) is not None
        }
        models = {}
        for block in blocks.values():
            if block.params and any(p.default is None for p in block.params):
                continue  # built where it is used, with its arguments
            model = self.models.build(block)
            if model is not None:
                models[block.name] = model
        trains = {}
        train_blocks = [i for i in items if isinstance(i, ast.TrainBlock)]
        for train_block in train_blocks:
            t = self.train(train_block, data, models, blocks)
            if t is not None:
                trains[train_block.name] = t
        sweeps = {}
        for sweep_block in (i for i in items if isinstance(i, ast.SweepBlock)):
            s = self.sweep(sweep_block, {b.name for b in train_blocks}, lets, trains)
            if s is not None:
                sweeps[sweep_block.name] = s
        plain_lets = {}
        for name, value in lets.items():
            if _has_call(value):  # `let act = leaky_relu(0.2)`: checked where it is used
                continue
            with contextlib.suppress(Invalid):  # reported where it is used
                plain_lets[name] = self.resolver.plain(value, self.scope, {}, (name,), {})
        return ir.Program(self.source, plain_lets, data, models, trains, sweeps)

    def unique_items(self) -> list[ast.Item]:
        seen: dict[tuple[str, str], ast.Item] = {}
        kinds = {
            ast.Let: "let",
            ast.DataBlock: "data",
            ast.ModelBlock: "model",
            ast.TrainBlock: "train",
            ast.SweepBlock: "sweep",
        }
        items = []
        for item in self.spec.items:
            kind = kinds[type(item)]
            space = (
                "block" if kind in ("data", "model") else kind
            )  # data and model names share one space
            key = (space, item.name)
            if key in seen:
                first = seen[key]
                self.out.error(
                    D.DUPLICATE,
                    f"{kind} '{item.name}' is already defined at line {first.span.line}",
                    item.name_span,
                    "rename one of them"
                    if kind != "train"
                    else "name train blocks: `train fast { ... }`",
                )
                continue
            seen[key] = item
            items.append(item)
        return items

    # ---- blocks ---------------------------------------------------------------------------
    def properties(self, block, kind: str):
        """Validates a block's properties with its schema; returns (props, spans) or None."""
        model = BLOCKS[kind]
        raw: dict[str, Any] = {}
        spans: dict[tuple, Span] = {}
        symbols: dict = {}
        failed = False
        first: dict[str, ast.Property] = {}
        for prop in block.properties:
            if prop.key in first:
                self.out.error(
                    D.DUPLICATE,
                    f"property '{prop.key}' is given twice",
                    prop.key_span,
                    f"it is already given at line {first[prop.key].key_span.line}: remove one",
                )
                continue
            first[prop.key] = prop
            info = model.model_fields.get(prop.key)
            if info is None:
                self.out.error(
                    D.UNKNOWN_PROPERTY,
                    f"unknown property '{prop.key}' in a {kind} block",
                    prop.key_span,
                    property_hint(prop.key, kind, list(model.model_fields))
                    or D.did_you_mean(prop.key, model.model_fields)
                    or f"{kind} blocks take {D.one_of(model.model_fields)}",
                )
                failed = True
                continue
            spans[(prop.key,)] = prop.value.span
            try:
                raw[prop.key] = self.resolver.field_value(
                    prop.value, info, self.scope, spans, (prop.key,), symbols
                )
            except Invalid:
                failed = True
        if failed:
            return None
        name = f"{kind} block '{block.name}'"
        try:
            props = self.resolver.validate(
                model, raw, spans, symbols, self.scope, name, block.name_span, "property"
            )
        except Invalid:
            return None
        return props, {".".join(map(str, k)): v for k, v in spans.items()}

    def data(self, block: ast.DataBlock) -> ir.Data | None:
        result = self.properties(block, "data")
        if result is None:
            return None
        props, spans = result
        entry = self.resolver.registries["source"][props.source.name]
        info: SourceInfo = entry.info(props.source.params, self.base_dir)
        for key in entry.files:
            path = getattr(props.source.params, key)
            full = data_path(path, self.base_dir)
            if self.base_dir is not None and not full.is_file():
                self.out.warning(
                    D.DATA_FILE,
                    f"data file '{path}' not found",
                    props.source.span,
                    f"looked for {full}; paths are relative to the spec's folder",
                )
        for message, hint in entry.check_files(props.source.params, self.base_dir):
            self.out.error(D.DATA_FILE, message, props.source.span, hint)
        if named_arrays(props.source.name, props.source.params):
            for option in UNSUPPORTED:
                if getattr(props, option) is not None:
                    self.out.error(
                        D.BAD_VALUE,
                        f"`{option}` is not supported yet for data with several named arrays",
                        spans.get(option, block.name_span),
                        f"remove `{option}`, or prepare the arrays before saving them",
                    )
        info = self.shaped_info(block, props, info, spans)
        return ir.Data(block.name, props, info, block.span, self.base_dir)

    def shaped_info(self, block, props, info: SourceInfo, spans) -> SourceInfo:
        """The per-example shape a model receives, after classes, windows and reshape."""
        shape, classes, task = info.feature_shape, info.num_classes, info.task
        if props.classes is not None:
            if classes is not None and max(props.classes) >= classes:
                self.out.error(
                    D.BAD_VALUE,
                    f"class {max(props.classes)} does not exist: data has {classes} classes "
                    f"(0..{classes - 1})",
                    spans.get("classes", block.name_span),
                )
            classes = len(props.classes)
        if props.windows is not None:
            w = props.windows
            if info.stream:
                shape = (w.length,)
            elif shape is not None:
                shape = (w.length, *shape)
        elif info.stream:
            self.out.error(
                D.MISSING_PROPERTY,
                "a text source needs `windows: {length: T}`",
                props.source.span,
                "add e.g. `windows: {length: 32, targets: sequence}` to the data block",
            )
        if props.reshape is not None and shape is not None:
            if math.prod(props.reshape) != math.prod(shape):
                self.out.error(
                    D.DATA_MODEL,
                    f"cannot reshape data '{block.name}' features [{', '.join(map(str, shape))}] "
                    f"({math.prod(shape)} values) to [{', '.join(map(str, props.reshape))}]",
                    spans.get("reshape", block.name_span),
                    "the number of values must stay the same",
                )
            shape = tuple(props.reshape)
        elif props.reshape is not None:
            shape = tuple(props.reshape)
        tokens = info.token_ids
        if props.target == "input":  # a reconstruction: the inputs are the targets
            task = "sequence" if tokens else "regression"
            return SourceInfo(shape, None, task, info.vocab, tokens, info.stream)
        return SourceInfo(shape, classes, task, info.vocab, tokens, info.stream)

    def train(self, block: ast.TrainBlock, data, models, blocks) -> ir.Train | None:
        result = self.properties(block, "train")
        if result is None:
            return None
        props, spans = result
        missing = False
        for key, names, kind in (("data", data, "data"), ("model", models, "model")):
            ref = getattr(props, key)
            if ref is not None and ref not in names:
                missing = True
                if kind == "model" and ref in blocks:
                    continue  # the model itself had errors, already reported
                if kind == "data" and any(
                    isinstance(i, ast.DataBlock) and i.name == ref for i in self.spec.items
                ):
                    continue
                pool = [
                    i.name
                    for i in self.spec.items
                    if isinstance(i, (ast.DataBlock if kind == "data" else ast.ModelBlock))
                ]
                self.out.error(
                    D.UNKNOWN_REFERENCE,
                    f"unknown {kind} '{ref}'",
                    spans[key],
                    D.did_you_mean(ref, pool)
                    or (
                        f"the {kind} blocks are {D.one_of(pool)}"
                        if pool
                        else f"define it: `{kind} {ref} {{ ... }}`"
                    ),
                )
        gan = None
        if props.objective is not None:
            gan = self.gan_models(props, spans, models, blocks)
            if gan is None:
                return None
        if missing:
            return None
        model = models[props.model] if props.model else None
        generator, discriminator = gan or (None, None)
        train = ir.Train(
            block.name,
            props,
            data[props.data] if props.data else ir.given_data(block.span, given_task(props)),
            model,
            block.span,
            generator,
            discriminator,
            property_spans=spans,
        )
        checks.cross_check(train, self.out, block)
        return train

    def gan_models(self, props, spans, models, blocks):
        p = props.objective.params
        found = []
        for role in ("generator", "discriminator"):
            name = getattr(p, role)
            if name not in models:
                if name not in blocks:
                    self.out.error(
                        D.UNKNOWN_REFERENCE,
                        f"unknown {role} model '{name}'",
                        props.objective.span,
                        D.did_you_mean(name, blocks) or "define it with `model ... { ... }`",
                    )
                return None
            found.append(models[name])
        return tuple(found)

    def sweep(
        self, block: ast.SweepBlock, trains: set[str], lets, analysed: dict[str, ir.Train]
    ) -> ir.Sweep | None:
        result = self.properties(block, "sweep")
        if result is None:
            return None
        props, spans = result
        props = keep_names(props, block, lets)
        if props.train not in trains:
            self.out.error(
                D.UNKNOWN_REFERENCE,
                f"unknown train block '{props.train}'",
                spans.get("train", block.span),
                D.did_you_mean(props.train, trains)
                or (f"the train blocks are {D.one_of(trains)}" if trains else "add a train block"),
            )
        train = analysed.get(props.train)
        if props.objective is not None and train is not None:  # (else its errors are reported)
            metric = props.objective.params.metric
            check_named(
                train,
                self.out,
                props.objective.span,
                metric,
                f"the sweep objective '{metric}' is not recorded by train '{props.train}'",
                "use",
                f"the sweep objective {metric} is recorded only with a validation split, and "
                f"data {train.data.name} of train '{props.train}' has none",
            )
        elif train is not None:
            check_default_objective(train, self.out, spans.get("train", block.name_span))
        space = props.grid if props.grid is not None else props.random
        key = "grid" if props.grid is not None else "random"
        for name in space:
            if name not in lets:
                self.out.error(
                    D.UNKNOWN_REFERENCE,
                    f"sweep over '{name}', which is not a `let` value",
                    spans.get(f"{key}.{name}.{KEY}", spans.get(key, block.span)),
                    D.did_you_mean(name, lets)
                    or f"declare it: `let {name} = ...` and use it in the model or train block",
                )
        return ir.Sweep(block.name, props, block.span, spans)


def _has_call(value: ast.Value) -> bool:
    if isinstance(value, ast.Call):
        return True
    if isinstance(value, ast.List):
        return any(_has_call(v) for v in value.items)
    if isinstance(value, ast.Dict):
        return any(_has_call(p.value) for p in value.pairs)
    return False


def given_task(props) -> str | None:
    """The task of the arrays a train block without `data:` is given: its loss's (one loss)."""
    loss = props.loss if isinstance(props.loss, Ref) else None
    entry = LOSSES.get(loss.name) if loss is not None else None
    if entry is None or entry.task not in ("classification", "regression"):
        return None
    return entry.task
