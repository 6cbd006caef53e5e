"""A Hypothesis strategy for VALID specs, built from the grammar's forms and the registries, and the
harness that trains each one step (issue 11: a spec that passes `check` trains or fails with a
diagnostic, never an internal error).

The strategy reads the registries when it runs, so a new layer, activation, initializer, loss,
optimizer, schedule, metric or regularizer is drawn without a change here:

- data: one of a few data blocks of each task (class ids, binary, regression, sequences of
  values, token windows), from every source entry (`synthetic`, `sklearn`, and the file sources
  with their registry `example_files`);
- model: a layer graph grown statement by statement: an entry of ``LAYERS`` with the arguments of
  its ``example`` (numbers varied, other keywords drawn from the field's type: booleans, literals,
  registry names), reading the latest tensor or an earlier one (skip connections), merge entries
  reading two tensors of one shape; a parameterised block used as a layer; numbers written as
  `let`s and expressions now and then. A statement is kept when ``check``'s shape inference
  accepts it, so only valid graphs grow;
- head and loss: a head (dense layers with or without an output activation, poolings, a recurrent
  head for sequence targets) and a loss entry, kept when ``check`` accepts the pair;
- training: an optimizer entry (its example's arguments), maybe a schedule, metrics, a
  regularizer, a clip norm; each kept only when ``check`` accepts it.

``spec_harness.run_spec`` then compiles the spec and trains it one step: ``mode="train"``
runs the real ``Program.fit`` for one epoch of one full batch (what `nncompile train` does),
``mode="trace"`` runs everything up to the first XLA compilation (data loading and its checks,
code generation, the program's module) and traces one training step, one evaluation step and a
prediction abstractly (``jax.eval_shape``): the shape and dtype errors of a step without the
seconds of XLA compilation each, so CI can afford hundreds of specs.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal, get_args, get_origin

from hypothesis import strategies as st
from spec_data import (
    DataSetup,
    args_text,
    data_setups,
    data_variant,
    entry_text,
    example_folder,
    value_text,
)

from nncompile.compiler import analyse
from nncompile.registry import RefTo
from nncompile.registry.activations import ACTIVATIONS, INITIALIZERS
from nncompile.registry.layers import LAYERS
from nncompile.registry.losses import LOSSES
from nncompile.registry.metrics import METRICS
from nncompile.registry.optimizers import OPTIMIZERS
from nncompile.registry.schedules import REGULARIZERS, SCHEDULES
from nncompile.source import Source

GAN_LOSSES = {"non_saturating", "minimax", "least_squares"}  # for `objective: gan(...)` only
MAX_LAYERS = 5
TRIES = 4  # draws of a statement before the chain stops growing


# ---- layers -------------------------------------------------------------------------------------
def _parts(statement: str) -> tuple[str, str]:
    """``dense(16, activation=relu)`` -> ("dense", "16, activation=relu")."""
    name, _, rest = statement.partition("(")
    return name.strip(), rest.rsplit(")", 1)[0] if rest else ""


def _splitargs_text(text: str) -> list[str]:
    """Top-level comma-separated arguments."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


@st.composite
def number_text(draw, value: int) -> str:
    """A whole number as the spec may write it: a literal or an expression of one."""
    form = draw(st.integers(0, 9))
    if form == 0:
        k = draw(st.integers(1, 3))
        return f"{value + k} - {k}"
    if form == 1:
        return f"({value * 2}) // 2"
    if form == 2:
        return f"{value} * 1"
    if form == 3 and value % 2 == 0:
        return f"two * {value // 2}"  # a `let` (BLOCK)
    return str(value)


@st.composite
def argument(draw, text: str) -> str:
    """One example argument, its numbers varied (kept valid or not: `check` decides)."""
    key, eq, value = text.partition("=")
    if not eq or "(" in key or "[" in key:
        key, value = "", text
    value = value.strip()
    if re.fullmatch(r"\d+", value) and draw(st.booleans()):
        n = int(value)
        value = draw(number_text(draw(st.integers(1, max(2, n * 2)))))
    elif re.fullmatch(r"0\.\d+", value) and draw(st.booleans()):
        value = str(draw(st.sampled_from([0.1, 0.25, 0.5])))
    return f"{key.strip()}={value}" if key else value


def _field_options(annotation, metadata) -> list[str]:
    """Values a field can take that need no invention: booleans, literals, registry names."""
    ref = next((m for m in metadata if isinstance(m, RefTo)), None)
    if ref is not None and ref.kind == "activation":
        return list(ACTIVATIONS)
    if ref is not None and ref.kind == "initializer":
        return list(INITIALIZERS)
    if annotation is bool:
        return ["true", "false"]
    if get_origin(annotation) is Literal:
        return [v if isinstance(v, str) else value_text(v) for v in get_args(annotation)]
    for arg in get_args(annotation):  # Optional[...] and unions
        if get_origin(arg) is Literal:
            return [v for v in get_args(arg) if isinstance(v, str)]
    return []


@st.composite
def layer_call(draw, entry) -> str:
    """A call of a non-merge layer entry: its example's arguments varied, maybe more keywords."""
    _, args = _parts(entry.example.statement)
    name = entry.name
    parts = [draw(argument(a)) for a in _splitargs_text(args)]
    given = {p.split("=")[0].strip() for p in parts if "=" in p and "(" not in p.split("=")[0]}
    given |= set(entry.positional[: sum("=" not in p for p in parts)])
    for key, info in entry.params.model_fields.items():
        if key in given or draw(st.integers(0, 3)):
            continue
        options = _field_options(info.annotation, info.metadata)
        if options:
            parts.append(f"{key}={draw(st.sampled_from(options))}")
            given.add(key)
    return f"{name}({', '.join(parts)})"


# ---- growing a model ----------------------------------------------------------------------------
BLOCK = "let two = 2\nmodel Block(w) {\n  dense(w * two, activation=relu)\n  dense(w)\n}\n"


def check_text(text: str) -> tuple[Any, list]:
    program, diagnostics = analyse(Source(text, str(example_folder() / "fuzz.nn")))
    return program, [d for d in diagnostics if d.severity == "error"]


def _model_text(setup: DataSetup, body: list[str]) -> str:
    kind = "int" if setup.tokens else ""
    dims = ", ".join(map(str, setup.shape))
    lines = "\n".join(f"  {s}" for s in body)
    return f"model M {{\n  input x: {kind}[{dims}]\n{lines}\n}}\n"


@st.composite
def model_body(draw, setup: DataSetup) -> tuple[list[str], dict[str, tuple[int, ...]]]:
    """Statements `t1 = ...`, `t2 = ...` a shape check accepted, and each tensor's shape."""
    body: list[str] = []
    shapes: dict[str, tuple[int, ...]] = {"x": setup.shape}
    layers = [e for e in LAYERS.entries()]
    for _ in range(draw(st.integers(0, MAX_LAYERS))):
        for _ in range(TRIES):
            target = f"t{len(body) + 1}"
            names = list(shapes)
            source = names[-1] if draw(st.integers(0, 3)) else draw(st.sampled_from(names))
            pick = draw(st.integers(0, len(layers)))
            if pick == len(layers):  # the parameterised block, as a layer
                stmt = f"{target} = Block(w={draw(number_text(draw(st.integers(1, 8))))})({source})"
            elif layers[pick].merge:
                entry = layers[pick]
                same = [n for n in names if shapes[n] == shapes[source] and n != source]
                other = draw(st.sampled_from(same)) if same else source
                if draw(st.integers(0, 3)) == 0:  # any tensor (cross-attention of two lengths)
                    other = draw(st.sampled_from(names))
                _, args = _parts(entry.example.statement)
                extra = [a for a in _splitargs_text(args) if "=" in a]
                reads = [source] if draw(st.integers(0, 4)) == 0 else [source, other]  # self-attn
                stmt = f"{target} = {entry.name}({', '.join([*reads, *extra])})"
            else:
                stmt = f"{target} = {draw(layer_call(layers[pick]))}({source})"
            program, errors = check_text(BLOCK + _model_text(setup, [*body, stmt]))
            if not errors and program is not None:
                body.append(stmt)
                node = program.models["M"].nodes[-1]
                shapes[target] = tuple(node.shape)
                break
    return body, shapes


def heads(setup: DataSetup, shape: tuple[int, ...]) -> list[list[str]]:
    """Statements that end the model (reading the last tensor) in an output the task's losses
    can take."""
    flat = [] if len(shape) <= 1 else ["flatten()"]
    k = setup.classes
    if setup.task in ("classification", "binary"):
        out = [
            [*flat, f"dense({k}, activation=softmax)"],
            [*flat, f"dense({k})"],
            [*flat, "dense(8, activation=relu)", f"dense({k}, activation=softmax)"],
        ]
        if len(shape) >= 2:
            out.append(["global_avg_pool()", f"dense({k}, activation=softmax)"])
        if setup.task == "binary":
            out.append([*flat, "dense(1, activation=sigmoid)"])
        if setup.tokens:  # token ids: an embedding first (unless the graph has one)
            out.append([f"embedding({k}, 4)", "flatten()", f"dense({k}, activation=softmax)"])
        return out
    if setup.task == "regression":
        units = setup.target[-1]
        return [[*flat, f"dense({units})"], [*flat, "dense(8, activation=tanh)", f"dense({units})"]]
    steps = setup.target[0]  # a value per step
    return [
        [*flat, f"dense({steps})", "reshape([-1, 1])"],
        [*flat, f"repeat({steps})", "lstm(4, return_sequences=true)", "dense(1)"],
    ]


