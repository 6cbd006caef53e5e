"""The host CPU devices of a step the plan splits over cores (plan.cores; CONFIG["cpu_cores"]).

XLA:CPU has one device per process unless asked for more before its backend starts (JAX's
`jax_num_cpu_devices`). `claim` asks for them at the start of `Program.fit`, when the program's
plan splits its steps, the process may run on that many cores, and nothing has started JAX's
backend yet (nor chosen a device count: XLA_FLAGS' `--xla_force_host_platform_device_count` or the
JAX setting). A trainer then takes `devices(...)` devices for `devices: auto` and cuts each step
into as many logical shards (runtime.shards: one `shard_map` over the devices, the gradients
gathered and added in a fixed order: one collective a step, where GSPMD put an all-reduce in every
step of the time loop's backward pass).

Where the devices cannot be had (JAX already started, one core) the step runs whole on one device:
the same training to float tolerance (the gradient of a batch mean against the mean of two shard
means), each path deterministic run to run. Other programs of a process that claimed devices keep
one device for `devices: auto` (their plan does not split them).
"""

from __future__ import annotations

import os

import jax

CLAIMED: int | None = None  # the host CPU device count `claim` set in this process


def _backend_started() -> bool:
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # another JAX: assume started, claim nothing
        return True


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def claim(cores: int) -> bool:
    """Ask for `cores` host CPU devices if the choice is still open; True when this call (or an
    earlier one) set them."""
    global CLAIMED
    if CLAIMED is not None:
        return CLAIMED >= cores > 1
    if cores <= 1 or _usable_cores() < cores or _backend_started():
        return False
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return False  # the person chose the devices
    if int(getattr(jax.config, "jax_num_cpu_devices", -1)) > 0:
        return False
    jax.config.update("jax_num_cpu_devices", cores)
    CLAIMED = cores
    return True


def devices(setting: str | int, cpu_cores: int) -> str | int:
    """The `devices:` a trainer uses: with host devices claimed here, `auto` on the CPU is the
    plan's count (1 for a program the plan does not split); otherwise the setting unchanged."""
    if CLAIMED is None or setting != "auto" or jax.default_backend() != "cpu":
        return setting
    return max(1, min(cpu_cores, CLAIMED, len(jax.devices())))


def shards(setting: int | None, placement_count: int, cpu_cores: int) -> int | None:
    """The logical shards of a fresh run: the train block's, else the plan's split when the step
    runs on that many claimed devices (else None: the plain step)."""
    if setting is not None or CLAIMED is None or cpu_cores <= 1:
        return setting
    return cpu_cores if placement_count == cpu_cores else None
