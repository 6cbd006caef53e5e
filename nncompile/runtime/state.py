"""Model and optimizer state as plain data: pure dicts for checkpoints, and the flat list of arrays
the compiled functions carry."""

from __future__ import annotations

import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .blocks import concrete


def is_key(a) -> bool:
    """A typed PRNG key array (dropout streams)."""
    return hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jax.dtypes.prng_key)


def to_pure(state: nnx.State) -> dict:
    """nnx.State -> plain nested dict of arrays, PRNG keys as raw key data (for checkpoints)."""
    return jax.tree.map(
        lambda a: jax.random.key_data(a) if is_key(a) else a, nnx.to_pure_dict(state)
    )


def from_pure(template: nnx.State, pure: dict) -> nnx.State:
    """Inverse of `to_pure`: fill `template` (a fresh nnx.state) with `pure`, key data as keys."""
    like = nnx.to_pure_dict(template)

    def restore(t, v):
        if is_key(t):
            return (
                v
                if is_key(v)
                else jax.random.wrap_key_data(jnp.asarray(v), impl=jax.random.key_impl(t))
            )
        return jnp.asarray(v, dtype=t.dtype)

    nnx.replace_by_pure_dict(template, jax.tree.map(restore, like, pure))
    return template


def carry_over(fresh: dict, old: dict) -> dict:
    """`fresh` with every leaf that `old` has at the same path, shape and dtype taken from `old`."""
    have = {jax.tree_util.keystr(p): a for p, a in jax.tree_util.tree_flatten_with_path(old)[0]}

    def pick(path, a):
        b = have.get(jax.tree_util.keystr(path))
        return b if b is not None and np.shape(b) == np.shape(a) and b.dtype == a.dtype else a

    return jax.tree_util.tree_map_with_path(pick, fresh)


def carry_order(treedef) -> list[int]:
    """The order of the state's arrays in the scan carry: nnx's order, but each layer's `kernel`
    before its other parameters (bias), as hand-written JAX has them.

    The order of a while loop's tuple changes how XLA:CPU schedules the loop body: measured on the
    digits MLP (W1), an epoch takes 6.4-6.6 ms with kernels first and 7.0-7.1 ms in nnx's
    (alphabetical, bias first) order; sorting by size instead (largest first) took 8.0 ms.
    """
    numbered = jax.tree.unflatten(treedef, list(range(treedef.num_leaves)))
    groups: list[tuple[str | None, list[tuple[bool, int]]]] = []
    for path, i in jax.tree_util.tree_flatten_with_path(numbered)[0]:
        m = re.match(r"(.*)\['([^'\]]*)'\](\.value)?$", jax.tree_util.keystr(path))
        parent, kernel = (m.group(1), m.group(2) == "kernel") if m else (None, False)
        if not groups or parent is None or groups[-1][0] != parent:
            groups.append((parent, []))
        groups[-1][1].append((not kernel, i))
    return [i for _, members in groups for _, i in sorted(members, key=lambda m: m[0])]


def find_lr(opt_state: nnx.State) -> tuple | None:
    """Path of a learning rate held as state (optax.inject_hyperparams), if there is one."""
    for path, _ in nnx.to_flat_state(opt_state):
        if len(path) >= 2 and path[-2:] == ("hyperparams", "learning_rate"):
            return tuple(path)
    return None


class PlainState:
    """A trainer's state as plain data (checkpoints, `Program.state()`): for a class with `model`,
    `optimizer`, `best` (stopping.BestState), `_layout` (compiled.Layout), `_fns`, `placement`."""

    best: Any
    placement: Any
    _layout: Any
    _fns: Any

    @property
    def model(self) -> nnx.Module:
        raise NotImplementedError

    @property
    def optimizer(self) -> nnx.Optimizer:
        raise NotImplementedError

    def checkpoint_meta(self) -> dict:
        """What a checkpoint records of how the steps are computed (runtime.shards)."""
        return {"shards": self._fns.shards, "devices": getattr(self.placement, "count", 1)}

    def state(self) -> dict:
        """{"model": ..., "optimizer": ...}: plain nested dicts of arrays, PRNG keys as key data."""
        model, optimizer = nnx.state(self.model), nnx.state(self.optimizer)
        return {"model": to_pure(model), "optimizer": to_pure(optimizer)}

    def load_state(self, state: dict) -> None:
        """Restore what `state()` returned (the "optimizer" entry may be left out)."""
        for name, obj in (("model", self.model), ("optimizer", self.optimizer)):
            if name in state:
                nnx.update(obj, from_pure(nnx.state(obj), state[name]))

    def best_state(self) -> dict | None:
        """With `restore_best`: the best epoch's state kept so far, like `state()` (or None)."""
        if self.best.leaves is None:
            return None
        best = self._layout.unflatten(concrete(self.best.leaves))
        return {"model": to_pure(best[0]), "optimizer": to_pure(best[1])}