FORMS = ("single", "several", "gan", "decoder")


@st.composite
def specs(draw, form: str | None = None) -> str:
    """A spec `check` accepts, of one of the FORMS (``form``: only that one): mostly one input and
    one output (below), now and then several inputs and outputs, a GAN or an encoder-decoder
    (spec_forms.py)."""
    import spec_forms  # (it builds on this module)

    if form is None:
        form = FORMS[max(0, draw(st.integers(0, 9)) - 6)]  # 7 in 10 single
    if form == "several":
        return draw(spec_forms.several_io_specs())
    if form == "gan":
        return draw(spec_forms.gan_specs())
    if form == "decoder":
        return draw(spec_forms.decoder_specs())
    return draw(single_specs())


@st.composite
def single_specs(draw) -> str:
    """A spec `check` accepts: data block, a parameterised block, model M, one train block."""
    setup = draw(st.sampled_from(data_setups()))
    setup = replace(setup, block=draw(data_variant(setup)))
    body, shapes = draw(model_body(setup))
    last = f"t{len(body)}" if body else "x"
    losses = [e for e in LOSSES.entries() if e.name not in GAN_LOSSES]
    lr = draw(st.sampled_from([1e-3, 1e-2]))
    optimizer = optimizer_text(draw(st.sampled_from(OPTIMIZERS.entries())), lr)
    chosen = None
    for start in (body, []):  # the grown graph; if no head fits it, the input alone
        shape = shapes[last] if start else setup.shape
        options = [(h, loss) for h in heads(setup, shape) for loss in losses]
        for i in draw(st.permutations(range(len(options)))):
            head, entry = options[i]
            loss = entry_text(entry) if draw(st.booleans()) else entry.name
            model = _model_text(setup, [*start, *head])
            if not check_text(f"{setup.block}\n{BLOCK}{model}{_train(loss, optimizer, [])}")[1]:
                chosen = (model, loss)
                break
        if chosen is not None:
            break
    assert chosen is not None, f"no head and loss for {setup}"
    model, loss = chosen
    candidates = []
    if draw(st.booleans()):
        candidates.append(f"schedule: {entry_text(draw(st.sampled_from(SCHEDULES.entries())))}")
    if draw(st.booleans()):
        metrics = draw(
            st.lists(st.sampled_from(METRICS.entries()), max_size=3, unique_by=lambda e: e.name)
        )
        if metrics:
            candidates.append(f"metrics: [{', '.join(entry_text(m) for m in metrics)}]")
    if draw(st.integers(0, 3)) == 0:
        regularizer = entry_text(draw(st.sampled_from(REGULARIZERS.entries())))
        candidates.append(f"regularize: [{regularizer}]")
    if draw(st.integers(0, 3)) == 0:
        candidates.append("clip_norm: 1.0")
    if "val:" in setup.block and draw(st.booleans()):
        candidates.append("early_stopping: {monitor: val_loss, patience: 1, restore_best: true}")
    if draw(st.integers(0, 3)) == 0:
        candidates.append(f"seed: {draw(st.integers(0, 3))}")
    if draw(st.integers(0, 5)) == 0:
        candidates.append("precision: bfloat16")
    if "t1 = " in model and draw(st.integers(0, 4)) == 0:
        candidates.append("freeze: [t1]")  # kept when t1 has weights
        if draw(st.booleans()):
            candidates.append("unfreeze_after: 1")
    import spec_forms

    candidates += draw(spec_forms.train_options())
    extras: list[str] = []
    for extra in candidates:  # each kept when check accepts it with the others kept so far
        text = f"{setup.block}\n{BLOCK}{model}{_train(loss, optimizer, [*extras, extra])}"
        if not check_text(text)[1]:
            extras.append(extra)
    return f"{setup.block}\n{BLOCK}{model}{_train(loss, optimizer, extras)}"


def optimizer_text(entry, lr: float) -> str:
    example = dict(getattr(entry, "example", None) or {})
    if "lr" in entry.params.model_fields:
        example["lr"] = lr
    return f"{entry.name}({args_text(example)})" if example else entry.name


def _train(loss: str, optimizer: str, extras: list[str]) -> str:
    lines = "\n  ".join(
        [
            f"model: M  data: d  loss: {loss}",
            f"optimizer: {optimizer}  batch_size: full  epochs: 1",
            *extras,
        ]
    )
    return f"train {{\n  {lines}\n}}\n"
