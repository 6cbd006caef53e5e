"""What each optimisation of the runtime and code generator buys: nncompile with one lever undone
at a time, and the code from before the optimisations (a git commit), interleaved, fresh process
per run.

    .venv/bin/python bench/levers.py [--reps 3] [--baseline COMMIT] [--workloads W1,W2,W3]

Levers undone (bench/nncompile_workload.py --lever): `no-ahead` (no epoch run ahead), `no-fuse`
(one epoch per call: no fused blocks of tiny epochs, runtime/blocks.py),
`eager-build` (model and optimizer built op by op), `copy-each-epoch` (the per-epoch state copy the
runtime used to make), `nnx-carry-order` (scan carry in nnx's bias-first order), `fusion-emitters`
(W2 compiled with XLA:CPU's default fusion emitters instead of the elemental ones its convolutions
select), `integer-label-ce` (optax's integer-label cross-entropy: a gather and a scatter instead of
one-hot rows), `whole-epoch-calls` (no chunked epoch loop: the first call is a whole epoch, a
scan), `native-conv` (nnx.Conv's lax convolution instead of im2col; W2 only, with --strategy step
since the native convolution is ~15x slower inside lax.scan on CPU); `cache` runs with a warm
compilation cache. `baseline` is the given commit's nncompile (a temporary git worktree).
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

CONFIGS = {  # name: (workload filter, extra args, env)
    "final": (None, [], {"NNCOMPILE_CACHE": "0"}),
    "final+cache": (None, [], {"NNCOMPILE_CACHE": "1"}),
    "no-ahead": ({"W1", "W3"}, ["--lever", "no-ahead"], {"NNCOMPILE_CACHE": "0"}),
    "no-fuse": ({"W3"}, ["--lever", "no-fuse"], {"NNCOMPILE_CACHE": "0"}),
    "eager-build": (None, ["--lever", "eager-build"], {"NNCOMPILE_CACHE": "0"}),
    "copy-each-epoch": ({"W1", "W3"}, ["--lever", "copy-each-epoch"], {"NNCOMPILE_CACHE": "0"}),
    "nnx-carry-order": (None, ["--lever", "nnx-carry-order"], {"NNCOMPILE_CACHE": "0"}),
    "fusion-emitters": ({"W2"}, ["--lever", "fusion-emitters"], {"NNCOMPILE_CACHE": "0"}),
    "integer-label-ce": ({"W1", "W2"}, ["--lever", "integer-label-ce"], {"NNCOMPILE_CACHE": "0"}),
    "whole-epoch-calls": ({"W1", "W2"}, ["--lever", "whole-epoch-calls"], {"NNCOMPILE_CACHE": "0"}),
    "im2col, step": ({"W2"}, ["--strategy", "step"], {"NNCOMPILE_CACHE": "0"}),
    "native-conv, step": (
        {"W2"},
        ["--strategy", "step", "--lever", "native-conv"],
        {"NNCOMPILE_CACHE": "0"},
    ),
    "baseline": (None, [], {"NNCOMPILE_CACHE": "0"}),
}


def run(cfg: str, wl: str, baseline: Path | None, cache: Path) -> dict:
    _, extra, env_extra = CONFIGS[cfg]
    env = {**os.environ, **env_extra, "NNCOMPILE_CACHE_DIR": str(cache)}
    if cfg == "baseline":
        env["PYTHONPATH"] = str(baseline)  # the old nncompile package shadows the editable install
    cmd = [sys.executable, str(HERE / "nncompile_workload.py"), "--workload", wl, *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE, timeout=900)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    rec = json.loads(lines[-1]) if lines else {"error": p.stderr[-800:]}
    rec.update(config=cfg, workload=wl)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--baseline", default=None, help="commit of the code before the optimisations")
    ap.add_argument("--out", default=str(HERE / "results" / "levers.jsonl"))
    ap.add_argument("--table", default=None)
    ap.add_argument("--only", default=None, help="comma-separated configs to run (default: all)")
    a = ap.parse_args()
    if a.table:
        with open(a.table) as f:
            records = [json.loads(line) for line in f]
    else:
        configs = [
            c
            for c in CONFIGS
            if (c != "baseline" or a.baseline) and (not a.only or c in a.only.split(","))
        ]
        tmp = Path(tempfile.mkdtemp(prefix="nncompile-levers-"))
        baseline = None
        if a.baseline:
            baseline = tmp / "baseline"
            subprocess.run(
                ["git", "worktree", "add", "--detach", "-q", str(baseline), a.baseline],
                cwd=ROOT,
                check=True,
            )
        records = []
        try:
            for wl in a.workloads.split(","):  # warm the cache of "final+cache"
                if "final+cache" in configs:
                    run("final+cache", wl, baseline, tmp / "cache")
            with open(a.out, "w") as f:
                for rep in range(a.reps):
                    for wl in a.workloads.split(","):
                        todo = [c for c in configs if CONFIGS[c][0] is None or wl in CONFIGS[c][0]]
                        k = rep % len(todo)
                        for cfg in todo[k:] + todo[:k]:
                            r = run(cfg, wl, baseline, tmp / "cache")
                            records.append(r)
                            f.write(json.dumps(r) + "\n")
                            f.flush()
                            print(
                                f"[{rep} {wl}] {cfg}: "
                                + (
                                    r["error"][-200:]
                                    if "error" in r
                                    else f"{r['throughput_ex_s']:,.0f} ex/s "
                                    f"TTFS {r['time_to_first_step_s']:.3f}"
                                ),
                                file=sys.stderr,
                                flush=True,
                            )
        finally:
            if baseline is not None:
                subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT)
    print(
        f"{'workload':8s} {'config':20s} {'n':>2s} {'ex/s med':>11s} {'vs final':>8s} "
        f"{'TTFS s':>7s} "
        f"{'proc->1st s':>11s} {'RSS MiB':>7s} quality"
    )
    for wl in sorted({r["workload"] for r in records}):
        rows = [r for r in records if r["workload"] == wl and "error" not in r]
        final = statistics.median(r["throughput_ex_s"] for r in rows if r["config"] == "final")
        for cfg in CONFIGS:
            rs = [r for r in rows if r["config"] == cfg]
            if not rs:
                continue
            m = lambda k, rs=rs: statistics.median(r[k] for r in rs)
            q = f"acc {m('test_acc'):.4f}" if "test_acc" in rs[0] else f"MSE {m('test_mse'):,.0f}"
            print(
                f"{wl:8s} {cfg:20s} {len(rs):2d} {m('throughput_ex_s'):11,.0f} "
                f"{m('throughput_ex_s') / final:8.2f} "
                f"{m('time_to_first_step_s'):7.3f} {m('process_start_to_first_step_s'):11.2f} "
                f"{m('peak_rss_mib'):7.0f} {q}"
            )


if __name__ == "__main__":
    main()
