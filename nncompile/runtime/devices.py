"""Where a run computes: the devices of `devices:` as a data-parallel mesh (jax.sharding).

One device (the default on a CPU, and `devices: 1`) is no mesh at all: the trainer runs exactly the
program it runs without this module. With several devices the mesh has one axis, `data`:

* each training, evaluation and prediction batch is split over the devices along its first
  dimension (a sharding constraint on the gathered batch; GSPMD inserts the gradient all-reduce);
* the splits are replicated (every device holds them once, so the per-epoch gather of a batch's rows
  stays on the device, as with one device);
* the parameters and optimizer state are replicated (`shard: data`), or, with `shard: params`,
  each array is split along its first dimension the device count divides (FSDP-style: XLA gathers a
  layer's parameters where it needs them); arrays without such a dimension stay replicated.

The mesh spans every process of a multi-host run (`jax.distributed`): `devices` then counts the
devices of all hosts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from ..errors import ConfigError
from ..runconfig import batch_hint

AXIS = "data"
PLATFORMS = {"cpu": "cpu", "gpu": "gpu", "tpu": "tpu"}


def select(setting: str | int) -> list:
    """The devices of a `devices:` setting: "auto" (every device of the default backend), a
    platform's devices, or the first `n` devices of the default backend."""
    if setting == "auto":
        return list(jax.devices())
    if isinstance(setting, str):
        try:
            found = list(jax.devices(PLATFORMS[setting]))
        except RuntimeError:
            found = []
        if not found:
            raise ConfigError(
                f"`devices: {setting}`: JAX sees no {setting} devices (it sees "
                f"{describe(jax.devices())})",
                "use `devices: auto`, or install the jax build for that accelerator "
                "(`nncompile devices` shows what JAX sees)",
            )
        return found
    found = list(jax.devices())
    if setting > len(found):
        raise ConfigError(
            f"`devices: {setting}`: JAX sees {describe(found)}",
            f"use `devices: {len(found)}` or `auto`; on a CPU, "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={setting} splits the host into "
            f"{setting} devices",
        )
    return found[:setting]


def describe(devices: list) -> str:
    kinds = sorted({d.platform for d in devices})
    return f"{len(devices)} device{'s' if len(devices) != 1 else ''} ({', '.join(kinds)})"


@dataclass(frozen=True)
class Placement:
    """A mesh of several devices and how a run's arrays are laid out on it."""

    mesh: Mesh
    shard_params: bool

    @property
    def count(self) -> int:
        return self.mesh.size

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def split(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec(AXIS))

    def sharding_of(self, a) -> NamedSharding:
        """A state array's sharding: replicated, or with `shard: params` split along its first
        dimension that the device count divides."""
        shape = getattr(a, "shape", ())
        if self.shard_params and not jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            for axis, dim in enumerate(shape):
                if dim >= self.count and dim % self.count == 0:
                    spec: list[str | None] = [None] * len(shape)
                    spec[axis] = AXIS
                    return NamedSharding(self.mesh, PartitionSpec(*spec))
        return self.replicated

    def place_state(self, tree):
        """The (model, optimizer) state laid out on the mesh (a no-op for arrays already there)."""
        return jax.tree.map(lambda a: put(a, self.sharding_of(a)), tree)

    def place_data(self, tree):
        """A split (arrays, or dicts of them) replicated on the mesh."""
        return jax.tree.map(lambda a: put(np.asarray(a), self.replicated), tree)

    @property
    def row_splits(self) -> bool:
        """Whether the splits are divided over the devices by rows (a multi-host run: each
        process holds only its devices' rows) rather than replicated (one host, or
        NNCOMPILE_HOST_DATA=all: every device all the rows, no gather across devices per step)."""
        if jax.process_count() == 1:
            return False
        setting = os.environ.get("NNCOMPILE_HOST_DATA", "shard")
        if setting not in ("shard", "all"):
            raise ConfigError(
                f"NNCOMPILE_HOST_DATA={setting}: takes shard (each host its devices' rows of the "
                "data, the default) or all (every device all of it)",
                "unset it, or set it to shard or all",
            )
        return setting == "shard"

    def place_split(self, tree, gathered: bool):
        """A split on the mesh: replicated on one host, by rows in a multi-host run (`gathered`:
        read only through batch indices, so padded rows may be added)."""
        if self.row_splits:
            return self.place_rows(tree, pad=gathered)
        return self.place_data(tree)

    def place_rows(self, tree, pad: bool):
        """A split (arrays, or dicts of them) with its rows divided over the devices: each device
        holds a block of rows, each process gives only its devices' blocks (a multi-host run's
        split; the batches are gathered from it by XLA, a masked gather and an all-reduce: exact).
        `pad`: the rows padded with zeros to a multiple of the device count (a training split,
        read only through its batch indices); without, a split the count does not divide is
        replicated."""
        return jax.tree.map(lambda a: rows_on(np.asarray(a), self, pad), tree)

    def constrain_state(self, leaves: list) -> list:
        """Inside a compiled function: the state keeps its layout (the loop carry, the outputs)."""
        return [jax.lax.with_sharding_constraint(a, self.sharding_of(a)) for a in leaves]

    def constrain_batch(self, tree):
        """Inside a compiled function: a batch split over the devices along its first dimension
        (a batch the count does not divide, e.g. a last partial one, is computed replicated)."""

        def split(a):
            if a.ndim and a.shape[0] % self.count == 0:
                return jax.lax.with_sharding_constraint(a, self.split)
            return a

        return jax.tree.map(split, tree)


