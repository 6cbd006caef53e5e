"""A/B of the plan's `cores` rule (plan.cores): NNCOMPILE_CORES=1 against =2, fresh processes.

    python bench/cores.py --workloads W5 --reps 5 [--wait-quiet 60] [--out bench/results/x.jsonl]
    python bench/cores.py --table bench/results/cores_w5.jsonl

Each repetition runs bench/nncompile_workload.py (Program.fit on benchcommon's arrays, the
compilation cache off) once per arm, the order alternating every repetition, and records the
steady-state throughput (epochs 2..N), the process's CPU seconds, and how many cores the rest of
the machine kept busy meanwhile ("foreign", from /proc/stat less the run's own CPU time): a
lever that uses both cores can only show on an idle machine, so read each pair with its foreign
load. `--wait-quiet S` waits up to S seconds before each run for 1.7 idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from nncompile.runtime.idlecores import IdleMeter  # noqa: E402

ARMS = ("1", "2")


def idle_cores(seconds: float = 1.0) -> float:
    meter = IdleMeter()
    time.sleep(seconds)
    return meter.cores() or 0.0


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def wait_quiet(limit: float, need: float = 1.7) -> float | None:
    start = time.time()
    while time.time() - start < limit:
        idle = idle_cores()
        if idle >= need:
            return idle
    return None


def run(workload: str, arm: str, epochs: int | None) -> dict:
    env = dict(os.environ, NNCOMPILE_CORES=arm, NNCOMPILE_CACHE="0")
    env["PYTHONPATH"] = str(HERE.parent)
    cmd = [sys.executable, str(HERE / "nncompile_workload.py"), "--workload", workload]
    cmd += ["--epochs", str(epochs)] if epochs else []
    meter, cpu0, t0 = IdleMeter(own=children_cpu), children_cpu(), time.time()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall, cpu, free = time.time() - t0, children_cpu() - cpu0, meter.cores()
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("{")), None)
    if line is None:
        return {"workload": workload, "cores": arm, "error": done.stderr[-600:]}
    res = json.loads(line)
    # what the rest of the machine kept busy meanwhile (runtime.idlecores' measure)
    foreign = None if free is None else round(max(0.0, (os.cpu_count() or 1) - free), 2)
    return {
        "workload": workload,
        "cores": arm,
        "throughput_ex_s": res["throughput_ex_s"],
        "steady_epoch_median_s": res["steady_epoch_median_s"],
        "final_train_loss": res.get("final_train_loss"),
        "test_mse": res.get("test_mse"),
        "test_acc": res.get("test_acc"),
        "process_cpu_s": round(cpu, 2),
        "process_wall_s": round(wall, 2),
        "foreign_cores": foreign,
        "load1": round(os.getloadavg()[0], 2),
        "time": time.strftime("%H:%M:%S"),
    }


def table(rows: list[dict]) -> str:
    out = []
    for wl in sorted({r["workload"] for r in rows}):
        mine = [r for r in rows if r["workload"] == wl and "error" not in r]
        out.append(f"== {wl}")
        for arm in ARMS:
            thr = [r["throughput_ex_s"] for r in mine if r["cores"] == arm]
            if thr:
                med = statistics.median(thr)
                out.append(
                    f"  NNCOMPILE_CORES={arm}: n={len(thr)} ex/s median {med:,.0f} "
                    f"min {min(thr):,.0f} max {max(thr):,.0f}"
                )
        pairs = []
        for rep in sorted({r["rep"] for r in mine}):
            arm = {r["cores"]: r for r in mine if r["rep"] == rep}
            if set(arm) == set(ARMS):
                ratio = arm["2"]["throughput_ex_s"] / arm["1"]["throughput_ex_s"]
                load = max(arm["1"]["foreign_cores"] or 0, arm["2"]["foreign_cores"] or 0)
                pairs.append(ratio)
                out.append(f"  rep {rep}: 2 cores / 1 core = {ratio:.2f} (foreign load {load:.2f})")
        if pairs:
            out.append(f"  median ratio {statistics.median(pairs):.2f} over {len(pairs)} pairs")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", default="W5")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--wait-quiet", type=float, default=0.0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--table", default=None, help="print the table of an earlier run")
    a = ap.parse_args()
    if a.table:
        print(table([json.loads(ln) for ln in Path(a.table).read_text().splitlines() if ln]))
        return
    rows = []
    sink = open(a.out, "a") if a.out else None  # noqa: SIM115
    for rep in range(a.reps):
        for wl in a.workloads.split(","):
            for arm in ARMS if rep % 2 == 0 else ARMS[::-1]:
                idle = wait_quiet(a.wait_quiet) if a.wait_quiet else None
                row = {"rep": rep, **run(wl, arm, a.epochs), "idle_before": idle}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if sink:
                    sink.write(json.dumps(row) + "\n")
                    sink.flush()
    print(table(rows))


if __name__ == "__main__":
    main()
