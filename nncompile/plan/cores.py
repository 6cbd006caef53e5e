"""The `cores` rule: over how many of a CPU's cores one training step is split.

XLA:CPU runs a recurrent layer's time loop -- per step a [batch, units] x [units, 4 units] matmul
and a few small elementwise kernels -- on one thread: the matmuls are too small for its intra-op
parallelism, and the thunks of one loop run one after another. PyTorch eager spreads each of those
GEMMs over its OpenMP threads, which is where its W5 lead on an idle 2-core machine comes from
(bench/results/cores.md). The lever: two host CPU devices, each step's batch cut into two logical
shards (runtime.shards: one gradient per shard, gathered and added in a fixed order, so the numbers
do not depend on how many devices compute the shards), each core computing one shard.

The rule takes programs whose model has a recurrent layer (the registry's `recurrent`), whose
steps can be cut into shards (no layer keeps batch statistics) and whose batch splits in two, and
whose train block leaves `devices:` and `logical_shards:` to the compiler. Whether the rule is on
is the environment's: NNCOMPILE_CORES=2 splits every program the rule takes, =1 none; unset,
DEFAULT_ON. The runtime uses two devices only where it can still choose them (runtime.cores):
the CPU has two cores for the process and JAX's backend is not yet started; otherwise the step
runs whole on one device (to float tolerance the same numbers).
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..semantics import ir
from .facts import Decision, model_layers

ENV = "NNCOMPILE_CORES"
# on: W5 1.34x one core on the idle 2-core machine (5 of 5 interleaved pairs 1.28-1.42x), 1.47x
# PyTorch eager; with one core taken by another process it loses (0.76x): bench/results/cores.md
DEFAULT_ON = True
CORES = 2  # the devices a split step uses: one per core of the 2-core benchmark machine


def pinned() -> int | None:
    """NNCOMPILE_CORES as a count (1 or 2), or None when unset."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    if value not in ("1", "2"):
        raise ConfigError(
            f"{ENV}={value}: takes 1 (every step on one core) or 2 (a recurrent program's steps "
            "split over two host CPU devices)",
            f"unset {ENV}, or set it to 1 or 2",
        )
    return int(value)


def why_not(train: ir.Train, model: ir.Model) -> str | None:
    """Why the rule does not take this program, or None when it does."""
    p = train.props
    layers = model_layers(model)
    recurrent = sorted({e.name for e in layers if e.recurrent})
    if not recurrent:
        return "no recurrent layer: the rule splits recurrent time loops only (measured on W5)"
    if any(e.batch_statistics for e in layers):
        return "a layer keeps batch statistics: the step cannot be cut into shards"
    if p.devices != "auto" or p.logical_shards not in (None, 1):
        return "the train block sets `devices:` or `logical_shards:` itself"
    if not isinstance(p.batch_size, int) or p.batch_size % CORES:
        return f"the batch does not split into {CORES} equal shards"
    return None


def cores(train: ir.Train, model: ir.Model) -> Decision[int]:
    """The `cores` decision of a supervised train block (see the module docstring)."""
    blocked = why_not(train, model)
    if blocked is not None:
        return Decision(1, blocked)
    pin = pinned()
    names = ", ".join(sorted({e.name for e in model_layers(model) if e.recurrent}))
    split = (
        f"on a CPU with {CORES}+ cores, each batch is cut into {CORES} logical shards computed on "
        f"{CORES} host devices, one a core, their gradients added in a fixed order: XLA:CPU runs "
        f"the time loop of {names} on one thread"
    )
    if pin == CORES:
        return Decision(CORES, f"{split} ({ENV}={CORES})")
    if pin == 1:
        return Decision(1, f"pinned by {ENV}=1 (the rule would split the step over {CORES} cores)")
    if DEFAULT_ON:
        return Decision(CORES, f"{split}; {ENV}=1 keeps one core")
    return Decision(
        1,
        f"off by default ({ENV}={CORES} cuts each batch into {CORES} shards on {CORES} host "
        f"devices, one a core, for the time loop of {names}: bench/results/cores.md)",
    )
