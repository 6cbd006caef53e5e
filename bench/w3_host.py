"""W3's per-epoch host path, one epoch per call (no fusion): old code against new.

    PYTHONPATH=$PWD .venv/bin/python bench/w3_host.py --base /tmp/base-w3host [--rounds 5]
    PYTHONPATH=$PWD .venv/bin/python bench/w3_host.py --fit [--epochs 2000]   # one fit, JSON
    PYTHONPATH=$PWD .venv/bin/python bench/w3_host.py --inprocess [--reps 5]  # levers, one process

Each round starts one process with the base tree (`--base`, e.g. `git worktree add /tmp/base-w3host
22f1ae5`) and one with this tree, the order alternating (ABBA...); each process trains W3
(bench/specs/w3_regression.nn on benchcommon's diabetes split, fed through Program.fit as
bench/run.py does) for `--epochs` epochs with NNCOMPILE_FUSE=0 (one epoch per call: the path of a
cold 200-epoch fit) and NNCOMPILE_CACHE=0, after a 3-epoch warm-up fit, and reports the CPU
seconds (process_time: all threads) and wall seconds per epoch of epochs 2..N, measured between
on_epoch_end callbacks as benchcommon counts, and a digest of the history and the final parameters
(the same digest on both sides: the same numbers, bit for bit). Then min and median of both,
their ratio, and the load (`uptime`).

--inprocess: the same fits in one process, the levers undone one at a time and the order rotated:
`new` (this tree), `no-donate` (NNCOMPILE_DONATE=0: the epoch's input kept intact, one epoch run
ahead: runtime/donating.py), `old` (no-donate and jax.device_get for the epoch's results instead of
runtime.trees.fetch: the host path of 22f1ae5). CPU and wall per epoch, min and median, digests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFS = Path(os.environ.get("NNCOMPILE_BENCH_REFS", HERE.parents[1] / "shared" / "bench"))


class Clock:
    """perf_counter at every epoch end, process_time at the first and the last."""

    def __init__(self, epochs: int):
        self.epochs = epochs
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.wall.append(time.perf_counter())
        if len(self.wall) in (1, self.epochs):
            self.cpu.append(time.process_time())


def fit(epochs: int) -> dict:
    """One W3 fit in this process (after a warm-up fit): per-epoch CPU and wall, and a digest."""
    sys.path.insert(0, str(REFS))
    import benchcommon as bc
    import jax
    import numpy as np
    from flax import nnx

    import nncompile.api as api

    w = bc.load_workload("W3")
    program = api.compile(HERE / "specs" / "w3_regression.nn")
    data = {"train": (w["x_train"], w["y_train"])}
    program.fit(data, epochs=3, log=lambda line: None)
    clock = Clock(epochs)
    history = program.fit(data, epochs=epochs, callbacks=[clock], log=lambda line: None)
    n = len(clock.wall) - 1
    digest = hashlib.sha256()
    for e in history.epochs:
        digest.update(json.dumps({k: v for k, v in e.items() if k != "seconds"}).encode())
    for leaf in jax.tree.leaves(nnx.state(program.trainer.model)):
        digest.update(np.asarray(leaf).tobytes())
    return {
        "cpu_us": (clock.cpu[-1] - clock.cpu[0]) / n * 1e6,
        "wall_us": (clock.wall[-1] - clock.wall[0]) / n * 1e6,
        "digest": digest.hexdigest()[:16],
    }


def inprocess(epochs: int, reps: int) -> None:
    """The levers of this tree's per-epoch path undone in one process, fits interleaved."""
    import jax

    from nncompile.runtime import fitloop, trees

    def lever(name: str) -> None:
        os.environ["NNCOMPILE_DONATE"] = "1" if name == "new" else "0"
        fitloop.fetch = (lambda t, cpu: jax.device_get(t)) if name == "old" else trees.fetch

    names = ["new", "no-donate", "old"]
    rows: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(reps):
        for name in names[r % 3 :] + names[: r % 3]:
            lever(name)
            res = fit(epochs)
            rows[name].append(res)
            print(
                f"rep {r + 1} {name:9s} CPU {res['cpu_us']:7.1f} us/epoch  wall "
                f"{res['wall_us']:7.1f} us/epoch  digest {res['digest']}  "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    for name, values in rows.items():
        cpu = sorted(v["cpu_us"] for v in values)
        wall = sorted(v["wall_us"] for v in values)
        print(
            f"{name:9s} CPU us/epoch min {cpu[0]:.1f} median {statistics.median(cpu):.1f}  "
            f"wall min {wall[0]:.1f} median {statistics.median(wall):.1f}"
        )
    same = {v["digest"] for values in rows.values() for v in values}
    print("history and parameters bitwise equal:", "yes" if len(same) == 1 else f"NO {same}")


def run(tree: str, epochs: int) -> dict:
    env = dict(os.environ, PYTHONPATH=tree, NNCOMPILE_FUSE="0", NNCOMPILE_CACHE="0")
    cmd = [sys.executable, str(HERE / "w3_host.py"), "--fit", "--epochs", str(epochs)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true", help="one fit in this process, JSON out")
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--base", help="the old tree (a worktree of the base commit)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--inprocess", action="store_true", help="levers undone in one process")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    if args.inprocess:
        os.environ.update(NNCOMPILE_FUSE="0", NNCOMPILE_CACHE="0")
        inprocess(args.epochs, args.reps)
        return
    if args.fit:
        print(json.dumps(fit(args.epochs)))
        return
    trees = {"base": str(Path(args.base).resolve()), "new": str(HERE.parent)}
    rows: dict[str, list[dict]] = {"base": [], "new": []}
    for r in range(args.rounds):
        for name in ("base", "new") if r % 2 == 0 else ("new", "base"):
            res = run(trees[name], args.epochs)
            rows[name].append(res)
            load = os.getloadavg()[0]
            print(
                f"round {r + 1} {name:4s} CPU {res['cpu_us']:7.1f} us/epoch  wall "
                f"{res['wall_us']:7.1f} us/epoch  digest {res['digest']}  load {load:.2f}",
                flush=True,
            )
    med = {}
    for name, values in rows.items():
        cpu = [v["cpu_us"] for v in values]
        wall = [v["wall_us"] for v in values]
        med[name] = (statistics.median(cpu), statistics.median(wall))
        print(
            f"{name:4s} CPU us/epoch min {min(cpu):.1f} median {med[name][0]:.1f}  "
            f"wall min {min(wall):.1f} median {med[name][1]:.1f}"
        )
    print(
        f"base / new per epoch (medians): CPU {med['base'][0] / med['new'][0]:.2f}x, "
        f"wall {med['base'][1] / med['new'][1]:.2f}x"
    )
    same = {v["digest"] for v in rows["base"] + rows["new"]}
    print("history and parameters bitwise equal:", "yes" if len(same) == 1 else f"NO {same}")


if __name__ == "__main__":
    main()
