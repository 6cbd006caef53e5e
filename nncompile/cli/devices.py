"""Devices and hosts: `nncompile devices`, the `--devices` flag, and joining a multi-host run
(`--coordinator HOST:PORT --num-processes N --process-id I`, or a cluster JAX detects itself)."""

from __future__ import annotations

import argparse
import json
import os

from .flags import count, flag

# how long a process waits for a silent peer before it stops the run (jax.distributed heartbeats)
HEARTBEAT_S = int(os.environ.get("NNCOMPILE_HEARTBEAT_S", "20"))
# environment variables of a cluster whose processes jax.distributed.initialize() finds by itself
CLUSTER_ENV = ("JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE")


def devices_value(text: str) -> str | int:
    """--devices: auto, cpu, gpu, tpu or a count."""
    if text in ("auto", "cpu", "gpu", "tpu"):
        return text
    try:
        return count(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"takes auto, cpu, gpu, tpu or a count of devices, got {text!r}"
        ) from None


def address(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"takes HOST:PORT, got {text!r}")
    return text


SCALE_FLAGS = {
    "devices": flag(
        "--devices",
        type=devices_value,
        metavar="D",
        help="override the train block's `devices:` (auto, cpu, gpu, tpu or a count)",
    ),
    "coordinator": flag(
        "--coordinator", type=address, metavar="HOST:PORT", help="multi-host: process 0's address"
    ),
    "num_processes": flag("--num-processes", type=count, metavar="N", help="multi-host: processes"),
    "process_id": flag(
        "--process-id", type=int, metavar="I", help="multi-host: this process (0 .. N-1)"
    ),
}
HOST_FLAGS = ("coordinator", "num_processes", "process_id")


def join(args) -> None:
    """Join a multi-host run before anything uses JAX: with the flags, or in a cluster JAX detects
    (Slurm, Open MPI, JAX_COORDINATOR_ADDRESS); otherwise this process is the whole run."""
    given = [getattr(args, k, None) for k in HOST_FLAGS]
    if not any(v is not None for v in given) and not any(os.environ.get(k) for k in CLUSTER_ENV):
        return
    from ..errors import NncompileError

    coordinator, n, i = given
    if coordinator is not None and (n is None or i is None):
        raise NncompileError(
            "--coordinator needs --num-processes and --process-id",
            "e.g. --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0 (1 on the other)",
        )
    if n is not None and i is not None and not 0 <= i < n:
        raise NncompileError(f"--process-id {i}: takes 0 to {n - 1} (--num-processes {n})")
    import jax

    try:
        jax.distributed.initialize(
            coordinator,
            n,
            i,
            initialization_timeout=int(os.environ.get("NNCOMPILE_JOIN_TIMEOUT_S", "120")),
            heartbeat_timeout_seconds=HEARTBEAT_S,
        )
    except (RuntimeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise NncompileError(
            f"could not join the multi-host run ({first})",
            "start every process with the same --coordinator and --num-processes, and a "
            "different --process-id; the coordinator's port must be reachable",
        ) from None


def lost_peer(e: BaseException) -> str | None:
    """The message for a collective that failed because another process of a multi-host run died
    (JAX's CPU collectives (Gloo) or the distributed runtime report it as a runtime error)."""
    text = str(e)[:2000]
    if not any(k in text for k in ("Gloo", "coordination service", "Connection reset")):
        return None
    import jax

    if jax.process_count() == 1:
        return None
    first = (text.strip().splitlines() or [type(e).__name__])[0][:200]
    return (
        f"nncompile: process {jax.process_index()} stops: another process of the multi-host run "
        f"stopped or is unreachable ({first})\n  hint: see that process's output, then start "
        "every process again"
    )


def cmd_devices(args) -> int:
    """what JAX sees: platform, devices, memory, process index and count"""
    import jax

    rows = []
    for d in jax.devices():
        stats = d.memory_stats() if d.process_index == jax.process_index() else None
        limit = (stats or {}).get("bytes_limit")
        rows.append(
            {
                "id": d.id,
                "platform": d.platform,
                "kind": d.device_kind,
                "process": d.process_index,
                "memory_bytes": int(limit) if limit else None,
            }
        )
    info = {
        "backend": jax.default_backend(),
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
        "process_index": jax.process_index(),
        "process_count": jax.process_count(),
        "devices": rows,
    }
    if args.format == "json":
        print(json.dumps(info, indent=2))
        return 0
    print(
        f"backend {info['backend']}: {info['device_count']} devices "
        f"({info['local_device_count']} local), process {info['process_index']} of "
        f"{info['process_count']}"
    )
    for r in rows:
        memory = f"{r['memory_bytes'] / 2**30:.1f} GiB" if r["memory_bytes"] else "memory unknown"
        print(f"  {r['id']:>3}  {r['platform']:5} {r['kind']:24} process {r['process']}  {memory}")
    return 0


COMMANDS = {"devices": (cmd_devices, ("format", *HOST_FLAGS))}
