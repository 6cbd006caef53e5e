"""What a fit report's hints refer to (runtime.verdict.Facts): a train block's learning rate,
dropout, regularisation, early stopping and gradient clipping, read from the validated block."""

from __future__ import annotations

from typing import Any

from . import ir


def fit_facts(train: ir.Train) -> dict[str, Any]:
    """runtime.verdict.Facts's settings of a train block, as keyword arguments."""
    p = train.props
    optimizer = p.optimizer
    lr = getattr(optimizer.params, "lr", None) if optimizer is not None else 1e-3
    nodes = list(_nodes(train.model)) if train.model is not None else []
    stopping = p.early_stopping
    return {
        "epochs": p.epochs,
        "optimizer": optimizer.name if optimizer is not None else "adam",
        "lr": float(lr) if isinstance(lr, (int, float)) else None,
        "dropout": any("dropout" in n.kind for n in nodes),
        "regularize": bool(p.regularize)
        or any(getattr(n.params, "regularize", None) for n in nodes),
        "early_stopping": stopping is not None,
        "restore_best": bool(stopping is not None and stopping.restore_best),
        "clip_norm": p.clip_norm,
    }


def _nodes(model: ir.Model):
    for n in model.nodes:
        yield n
        if n.submodel is not None:
            yield from _nodes(n.submodel)
