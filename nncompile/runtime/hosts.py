"""What the processes of a multi-host run (`jax.distributed`) agree on, besides the computation.

Every process runs the same program on the same configuration, so most decisions come out the same
everywhere by themselves. What does not: the folder process 0 chose for a run's checkpoints (a new
run, a staged re-run, the run `--resume` continues) is decided by process 0 alone, which owns the
run folder; `agree` sends it to the others (a broadcast over the devices, like the training's
collectives). `barrier` waits until every process reached the same point (e.g. process 0 has moved
old checkpoints away before any process opens the folder).

With one process every function here is free: no collective is run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import jax
import numpy as np

from ..runconfig import RunConfig
from .devices import host_state, primary

# the longest message `agree` carries (a JSON list of folder paths)
MAX_BYTES = 8192


def several() -> bool:
    """Whether this is a multi-host run (more than one process)."""
    return jax.process_count() > 1


def agree(value):
    """Process 0's `value` (anything JSON can write), on every process; `value` as it is with one
    process. Every process must call it at the same point of the run."""
    if not several():
        return value
    from jax.experimental import multihost_utils

    buffer = np.zeros(MAX_BYTES + 4, np.uint8)
    if primary():
        data = json.dumps(value).encode()
        if len(data) > MAX_BYTES:
            raise ValueError(f"agree: {len(data)} bytes, at most {MAX_BYTES}")
        buffer[:4] = np.frombuffer(len(data).to_bytes(4, "little"), np.uint8)
        buffer[4 : 4 + len(data)] = np.frombuffer(data, np.uint8)
    got = np.asarray(multihost_utils.broadcast_one_to_all(buffer, is_source=primary()))
    size = int.from_bytes(got[:4].astype(np.uint8).tobytes(), "little")
    return json.loads(got[4 : 4 + size].astype(np.uint8).tobytes().decode())


def barrier(name: str) -> None:
    """Wait until every process of a multi-host run reached `name` (nothing with one process)."""
    if several():
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"nncompile:{name}")


@dataclass(frozen=True)
class CheckpointHosts:
    """A multi-host fit's checkpointing: whether this process owns the run folder, and whether the
    processes checkpoint at all (all of them, or none: saving and restoring are collective)."""

    primary: bool
    checkpoints: bool


def checkpoint_hosts(cfg: RunConfig, resume: bool) -> CheckpointHosts | None:
    """None with one process (a fit checkpoints when it has a run folder). Several: every process
    checkpoints when the train block has `checkpoint:` or the run resumes, whatever run folder it
    was given (the same decision everywhere; no interrupt-only checkpoints)."""
    if not several():
        return None
    return CheckpointHosts(primary(), cfg.checkpoint is not None or resume)


def gather_state(trainer) -> None:
    """A multi-host run's trained state, whole on every host before process 0 writes the run folder
    alone: arrays split over several processes' devices (`shard: params`) are gathered by every
    process (a collective) and loaded back; replicated ones need nothing."""
    if not several() or not hasattr(trainer, "load_state"):
        return
    state = trainer.state()
    split = lambda a: (
        isinstance(a, jax.Array) and not (a.is_fully_addressable or a.is_fully_replicated)
    )
    if any(split(a) for a in jax.tree.leaves(state)):  # (the same on every process)
        trainer.load_state(host_state(state))
