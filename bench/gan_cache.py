"""Do the "+cache" rows train faster in steady state than the cold rows (quiet_session22.md)? For
W6: fresh processes alternating the compilation cache off (the epoch compiled in the process) and
on (the epoch loaded from a cache warmed once before), each fitting bench/specs/w6_gan.nn on the
spec's own data; per process the CPU seconds (the whole process: XLA's threads too) and the wall
seconds of the steady epochs 2..N-1, measured between `on_epoch_end` callbacks (the last epoch's
interval also holds the sample grid's first `generate`: a compilation cold, a cache load warm),
and the mean of the seconds the trainer logs for those epochs (what bench/run.py's W6 row sums).

    python bench/gan_cache.py [--reps 6] [--epochs 30] [--spec bench/specs/w6_gan.nn]

Prints one line per process, then per mode min and median of the per-epoch CPU and wall ms, and
the ratio cached/cold of each adjacent pair (their order alternates).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(spec: str, epochs: int) -> None:
    import nncompile

    class Clock:
        def __init__(self):
            self.marks: list[tuple[float, float]] = []

        def on_fit_start(self, trainer, history):
            self.marks.append((time.perf_counter(), time.process_time()))

        def on_epoch_end(self, trainer, epoch, logs):
            self.marks.append((time.perf_counter(), time.process_time()))

    program = nncompile.compile(spec)
    clock = Clock()
    history = program.fit(epochs=epochs, callbacks=[clock], verbose=False)
    # epochs 2..N-1: the last interval holds the sample grid's compilation (or cache load)
    (w0, _), (w1, c1), (wn, cn) = clock.marks[0], clock.marks[1], clock.marks[-2]
    steady = len(clock.marks) - 3
    logged = [e["seconds"] for e in history.epochs[1:-1]]
    print(
        json.dumps(
            {
                "first_s": w1 - w0,
                "wall_ms": (wn - w1) / steady * 1e3,
                "cpu_ms": (cn - c1) / steady * 1e3,
                "logged_ms": sum(logged) / len(logged) * 1e3,
                "last_interval_ms": (clock.marks[-1][0] - wn) * 1e3,
                "compile_count": program.trainer.compile_count,
            }
        )
    )


def run(spec: str, epochs: int, cache: str, cache_dir: str) -> dict:
    env = {**os.environ, "NNCOMPILE_CACHE": cache, "NNCOMPILE_CACHE_DIR": cache_dir}
    cmd = [sys.executable, __file__, "--worker", "--spec", spec, "--epochs", str(epochs)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(p.stderr[-2000:])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--spec", default=str(HERE / "specs" / "w6_gan.nn"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--worker", action="store_true")
    a = ap.parse_args()
    if a.worker:
        return worker(a.spec, a.epochs)
    with tempfile.TemporaryDirectory() as cache_dir:
        run(a.spec, 3, "1", cache_dir)  # warm the cache
        got: dict[str, list[dict]] = {"cold": [], "cached": []}
        ratios = []
        print(f"load at start: {os.getloadavg()}")
        for rep in range(a.reps):
            pair = {}
            for mode in ("cold", "cached") if rep % 2 == 0 else ("cached", "cold"):
                r = run(a.spec, a.epochs, "0" if mode == "cold" else "1", cache_dir)
                got[mode].append(r)
                pair[mode] = r
                print(f"rep {rep} {mode:6s} {json.dumps(r)}", flush=True)
            ratios.append(pair["cached"]["cpu_ms"] / pair["cold"]["cpu_ms"])
        print(f"load at end: {os.getloadavg()}")
        for mode, rs in got.items():
            cpu = [r["cpu_ms"] for r in rs]
            wall = [r["wall_ms"] for r in rs]
            print(
                f"{mode:6s} CPU ms/epoch min {min(cpu):.2f} median {statistics.median(cpu):.2f}; "
                f"wall ms/epoch min {min(wall):.2f} median {statistics.median(wall):.2f}"
            )
        print(
            "cached/cold CPU per pair: "
            + ", ".join(f"{r:.3f}" for r in ratios)
            + f"; median {statistics.median(ratios):.3f}"
        )


if __name__ == "__main__":
    main()
