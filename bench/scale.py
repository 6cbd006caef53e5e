"""Examples/s of training on 1, 2 and 4 forced CPU devices (data parallel), W1 and W2.

    python bench/scale.py [--reps 3] [--epochs 6] [--workloads W1,W2] [--md bench/results/scale.md]

Each run is a fresh process with XLA_FLAGS=--xla_force_host_platform_device_count=D (read when JAX
starts) training bench/specs/w{1,2}_*.nn with `devices: D` (the spec's own sklearn data, no run
folder). Throughput is the steady state: training examples per second over epochs 2..N (the time
between consecutive epoch ends; epoch 1 holds the compilation). Runs are interleaved and their order
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


def worker(workload: str, devices: int, epochs: int) -> None:
    import nncompile

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
                "examples_per_s": examples / statistics.median(steady),
                "epoch_s": steady,
                "loss": history.epochs[-1]["loss"],
            }
        )
    )


def run(workload: str, devices: int, epochs: int) -> dict:
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "PYTHONPATH": str(HERE.parent),
    }
    cmd = [sys.executable, __file__, "--worker", workload, str(devices), "--epochs", str(epochs)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = [
        "| workload | devices | examples/s (median, min-max) | vs 1 device |",
        "|---|---|---|---|",
    ]
    for w in sorted({r["workload"] for r in rows}):
        base = None
        for d in sorted({r["devices"] for r in rows if r["workload"] == w}):
            xs = [r["examples_per_s"] for r in rows if r["workload"] == w and r["devices"] == d]
            med = statistics.median(xs)
            base = base or med
            lines.append(
                f"| {w} | {d} | {med:,.0f} ({min(xs):,.0f}-{max(xs):,.0f}) | {med / base:.2f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "DEVICES"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--workloads", default="W1,W2")
    ap.add_argument("--devices", default="1,2,4")
    ap.add_argument("--md", help="also write the table (with the machine's core count) here")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.epochs)
        return
    cases = [(w, int(d)) for w in args.workloads.split(",") for d in args.devices.split(",")]
    rows = []
    for rep in range(args.reps):
        shift = rep % len(cases)
        for w, d in cases[shift:] + cases[:shift]:
            rows.append(run(w, d, args.epochs))
            print(json.dumps(rows[-1]), file=sys.stderr)
    text = table(rows)
    print(text)
    if args.md:
        cores = os.cpu_count()
        Path(args.md).write_text(
            f"# bench/scale.py: examples/s on forced CPU devices\n\n{cores} CPU cores, "
            f"{args.reps} repetitions, {args.epochs} epochs (steady state: epochs 2..N), the "
            f"machine shared with other jobs.\n\n{text}\n"
        )


if __name__ == "__main__":
    main()
