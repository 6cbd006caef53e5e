"""Lowering of a train block: loss, regularizers, optimizer + schedule, augmentation.

Each name's lowering is its registry entry's (nncompile.registry.losses, .optimizers, .schedules,
.augmentations); this module puts them together. (The CONFIG is built in codegen/config.py.)
"""

from __future__ import annotations

from contextvars import ContextVar

from ..expr import Args, Call, Expr, Snippet, Sym, call, t
from ..registry import Ref
from ..registry.augmentations import AUGMENTATIONS
from ..registry.losses import CLASS_WEIGHTED, LOSSES, SAMPLE_WEIGHTED, LossContext
from ..registry.optimizers import OPTIMIZERS
from ..registry.schedules import REGULARIZERS, SCHEDULES, composed, schedule_refs
from ..semantics import ir
from ..semantics.layerloss import layer_losses

Y = Sym("y")
CLASS_WEIGHT = Sym("class_weight")  # loss_fn's argument: the weight of each class, or None
# `sample_weight=` of the data: loss_fn's argument, each example's weight, or None (evaluation)
SAMPLE_WEIGHT = Sym("sample_weight")
# fit(sample_weight=...) of the Python API on a spec whose data names no weights: the program is
# emitted weighted all the same (api.Program.fit sets it while it emits)
WEIGH_SAMPLES: ContextVar[bool] = ContextVar("weigh_samples", default=False)
OUT = Sym("outputs")
DEFAULT_OPTIMIZER = "adam"  # when a train block names none


def loss_expr(
    train: ir.Train, loss: Ref | None = None, outputs: Sym | Expr = OUT, y: Sym | Expr = Y
) -> tuple[Expr, tuple[Snippet, ...]]:
    """The mean loss over a batch, from ``outputs`` (logits when the head is fused) and ``y``, and
    the snippets it calls (`loss`: one output's, of a model with several)."""
    loss = loss or train.loss
    entry = LOSSES[loss.name]
    assert entry.lower is not None, f"{loss.name} is not a supervised loss"
    props = train.data.props
    weighted = train.props.class_weight is not None
    samples = SAMPLE_WEIGHT if sample_weighted(train) else None
    context = LossContext(
        outputs, y, props.one_hot, props.pad, CLASS_WEIGHT if weighted else None, samples
    )
    snippets = (*entry.snippets, CLASS_WEIGHTED) if weighted else entry.snippets
    return entry.lower(loss.params, context), (
        (*snippets, SAMPLE_WEIGHTED) if samples is not None else snippets
    )


def sample_weighted(train: ir.Train) -> bool:
    """Whether loss_fn weighs each example: the data source names the weights (`sample_weight=`
    of npz and csv), or fit() is given them (WEIGH_SAMPLES)."""
    if train.model is None:  # (a GAN: `check` refuses sample weights)
        return False
    given = getattr(train.data.props.source.params, "sample_weight", None)
    return given is not None or WEIGH_SAMPLES.get()


def class_weight_table(train: ir.Train) -> tuple[float, ...] | str | None:
    """`class_weight:` as the emitted CLASS_WEIGHT: one weight per class of the model's output
    (classes the dict leaves out weigh 1, as in Keras), "balanced" (the runtime computes it from
    the training split), or None without class weights."""
    given = train.props.class_weight
    if given is None or isinstance(given, str):
        return given
    assert train.model is not None
    units = train.model.outputs[0].shape[-1]
    classes = LOSSES[train.loss.name].classes(units)
    return tuple(float(given.get(i, 1.0)) for i in range(classes))


def penalty_terms(train: ir.Train) -> list[Expr]:
    """The regularizers' terms added to the loss."""
    return [REGULARIZERS[r.name].lower(r.params) for r in train.props.regularize]


def penalty_snippets(train: ir.Train) -> tuple[Snippet, ...]:
    refs = [*train.props.regularize, *(ref for _, ref, _ in layer_regularizers(train.model))]
    return tuple(s for r in refs for s in REGULARIZERS[r.name].snippets)


def layer_regularizers(model: ir.Model | None) -> list[tuple[Sym, Ref, int]]:
    """The layers with their own `regularize=` (dense, convolutions), in blocks too: the layer's
    attribute path from ``model``, its regularizer and its spec line."""
    found: list[tuple[Sym, Ref, int]] = []

    def visit(m: ir.Model, path: str) -> None:
        for node in m.nodes:
            if node.submodel is not None:
                visit(node.submodel, f"{path}.{node.name}")
            ref = getattr(node.params, "regularize", None)
            if isinstance(ref, Ref):
                found.append((Sym(f"{path}.{node.name}"), ref, node.span.line))

    if model is not None:
        visit(model, "model")
    return found


def layer_penalty_terms(train: ir.Train) -> list[tuple[Expr, int]]:
    """Each layer's own penalty, on that layer's kernel only, with its spec line."""
    return [
        (REGULARIZERS[ref.name].lower(ref.params, attr), line)
        for attr, ref, line in layer_regularizers(train.model)
    ]


def layer_loss_terms(train: ir.Train) -> list[tuple[Expr | Sym, int]]:
    """The weighted terms layers add to the loss (gaussian_sample's KL divergence), with their spec
    lines; read after loss_fn's forward pass."""
    return [
        (
            loss.term.value
            if loss.term.weight == 1.0
            else t("{w} * {v}", w=loss.term.weight, v=loss.term.value),
            loss.line,
        )
        for loss in layer_losses(train.model)
    ]


def optimizer_lines(
    train: ir.Train, which: str = "optimizer", *, inject: bool = False
) -> list[tuple[str, Expr | float]]:
    """Assignments building ``tx`` in make_optimizer, in optax.chain order. `inject`: the optimizer
    holds its hyperparameters, the learning rate among them, in its state
    (optax.inject_hyperparams), where the runtime reads the rate for the `lr` column and
    reduce_on_plateau lowers it."""
    props = train.props
    ref = getattr(props, which) or props.optimizer
    entry = OPTIMIZERS[ref.name if ref is not None else DEFAULT_OPTIMIZER]
    p = ref.params if ref is not None else entry.params()
    phases = [(SCHEDULES[r.name], r.params) for r in schedule_refs(props)]
    rate = entry.rate(p)
    lr = composed(phases, rate) if phases else rate
    tx = entry.lower(p, Sym("learning_rate"))
    if inject:
        assert isinstance(tx, Call)
        tx = t("optax.inject_hyperparams({fn})({args})", fn=Sym(tx.fn), args=Args(tx))
    lines: list[tuple[str, Expr | float]] = [("learning_rate", lr), ("tx", tx)]
    if props.clip_norm is not None:
        lines.append(
            (
                "tx",
                call("optax.chain", call("optax.clip_by_global_norm", props.clip_norm), Sym("tx")),
            )
        )
    return lines


def phase_rate(train: ir.Train) -> float | None:
    """`unfreeze_after: {epochs: N, lr: R}`: the rate every layer trains at once unfrozen."""
    return getattr(train.props.unfreeze_after, "lr", None)


def augment_calls(train: ir.Train) -> list[tuple[str, Expr]]:
    """``x = fn(keys[i], x, ...)`` for each augmentation of the data block: (name, call)."""
    return [
        (ref.name, AUGMENTATIONS[ref.name].lower(ref.params, t("keys[{i}]", i=i), Sym("x")))
        for i, ref in enumerate(train.data.props.augment)
    ]


def augment_snippets(train: ir.Train) -> tuple[Snippet, ...]:
    return tuple(s for ref in train.data.props.augment for s in AUGMENTATIONS[ref.name].snippets)
