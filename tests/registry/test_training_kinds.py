"""Table tests over every entry of the training and data kinds -- losses, optimizers, schedules,
regularizers, metrics, data sources, augmentations, GAN noises. A new entry is picked up
automatically (with the `example` arguments it declares): its arguments validate, it is documented,
its lowering renders to code that runs one jitted step on a tiny model, emitted optax calls spell
out no library default, metrics accumulate to their numpy reference, sources load their example."""

import inspect
import itertools
import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest
from flax import nnx

import nncompile
from nncompile.codegen import training as TR
from nncompile.expr import Call, Sym, T, in_order, render
from nncompile.registry import Ref
from nncompile.registry.augmentations import AUGMENTATIONS
from nncompile.registry.losses import LOSSES, LossContext
from nncompile.registry.metrics import METRICS, Head
from nncompile.registry.optimizers import OPTIMIZERS
from nncompile.registry.schedules import REGULARIZERS, SCHEDULES, TOTAL_STEPS
from nncompile.registry.sources import SOURCES, load_raw
from nncompile.registry.training import NOISES
from nncompile.runtime.data import DataSpec, load_dataset
from nncompile.source import NOWHERE

KINDS = [LOSSES, OPTIMIZERS, SCHEDULES, REGULARIZERS, METRICS, SOURCES, AUGMENTATIONS, NOISES]
ENTRIES = [(r.kind, e) for r in KINDS for e in r.entries()]
IDS = [f"{kind}:{e.name}" for kind, e in ENTRIES]
SUPERVISED = [e for e in LOSSES.entries() if e.lower is not None]
GAN = [e for e in LOSSES.entries() if e.gan is not None]
MULTICLASS = [e for e in SUPERVISED if e.task == "classification" and e.head != "sigmoid"]


def ref(kind: str, entry, example: bool = True) -> Ref:
    return Ref(
        kind, entry.name, entry.params.model_validate(entry.example if example else {}), NOWHERE
    )


def has_defaults(entry) -> bool:
    return all(not f.is_required() for f in entry.params.model_fields.values())


# ---- every entry: arguments, docs ----------------------------------------------------------------
@pytest.mark.parametrize("kind, entry", ENTRIES, ids=IDS)
def test_arguments_validate_and_entry_is_documented(kind, entry):
    assert entry.doc, f"{kind} {entry.name} has no doc"
    fields = entry.params.model_fields
    assert set(entry.positional) <= set(fields), f"{entry.name}: positional names no field"
    assert set(entry.example) <= set(fields), f"{entry.name}: example names no field"
    entry.params.model_validate(entry.example)
    assert has_defaults(entry) or entry.example, (
        f"{entry.name} needs an example (it has required arguments)"
    )


def test_every_loss_is_supervised_or_adversarial():
    for e in LOSSES.entries():
        assert (e.lower is None) == (e.task == "adversarial") == (e.gan is not None), e.name
        assert e.head in (None, "softmax", "sigmoid"), e.name
        assert e.task in ("classification", "regression", "adversarial"), e.name


# ---- lowerings: no library default spelled out ---------------------------------------------------
def calls(expr):
    """Every Call inside an expression."""
    if isinstance(expr, Call):
        yield expr
        for v in (*expr.args, *(v for _, v in expr.kwargs)):
            yield from calls(v)
    elif isinstance(expr, T):
        for _, v in expr.parts:
            yield from calls(v)


def library_function(name: str):
    fn = optax
    for part in name.split(".")[1:]:
        fn = getattr(fn, part)
    return fn


def lowerings():
    """(entry name, expression) for every lowering, with default and example arguments."""
    for example in (False, True):
        for e in OPTIMIZERS.entries():
            if example or has_defaults(e):
                yield e.name, e.lower(ref("optimizer", e, example).params, Sym("learning_rate"))
        for e in SCHEDULES.entries():
            p = ref("schedule", e, example).params
            lowered = e.lower(p, 0.01, TOTAL_STEPS)
            if not isinstance(lowered, float):
                yield e.name, lowered
        for e in SUPERVISED:
            yield e.name, e.lower(ref("loss", e, example).params, LossContext())


