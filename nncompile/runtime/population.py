"""A population: the trials of a sweep that differ only in optimizer hyperparameters, trained as ONE
compiled program (the plan's decision: nncompile.population).

Every member starts from the same parameters (same program, same seed) and its own optimizer
state, built by its own program's `make_optimizer`: optax.inject_hyperparams keeps the learning
rate, momentum, weight decay, ... in that state, so the members' states differ only in those
values. The states are stacked on a leading member axis and one epoch of the trainer's compiled
scan-fused loop runs over it, the members vmapped or, on a CPU, one after another (`member_layout`)
in groups whose calls run at once on threads of their own (`member_groups`; one by default): each
member sees the same batches in the same order, the same dropout and augmentation keys, as its
separate run would, with its own values as traced inputs.

Each member has its own history, early stopping (a member that stops keeps its state while the
others go on: its lane is masked, or skipped when the members run one after another, and the
population ends when every member has stopped),
restore-best state and non-finite rollback, exactly as runtime.loop.Trainer does for one run.
After `fit_population`, `select(k)` puts member k's state into the trainer's model and optimizer,
so evaluation, prediction and the run folder of member k use the compiled functions of member 0.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..errors import NncompileError
from .batches import epoch_order
from .history import History, StopReason, nonfinite_reason
from .idlecores import IdleMeter
from .loop import Trainer
from .stopping import Stopping
from .trees import rows, take


class NotAPopulation(NncompileError):
    """The members' states differ in structure: they need separate programs."""


def _select(mask, a: list, b: list) -> list:
    """Per member: a's leaves where mask, else b's (leaves with a leading member axis)."""

    def pick(x, y):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            raw = _pick(mask, jax.random.key_data(x), jax.random.key_data(y))
            return jax.random.wrap_key_data(raw, impl=jax.random.key_impl(x))
        return _pick(mask, x, y)

    return [pick(x, y) for x, y in zip(a, b, strict=True)]


def _stack(column: tuple) -> jax.Array:
    """The members' leaves stacked on a leading axis, on the host (an eager jnp.stack compiles a
    program per shape: ~0.1 s of a population's start with a warm compilation cache, ~0.5 s
    without), then put on the device."""
    first = column[0]
    if jnp.issubdtype(first.dtype, jax.dtypes.prng_key):
        raw = np.stack(jax.device_get([jax.random.key_data(k) for k in column]))
        return jax.random.wrap_key_data(jax.device_put(raw), impl=jax.random.key_impl(first))
    return jax.device_put(np.stack(jax.device_get(list(column))))


def _unstack(tree, size: int) -> list:
    """The members' trees of a tree whose leaves have a leading member axis of `size`."""
    return [jax.tree.map(lambda a, k=k: a[k], tree) for k in range(size)]


def _pick(mask, x, y):
    return jnp.where(mask.reshape((-1,) + (1,) * (x.ndim - 1)), x, y)


def member_layout(backend: str) -> str:
    """How a population's members run inside its one program. On a CPU a step of a small model is
    compute-bound and a batched (vmapped) matrix product costs more than the members' separate ones
    (W1, 16 members: 0.26 against 0.20 CPU-seconds an epoch), so the members run one after another
    (`lax.map`: each member's arithmetic is that of its separate run, bit for bit) and a member that
    has stopped is skipped; elsewhere a step of a small model is launch-bound: `vmap`."""
    return "map" if backend == "cpu" else "vmap"


# How many groups the members of a population run in on a CPU (`member_groups`): unset or "auto",
# one for each core other processes left free while the population was built (`auto_groups`); 1,
# one (the members one after another on one core); "cores", one per core; a number, that many
GROUPS_ENV = "NNCOMPILE_POPULATION_GROUPS"
AUTO_MEMBERS = 4  # "auto": at least this many members in each group


