"""A population of learning rates on W1 as one program, against today's sequential sweep of the
same trials (issue 15's target: >= 4x less wall time, compilation included, same per-trial results).

    .venv/bin/python bench/population.py                 # 16 rates, 20 epochs, 2 repetitions
    .venv/bin/python bench/population.py --members 4 --epochs 3 --reps 1   # smoke

W1 is bench/specs/w1_mlp.nn (the digits MLP, Adam) with its rate made a `let` and a grid sweep of
`--members` rates (log-spaced 1e-4 .. 3e-2) over it, objective minimize(loss) (W1 has no validation
split). Each mode runs `nncompile.search.sweep` in a fresh process (start-up, data loading,
compilation and the run folders all count): `sequential` trains the trials one after another
(population=False), `population` lets the plan train them as one vmapped program. The modes are
interleaved and their order alternates each repetition. The table gives each run's wall time, the
ratio of the medians, and the largest relative difference of a trial's final loss between modes.
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


def one(mode: str, spec: Path, out: Path) -> None:
    """Child process: one sweep; prints its wall time (from process start) as JSON."""
    import nncompile
    from nncompile.search import sweep

    result = sweep(
        nncompile.load_spec(str(spec)),
        out=out,
        report=lambda line: print(line, file=sys.stderr),
        population=mode == "population",
    )
    wall = time.time() - float(os.environ["BENCH_T0"])
    objectives = [t.objective for t in result.trials]
    print(json.dumps({"mode": mode, "wall_s": wall, "objectives": objectives}))


def run(mode: str, spec: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_T0": repr(time.time())}
    r = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--spec", str(spec), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if r.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{r.stderr[-3000:]}")
    said = [line for line in r.stderr.splitlines() if "trials as" in line]
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "plan": said[0] if said else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--child")
    ap.add_argument("--spec")
    ap.add_argument("--out")
    ap.add_argument("--jsonl", help="append each run as a JSON line")
    a = ap.parse_args()
    if a.child:
        one(a.child, Path(a.spec), Path(a.out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "w1_population.nn"
        spec.write_text(spec_text(a.members, a.epochs))
        runs: list[dict] = []
        for rep in range(a.reps):
            order = ["sequential", "population"][:: 1 if rep % 2 == 0 else -1]
            for mode in order:
                r = run(mode, spec, Path(tmp) / f"{mode}-{rep}")
                r.update(rep=rep, members=a.members, epochs=a.epochs, load=os.getloadavg()[0])
                runs.append(r)
                print(f"rep {rep} {mode:10s} {r['wall_s']:7.1f} s  (load {r['load']:.1f})")
                if a.jsonl:
                    with open(a.jsonl, "a") as f:
                        f.write(json.dumps(r) + "\n")
    walls = {m: [r["wall_s"] for r in runs if r["mode"] == m] for m in ("sequential", "population")}
    seq, pop = (statistics.median(walls[m]) for m in ("sequential", "population"))
    diffs = []
    for s_run, p_run in zip(
        (r for r in runs if r["mode"] == "sequential"),
        (r for r in runs if r["mode"] == "population"),
        strict=True,
    ):
        for x, y in zip(s_run["objectives"], p_run["objectives"], strict=True):
            diffs.append(abs(x - y) / max(abs(x), 1e-12))
    plan = next(r["plan"] for r in runs if r["mode"] == "population")
    print(f"\n{a.members} learning rates on W1, {a.epochs} epochs, {a.reps} repetitions")
    print(f"plan: {plan}")
    print(f"sequential sweep: median {seq:.1f} s  {walls['sequential']}")
    print(f"population:       median {pop:.1f} s  {walls['population']}")
    print(f"ratio: {seq / pop:.2f}x (target >= 4x)  max rel. diff of final loss: {max(diffs):.2g}")


if __name__ == "__main__":
    main()
