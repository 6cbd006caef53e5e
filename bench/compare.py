"""nncompile against an earlier nncompile: does a change cost speed?

    python bench/compare.py --base 6e9ba8a [--workloads W1,W2,W3] [--reps 3] [--variant api]

Checks the base revision out into a temporary git worktree and runs each tree's own
`bench/nncompile_workload.py` (one fresh process per run, its package first on PYTHONPATH, the
compilation cache off), alternating base and head run by run so that both see the same machine
load. Prints per workload the medians and the head/base ratios of steady-state throughput, time to
first step and peak RSS, plus the test metric of each, and writes the JSON lines next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KEYS = (
    ("throughput_ex_s", "ex/s", True),
    ("time_to_first_step_s", "TTFS s", False),
    ("peak_rss_mib", "RSS MiB", False),
)


def worktree(rev: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), rev],
        check=True,
        capture_output=True,
    )
    return into


def run(tree: Path, workload: str, variant: str) -> dict:
    refs = os.environ.get("NNCOMPILE_BENCH_REFS", str(ROOT.parent / "shared" / "bench"))
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "NNCOMPILE_CACHE": "0",
        "NNCOMPILE_BENCH_REFS": refs,
    }
    out = subprocess.run(
        [
            sys.executable,
            str(tree / "bench" / "nncompile_workload.py"),
            "--workload",
            workload,
            "--variant",
            variant,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tree,
    )
    if out.returncode != 0:
        raise SystemExit(f"{tree.name} {workload} failed:\n{out.stderr[-2000:]}")
    line = [x for x in out.stdout.splitlines() if x.startswith("{")][-1]
    return json.loads(line)


def median(records: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the earlier revision (a commit, tag or branch)")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--variant", default="api", choices=("api", "cli"))
    ap.add_argument("--out", default=str(HERE / "results" / "compare.jsonl"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = worktree(args.base, Path(tmp) / "base")
        trees = {"base": base, "head": ROOT}
        records: list[dict] = []
        try:
            for workload in args.workloads.split(","):
                for rep in range(args.reps):
                    order = ("base", "head") if rep % 2 == 0 else ("head", "base")
                    for who in order:
                        r = run(trees[who], workload, args.variant)
                        r.update(tree=who, rep=rep)
                        records.append(r)
                        print(
                            json.dumps(
                                {
                                    k: r.get(k)
                                    for k in ("tree", "workload", "rep", "throughput_ex_s")
                                }
                            ),
                            flush=True,
                        )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                capture_output=True,
            )
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in records))
    print(
        f"\n| workload | {' | '.join(f'{label} base / head (head÷base)' for _, label, _ in KEYS)} "
        "| test metric base / head |"
    )
    print("|---" * (len(KEYS) + 2) + "|")
    for workload in args.workloads.split(","):
        group = {
            who: [r for r in records if r["workload"] == workload and r["tree"] == who]
            for who in ("base", "head")
        }
        cells = []
        for key, _, _ in KEYS:
            b, h = median(group["base"], key), median(group["head"], key)
            cells.append(f"{b:,.3g} / {h:,.3g} ({h / b:.2f})")
        metric = "test_acc" if "test_acc" in group["head"][0] else "test_mse"
        quality = f"{median(group['base'], metric):.4g} / {median(group['head'], metric):.4g}"
        print(f"| {workload} | {' | '.join(cells)} | {quality} |")


if __name__ == "__main__":
    main()
