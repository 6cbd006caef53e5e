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

``run_spec`` then compiles the spec and trains it one step: ``mode="train"`` runs the real
``Program.fit`` for one epoch of one full batch (what `nncompile train` does), ``mode="trace"``
runs everything up to the first XLA compilation (data loading and its checks, code generation,
the program's module) and traces one training step, one evaluation step and a prediction
abstractly (``jax.eval_shape``): the shape and dtype errors of a step without the seconds of XLA
compilation each, so CI can afford hundreds of specs.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from hypothesis import strategies as st

from nncompile.compiler import analyse
from nncompile.registry import RefTo
from nncompile.registry.activations import ACTIVATIONS, INITIALIZERS
from nncompile.registry.augmentations import AUGMENTATIONS
from nncompile.registry.layers import LAYERS
from nncompile.registry.losses import LOSSES
from nncompile.registry.metrics import METRICS
from nncompile.registry.optimizers import OPTIMIZERS
from nncompile.registry.schedules import REGULARIZERS, SCHEDULES
from nncompile.registry.sources import SOURCES
from nncompile.source import Source

GAN_LOSSES = {"non_saturating", "minimax", "least_squares"}  # for `objective: gan(...)` only
MAX_LAYERS = 5
TRIES = 4  # draws of a statement before the chain stops growing


# ---- data ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSetup:
    """A data block and what its model must take and give."""

    block: str  # `data d { ... }`
    shape: tuple[int, ...]  # a model input's shape
    tokens: bool  # int token ids
    task: str  # classification | binary | regression | sequence
    classes: int = 0
    target: tuple[int, ...] = ()  # regression / sequence targets per example


_FOLDER: Path | None = None


def example_folder() -> Path:
    """A folder with every source's example files (written once per process)."""
    global _FOLDER
    if _FOLDER is None:
        _FOLDER = Path(tempfile.mkdtemp(prefix="nncompile-fuzz-"))
        for entry in SOURCES.entries():
            if entry.example_files is not None:
                entry.example_files(_FOLDER)
    return _FOLDER


def _args(example: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in example.items())


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def data_setups() -> list[DataSetup]:
    """Data blocks of each kind; each source entry's example as one more (its shape from `check`,
    or, for a file source whose shape is known only when loaded, from the loaded arrays)."""
    split = "split: {train: 1}"
    out = [
        DataSetup(
            f'data d {{ source: synthetic("blobs", n=24, features=8, classes=3)  {split} }}',
            (8,),
            False,
            "classification",
            3,
        ),
        DataSetup(
            'data d { source: synthetic("blobs", n=24, features=16, classes=4)  reshape: [4, 4, 1]'
            f"  {split} }}",
            (4, 4, 1),
            False,
            "classification",
            4,
        ),
        DataSetup(
            'data d { source: synthetic("blobs", n=24, features=12, classes=3)  reshape: [6, 2]'
            f"  {split} }}",
            (6, 2),
            False,
            "classification",
            3,
        ),
        DataSetup(
            f'data d {{ source: synthetic("xor", n=20)  {split} }}', (2,), False, "binary", 2
        ),
        DataSetup(
            f'data d {{ source: synthetic("sine", n=20)  {split} }}',
            (1,),
            False,
            "regression",
            0,
            (1,),
        ),
        DataSetup(
            f'data d {{ source: synthetic("sine", n=20)  windows: {{length: 6}}  {split} }}',
            (6, 1),
            False,
            "regression",
            0,
            (1,),
        ),
        DataSetup(
            'data d { source: synthetic("sine", n=20)  windows: {length: 5, targets: sequence}'
            f"  {split} }}",
            (5, 1),
            False,
            "sequence",
            0,
            (5, 1),
        ),
        DataSetup(
            f'data d {{ source: synthetic("sine_params", n=20, length=4)  {split} }}',
            (2,),
            False,
            "sequence",
            0,
            (4, 1),
        ),
        DataSetup(
            'data d { source: sklearn("iris")  split: {train: 0.2, test: 0.8} }',
            (4,),
            False,
            "classification",
            3,
        ),
    ]
    folder = example_folder()
    out += [
        DataSetup(
            f'data d {{ source: csv("{folder}/example.csv", target="y")  {split} }}',
            (2,),
            False,
            "binary",
            2,
        ),
        DataSetup(
            f'data d {{ source: npz("{folder}/example.npz")  {split} }}', (3,), False, "binary", 2
        ),
        DataSetup(
            f'data d {{ source: text("{folder}/example.txt")  windows: {{length: 6}}  {split} }}',
            (6,),
            True,
            "classification",
            _vocab(folder / "example.txt"),
        ),
    ]
    known = {re.search(r"source: (\w+)\(", s.block).group(1) for s in out}  # type: ignore[union-attr]
    for entry in SOURCES.entries():  # a source added since: its example, shape from check
        if entry.name in known:
            continue
        setup = _from_example(entry)
        if setup is not None:
            out.append(setup)
    return out


def _vocab(path: Path) -> int:
    return len(set(path.read_text(encoding="utf-8")))


def _from_example(entry) -> DataSetup | None:
    block = f"data d {{ source: {entry.name}({_args(dict(entry.example))})  split: {{train: 1}} }}"
    program, _ = analyse(Source(block, str(example_folder() / "probe.nn")))
    if program is None:
        return None
    info = program.data["d"].info
    if info.feature_shape is None:
        return None
    task = info.task or "regression"
    classes = info.num_classes or 0
    if task == "classification" and classes == 2:
        task = "binary"
    return DataSetup(block, tuple(info.feature_shape), bool(info.vocab), task, classes, (1,))


@st.composite
def data_variant(draw, setup: DataSetup) -> str:
    """The setup's data block with other splits (validation and test: evaluation runs too), a
    normalisation, an augmentation for images; each kept when check accepts it."""
    block = setup.block
    if "split: {train: 1}" in block and draw(st.booleans()):
        block = block.replace("split: {train: 1}", "split: {train: 0.5, val: 0.25, test: 0.25}")
    if not setup.tokens and draw(st.booleans()):
        block = block.replace(" }", f"  normalize: {draw(st.sampled_from(['minmax', 'none']))} }}")
    if len(setup.shape) == 3 and draw(st.booleans()):
        augmentation = _entry_text(draw(st.sampled_from(AUGMENTATIONS.entries())))
        block = block.replace(" }", f"  augment: [{augmentation}] }}")
    return block


# ---- layers -------------------------------------------------------------------------------------
def _parts(statement: str) -> tuple[str, str]:
    """``dense(16, activation=relu)`` -> ("dense", "16, activation=relu")."""
    name, _, rest = statement.partition("(")
    return name.strip(), rest.rsplit(")", 1)[0] if rest else ""


def _split_args(text: str) -> list[str]:
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
        return [v if isinstance(v, str) else _value(v) for v in get_args(annotation)]
    for arg in get_args(annotation):  # Optional[...] and unions
        if get_origin(arg) is Literal:
            return [v for v in get_args(arg) if isinstance(v, str)]
    return []


@st.composite
def layer_call(draw, entry) -> str:
    """A call of a non-merge layer entry: its example's arguments varied, maybe more keywords."""
    _, args = _parts(entry.example.statement)
    name = entry.name
    parts = [draw(argument(a)) for a in _split_args(args)]
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


def _check(text: str) -> tuple[Any, list]:
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
                _, args = _parts(entry.example.statement)
                extra = [a for a in _split_args(args) if "=" in a]
                stmt = f"{target} = {entry.name}({', '.join([source, other, *extra])})"
            else:
                stmt = f"{target} = {draw(layer_call(layers[pick]))}({source})"
            program, errors = _check(BLOCK + _model_text(setup, [*body, stmt]))
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


def _entry_text(entry) -> str:
    example = dict(getattr(entry, "example", None) or {})
    return f"{entry.name}({_args(example)})" if example else entry.name


@st.composite
def specs(draw) -> str:
    """A spec `check` accepts: data block, a parameterised block, model M, one train block."""
    setup = draw(st.sampled_from(data_setups()))
    setup = replace(setup, block=draw(data_variant(setup)))
    body, shapes = draw(model_body(setup))
    last = f"t{len(body)}" if body else "x"
    losses = [e for e in LOSSES.entries() if e.name not in GAN_LOSSES]
    lr = draw(st.sampled_from([1e-3, 1e-2]))
    optimizer = _optimizer(draw(st.sampled_from(OPTIMIZERS.entries())), lr)
    chosen = None
    for start in (body, []):  # the grown graph; if no head fits it, the input alone
        shape = shapes[last] if start else setup.shape
        options = [(h, loss) for h in heads(setup, shape) for loss in losses]
        for i in draw(st.permutations(range(len(options)))):
            head, entry = options[i]
            loss = _entry_text(entry) if draw(st.booleans()) else entry.name
            model = _model_text(setup, [*start, *head])
            if not _check(f"{setup.block}\n{BLOCK}{model}{_train(loss, optimizer, [])}")[1]:
                chosen = (model, loss)
                break
        if chosen is not None:
            break
    assert chosen is not None, f"no head and loss for {setup}"
    model, loss = chosen
    candidates = []
    if draw(st.booleans()):
        candidates.append(f"schedule: {_entry_text(draw(st.sampled_from(SCHEDULES.entries())))}")
    if draw(st.booleans()):
        metrics = draw(
            st.lists(st.sampled_from(METRICS.entries()), max_size=3, unique_by=lambda e: e.name)
        )
        if metrics:
            candidates.append(f"metrics: [{', '.join(_entry_text(m) for m in metrics)}]")
    if draw(st.integers(0, 3)) == 0:
        regularizer = _entry_text(draw(st.sampled_from(REGULARIZERS.entries())))
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
    extras: list[str] = []
    for extra in candidates:  # each kept when check accepts it with the others kept so far
        text = f"{setup.block}\n{BLOCK}{model}{_train(loss, optimizer, [*extras, extra])}"
        if not _check(text)[1]:
            extras.append(extra)
    return f"{setup.block}\n{BLOCK}{model}{_train(loss, optimizer, extras)}"


def _optimizer(entry, lr: float) -> str:
    example = dict(getattr(entry, "example", None) or {})
    if "lr" in entry.params.model_fields:
        example["lr"] = lr
    return f"{entry.name}({_args(example)})" if example else entry.name


def _train(loss: str, optimizer: str, extras: list[str]) -> str:
    lines = "\n  ".join(
        [
            f"model: M  data: d  loss: {loss}",
            f"optimizer: {optimizer}  batch_size: full  epochs: 1",
            *extras,
        ]
    )
    return f"train {{\n  {lines}\n}}\n"


# ---- one training step --------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one spec did: trained (its loss), or stopped with a diagnostic (its message)."""

    trained: bool
    detail: str


class InternalError(AssertionError):
    """A spec that passed `check` crashed with an error that is not a diagnostic."""


def run_spec(text: str, mode: str = "trace", folder: Path | None = None) -> Outcome:
    """Check, compile and train ``text`` for one step (``mode``: "train" or "trace", see the
    module docstring). A diagnostic (a CompileError or another NncompileError, an out-of-memory
    error) is an outcome; any other exception is raised as InternalError with the spec."""
    import nncompile
    from nncompile.errors import NncompileError, out_of_memory

    folder = folder or example_folder()
    path = folder / "fuzz.nn"
    path.write_text(text, encoding="utf-8")
    errors = [d for d in nncompile.check(path=str(path)) if d.severity == "error"]
    if errors:
        raise InternalError(f"the strategy built a spec check refuses: {errors[0]}\n{text}")
    try:
        program = nncompile.compile(str(path))
        if mode == "train":
            history = program.fit(epochs=1, log=lambda *a: None)
            return Outcome(True, f"loss {history.epochs[-1]['loss']:.4f}")
        return Outcome(True, trace_step(program))
    except NncompileError as e:
        return Outcome(False, str(e).splitlines()[0])
    except Exception as e:
        if out_of_memory(e):
            return Outcome(False, "out of memory")
        raise InternalError(f"{type(e).__name__}: {e}\n--- spec ---\n{text}") from e


def trace_step(program) -> str:
    """The program's data (loaded and checked as `fit` does), then one training step, one
    evaluation step and a prediction on its first batch, traced abstractly."""
    import jax
    from flax import nnx

    splits = program.splits()
    cfg = program.run_config
    x, y = splits["train"]
    size = len(x) if cfg.batch_size == "full" else min(int(cfg.batch_size), len(x))
    module = program.module

    def step(xb, yb, key):
        model = module.make_model(cfg.seed)
        optimizer = nnx.Optimizer(model, module.make_optimizer(1, 1), wrt=nnx.Param)
        loss, _ = module.train_step(model, optimizer, xb, yb, key)
        eval_loss, _ = module.eval_step(model, xb, yb)
        return loss, eval_loss, module.predict(model, xb)

    loss, eval_loss, predicted = jax.eval_shape(step, x[:size], y[:size], jax.random.key(0))
    if loss.shape != () or eval_loss.shape != ():
        raise AssertionError(f"a loss of shape {loss.shape}, not a number")
    return f"traced: predictions {tuple(predicted.shape)}"