def test_emitted_optax_calls_leave_out_library_defaults():
    for name, expr in lowerings():
        for c in calls(expr):
            if not c.fn.startswith("optax."):
                continue
            signature = inspect.signature(library_function(c.fn)).parameters
            for key, value in c.kwargs:
                assert key in signature, f"{name}: {c.fn} has no argument {key}"
                default = signature[key].default
                assert default is inspect.Parameter.empty or not (
                    type(value) is type(default) and value == default
                ), f"{name}: {render(c)} spells out optax's default {key}={default!r}"


@pytest.mark.parametrize("entry", OPTIMIZERS.entries(), ids=lambda e: e.name)
def test_optimizer_library_defaults_are_optax(entry):
    signature = inspect.signature(library_function(entry.fn)).parameters
    for key, value in entry.library_defaults.items():
        assert signature[key].default == value, (
            f"{entry.fn}'s default {key} is {signature[key].default!r}"
        )


# ---- lowerings: one jitted step on a tiny model --------------------------------------------------
def step_program(
    loss_lines: list[str], optimizer_lines: list[tuple[str, object]], snippets
) -> dict:
    """A module like the emitted one, reduced to loss_fn and make_optimizer."""
    lines = ["import jax", "import jax.numpy as jnp", "import optax", "from flax import nnx", ""]
    lines += [s.code for s in in_order(list(snippets))]
    lines += [
        "def loss_fn(model, x, y):",
        "    outputs = model(x)",
        *(f"    {line}" for line in loss_lines),
        "    return loss",
        "",
        "def make_optimizer(steps_per_epoch, epochs):",
        *(f"    {target} = {render(expr)}" for target, expr in optimizer_lines),
        "    return tx",
    ]
    namespace: dict = {}
    exec(compile("\n".join(lines) + "\n", "<step>", "exec"), namespace)
    return namespace


def one_step(namespace: dict, units: int, y, steps: int = 1) -> float:
    """The loss of `steps` jitted steps (the parameters must change: a warm-up starts at rate 0)."""
    model = nnx.Linear(4, units, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, namespace["make_optimizer"](3, 2), wrt=nnx.Param)
    x = jax.random.normal(jax.random.key(1), (8, 4))
    before = jax.tree.map(np.array, nnx.state(model, nnx.Param))

    @nnx.jit
    def step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(namespace["loss_fn"])(model, x, y)
        optimizer.update(model, grads)
        return loss

    for _ in range(steps):
        loss = float(step(model, optimizer, x, y))
        assert math.isfinite(loss)
    after = jax.tree.map(np.array, nnx.state(model, nnx.Param))
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True)
    )
    return loss


def labels(entry, n: int = 8):
    """A loss's tiny targets and its model's output width, from its task and head."""
    if entry.task == "regression":
        return 1, jax.random.normal(jax.random.key(2), (n, 1))
    units = 1 if entry.head == "sigmoid" else 3
    return units, jnp.arange(n) % max(units, 2)


def train_of(optimizer=None, schedule=None, clip_norm=None) -> SimpleNamespace:
    return SimpleNamespace(
        props=SimpleNamespace(optimizer=optimizer, schedule=schedule, clip_norm=clip_norm)
    )


@pytest.mark.parametrize("entry", SUPERVISED, ids=lambda e: e.name)
@pytest.mark.parametrize("example", [False, True], ids=["defaults", "example"])
def test_loss_lowers_and_steps(entry, example):
    expr = entry.lower(ref("loss", entry, example).params, LossContext())
    namespace = step_program(
        [f"loss = {render(expr)}"], TR.optimizer_lines(train_of()), entry.snippets
    )
    units, y = labels(entry)
    one_step(namespace, units, y)