def put(a, sharding: NamedSharding):
    """`a` (a host or device array, or PRNG keys) laid out with `sharding`. Several processes: every
    process holds the same value (the same data, the same seed) and gives its devices' parts."""
    if jax.process_count() == 1:
        return jax.device_put(a, sharding)
    if getattr(a, "sharding", None) == sharding:
        return a
    if isinstance(a, jax.Array) and not a.is_fully_addressable:  # global already: relaid out
        return a if a.sharding.is_equivalent_to(sharding, a.ndim) else jax.device_put(a, sharding)
    if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        data = put(jax.random.key_data(a), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def rows_on(a: np.ndarray, placement: Placement, pad: bool):
    """`a` split along its rows over the mesh (see Placement.place_rows)."""
    n, count = a.shape[0], placement.count
    if n % count and not pad:
        return put(a, placement.replicated)
    total = -(-n // count) * count
    shape = (total, *a.shape[1:])

    def block(index: tuple[slice, ...] | None) -> np.ndarray:  # one device's rows (this process's)
        assert index is not None
        start, stop, _ = index[0].indices(total)
        part = a[start : min(stop, n)]
        if stop > n:
            zeros = np.zeros((stop - max(start, n), *a.shape[1:]), a.dtype)
            part = np.concatenate([part, zeros])
        return part[(slice(None), *index[1:])]

    return jax.make_array_from_callback(shape, placement.split, block)


def held_rows(tree, n: int) -> int:
    """How many of the `n` rows of a split (an array or a dict of them, maybe padded) this
    process's devices hold: all of them when replicated, its devices' blocks when split by rows."""
    a = jax.tree.leaves(tree)[0]
    blocks = {s.index[0].indices(a.shape[0])[:2] for s in a.addressable_shards}
    return sum(max(min(stop, n) - start, 0) for start, stop in blocks)


def primary() -> bool:
    """Whether this process writes a run's outputs (process 0 of a multi-host run)."""
    return jax.process_index() == 0


def host_state(tree):
    """A state to write: as it is with one process; with several, fetched whole to the host. An
    array split over several processes' devices (`shard: params`) is gathered: a collective, so
    every process calls this at the same point (`runtime.hosts.gather_state`)."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    def fetch(a):
        if isinstance(a, jax.Array) and not (a.is_fully_addressable or a.is_fully_replicated):
            return np.asarray(multihost_utils.process_allgather(a, tiled=True))
        return jax.device_get(a)

    return jax.tree.map(fetch, tree)


def writer_options():
    """Orbax's multi-process options for files only process 0 writes (its own, host-side arrays):
    no barrier with processes that do not take part."""
    import orbax.checkpoint as ocp

    if jax.process_count() == 1:
        return ocp.options.MultiprocessingOptions()
    return ocp.options.MultiprocessingOptions(primary_host=0, active_processes={0})


def placement(setting: str | int, shard: str) -> Placement | None:
    """The run's placement; None for one device (the single-device program, unchanged)."""
    devices = select(setting)
    if len(devices) == 1:
        return None
    mesh = Mesh(np.array(devices), (AXIS,), axis_types=(AxisType.Auto,))
    return Placement(mesh, shard == "params")


def check_batch(size: int, devices: int, full: bool) -> None:
    """The global batch must split into equal parts (the spec's check, when the count is known
    only now: `devices: auto` or a platform)."""
    if size % devices:
        what = f"the full split ({size} examples)" if full else f"batch_size {size}"
        raise ConfigError(
            f"{what} does not divide into {devices} equal parts ({devices} devices)",
            batch_hint(size, devices),
        )
