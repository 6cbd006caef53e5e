"""Keras' `weighted_metrics`: the history keys they are recorded under (one rule for the checks,
which name them, and the runtime, which records them; runtime.metrics.weighted scores them)."""

from __future__ import annotations


def weighted_keys(plain: list[str], weighted: list[str]) -> list[str]:
    """The history keys of `weighted_metrics` (Keras' naming, trainers/compile_utils.py): a
    metric's own key, or `weighted_<key>` when an unweighted metric (or an earlier weighted one)
    has that key already (`metrics: [accuracy]` and `weighted_metrics: [accuracy]`)."""
    taken = set(plain)
    out = []
    for key in weighted:
        name = key if key not in taken else f"weighted_{key}"
        base, n = name, 1
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        out.append(name)
    return out
