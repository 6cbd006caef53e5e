"""Examples/s of training on 1, 2 and 4 forced CPU devices (data parallel), W1 and W2; or on the
accelerators of the machine (`--platform gpu`: 1 GPU, or as many as it has).

    python bench/scale.py [--reps 3] [--epochs 6] [--workloads W1,W2] [--md bench/results/scale.md]
    python bench/scale.py --platform gpu --devices 1 [--timeout 300]

Each run is a fresh process training bench/specs/w{1,2}_*.nn with `devices: D` (the spec's own
sklearn data, no run folder). `--platform cpu` (the default): JAX_PLATFORMS=cpu and
--xla_force_host_platform_device_count=D added to XLA_FLAGS (read when JAX starts), so the rows are
CPU rows on any machine. `--platform gpu` (or tpu): the real devices, nothing forced; a count the
machine does not have is skipped with a note. The worker inherits the environment (PYTHONPATH
with the repository put first, XLA_FLAGS extended, not replaced: on a machine whose packages come
from a folder on PYTHONPATH, replacing it makes every worker fail to import: the likely cause
of the 1-GPU row that failed on an H200 with "the worker exited 1"). A worker that fails
or runs past `--timeout` is reported with the end of its stderr and left out of the table.

Throughput is the steady state: training examples per second over epochs 2..N (the time between
consecutive epoch ends; epoch 1 holds the compilation). Runs are interleaved and their order
rotated every repetition. On a machine with few cores the forced devices share those cores, so
this measures the overhead of the mesh and its collectives, not a speed-up; on a GPU host the same
script with a real device count measures scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPECS = {"W1": "w1_mlp.nn", "W2": "w2_cnn.nn"}


def worker(workload: str, devices: int, epochs: int, platform: str) -> None:
    import jax

    import nncompile

    backend = jax.default_backend()
    if backend != platform:
        raise SystemExit(f"bench/scale.py: asked for {platform}, JAX's backend is {backend}")

    class Clock:
        def __init__(self):
            self.marks: list[float] = []

        def on_epoch_end(self, trainer, epoch, logs):
            self.marks.append(time.perf_counter())

    program = nncompile.compile(HERE / "specs" / SPECS[workload])
    program.devices = devices
    clock = Clock()
    history = program.fit(epochs=epochs, callbacks=[clock], log=lambda line: None)
    steady = [b - a for a, b in zip(clock.marks, clock.marks[1:], strict=False)]
    examples = history.examples_per_epoch
    print(
        json.dumps(
            {
                "workload": workload,
                "devices": devices,
                "platform": platform,
                "kind": jax.devices()[0].device_kind,
                "examples_per_s": examples / statistics.median(steady),
                "epoch_s": steady,
                "loss": history.epochs[-1]["loss"],
            }
        )
    )


def worker_env(devices: int, platform: str, base: dict | None = None) -> dict:
    """The worker's environment: this one, the repository first on PYTHONPATH; on the CPU,
    JAX_PLATFORMS=cpu and `devices` forced host devices added to XLA_FLAGS."""
    env = dict(os.environ if base is None else base)
    paths = [str(HERE.parent), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if platform == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        flags = [f for f in env.get("XLA_FLAGS", "").split() if "device_count" not in f]
        env["XLA_FLAGS"] = " ".join([*flags, f"--xla_force_host_platform_device_count={devices}"])
    return env


def run(workload: str, devices: int, epochs: int, platform: str, timeout: float) -> dict | None:
    """One worker's row, or None (its failure printed with the end of its stderr)."""
    cmd = [sys.executable, __file__, "--worker", workload, str(devices), "--epochs", str(epochs)]
    cmd += ["--platform", platform]
    env = worker_env(devices, platform)
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raw: object = e.stderr or b""  # (bytes even with text=True, on some Pythons)
        err = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        failed(workload, devices, f"ran past --timeout {timeout:g} s", err)
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        failed(workload, devices, f"the worker exited {done.returncode}", done.stderr)
        return None
    return json.loads(lines[-1])


def failed(workload: str, devices: int, what: str, stderr: str) -> None:
    """Say that a worker failed, with the end of its stderr."""
    tail = "\n".join(f"  | {line}" for line in stderr.strip().splitlines()[-25:])
    print(f"{workload} on {devices} device(s): {what}; its stderr ends:\n{tail}", file=sys.stderr)


def table(rows: list[dict]) -> str:
    lines = [
        "| workload | devices | examples/s (median, min-max) | vs 1 device |",
        "|---|---|---|---|",
    ]
    for w in sorted({r["workload"] for r in rows}):
        base = None
        for d in sorted({r["devices"] for r in rows if r["workload"] == w}):
            some = [r for r in rows if r["workload"] == w and r["devices"] == d]
            xs = [r["examples_per_s"] for r in some]
            med = statistics.median(xs)
            base = base or med
            kind = some[0].get("kind", "cpu")
            lines.append(
                f"| {w} | {d} {kind} | {med:,.0f} ({min(xs):,.0f}-{max(xs):,.0f}) | "
                f"{med / base:.2f}x |"
            )
    return "\n".join(lines)


def available(platform: str, counts: list[int]) -> list[int]:
    """The counts a real platform has (asked in a subprocess: this process never starts JAX)."""
    if platform == "cpu":
        return counts
    probe = "import jax; print(len(jax.devices()))"
    env = worker_env(1, platform)
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300
    )
    have = int(done.stdout.strip() or 0) if done.returncode == 0 else 0
    for d in counts:
        if d > have:
            print(f"skipping {d} device(s): JAX sees {have} on this machine", file=sys.stderr)
    return [d for d in counts if d <= have]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "DEVICES"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--workloads", default="W1,W2")
    ap.add_argument("--devices", default="1,2,4")
    ap.add_argument("--platform", default="cpu", choices=("cpu", "gpu", "tpu"))
    ap.add_argument("--timeout", type=float, default=600, help="seconds per worker")
    ap.add_argument("--md", help="also write the table (with the machine's core count) here")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.epochs, args.platform)
        return
    counts = available(args.platform, [int(d) for d in args.devices.split(",")])
    cases = [(w, d) for w in args.workloads.split(",") for d in counts]
    rows = []
    for rep in range(args.reps):
        shift = rep % max(len(cases), 1)
        for w, d in cases[shift:] + cases[:shift]:
            row = run(w, d, args.epochs, args.platform, args.timeout)
            if row is not None:
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    if not rows:
        raise SystemExit("bench/scale.py: no run finished (see the workers' stderr above)")
    text = table(rows)
    print(text)
    if args.md:
        cores = os.cpu_count()
        Path(args.md).write_text(
            f"# bench/scale.py: examples/s on {args.platform} devices\n\n{cores} CPU cores, "
            f"{args.reps} repetitions, {args.epochs} epochs (steady state: epochs 2..N), the "
            f"machine shared with other jobs.\n\n{text}\n"
        )


if __name__ == "__main__":
    main()
