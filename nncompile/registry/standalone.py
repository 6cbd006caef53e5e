"""The standalone forms of sources and metrics: the code `nncompile eject` writes into a folder that
trains without nncompile (data.py and train.py), as data.

A source's `standalone(p, request)` is a `StandaloneLoader`: fixed code (`Snippet`s defined next to
the entry, the same steps as its runtime loader) and a call whose arguments are the data block's
values rendered as literals, giving (x, y, task) as the runtime's `Raw` holds them. A metric's
`standalone(p)` is a `StandaloneMetric`: a numpy function of (outputs, y) computing on the host what
its accumulator computes on the device. Only fixed templates, identifiers and `repr` literals become
code: no spec text does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..expr import Expr, Snippet, t


@dataclass(frozen=True)
class EjectRequest:
    """What a source's standalone form reads besides its arguments."""

    windows: Mapping[str, Any] | None  # the data block's windows (length, horizon, targets)
    base: Path | None  # the spec's folder: relative file names are read from there


@dataclass(frozen=True)
class StandaloneLoader:
    """How data.py loads a source: `call` gives (x, y, task); `files` are copied into data/."""

    call: Expr
    snippets: tuple[Snippet, ...]
    imports: tuple[str, ...] = ()  # fixed import lines the snippets need ("import csv")
    requires: tuple[str, ...] = ()  # what to pip install besides jax, flax, optax, numpy
    files: Mapping[str, Path] = field(default_factory=dict)  # name in data/ -> the file to copy


@dataclass(frozen=True)
class StandaloneMetric:
    """How train.py computes a metric: `fn`, a function of (outputs, y) -> float in numpy."""

    fn: Expr
    snippets: tuple[Snippet, ...] = ()


def numpy_metric(template: str, *snippets: Snippet) -> Callable[[Any], StandaloneMetric]:
    """A metric's standalone form from a fixed template of the function, filled with the metric's
    arguments as literals: `numpy_metric("lambda o, y: top_k(o, y, {k})", TOP_K)`."""
    return lambda p: StandaloneMetric(t(template, **p.model_dump()), snippets)


SUPERVISED = Snippet(
    "supervised",
    '''
def supervised(x, y, task):
    """float32 features (n, ...) with int32 class ids (n,) or float32 targets (n, k, ...)."""
    x = np.asarray(x, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    if task == "classification":
        return x, np.asarray(y).astype(np.int32).reshape(len(y)), task
    y = np.asarray(y, dtype=np.float32)
    return x, y[:, None] if y.ndim == 1 else y, task
''',
)


def data_file(path: str, base: Path | None) -> tuple[Expr, dict[str, Path]]:
    """`DATA / "<name>"` for a source's file argument (relative paths: from the spec's folder), and
    the file to copy there."""
    file = Path(path).expanduser()
    file = file if file.is_absolute() or base is None else base / file
    return t("DATA / {name}", name=file.name), {file.name: file}
