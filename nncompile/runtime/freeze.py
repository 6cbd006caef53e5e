"""`freeze:` and `unfreeze_after:`: layers that get no updates (and no optimizer state) at first.

The emitted `make_optimizer(steps_per_epoch, epochs, frozen=True)` leaves the FROZEN layers out;
unfreezing builds the optimizer again with `frozen=False` and carries the optimizer state of the
parameters trained so far over (moments, counts); the unfrozen ones start from fresh moments.

The learning rate continues, it does not restart: the unfrozen layers' rate (held in the state of
optax.inject_hyperparams) takes the step count and the hyperparameters of the layers trained so
far, so a schedule goes on from the run's current step and a rate lowered by reduce_on_plateau
stays lowered. With a fine-tuning rate (`unfreeze_after: {epochs: N, lr: R}`, CONFIG's
transfer.unfreeze_lr) every layer takes the new optimizer's hyperparameters instead: rate R.
BatchNorm layers inside the frozen layers run in inference mode while frozen (the program's
`freeze_batch_norm`), and in training mode once unfrozen.
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


def set_batch_norm(program: ModuleType, model: nnx.Module, frozen: bool) -> None:
    """The frozen layers' BatchNorm in inference mode (frozen) or training mode (programs written
    before `freeze_batch_norm` have none: nothing changes)."""
    fn = getattr(program, "freeze_batch_norm", None)
    if fn is not None:
        fn(model, frozen)


def unfrozen_optimizer(
    program: ModuleType,
    model: nnx.Module,
    optimizer: nnx.Optimizer,
    updates: int,
    epochs: int,
    phase_lr: float | None = None,
) -> tuple[nnx.Optimizer, dict]:
    """The optimizer of every layer, holding `optimizer`'s state where it has one (the rate
    continuing, see the module docstring); and its fresh state (pure), for converting other states
    of the frozen layout (`relayout`)."""
    old = to_pure(nnx.state(optimizer))
    new = nnx.Optimizer(model, program.make_optimizer(updates, epochs, frozen=False), wrt=nnx.Param)
    fresh = to_pure(nnx.state(new))
    carried = continue_rate(carry_over(fresh, old), old, fresh, phase_lr is not None)
    nnx.update(new, from_pure(nnx.state(new), carried))
    return new, fresh


def relayout(
    leaves: list, old_treedef, optimizer: nnx.Optimizer, fresh: dict, copy, phase: bool = False
) -> list:
    """A (model, optimizer) state of the frozen layout (flat leaves) in `optimizer`'s layout."""
    state = jax.tree.unflatten(old_treedef, leaves)
    old = to_pure(state[1])
    opt = from_pure(
        copy(nnx.state(optimizer)), continue_rate(carry_over(fresh, old), old, fresh, phase)
    )
    return jax.tree.leaves(nnx.State({0: state[0], 1: opt}))


RATE_KEYS = ("count", "hyperparams", "hyperparams_states")  # an inject_hyperparams state's


def continue_rate(new: dict, old: dict, fresh: dict, phase: bool) -> dict:
    """`new` (the unfrozen optimizer's state, carried over from `old`) with the rate continuing:
    each inject_hyperparams state of the formerly frozen branch ("frozen" in freeze_labels) takes
    the count and hyperparameters of the same state in the "train" branch of `old`. `phase` (a
    fine-tuning rate): every inject_hyperparams state takes `fresh`'s hyperparameters instead."""

    def walk(node, path: tuple):
        if not isinstance(node, dict):
            return node
        out = {k: walk(v, (*path, k)) for k, v in node.items()}
        if "hyperparams" not in node or "count" not in node:
            return out
        if phase:
            out["hyperparams"] = lookup(fresh, (*path, "hyperparams"))
        elif "frozen" in path:
            source = lookup(old, tuple("train" if k == "frozen" else k for k in path))
            if isinstance(source, dict) and all(k in source for k in RATE_KEYS if k in node):
                out.update({k: source[k] for k in RATE_KEYS if k in node})
        return out

    return walk(new, ())


def lookup(tree, path: tuple):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree
