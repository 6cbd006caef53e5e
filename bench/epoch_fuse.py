"""W3's epochs in one process: fused blocks (runtime.blocks) against one epoch per call.

    PYTHONPATH=$PWD .venv/bin/python bench/epoch_fuse.py [--epochs 2000] [--reps 5]
    PYTHONPATH=$PWD .venv/bin/python bench/epoch_fuse.py --profile [--fuse]   # the host path

Each repetition trains W3 (bench/specs/w3_regression.nn on benchcommon's diabetes split, as
bench/run.py feeds it) twice in this process, fused (the default) and unfused (NNCOMPILE_FUSE=0:
one epoch per call), the order alternating; for each fit it reports the process CPU seconds and the
wall seconds of epochs 2..N per epoch, measured between on_epoch_end callbacks as benchcommon
counts, and the load (`uptime`). Then min and median of each. The compilation cache stays as
configured (the first fit of each kind compiles; later ones load).

--profile: cProfile over one fit's epochs 2..N (unfused unless --fuse), the top functions by
own time: what the host does per epoch.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(
    0, str(Path(os.environ.get("NNCOMPILE_BENCH_REFS", HERE.parents[1] / "shared" / "bench")))
)


class Clock:
    """perf_counter at every epoch end, process_time at the first and the last one (reading it is
    slow: it sums the CPU time of all of XLA's threads); a profiler started after epoch 1."""

    def __init__(self, epochs: int, profiler=None):
        self.epochs, self.profiler = epochs, profiler
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.wall.append(time.perf_counter())
        if len(self.wall) in (1, self.epochs):
            self.cpu.append(time.process_time())
        if self.profiler is not None and len(self.wall) == 1:
            self.profiler.enable()

    def per_epoch(self) -> tuple[float, float]:
        n = len(self.wall) - 1
        return (self.cpu[-1] - self.cpu[0]) / n, (self.wall[-1] - self.wall[0]) / n


def fit(fuse: bool, epochs: int, profiler=None) -> Clock:
    import benchcommon as bc

    import nncompile.api as api

    os.environ["NNCOMPILE_FUSE"] = "1" if fuse else "0"
    w = bc.load_workload("W3")
    program = api.compile(HERE / "specs" / "w3_regression.nn")
    clock = Clock(epochs, profiler)
    data = {"train": (w["x_train"], w["y_train"])}
    program.fit(data, epochs=epochs, callbacks=[clock], log=lambda line: None)
    if profiler is not None:
        profiler.disable()
    return clock


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--fuse", action="store_true", help="with --profile: the fused fit")
    args = ap.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        clock = fit(args.fuse, args.epochs, profiler)
        cpu, wall = clock.per_epoch()
        print(
            f"{'fused' if args.fuse else 'unfused'}: {cpu * 1e6:.1f} us CPU/epoch, "
            f"{wall * 1e6:.1f} us wall"
        )
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("tottime")
        stats.print_stats(25)
        print(out.getvalue())
        return
    rows: dict[str, list[tuple[float, float]]] = {"fused": [], "unfused": []}
    fit(True, 3)  # compile both once (and fill the compilation cache)
    fit(False, 3)
    for rep in range(args.reps):
        order = [True, False] if rep % 2 == 0 else [False, True]
        for fuse in order:
            cpu, wall = fit(fuse, args.epochs).per_epoch()
            rows["fused" if fuse else "unfused"].append((cpu, wall))
            load = os.getloadavg()[0]
            print(
                f"rep {rep + 1} {'fused' if fuse else 'unfused':8s} CPU {cpu * 1e6:7.1f} us/epoch  "
                f"wall {wall * 1e6:7.1f} us/epoch  load {load:.2f}",
                flush=True,
            )
    for name, values in rows.items():
        cpu = [c for c, _ in values]
        wall = [w for _, w in values]
        print(
            f"{name:8s} CPU us/epoch min {min(cpu) * 1e6:.1f} "
            f"median {statistics.median(cpu) * 1e6:.1f}"
            f"  wall min {min(wall) * 1e6:.1f} median {statistics.median(wall) * 1e6:.1f}"
        )
    f, u = (statistics.median(c for c, _ in rows[k]) for k in ("fused", "unfused"))
    print(f"unfused / fused CPU per epoch (medians): {u / f:.2f}x")


if __name__ == "__main__":
    main()