@pytest.mark.parametrize("entry", MULTICLASS, ids=lambda e: e.name)
def test_multiclass_loss_on_one_hot_labels(entry):
    expr = entry.lower(ref("loss", entry).params, LossContext(one_hot=True))
    namespace = step_program(
        [f"loss = {render(expr)}"], TR.optimizer_lines(train_of()), entry.snippets
    )
    one_step(namespace, 3, jax.nn.one_hot(jnp.arange(8) % 3, 3))


MSE = f"loss = {render(LOSSES['mse'].lower(LOSSES['mse'].params(), LossContext()))}"


@pytest.mark.parametrize("entry", OPTIMIZERS.entries(), ids=lambda e: e.name)
@pytest.mark.parametrize("clip", [None, 1.0], ids=["plain", "clipped"])
def test_optimizer_lowers_and_steps(entry, clip):
    lines = TR.optimizer_lines(train_of(optimizer=ref("optimizer", entry), clip_norm=clip))
    one_step(step_program([MSE], lines, ()), 1, jnp.ones((8, 1)))


@pytest.mark.parametrize("entry", SCHEDULES.entries(), ids=lambda e: e.name)
@pytest.mark.parametrize("example", [False, True], ids=["defaults", "example"])
def test_schedule_lowers_and_steps(entry, example):
    lines = TR.optimizer_lines(train_of(schedule=ref("schedule", entry, example)))
    one_step(step_program([MSE], lines, ()), 1, jnp.ones((8, 1)), steps=2)


@pytest.mark.parametrize("entry", REGULARIZERS.entries(), ids=lambda e: e.name)
def test_regularizer_lowers_and_steps(entry):
    term = entry.lower(ref("regularizer", entry).params)
    namespace = step_program(
        [MSE, f"loss = loss + {render(term)}"], TR.optimizer_lines(train_of()), entry.snippets
    )
    plain = step_program([MSE], TR.optimizer_lines(train_of()), ())
    assert one_step(namespace, 1, jnp.ones((8, 1))) > one_step(plain, 1, jnp.ones((8, 1)))


@pytest.mark.parametrize("entry", AUGMENTATIONS.entries(), ids=lambda e: e.name)
def test_augmentation_lowers_and_runs_jitted(entry):
    expr = entry.lower(ref("augmentation", entry).params, Sym("key"), Sym("x"))
    source = "\n".join(
        [
            "import jax",
            "import jax.numpy as jnp",
            *(s.code for s in in_order(list(entry.snippets))),
            "def augment(key, x):",
            f"    return {render(expr)}",
        ]
    )
    namespace: dict = {}
    exec(compile(source, "<augment>", "exec"), namespace)
    x = jax.random.uniform(jax.random.key(0), (4, 6, 6, 2) if entry.image_only else (4, 5))
    out = jax.jit(namespace["augment"])(jax.random.key(1), x)
    assert out.shape == x.shape and out.dtype == x.dtype and bool(jnp.all(jnp.isfinite(out)))


@pytest.mark.parametrize("entry", AUGMENTATIONS.entries(), ids=lambda e: e.name)
def test_image_only_augmentation_is_refused_on_features(entry):
    spec = f"""
data d {{ source: sklearn("iris")  augment: [{entry.name}] }}
model M {{ input x: [4]  dense(3, activation=softmax) }}
train {{ model: M  data: d  loss: categorical_crossentropy }}
"""
    diagnostics = nncompile.check(text=spec)
    assert [d.code for d in diagnostics if d.severity == "error"] == (
        ["E500"] if entry.image_only else []
    )