def member_groups(
    size: int, layout: str, count: int | None = None, free: float | None = None
) -> list[list[int | None]]:
    """The members' groups, each trained by one call of the population's epoch. Vmapped: one
    group. One after another (a CPU): `count` groups (default: $NNCOMPILE_POPULATION_GROUPS, else
    `auto_groups` of the `free` cores; at most one per member), their calls at once on threads of
    their own (XLA computes without the GIL), so that the members use several cores, each
    member's arithmetic still its separate run's. The members are dealt round-robin (a sweep's
    neighbouring rates, which often stop alike, go to different groups) and the last groups
    padded with None to one size: one compiled epoch. (Groups pay where cores are free: 16 W1
    members on a quiet 2-core machine, one group per core 6.2-7.1 s against 8.2 s for one group;
    on the shared machine under load from other processes they cost 1.3-1.9x the wall time of one
    group: bench/results/population_s24.md.)"""
    if layout == "vmap":
        return [list(range(size))]
    count = max(1, min(size, count or default_groups(size, free)))
    per = -(-size // count)
    return [[k if k < size else None for k in range(j, per * count, count)] for j in range(count)]


def default_groups(size: int = 0, free: float | None = None) -> int:
    """$NNCOMPILE_POPULATION_GROUPS: "auto" or unset (`auto_groups` of `size` members and the
    `free` cores measured), "cores" (the cores this process may run on), a number, else 1."""
    value = os.environ.get(GROUPS_ENV, "auto").strip().lower() or "auto"
    if value == "cores":
        return cores()
    if value == "auto":
        return auto_groups(size, free)
    return int(value) if value.isdigit() and int(value) > 0 else 1


def auto_groups(size: int, free: float | None) -> int:
    """As many groups as there were cores free of other processes while the population was built
    (`free`, runtime.idlecores; a core free three quarters of the time counts), at most one per
    core this process may run on and AUTO_MEMBERS members a group. A quiet 2-core machine: two
    groups from 8 members; under load from other processes, or where the machine's counters
    cannot be read (`free` None): one."""
    if free is None:
        return 1
    return max(1, min(int(free + 0.25), cores(), size // AUTO_MEMBERS))


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (not on every platform)
        return os.cpu_count() or 1


class Groups:
    """Runs an epoch's function of each group: group 0 on this thread, each other group on a thread
    of its own, all at once (`serial`: one after another on this thread: the first epoch, which
    traces and compiles the functions once)."""

    def __init__(self, count: int):
        self.count = count
        self.pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> Groups:
        if self.count > 1:
            self.pool = ThreadPoolExecutor(self.count - 1, thread_name_prefix="population")
        return self

    def __call__(self, fn: Callable[[int], Any], serial: bool = False) -> list:
        if self.pool is None or serial:
            return [fn(j) for j in range(self.count)]
        others = [self.pool.submit(fn, j) for j in range(1, self.count)]
        return [fn(0)] + [f.result() for f in others]

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown()


class Population(Trainer):
    """Trains `members` (their programs' modules; the first is the one compiled) together.

    The members run in `groups` (lists of member numbers, None for a padding slot that never
    trains): one group when vmapped; one after another, as many groups as there are cores (each
    group one call of the same compiled epoch, the calls at once: `member_groups`)."""

    def __init__(
        self,
        program: ModuleType,
        splits: Mapping,
        members: list[ModuleType],
        *,
        epochs: int | None = None,
        log=None,
        layout: str | None = None,
        groups: int | None = None,
    ):
        meter = IdleMeter()  # cores free of others while it is built (groups: auto)
        # one scan-fused epoch per call: the loop a population vmaps
        super().__init__(program, splits, epochs=epochs, log=log, config={"strategy": "scan"})
        self.size = len(members)
        leaves = []
        for k, member in enumerate(members):
            tx = member.make_optimizer(self.batching.updates, self.epochs)
            optimizer = nnx.Optimizer(self._model, tx, wrt=nnx.Param)
            flat, treedef = jax.tree.flatten(nnx.state((self._model, optimizer)))
            if treedef != self._layout.treedef:
                raise NotAPopulation(
                    f"member {k + 1}'s optimizer state has another structure than member 1's "
                    "(an optimizer keyword given in one only)"
                )
            leaves.append(flat)
        self.layout = layout or member_layout(jax.default_backend())
        self.groups = member_groups(self.size, self.layout, groups, meter.cores())
        # a padding slot holds a copy of member 1's state (never trained: skipped)
        self.states = [
            [_stack(column) for column in zip(*(leaves[k or 0] for k in g), strict=True)]
            for g in self.groups
        ]
        fns, steps, acc = self._fns, self.batching.steps, self._acc

        def epoch_fn(state, active, epoch, x, y, idx, rest):
            def one(s):
                s, _, packed = fns.epoch(s, None, epoch, x, y, idx, 0, steps, rest)
                return s, packed

            if self.layout == "vmap":
                return jax.vmap(one)(state)
            # one member after another; a member that has stopped is skipped
            skip = lambda s: (s, acc.pack(acc.zero()))
            return jax.lax.map(lambda m: jax.lax.cond(m[1], one, skip, m[0]), (state, active))

        def eval_fn(model_states, accs, x, y):
            return jax.vmap(lambda m, a: fns.eval(m, a, x, y))(model_states, accs)

        jit = lambda f: jax.jit(f, compiler_options=self.compiler_options)
        self._population_epoch, self._population_eval = jit(epoch_fn), jit(eval_fn)
        self._unstack = jax.jit(functools.partial(_unstack, size=len(self.groups[0])))
        self._select = jax.jit(_select)
        self.histories: list[History] = []

    def fit_population(self, compiled: Callable[[], object] | None = None) -> list[History]:
        """Train every member; each one's History (its own epochs and why it stopped).
        `compiled()` is called once the first epoch has run (traced and compiled)."""
        x, y = self._on_device("train")
        has_val = "val" in self.splits and self.splits["val"][1] is not None
        val = self._on_device("val") if has_val else None
        b, es = self.batching, self.config.early_stopping
        histories = [
            History(steps_per_epoch=b.updates, examples_per_epoch=b.examples)
            for _ in range(self.size)
        ]
        stopping = [Stopping.for_config(es, self._monitor) for _ in range(self.size)]
        for h, s in zip(histories, stopping, strict=True):
            h.monitor = s.key
        restore = es is not None and es.restore_best
        active = np.ones(self.size, bool)
        state = self.states
        best = state
        start = time.perf_counter()
        with Groups(len(self.groups)) as run:
            for epoch in range(1, self.epochs + 1):
                t0 = time.perf_counter()
                idx, rest = epoch_order(b, self.seed, epoch)

                def group(j: int, state=state, active=active, epoch=epoch, idx=idx, rest=rest):
                    return self._group_epoch(j, state[j], active, epoch, (x, y, idx, rest), val)

                ran = run(group, serial=epoch == 1)
                if epoch == 1 and compiled is not None:
                    compiled()
                new = [r[0] for r in ran]
                fetched = jax.device_get([r[1:] for r in ran])  # the epoch's one host sync
                seconds = time.perf_counter() - t0
                packed, val_packed, lr = self._by_member(fetched)
                # one after another, a member that had stopped was skipped: its new state is its
                # old one; vmapped, its lane computed on and is masked
                keep = active.copy() if self.layout == "vmap" else np.ones(self.size, bool)
                improved = np.zeros(self.size, bool)
                for k in np.flatnonzero(active):
                    acc = self._acc.unpack(packed[k])
                    h = histories[k]
                    if not np.isfinite(acc["loss"]):
                        keep[k] = active[k] = False  # its state stays that of the epoch before
                        h.stopped(StopReason.NONFINITE, nonfinite_reason(acc, epoch, b.updates))
                        continue
                    logs = {"epoch": epoch, **self._acc.finalize(acc)}
                    if val_packed[k] is not None:
                        v = self._acc.finalize(self._acc.unpack(val_packed[k]))
                        logs.update({f"val_{name}": value for name, value in v.items()})
                    if lr[k] is not None:
                        logs["lr"] = float(lr[k])
                    logs["seconds"] = seconds
                    h.epochs.append(logs)
                    if stopping[k].update(logs):
                        h.best_epoch, improved[k] = epoch, True
                    if stopping[k].exhausted:
                        h.stopped(StopReason.EARLY_STOPPING, stopping[k].reason())
                        active[k] = False
                state = self._choose(keep, new, state)
                if restore:
                    best = self._choose(improved, state, best)
                if not active.any():
                    break
        if restore:
            has_best = np.array([h.best_epoch is not None for h in histories])
            state = self._choose(has_best, best, state)
        jax.block_until_ready(state)
        total = time.perf_counter() - start
        for h in histories:
            h.seconds = total
        self.states, self.histories = state, histories
        self.epochs_done = max(len(h.epochs) for h in histories)
        return histories

    def _group_epoch(self, j: int, state: list, active, epoch: int, data: tuple, val):
        """One epoch of group j (dispatched, not waited for): its new state, packed train
        accumulators, validation accumulators and learning rates, by slot."""
        mask = self._mask(j, active)
        x, y, idx, rest = data
        epoch_ = jnp.asarray(epoch, jnp.int32)
        new, packed = self._population_epoch(state, jnp.asarray(mask), epoch_, x, y, idx, rest)
        val_packed = None
        if val is not None:
            model_states = self._layout.unflatten(new)[0]
            val_packed = self._evaluate(model_states, val[0], val[1], mask)
        lr = None if self._lr_leaf is None else new[self._lr_leaf]
        return new, packed, val_packed, lr

    def _by_member(self, fetched: list) -> tuple[list, list, list]:
        """The groups' fetched (packed, val_packed, lr) as three lists by member."""
        packed: list = [None] * self.size
        val: list = [None] * self.size
        lr: list = [None] * self.size
        for g, (p, v, r) in zip(self.groups, fetched, strict=True):
            for i, k in enumerate(g):
                if k is not None:
                    packed[k] = p[i]
                    val[k] = None if v is None else v[i]
                    lr[k] = None if r is None else np.asarray(r)[i]
        return packed, val, lr

    def _mask(self, j: int, flags: np.ndarray) -> np.ndarray:
        """Group j's slots of a per-member flag (False for padding)."""
        return np.array([k is not None and bool(flags[k]) for k in self.groups[j]])

    def _choose(self, flags: np.ndarray, a: list, b: list) -> list:
        """Per group: a's state for the members whose flag is set, else b's. A group whose members
        are all set (every epoch of a population that trains on) or none takes one state whole: no
        select over every member's parameters and optimizer state (a padding slot holds the same
        state in both: it is skipped)."""
        chosen = []
        for j, (x, y) in enumerate(zip(a, b, strict=True)):
            mine = [bool(flags[k]) for k in self.groups[j] if k is not None]
            if all(mine) or not any(mine):
                chosen.append(x if all(mine) else y)
            else:
                chosen.append(self._select(jnp.asarray(self._mask(j, flags)), x, y))
        return chosen

    def _evaluate(self, model_states, x, y, active):
        """The eval accumulators (packed) of a split for each slot of a group (None for one that
        has stopped). vmap: in batches of a single run's evaluation batch shared among the
        members; map: each member by the single run's own evaluation (its numbers bit for bit)."""
        if self.layout == "map":
            members = self._unstack(model_states)
            return [
                self._fns.evaluate(m, x, y, self.eval_batch) if on else None
                for m, on in zip(members, active, strict=True)
            ]
        accs = jax.tree.map(lambda z: np.broadcast_to(z, (self.size, *z.shape)), self._acc.zero())
        size, n = max(1, self.eval_batch // self.size), rows(x)
        packed = None
        for start in range(0, n, size):  # full chunks, then one smaller chunk
            part = slice(start, start + size)
            accs, packed = self._population_eval(model_states, accs, take(x, part), take(y, part))
        return packed

    def select(self, k: int) -> None:
        """Member k's state into the model and optimizer (evaluate, predict, save use it)."""
        j, i = next((j, g.index(k)) for j, g in enumerate(self.groups) if k in g)
        self._pending = [leaf[i] for leaf in self.states[j]]
        self._sync()
