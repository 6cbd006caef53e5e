"""What the lowerings of registry entries share: the result of a layer's lowering, and the rule that
emitted calls leave out the arguments a library already defaults to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..expr import Expr, Snippet, Sym

Code = Expr | Sym  # what lowerings produce: an expression, or a plain (dotted) name

RNGS = Sym("rngs")  # the nnx.Rngs every emitted module constructor receives


@dataclass(frozen=True)
class Lowered:
    """A layer as code: ``init`` builds the submodule held in ``self.<name>`` (None for layers
    without parameters), ``apply(attr, inputs)`` computes the output from the input expressions,
    and ``snippets`` is the helper code both need.

    A layer that yields several tensors (``Layer.outputs``) also has ``apply_all(attr, inputs)``,
    the expression giving all of them, and ``unpack(variables)``, the assignment target that
    binds them to ``variables`` (in the order of ``Layer.outputs``): ``(c, h), seq``."""

    init: Code | None
    apply: Callable[[Sym, Sequence[Code]], Code]
    snippets: tuple[Snippet, ...] = ()
    apply_all: Callable[[Sym, Sequence[Code]], Code] | None = None
    unpack: Callable[[Sequence[Sym]], Code] | None = None


def changed(**pairs: tuple[Any, Any]) -> dict[str, Any]:
    """The keyword arguments whose value differs from the library's default:
    ``changed(momentum=(p.momentum, 0.99))`` is ``{}`` when the spec kept 0.99."""
    return {k: v for k, (v, default) in pairs.items() if v != default}
