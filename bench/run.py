"""nncompile against the hand-written reference programs, side by side, in one run.

    .venv/bin/python bench/run.py          # W1, W2, W3; 3 repetitions; ~10 minutes on 2 cores
    .venv/bin/python bench/run.py --quick  # smoke run: 1 repetition, few epochs, few contenders
    .venv/bin/python bench/run.py --reps 5 --workloads W1,W3 --out bench/results/w1w3.jsonl
    .venv/bin/python bench/run.py --workloads W5,W6   # the LSTM forecaster and the digits GAN
    .venv/bin/python bench/run.py --table bench/results/latest.jsonl [--md]  # the table again

Every run is a fresh process (so start-up and compilation count), contenders are interleaved and
their order rotated every repetition, and each run records the CPU time other processes used while
it ran ("foreign load", in cores). The references are the programs in ../shared/bench (run from
their own folder, never copied): Flax NNX, pure JAX, Keras 3 and PyTorch, plus the hand-written
im2col CNN of the conv-lowering probe for W2. They run with the bench virtualenv's Python
(.venv-bench, which has keras and torch; NNCOMPILE_BENCH_PYTHON overrides); contenders whose
packages are missing are skipped and listed. nncompile runs with this Python, from
bench/nncompile_workload.py.

nncompile's rows:
  nncompile:api       Program.fit on benchcommon's arrays, compilation cache OFF
                      (cold: TTFS includes compiling)
  nncompile:api+cache the same with a warm compilation cache
  nncompile:cli+cache `nncompile train spec` with a warm cache: process start to first step as a
                      user sees it
  nncompile:api-step  (W2, W4) the same program with strategy "step" (one compiled call per batch)

W4 (bench/specs/w4_cnn28.nn, a larger CNN on 28x28 inputs, its own synthetic data) has no reference
programs: its table compares nncompile's own choices on the machine at hand (run it on a GPU with
`--workloads W2,W4`).
Reference rows with "+cache" run with JAX's persistent cache warm (JAX_COMPILATION_CACHE_DIR).

Columns: steady-state examples/s (epochs 2..N) median and min-max; ratios of medians to the
hand-written NNX `@nnx.jit` program, the scan-fused pure-JAX program (W1/W3; for W2 the fastest
hand-written JAX, whichever it is in this run), Keras `fit` and PyTorch eager; time to first step
(TTFS) and process start to first step, each with its ratio to the NNX program; peak RSS and its
ratio; test accuracy or MSE; foreign load. Then the issue's targets, each marked met or not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFS = Path(os.environ.get("NNCOMPILE_BENCH_REFS", HERE.parents[1] / "shared" / "bench"))


def bench_python() -> str:
    """The Python that runs the references: NNCOMPILE_BENCH_PYTHON, else the project's
    .venv-bench, else the Python running this script (a venv with keras and torch installed next
    to nncompile, e.g. `pip install -e .[test] torch keras`)."""
    if os.environ.get("NNCOMPILE_BENCH_PYTHON"):
        return os.environ["NNCOMPILE_BENCH_PYTHON"]
    venv = HERE.parent / ".venv-bench" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


BENCH_PYTHON = bench_python()
# --threads1: every contender single-threaded (PyTorch's OpenMP threads stall when another process
# holds a core; the JAX programs barely change): the references' run_all.py --threads1
THREADS1 = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}

# (name, script, variant, where, needs): where "nnc" = bench/, "ref" = the references' folder
NNC = [
    ("nncompile:api", "nncompile_workload.py", "api", "nnc", "cold"),
    ("nncompile:api-step", "nncompile_workload.py", "api-step", "nnc", "cold"),
    ("nncompile:api+cache", "nncompile_workload.py", "api", "nnc", "warm"),
    ("nncompile:cli+cache", "nncompile_workload.py", "cli", "nnc", "warm"),
]
REF = [
    ("a_flax_nnx:jit", "a_flax_nnx.py", "jit", "ref", "cold"),
    ("a_flax_nnx:jit+cache", "a_flax_nnx.py", "jit", "ref", "warm"),
    ("a_flax_nnx:scan", "a_flax_nnx.py", "scan", "ref", "cold"),
    ("c_jax_scan:scan", "c_jax_scan.py", "scan", "ref", "cold"),
    ("c_jax_scan:step", "c_jax_scan.py", "step", "ref", "cold"),
    ("probe:im2col_scan", "probes/conv_lowering_probe.py", "shift9/scan", "ref", "cold"),
    ("d_keras_jax:fit_default", "d_keras_jax.py", "fit_default", "ref", "cold"),
    ("e_torch:eager", "e_torch.py", "eager", "ref", "cold"),
]
ALL = NNC + REF
QUICK = {
    "nncompile:api",
    "nncompile:cli+cache",
    "a_flax_nnx:jit",
    "c_jax_scan:scan",
    "c_jax_scan:step",
}
QUICK_EPOCHS = {"W1": 5, "W2": 3, "W3": 40, "W4": 2, "W5": 3, "W6": 4}
PER_WORKLOAD = {
    "probe:im2col_scan": {"W2"},
    "c_jax_scan:step": {"W2", "W5", "W6"},  # others: every workload
    "a_flax_nnx:scan": {"W1", "W3", "W5"},  # (its W2 epoch is ~1k examples/s: 30 s a run)
    "nncompile:api-step": {"W2", "W4"},
}
OWN_ONLY = {"W4"}  # workloads without reference programs: nncompile's rows only


def runs_on(contender, wl: str) -> bool:
    name, where = contender[0], contender[3]
    if wl in OWN_ONLY and where != "nnc":
        return False
    return name not in PER_WORKLOAD or wl in PER_WORKLOAD[name]


BASE = "a_flax_nnx:jit"


def cpu_busy_seconds() -> float:
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:]))
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s: float, below: float = 0.25) -> float:
    """Wait (at most `limit_s`) until other processes use less than `below` cores over 2 s.

    Returns the load last seen.
    """
    deadline = time.monotonic() + limit_s
    while True:
        b0 = cpu_busy_seconds()
        time.sleep(2.0)
        load = (cpu_busy_seconds() - b0) / 2.0
        if load < below or time.monotonic() > deadline:
            return load
        print(f"  (waiting: other processes use {load:.2f} cores)", file=sys.stderr, flush=True)


def environment(needs: str, cache: Path, threads1: bool = False) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT"))
    }
    if threads1:
        env.update(THREADS1)
    env["NNCOMPILE_BENCH_REFS"] = str(REFS)
    env["KERAS_BACKEND"] = "jax"
    if needs == "cold":
        env["NNCOMPILE_CACHE"] = "0"
    else:
        env.update(
            NNCOMPILE_CACHE="1",
            NNCOMPILE_CACHE_DIR=str(cache / "nncompile"),
            JAX_COMPILATION_CACHE_DIR=str(cache / "jax"),
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
        )
    return env


def run_one(
    contender, workload: str, epochs: int | None, cache: Path, timeout: int, threads1: bool = False
) -> dict:
    name, script, variant, where, needs = contender
    python, folder = (sys.executable, HERE) if where == "nnc" else (BENCH_PYTHON, REFS)
    cmd = [python, str(folder / script), "--workload", workload, "--variant", variant]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    busy0, t0 = cpu_busy_seconds(), time.perf_counter()
    try:
        p = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            cwd=folder,
            env=environment(needs, cache, threads1),
            timeout=timeout,
        )
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired:
        out, err, rc = "", "TIMEOUT", -9
    wall = time.perf_counter() - t0
    rec = None
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            rec = json.loads(line)
            break
    if rec is None:
        rec = {"error": err[-1500:] or f"exit {rc}"}
    rec.update(name=name, workload=workload, run_wall_s=wall, _busy_s=cpu_busy_seconds() - busy0)
    rec["threads1"] = threads1
    return rec


def child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def available(contender) -> bool:
    script, where = contender[1], contender[3]
    if where == "nnc":
        return True
    if not Path(BENCH_PYTHON).exists() or not (REFS / script).exists():
        return False
    module = {"d_keras_jax.py": "keras", "e_torch.py": "torch"}.get(script, "flax")
    probe = subprocess.run(
        [BENCH_PYTHON, "-c", f"import {module}"],
        capture_output=True,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    return probe.returncode == 0


# ---- the table -----------------------------------------------------------------------------------
def med(rs, key):
    vals = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(x, nd=0):
    return "-" if x is None else f"{x:,.{nd}f}"


def ratio(a, b, nd=2):
    return "-" if a is None or not b else f"{a / b:.{nd}f}"


def groups_of(records, wl):
    g = {}
    for r in records:
        if r["workload"] == wl:
            g.setdefault(r["name"], []).append(r)
    return g


# W5 (LSTM) and W6 (GAN): the target is the fastest reference of any framework
FASTEST_ANY = {"W5", "W6"}


def best_jax(g, wl):
    """The reference the throughput target names.

    Pure-JAX scan for W1/W3; the fastest hand-written JAX for W2; for W5/W6 the fastest reference
    program of any framework.
    """
    if wl in FASTEST_ANY:
        names = [c[0] for c in REF]
    else:
        names = (
            ["c_jax_scan:scan"]
            if wl != "W2"
            else [
                "c_jax_scan:scan",
                "c_jax_scan:step",
                "probe:im2col_scan",
                "a_flax_nnx:jit",
                "a_flax_nnx:scan",
            ]
        )
    cands = [(med(ok(g.get(n, [])), "throughput_ex_s"), n) for n in names if ok(g.get(n, []))]
    return max(cands) if cands else (None, None)


def ok(rs):
    return [r for r in rs if "error" not in r]


def table(records, md=False) -> str:
    lines = []
    order = {c[0]: i for i, c in enumerate(ALL)}
    for wl in sorted({r["workload"] for r in records}):
        g = groups_of(records, wl)
        base = ok(g.get(BASE, []))
        b_thr, b_ttfs, b_proc, b_rss = (
            med(base, k)
            for k in (
                "throughput_ex_s",
                "time_to_first_step_s",
                "process_start_to_first_step_s",
                "peak_rss_mib",
            )
        )
        j_thr, j_name = best_jax(g, wl)
        k_thr = med(ok(g.get("d_keras_jax:fit_default", [])), "throughput_ex_s")
        t_thr = med(ok(g.get("e_torch:eager", [])), "throughput_ex_s")
        foreign = [r.get("foreign_load_cores", 0) for r in records if r["workload"] == wl]
        lines.append(
            f"{'### ' if md else '== '}{wl}   "
            f"(÷jax = {j_name}{' (fastest of any)' if wl in FASTEST_ANY else ''}; "
            f"foreign load max {max(foreign):.2f} cores)"
        )
        hdr = [
            "contender",
            "n",
            "ex/s med",
            "min-max",
            "÷nnx.jit",
            "÷jax",
            "÷keras",
            "÷torch",
            "TTFS s",
            "÷nnx",
            "proc→1st s",
            "÷nnx",
            "RSS MiB",
            "÷nnx",
            "quality",
            "foreign",
        ]
        rows = []
        for name in sorted(g, key=lambda n: order.get(n, 99)):
            rs = ok(g[name])
            if not rs:
                rows.append(
                    [name, "0", "FAILED", g[name][0].get("error", "")[-60:].replace("\n", " ")]
                    + [""] * 12
                )
                continue
            thr = [r["throughput_ex_s"] for r in rs]
            m = statistics.median(thr)
            ttfs, proc, rss = (
                med(rs, k)
                for k in ("time_to_first_step_s", "process_start_to_first_step_s", "peak_rss_mib")
            )
            q = (
                f"D {med(rs, 'final_d_loss'):.3f} G {med(rs, 'final_g_loss'):.3f}"
                if med(rs, "final_d_loss") is not None
                else f"acc {med(rs, 'test_acc'):.4f}"
                if med(rs, "test_acc") is not None
                else f"MSE {med(rs, 'test_mse'):,.4g}"
                if med(rs, "test_mse") is not None
                else "-"
            )
            rows.append(
                [
                    name,
                    str(len(rs)),
                    fmt(m),
                    f"{fmt(min(thr))}-{fmt(max(thr))}",
                    ratio(m, b_thr),
                    ratio(m, j_thr),
                    ratio(m, k_thr),
                    ratio(m, t_thr),
                    fmt(ttfs, 3),
                    ratio(ttfs, b_ttfs),
                    fmt(proc, 2),
                    ratio(proc, b_proc),
                    fmt(rss),
                    ratio(rss, b_rss),
                    q,
                    fmt(med(rs, "foreign_load_cores"), 2),
                ]
            )
        if md:
            lines.append("| " + " | ".join(hdr) + " |")
            lines.append("|" + "---|" * len(hdr))
            lines += ["| " + " | ".join(r) + " |" for r in rows]
        else:
            widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows, strict=True)]
            lines += [
                "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True))
                for row in [hdr, *rows]
            ]
        lines.append("")
    lines += targets(records)
    return "\n".join(lines)


def targets(records) -> list[str]:
    """The issue's targets, from the medians of this run."""
    out = ["Targets (medians of this run):"]

    def check(text, value, limit, higher=True):
        if value is None or limit is None:
            out.append(f"  [ n/a ] {text}")
            return
        good = value >= limit if higher else value <= limit
        mark, sign = " met " if good else "MISSED", ">=" if higher else "<="
        out.append(f"  [{mark}] {text}: {value:,.3g} {sign} {limit:,.3g}")

    for wl in sorted({r["workload"] for r in records}):
        g = groups_of(records, wl)
        ours = ok(g.get("nncompile:api", []))
        if not ours or wl in OWN_ONLY:
            continue
        thr = med(ours, "throughput_ex_s")
        base = ok(g.get(BASE, []))
        j_thr, j_name = best_jax(g, wl)
        if wl in ("W1", "W3"):
            check(f"{wl} throughput / pure-JAX scan >= 0.9", thr / j_thr if j_thr else None, 0.9)
            check(
                f"{wl} throughput / nnx.jit >= 2",
                thr / med(base, "throughput_ex_s") if base else None,
                2.0,
            )
            keras = ok(g.get("d_keras_jax:fit_default", []))
            check(
                f"{wl} throughput / Keras fit >= {1.4 if wl == 'W1' else 10}",
                thr / med(keras, "throughput_ex_s") if keras else None,
                1.4 if wl == "W1" else 10.0,
            )
        elif wl in FASTEST_ANY:
            check(
                f"{wl} throughput / fastest reference ({j_name}) >= 1.0",
                thr / j_thr if j_thr else None,
                1.0,
            )
        else:
            check(
                f"W2 throughput / fastest hand-written JAX ({j_name}) >= 1.0",
                thr / j_thr if j_thr else None,
                1.0,
            )
            torch = ok(g.get("e_torch:eager", []))
            check(
                "W2 throughput / PyTorch eager (stretch) >= 1.0",
                thr / med(torch, "throughput_ex_s") if torch else None,
                1.0,
            )
        if base and wl not in FASTEST_ANY:
            check(
                f"{wl} TTFS / nnx.jit <= 1.2 (both without a cache)",
                med(ours, "time_to_first_step_s") / med(base, "time_to_first_step_s"),
                1.2,
                higher=False,
            )
            check(
                f"{wl} peak RSS / nnx.jit <= 1.2",
                med(ours, "peak_rss_mib") / med(base, "peak_rss_mib"),
                1.2,
                higher=False,
            )
            cli = ok(g.get("nncompile:cli+cache", []))
            if cli:
                check(
                    f"{wl} `nncompile train` proc->1st (warm cache) / nnx.jit proc->1st <= 1.5",
                    med(cli, "process_start_to_first_step_s")
                    / med(base, "process_start_to_first_step_s"),
                    1.5,
                    higher=False,
                )
        for key, name in (("test_acc", "accuracy"), ("test_mse", "test MSE")):
            if med(ours, key) is not None and j_name:
                out.append(
                    f"  [ info ] {wl} {name}: nncompile {med(ours, key):,.4g}, {j_name} "
                    f"{fmt(med(ok(g[j_name]), key), 4)}, nnx.jit {fmt(med(base, key), 4)}"
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 1 repetition, few epochs, few contenders"
    )
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3; --quick: 1)")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--only", default="", help="comma list of contender names (see --list)")
    ap.add_argument("--list", action="store_true", help="list the contenders and exit")
    ap.add_argument("--epochs", type=int, default=None, help="override every workload's epochs")
    ap.add_argument("--out", default=str(HERE / "results" / "latest.jsonl"))
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="before each run, wait up to S seconds for the machine to be idle (shared machines)",
    )
    ap.add_argument(
        "--deadline",
        type=float,
        default=0,
        metavar="S",
        help="start no run after S seconds (the table holds what finished; bench/gpu_table.sh)",
    )
    ap.add_argument(
        "--threads1",
        action="store_true",
        help="every contender single-threaded (OMP/MKL threads 1, XLA intra-op threads 1)",
    )
    ap.add_argument("--table", metavar="JSONL", help="print the table of an earlier run and exit")
    ap.add_argument("--md", action="store_true", help="markdown table")
    a = ap.parse_args()
    if a.list:
        print("\n".join(c[0] for c in ALL))
        return
    if a.table:
        with open(a.table) as f:
            print(table([json.loads(line) for line in f if line.strip()], md=a.md))
        return
    reps = a.reps or (1 if a.quick else 3)
    chosen = [
        c
        for c in ALL
        if (not a.only or c[0] in a.only.split(",")) and (not a.quick or a.only or c[0] in QUICK)
    ]
    missing = [c[0] for c in chosen if not available(c)]
    if missing:
        print(
            f"skipped (not installed for {BENCH_PYTHON} or no reference folder {REFS}): "
            f"{', '.join(missing)}",
            file=sys.stderr,
        )
    chosen = [c for c in chosen if c[0] not in missing]
    workloads = a.workloads.split(",")
    cache = Path(tempfile.mkdtemp(prefix="nncompile-bench-cache-"))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    records = []
    began = time.monotonic()
    try:
        for wl in workloads:  # fill the warm caches (not measured)
            epochs = a.epochs or (QUICK_EPOCHS[wl] if a.quick else None)
            for c in chosen:
                if c[4] == "warm" and runs_on(c, wl):
                    run_one(c, wl, epochs, cache, a.timeout, a.threads1)
        with open(a.out, "w") as f:
            for rep in range(reps):
                for wl in workloads:
                    epochs = a.epochs or (QUICK_EPOCHS[wl] if a.quick else None)
                    todo = [c for c in chosen if runs_on(c, wl)]
                    k = rep % len(todo)
                    for c in todo[k:] + todo[:k]:
                        if a.deadline and time.monotonic() - began > a.deadline:
                            print(f"  (deadline: {c[0]} {wl} not run)", file=sys.stderr)
                            continue
                        if a.wait_quiet:
                            wait_quiet(a.wait_quiet)
                        cpu0 = child_cpu()
                        r = run_one(c, wl, epochs, cache, a.timeout, a.threads1)
                        own = child_cpu() - cpu0
                        r["own_cpu_s"] = own
                        r["foreign_load_cores"] = max(
                            0.0, (r.pop("_busy_s") - own) / r["run_wall_s"]
                        )
                        r["rep"] = rep
                        records.append(r)
                        f.write(json.dumps(r) + "\n")
                        f.flush()
                        status = (
                            ("ERROR " + r["error"][-300:])
                            if "error" in r
                            else f"{r['throughput_ex_s']:,.0f} ex/s  "
                            f"TTFS {r['time_to_first_step_s']:.3f} s  "
                            f"proc->1st {r['process_start_to_first_step_s']:.2f} s"
                        )
                        print(
                            f"[rep {rep} {wl}] {c[0]}: {status}  "
                            f"(foreign {r['foreign_load_cores']:.2f})",
                            file=sys.stderr,
                            flush=True,
                        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print(table(records, md=a.md))
    print(f"\nraw results: {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
