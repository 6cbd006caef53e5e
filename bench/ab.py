"""A/B: nncompile from two source trees on one workload, interleaved, fresh process per run.

    python bench/ab.py --base /tmp/nnc_base --workloads W5,W6 --reps 5 [--epochs N]

`--base` is another checkout of the project (e.g. `git archive <commit> | tar -x -C DIR`, with
this tree's bench/nncompile_workload.py, w5_data.py and specs copied in); this tree is "new".
Each run is `bench/nncompile_workload.py --variant api` of its tree (cache off). Prints per
workload the medians, the ratio new/base of each repetition (runs of a pair are adjacent, their
order alternating), and the median and range of those ratios: a speed claim is that ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(tree: Path, wl: str, epochs: int | None) -> dict:
    cmd = [sys.executable, str(tree / "bench" / "nncompile_workload.py"), "--workload", wl]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    env = {**os.environ, "PYTHONPATH": str(tree), "NNCOMPILE_CACHE": "0"}
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env, timeout=900)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": p.stderr[-800:]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--workloads", default="W5,W6")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None)
    a = ap.parse_args()
    trees = {"base": Path(a.base).resolve(), "new": HERE.parent}
    out = {}
    for wl in a.workloads.split(","):
        thr: dict[str, list[float]] = {"base": [], "new": []}
        ratios = []
        for rep in range(a.reps):
            order = ["base", "new"] if rep % 2 == 0 else ["new", "base"]
            got = {}
            for name in order:
                r = run(trees[name], wl, a.epochs)
                if "error" in r:
                    print(f"{wl} {name}: ERROR {r['error']}", file=sys.stderr)
                    continue
                got[name] = r["throughput_ex_s"]
                thr[name].append(got[name])
                print(f"[{wl} rep {rep}] {name}: {got[name]:,.0f} ex/s", file=sys.stderr)
            if len(got) == 2:
                ratios.append(got["new"] / got["base"])
        out[wl] = {
            "base_median": statistics.median(thr["base"]) if thr["base"] else None,
            "new_median": statistics.median(thr["new"]) if thr["new"] else None,
            "ratios": ratios,
            "ratio_median": statistics.median(ratios) if ratios else None,
        }
        if ratios:
            print(
                f"{wl}: new/base median {statistics.median(ratios):.3f} "
                f"(range {min(ratios):.3f}-{max(ratios):.3f}, {len(ratios)} pairs)",
                file=sys.stderr,
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
