"""CPU seconds of a population's epochs by member layout, in one process, interleaved (popfuse).

    .venv/bin/python bench/population_epoch.py                 # W1, 16 rates, 7 repetitions
    .venv/bin/python bench/population_epoch.py --layouts map,vmap --reps 5 --epochs 3

The W1 population of bench/population.py (16 learning rates, adam) is built once per layout
(runtime.population: `map` one member after another, `vmap` all at once); each repetition runs
`--epochs` epochs of every layout (order alternating) through `Population.fit_population`, host
work included, after a first call that compiles. Prints each layout's CPU and wall seconds per
epoch (min, median), the load, and the largest relative difference of the members' last losses
from the first layout's after the first call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from population import spec_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=3, help="epochs per timed call")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--layouts", default="map,vmap")
    a = ap.parse_args()

    import nncompile
    from nncompile.runtime.population import Population

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w1_population.nn"
        path.write_text(spec_text(a.members, a.epochs).split("\nsweep")[0])
        lo, hi = 1e-4, 3e-2
        rates = [lo * (hi / lo) ** (k / max(a.members - 1, 1)) for k in range(a.members)]
        programs = [nncompile.compile(str(path), sets={"lr": f"{r:.3g}"}) for r in rates]
    splits = programs[0].splits()
    modules = [p.module for p in programs]
    layouts = a.layouts.split(",")
    pops, first = {}, {}
    for layout in layouts:
        pops[layout] = p = Population(modules[0], splits, modules, epochs=a.epochs, layout=layout)
        first[layout] = [h.epochs[-1]["loss"] for h in p.fit_population()]
    base = layouts[0]
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in layouts}
    for rep in range(a.reps):
        for layout in layouts[:: 1 if rep % 2 == 0 else -1]:
            c, w = time.process_time(), time.perf_counter()
            pops[layout].fit_population()
            c, w = time.process_time() - c, time.perf_counter() - w
            times[layout].append((c / a.epochs, w / a.epochs))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{a.members} members of W1, {a.epochs} epochs a call, {a.reps} reps, load {load}")
    for layout in layouts:
        cs, ws = [t[0] for t in times[layout]], [t[1] for t in times[layout]]
        diff = max(abs(x - y) / abs(y) for x, y in zip(first[layout], first[base], strict=True))
        print(
            f"{layout:8s} CPU s/epoch min {min(cs):.4f} median {statistics.median(cs):.4f}   "
            f"wall min {min(ws):.4f} median {statistics.median(ws):.4f}   "
            f"max rel. loss diff vs {base} after {a.epochs} epochs: {diff:.2g}"
        )


if __name__ == "__main__":
    main()