@pytest.mark.parametrize("entry", GAN, ids=lambda e: e.name)
def test_gan_losses_are_finite_with_gradients(entry):
    real, fake = jax.random.normal(jax.random.key(0), (2, 8, 1))
    d_expr, g_expr = (render(e) for e in entry.gan)
    d_loss = lambda real, fake: jnp.mean(eval(d_expr, {"jax": jax, "real": real, "fake": fake}))
    g_loss = lambda fake: jnp.mean(eval(g_expr, {"jax": jax, "fake": fake}))
    assert math.isfinite(float(jax.jit(d_loss)(real, fake))) and math.isfinite(
        float(jax.jit(g_loss)(fake))
    )
    assert float(jnp.abs(jax.grad(g_loss)(fake)).sum()) > 0


@pytest.mark.parametrize("entry", NOISES.entries(), ids=lambda e: e.name)
def test_noise_lowers_to_its_shape(entry):
    p = ref("noise", entry).params
    expr = render(entry.lower(p, Sym("key"), Sym("n")))
    z = jax.jit(lambda key: eval(expr, {"jax": jax, "key": key, "n": 3}))(jax.random.key(0))
    assert z.shape == (3, *entry.shape(p))


# ---- metrics -------------------------------------------------------------------------------------
CHUNKS = (0, 37, 180, 211, 300)  # uneven batches: the accumulator must add up across them


def metric_data(task: str, rng):
    if task == "regression":
        return rng.normal(size=(300, 1)).astype(np.float32), rng.normal(size=(300, 1)).astype(
            np.float32
        )
    return rng.normal(size=(300, 5)).astype(np.float32), rng.integers(0, 5, size=300).astype(
        np.int32
    )


@pytest.mark.parametrize("entry", METRICS.entries(), ids=lambda e: e.name)
@pytest.mark.parametrize("example", [False, True], ids=["defaults", "example"])
def test_metric_accumulates_to_its_numpy_reference(entry, example):
    p = entry.params.model_validate(entry.example if example else {})
    outputs, y = metric_data(entry.task, np.random.default_rng(0))
    init, update, finalize = entry.accumulator(Head(entry.task, outputs.shape[-1]), p)
    acc = init()
    assert all(
        a.dtype in (np.int32, np.float32) for a in jax.tree.leaves(acc)
    )  # what the runtime's pack needs
    update = jax.jit(update)
    for a, b in itertools.pairwise(CHUNKS):
        acc = update(acc, jnp.asarray(outputs[a:b]), jnp.asarray(y[a:b]))
    got = finalize(jax.device_get(acc))
    assert got == pytest.approx(entry.reference(p, outputs, y), rel=1e-5, abs=1e-6)
    assert entry.better in ("min", "max") and entry.task in ("classification", "regression")
    assert entry.names(entry.history_key(p)), f"{entry.name} does not recognise its own history key"


# ---- data sources --------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", SOURCES.entries(), ids=lambda e: e.name)
def test_source_loads_its_example_as_its_info_says(entry, tmp_path):
    assert set(entry.files) <= set(entry.params.model_fields), entry.name
    if entry.example_files is not None:
        entry.example_files(tmp_path)
    p = entry.params.model_validate(entry.example)
    for key in entry.files:
        assert (tmp_path / getattr(p, key)).is_file(), (
            f"{entry.name}'s example file {getattr(p, key)} is missing"
        )
    info = entry.info(p, tmp_path)
    windows = {"length": 4} if info.task == "sequence" else None
    spec = DataSpec(
        "d", entry.name, p.model_dump(mode="json"), windows=windows, base_dir=str(tmp_path)
    )
    raw = load_raw(spec)
    assert len(raw.x) > 0 and (raw.y is None or len(raw.y) == len(raw.x))
    if info.task is not None:
        assert raw.task == info.task
    if info.num_classes is not None:
        assert raw.num_classes == info.num_classes
    if info.feature_shape is not None and windows is None:
        assert raw.x.shape[1:] == info.feature_shape
    target = entry.target_shape(p, None)
    if target is not None and raw.task == "regression":
        assert raw.y.shape[1:] == target
    dataset = load_dataset(spec)  # and the runtime prepares it
    assert set(dataset.splits) == {"train", "test"}
