"""`freeze:` and `unfreeze_after:`: layers that get no updates (and no optimizer state) at first.

The emitted `make_optimizer(steps_per_epoch, epochs, frozen=True)` leaves the FROZEN layers out;
unfreezing builds the optimizer again with `frozen=False` and carries the optimizer state of the
parameters trained so far over (moments, counts); the unfrozen ones start from a fresh state.
"""

from __future__ import annotations

from types import ModuleType

import jax
from flax import nnx

from ..runconfig import RunConfig
from .state import carry_over, from_pure, to_pure


class Freeze:
    """A trainer's freeze phase: `frozen` until the epoch after `unfreeze_after` (or a resume)."""

    def __init__(self, config: RunConfig):
        self.layers = config.freeze
        self.after = config.unfreeze_after
        self.frozen = bool(self.layers)

    def due(self, epoch: int) -> bool:
        """Whether the layers unfreeze before `epoch` runs."""
        return self.frozen and self.after is not None and epoch > self.after


def unfrozen_optimizer(
    program: ModuleType, model: nnx.Module, optimizer: nnx.Optimizer, updates: int, epochs: int
) -> tuple[nnx.Optimizer, dict]:
    """The optimizer of every layer, holding `optimizer`'s state where it has one; and its fresh
    state (pure), for converting other states of the frozen layout (`relayout`)."""
    old = to_pure(nnx.state(optimizer))
    new = nnx.Optimizer(model, program.make_optimizer(updates, epochs, frozen=False), wrt=nnx.Param)
    fresh = to_pure(nnx.state(new))
    nnx.update(new, from_pure(nnx.state(new), carry_over(fresh, old)))
    return new, fresh


def relayout(leaves: list, old_treedef, optimizer: nnx.Optimizer, fresh: dict, copy) -> list:
    """A (model, optimizer) state of the frozen layout (flat leaves) in `optimizer`'s layout."""
    state = jax.tree.unflatten(old_treedef, leaves)
    opt = from_pure(copy(nnx.state(optimizer)), carry_over(fresh, to_pure(state[1])))
    return jax.tree.leaves(nnx.State({0: state[0], 1: opt}))
