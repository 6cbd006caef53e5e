"""Does measuring the strategy pay? (runtime.autotune, issue 15 "choices measured, not assumed")

    python bench/autotune.py [--reps 3] [--workloads W1,W2,W3,W4,W5]

Per workload, fresh processes (bench/nncompile_workload.py, compilation cache off):
1. first run: an empty record, autotune on: what the tuning costs a first run (`overhead_s`: its
   seconds beyond compiling the functions training keeps; `seconds`: all of it) and what it chose
   within its 1 s budget;
2. `nncompile tune`: every candidate measured without the budget, into a second record;
3. interleaved pairs (order alternating): the rule (NNCOMPILE_AUTOTUNE=0) against autotune reading
   the record of 2 (no measuring: zero cost), steady-state examples/s of each, the ratio per pair.
W6 (a GAN) has one strategy: nothing to tune. The load average is recorded with every run: the
machine is shared, compare only ratios of one pair.
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
SPECS = {
    "W1": "w1_mlp.nn",
    "W2": "w2_cnn.nn",
    "W3": "w3_regression.nn",
    "W4": "w4_cnn28.nn",
    "W5": "w5_lstm.nn",
}


def workload(wl: str, env: dict, epochs: int | None) -> dict:
    cmd = [sys.executable, str(HERE / "nncompile_workload.py"), "--workload", wl]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    load = os.getloadavg()[0]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE, timeout=1800)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    rec = json.loads(lines[-1]) if lines else {"error": p.stderr[-800:]}
    rec["load_before"], rec["load_after"] = load, os.getloadavg()[0]
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workloads", default="W1,W2,W3,W4,W5")
    ap.add_argument("--epochs", type=int, default=None, help="default: the workload's")
    ap.add_argument("--out", default=str(HERE / "results" / "autotune.jsonl"))
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nncompile-autotune-"))
    base = {**os.environ, "NNCOMPILE_CACHE": "0", "NNCOMPILE_CACHE_DIR": str(tmp / "jax")}

    def keep(rec: dict) -> dict:
        with open(a.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return rec

    for wl in a.workloads.split(","):
        first = {**base, "NNCOMPILE_AUTOTUNE": "1", "NNCOMPILE_AUTOTUNE_FILE": str(tmp / f"{wl}1")}
        rec = keep({"phase": "first run", **workload(wl, first, a.epochs)})
        t = rec.get("tuning") or {}
        print(
            f"{wl} first run: chose {t.get('choice')} in {t.get('seconds')} s "
            f"(overhead {t.get('overhead_s')} s); load {rec['load_before']:.1f}",
            flush=True,
        )
        full = str(tmp / f"{wl}full")
        env = {**base, "NNCOMPILE_AUTOTUNE_FILE": full}
        p = subprocess.run(
            [sys.executable, "-m", "nncompile", "tune", str(HERE / "specs" / SPECS[wl])],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        print(f"{wl} nncompile tune:\n{p.stdout}{p.stderr[-400:]}", flush=True)
        keep({"phase": "tune", "workload": wl, "stdout": p.stdout})
        ratios = []
        for rep in range(a.reps):
            pair = {}
            order = ("rule", "autotune") if rep % 2 == 0 else ("autotune", "rule")
            for arm in order:
                on = {**env, "NNCOMPILE_AUTOTUNE": "1" if arm == "autotune" else "0"}
                rec = workload(wl, on, a.epochs)
                pair[arm] = keep({"phase": "pair", "arm": arm, "rep": rep, **rec})
            r = pair["autotune"].get("throughput_ex_s", 0) / max(
                pair["rule"].get("throughput_ex_s", 0), 1e-9
            )
            ratios.append(r)
            print(
                f"{wl} rep {rep}: rule {pair['rule'].get('throughput_ex_s', 0):,.0f} ex/s, "
                f"autotune ({pair['autotune'].get('strategy')}) "
                f"{pair['autotune'].get('throughput_ex_s', 0):,.0f} ex/s, ratio {r:.3f}; "
                f"load {pair['rule']['load_before']:.1f}/{pair['autotune']['load_before']:.1f}",
                flush=True,
            )
        print(f"{wl}: median ratio autotune/rule {statistics.median(ratios):.3f} {ratios}\n")


if __name__ == "__main__":
    main()
