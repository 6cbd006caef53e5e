"""A population of learning rates on W1 as one program, against today's sequential sweep of the
same trials (issue 15's target: >= 4x less wall time, compilation included, same per-trial results).

    .venv/bin/python bench/population.py                 # 16 rates, 20 epochs, 2 repetitions
    .venv/bin/python bench/population.py --members 4 --epochs 3 --reps 1   # smoke

W1 is bench/specs/w1_mlp.nn (the digits MLP, Adam) with its rate made a `let` and a grid sweep of
`--members` rates (log-spaced 1e-4 .. 3e-2) over it, objective minimize(loss) (W1 has no validation
split). Each mode runs `nncompile.search.sweep` in a fresh process (start-up, data loading,
compilation and the run folders all count): `sequential` trains the trials one after another
(population=False), `population` lets the plan train them as one program (on a CPU its members one
after another inside it, elsewhere vmapped). `--no-cache` runs both without JAX's persistent
compilation cache (a first sweep: each trial of the sequential sweep compiles). The modes are
interleaved and their order alternates each repetition (`--modes`: which, the first the base of the
ratios; `population-cores` is the population with its members in one group per core, their epochs at
once on threads: $NNCOMPILE_POPULATION_GROUPS=cores; `population-one` in one group, =1; `population-
auto` by the free cores, =auto, which `population` is by default since session 24). `--base-tree
DIR` adds the mode `sequential-at`: the sequential sweep of another checkout (its nncompile on
PYTHONPATH, e.g. the tree at issue 15's filing: `git worktree add --detach /tmp/base-at-filing
eccd0d0`), interleaved with the others, and every mode's ratios against it are given beside those
against the first mode (any mode with `-at`, e.g. `--modes population,population-at`, runs in that
checkout: an A/B of a change). The table gives each run's wall time and CPU time (user + system of
the child: on a machine shared with other processes the wall time follows their load, the CPU time
much less), the ratios of the medians, and the largest relative difference of a trial's objective
between modes (0 on a CPU: the members' arithmetic is their separate runs'). Each child also reports
where its time went (`phases`: wall and CPU seconds of imports, data, compiling the trials'
programs, building, training, saving the run folders with their test evaluation, the sweep's
curves).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
W1 = HERE / "specs" / "w1_mlp.nn"


def spec_text(members: int, epochs: int) -> str:
    text = W1.read_text()
    assert "adam(lr=1e-3)" in text
    text = text.replace("adam(lr=1e-3)", "adam(lr=lr)").replace(
        "epochs:         20", f"epochs:         {epochs}"
    )
    lo, hi = 1e-4, 3e-2
    rates = [lo * (hi / lo) ** (k / max(members - 1, 1)) for k in range(members)]
    grid = ", ".join(f"{r:.3g}" for r in rates)
    return (
        "let lr = 0.001\n"
        + text
        + f"\nsweep {{ train: main  grid: {{lr: [{grid}]}}  objective: minimize(loss) }}\n"
    )


PHASES = {  # (module, attribute): phase, timed in the child around each call
    ("nncompile.search", "compile"): "compile trials",
    ("nncompile.api:Program", "splits"): "data",
    ("nncompile.api:Program", "fit"): "train",
    ("nncompile.runtime.population:Population", "__init__"): "build population",
    ("nncompile.runtime.population:Population", "fit_population"): "train",
    ("nncompile.api:Program", "save"): "save runs",
    ("nncompile.runtime.sweepplot", "plot_sweep"): "sweep curves",
}


def timed(phases: dict) -> None:
    """Wrap the PHASES functions: each call adds its wall and CPU seconds to phases[name]."""
    import importlib

    local = threading.local()  # each thread its own stack; a phase off the main thread (the
    # sweep's figure drawn while the run folders are written) is named "(thread) <phase>" and
    # overlaps the others: not subtracted from "other"

    for (where, attr), name in PHASES.items():
        module, _, cls = where.partition(":")
        try:  # another checkout (--base-tree) may not have it
            owner = importlib.import_module(module)
        except ImportError:
            continue
        owner = getattr(owner, cls, None) if cls else owner
        f = getattr(owner, attr, None)
        if f is None:
            continue

        @functools.wraps(f)
        def wrapper(*a, _f=f, _name=name, **k):
            # a phase inside another (fit loads the data) counts for itself, not for the outer one
            frame = [0.0, 0.0]  # the wall and CPU seconds of phases inside this one
            stack = local.__dict__.setdefault("stack", [])
            stack.append(frame)
            main = threading.current_thread() is threading.main_thread()
            clock = time.process_time if main else time.thread_time  # (a thread: its own CPU)
            w, c = time.perf_counter(), clock()
            try:
                return _f(*a, **k)
            finally:
                w, c = time.perf_counter() - w, clock() - c
                stack.pop()
                row = phases.setdefault(_name if main else f"(thread) {_name}", [0.0, 0.0])
                row[0] += w - frame[0]
                row[1] += c - frame[1]
                if stack:
                    stack[-1][0] += w
                    stack[-1][1] += c

        setattr(owner, attr, wrapper)


def one(mode: str, spec: Path, out: Path) -> None:
    """Child process: one sweep; prints its wall time (from process start) as JSON."""
    import flax.nnx  # noqa: F401  (what every mode imports first)
    import optax  # noqa: F401

    import nncompile
    from nncompile.search import sweep

    phases: dict = {"imports": [time.time() - float(os.environ["BENCH_T0"]), time.process_time()]}
    timed(phases)

    mode = mode.removesuffix("-at")  # (run with the nncompile of --base-tree)
    if mode == "population-cores":  # the members in one group per core, at once
        os.environ["NNCOMPILE_POPULATION_GROUPS"] = "cores"
    if mode == "population-auto":  # a group per core free of others while it is built
        os.environ["NNCOMPILE_POPULATION_GROUPS"] = "auto"
    if mode == "population-one":  # the members in one group, on one core
        os.environ["NNCOMPILE_POPULATION_GROUPS"] = "1"
    options = {}
    if "population" in inspect.signature(sweep).parameters:  # (not in a tree before populations)
        options["population"] = mode.startswith("population")
    result = sweep(
        nncompile.load_spec(str(spec)),
        out=out,
        report=lambda line: print(line, file=sys.stderr),
        **options,
    )
    wall = time.time() - float(os.environ["BENCH_T0"])
    objectives = [t.objective for t in result.trials]
    own = [v for k, v in phases.items() if not k.startswith("(thread)")]
    phases["other"] = [
        wall - sum(w for w, _ in own),
        time.process_time() - sum(c for _, c in own),
    ]
    shown = {k: [round(w, 2), round(c, 2)] for k, (w, c) in phases.items()}
    print(json.dumps({"mode": mode, "wall_s": wall, "objectives": objectives, "phases": shown}))


def run(mode: str, spec: Path, out: Path, cache: bool = True, base: Path | None = None) -> dict:
    """One sweep in a fresh process; a mode ending in `-at` with the nncompile of checkout base."""
    tree = base if mode.endswith("-at") else ROOT
    assert tree is not None, f"{mode} needs --base-tree"
    env = {**os.environ, "PYTHONPATH": str(tree), "BENCH_T0": repr(time.time())}
    if not cache:  # every compilation in the run, none loaded from JAX's persistent cache
        env["NNCOMPILE_CACHE"] = "0"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--spec", str(spec), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{r.stderr[-3000:]}")
    said = [line for line in r.stderr.splitlines() if "trials as" in line]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        **json.loads(r.stdout.strip().splitlines()[-1]),
        "mode": mode,  # (with its -at)
        "cpu_s": cpu,
        "plan": said[0] if said else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--child")
    ap.add_argument("--spec")
    ap.add_argument("--out")
    ap.add_argument("--jsonl", help="append each run as a JSON line")
    ap.add_argument(
        "--modes",
        default="sequential,population",
        help="modes to interleave, the first the base of the ratios: sequential, population, "
        "population-cores (the members in one group per core), population-auto (a group per core "
        "free of other processes: NNCOMPILE_POPULATION_GROUPS=auto, the default since session 24), "
        "population-one (one group); any of them with -at: that of "
        "--base-tree (sequential-at is added with --base-tree)",
    )
    ap.add_argument(
        "--base-tree",
        type=Path,
        help="another checkout (e.g. the tree at issue 15's filing): adds the mode sequential-at, "
        "its sequential sweep, and the ratios against it",
    )
    ap.add_argument(
        "--no-cache",
        action="store_true",
        help="without JAX's persistent compilation cache (every trial of the sequential sweep "
        "compiles its program)",
    )
    a = ap.parse_args()
    if a.child:
        one(a.child, Path(a.spec), Path(a.out))
        return
    modes = a.modes.split(",")
    if a.base_tree is not None:
        a.base_tree = a.base_tree.resolve()
        if not (a.base_tree / "nncompile" / "__init__.py").is_file():
            raise SystemExit(f"--base-tree {a.base_tree}: no nncompile package there")
        if not any(m.endswith("-at") for m in modes):
            modes.append("sequential-at")
    elif any(m.endswith("-at") for m in modes):
        raise SystemExit("a mode ending in -at (another checkout's) needs --base-tree DIR")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "w1_population.nn"
        spec.write_text(spec_text(a.members, a.epochs))
        runs: list[dict] = []
        for rep in range(a.reps):
            order = modes[:: 1 if rep % 2 == 0 else -1]
            for mode in order:
                out = Path(tmp) / f"{mode}-{rep}"
                r = run(mode, spec, out, cache=not a.no_cache, base=a.base_tree)
                r.update(
                    rep=rep,
                    members=a.members,
                    epochs=a.epochs,
                    load=os.getloadavg()[0],
                    cache=not a.no_cache,
                    tree=str(a.base_tree if mode.endswith("-at") else ROOT),
                )
                runs.append(r)
                print(
                    f"rep {rep} {mode:16s} {r['wall_s']:7.1f} s wall {r['cpu_s']:6.1f} s CPU "
                    f"(load {r['load']:.1f})  {r['phases']}"
                    + ("  (groups)" if "groups at once" in r["plan"] else "")
                )
                if a.jsonl:
                    with open(a.jsonl, "a") as f:
                        f.write(json.dumps(r) + "\n")
    summary(runs, tuple(modes), a)


def summary(runs: list[dict], modes: tuple[str, ...], a: argparse.Namespace) -> None:
    """Each mode's medians, then the ratios against the first mode and against sequential-at."""
    walls = {m: [round(r["wall_s"], 2) for r in runs if r["mode"] == m] for m in modes}
    cpus = {m: [r["cpu_s"] for r in runs if r["mode"] == m] for m in modes}
    wall = {m: statistics.median(walls[m]) for m in modes}
    cpu = {m: statistics.median(cpus[m]) for m in modes}
    plan = next((r["plan"] for r in runs if r["plan"]), "")
    cache = "without the compilation cache" if a.no_cache else "compilation cache on"
    loads = [r["load"] for r in runs]
    print(
        f"\n{a.members} learning rates on W1, {a.epochs} epochs, {a.reps} repetitions, {cache}, "
        f"load {min(loads):.1f}-{max(loads):.1f}"
    )
    print(f"plan: {plan}")
    if a.base_tree is not None:
        print(f"-at: the nncompile of {a.base_tree}")
    for m in modes:
        print(f"{m + ':':17s} median {wall[m]:.1f} s wall {cpu[m]:.1f} s CPU  {walls[m]}")
    bases = [modes[0]] + [m for m in ("sequential-at",) if m in modes and m != modes[0]]
    for base in bases:
        for m in modes:
            if m == base:
                continue
            diffs = []
            for b_run, m_run in zip(
                (r for r in runs if r["mode"] == base),
                (r for r in runs if r["mode"] == m),
                strict=True,
            ):
                for x, y in zip(b_run["objectives"], m_run["objectives"], strict=True):
                    diffs.append(abs(x - y) / max(abs(x), 1e-12))
            print(
                f"{base} / {m}: {wall[base] / wall[m]:.2f}x wall, {cpu[base] / cpu[m]:.2f}x CPU  "
                f"max rel. diff of the objectives: {max(diffs):.2g}"
            )


if __name__ == "__main__":
    main()
