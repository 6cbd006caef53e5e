"""Lowering of a train block: loss, regularizers, optimizer + schedule, augmentation.

Each name's lowering is its registry entry's (nncompile.registry.losses, .optimizers, .schedules,
.augmentations); this module puts them together. (The CONFIG is built in codegen/config.py.)
"""

from __future__ import annotations

from ..expr import Expr, Snippet, Sym, call, t
from ..registry import Ref
from ..registry.augmentations import AUGMENTATIONS
from ..registry.losses import LOSSES, LossContext
from ..registry.optimizers import OPTIMIZERS
from ..registry.schedules import REGULARIZERS, SCHEDULES
from ..semantics import ir

Y = Sym("y")
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
    context = LossContext(outputs, y, props.one_hot, props.pad)
    return entry.lower(loss.params, context), entry.snippets


def penalty_terms(train: ir.Train) -> list[Expr]:
    """The regularizers' terms added to the loss."""
    return [REGULARIZERS[r.name].lower(r.params) for r in train.props.regularize]


def penalty_snippets(train: ir.Train) -> tuple[Snippet, ...]:
    return tuple(s for r in train.props.regularize for s in REGULARIZERS[r.name].snippets)


def optimizer_lines(train: ir.Train, which: str = "optimizer") -> list[tuple[str, Expr | float]]:
    """Assignments building ``tx`` in make_optimizer, in optax.chain order."""
    props = train.props
    ref = getattr(props, which) or props.optimizer
    entry = OPTIMIZERS[ref.name if ref is not None else DEFAULT_OPTIMIZER]
    p = ref.params if ref is not None else entry.params()
    sref = props.schedule
    schedule = SCHEDULES[sref.name] if sref is not None else None
    rate = entry.rate(p)
    lr = schedule.lower(sref.params, rate) if schedule is not None and sref is not None else rate
    lines: list[tuple[str, Expr | float]] = [
        ("learning_rate", lr),
        ("tx", entry.lower(p, Sym("learning_rate"))),
    ]
    if props.clip_norm is not None:
        lines.append(
            (
                "tx",
                call("optax.chain", call("optax.clip_by_global_norm", props.clip_norm), Sym("tx")),
            )
        )
    if schedule is not None and schedule.chain is not None and sref is not None:
        lines.append(("tx", call("optax.chain", Sym("tx"), schedule.chain(sref.params))))
    return lines


def augment_calls(train: ir.Train) -> list[tuple[str, Expr]]:
    """``x = fn(keys[i], x, ...)`` for each augmentation of the data block: (name, call)."""
    return [
        (ref.name, AUGMENTATIONS[ref.name].lower(ref.params, t("keys[{i}]", i=i), Sym("x")))
        for i, ref in enumerate(train.data.props.augment)
    ]


def augment_snippets(train: ir.Train) -> tuple[Snippet, ...]:
    return tuple(s for ref in train.data.props.augment for s in AUGMENTATIONS[ref.name].snippets)
