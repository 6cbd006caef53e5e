"""Process start to first training step, and `nncompile check`, in fresh processes: CPU and wall.

    python bench/startup.py                                  # this tree, 5 repetitions
    python bench/startup.py --base /tmp/base --reps 7        # A/B: another checkout, interleaved
    python bench/startup.py --spec bench/specs/w3_regression.nn --check specs/digits_cnn.nn

Each repetition runs, for every tree in turn (the order alternates every repetition), one
`nncompile train SPEC --epochs 1 --quiet` and one `nncompile check CHECK...` in fresh processes.
The train process is this script (`--child`): it marks the wall and CPU time since the process
started (from /proc, so the interpreter's own start counts) at four points --
  imports   `nncompile.cli` imported (what the `nncompile` command imports before it parses flags)
  compile   the spec read, analysed, emitted and loaded (`cli.common.compiled_program`): the
            emitted module's `import flax`/`import optax` count here
  data      the data loaded (the trainer is about to be built)
  step      the end of the first training step (a step callback: the first call is one step)
-- and `nncompile check` is timed from outside (wall, and the child's CPU from getrusage).
CPU seconds are the process's, every thread included. The machine is shared: compare CPU seconds;
wall seconds only with the load (`uptime`, printed) in mind.

Every tree's modules are byte-compiled first (`compileall`), as an installed package's are: with
PYTHONDONTWRITEBYTECODE set, a source checkout would otherwise compile its sources in every
process (~0.18 CPU s). The JAX compilation cache is off (NNCOMPILE_CACHE=0) unless --cache: then
each tree gets a warm cache of its own (one untimed run first), as a user's second run has.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHASES = ("imports", "compile", "data", "step")


def since_start() -> float:
    """Wall seconds since this process started (its start time in /proc/self/stat)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")


def child(argv: list[str]) -> None:
    """`nncompile train` in this process, with the marks; prints one JSON line."""
    marks: dict[str, tuple[float, float]] = {}

    def mark(name: str) -> None:
        if name not in marks:
            marks[name] = (since_start(), time.process_time())

    import gc

    import nncompile

    # as nncompile.__main__ (the `nncompile` script) where it pauses the collector (cli.startgc)
    pauses = (Path(nncompile.__file__).parent / "cli" / "startgc.py").is_file()
    if pauses:
        gc.disable()
    from nncompile import cli  # what the `nncompile` command imports before main()

    if pauses:
        cli.startgc.hold(paused=True)
    mark("imports")

    class First:
        def on_step_end(self, *args):
            mark("step")

        def on_epoch_end(self, *args):
            mark("step")

    def observe(program_class) -> None:
        plain_trainer = program_class.trainer_for

        def trainer_for(self, splits, *, callbacks=(), **kw):
            mark("data")
            return plain_trainer(self, splits, callbacks=[*callbacks, First()], **kw)

        program_class.trainer_for = trainer_for

    plain_compiled = cli.common.compiled_program

    def compiled_program(args):
        program = plain_compiled(args)
        mark("compile")
        observe(type(program))  # (nncompile.api is imported by now: not earlier than by train)
        return program

    cli.common.compiled_program = compiled_program
    cli.training.compiled_program = compiled_program  # (imported by name there)
    import contextlib
    import io

    sys.argv = ["nncompile", *argv]  # main() without argv: the process's own command
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main()
    mark("end")
    modules = sorted(m for m in sys.modules if "." not in m)
    print(json.dumps({"rc": rc, "marks": marks, "top_modules": modules}))


def run_train(tree: Path, spec: str, env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "train", spec]
        cmd += ["--epochs", "1", "--quiet", "--out", out]
        done = subprocess.run(
            cmd, env={**env, "PYTHONPATH": str(tree)}, capture_output=True, text=True, cwd=tree
        )
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"train failed in {tree}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_check(tree: Path, files: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "nncompile", "check", *files],
        env={**env, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        cwd=tree,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"check failed in {tree}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def stats(values: list[float]) -> str:
    return f"min {min(values):.3f} med {statistics.median(values):.3f}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, help="another checkout to compare (A); this tree is B")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--spec", default="bench/specs/w3_regression.nn")
    ap.add_argument("--check", nargs="+", default=["specs/digits_cnn.nn"])
    ap.add_argument("--cache", action="store_true", help="a warm JAX compilation cache per tree")
    ap.add_argument("--out", type=Path, help="also write every run as JSON lines here")
    ap.add_argument("--check-only", action="store_true", help="time `nncompile check` alone")
    args = ap.parse_args()
    trees = {"this": ROOT} if args.base is None else {"base": args.base.resolve(), "this": ROOT}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    caches = {}
    for name, tree in trees.items():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "nncompile")])
        if args.cache:
            caches[name] = tempfile.mkdtemp(prefix=f"startup-cache-{name}-")
    rows: list[dict] = []
    print(f"load before: {os.getloadavg()}", file=sys.stderr)
    if args.cache:  # warm each tree's cache (untimed)
        for name, tree in trees.items():
            run_train(tree, args.spec, {**env, "NNCOMPILE_CACHE_DIR": caches[name]})
    for rep in range(args.reps):
        order = list(trees.items())
        if rep % 2:
            order.reverse()
        for name, tree in order:
            tree_env = {**env, "NNCOMPILE_CACHE": "1" if args.cache else "0"}
            if args.cache:
                tree_env["NNCOMPILE_CACHE_DIR"] = caches[name]
            res = {} if args.check_only else run_train(tree, args.spec, tree_env)
            wall, cpu = run_check(tree, args.check, tree_env)
            row = {"tree": name, "rep": rep, **res, "check_wall": wall, "check_cpu": cpu}
            row["load"] = os.getloadavg()[0]
            rows.append(row)
            step = (
                ""
                if args.check_only
                else "first step: wall {:.3f} cpu {:.3f} | ".format(*res["marks"]["step"])
            )
            line = f"rep {rep} {name:5s} {step}check: wall {wall:.3f} cpu {cpu:.3f}"
            print(line, file=sys.stderr)
    if args.out:
        with args.out.open("a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    print(f"load after: {os.getloadavg()}")
    print(f"{'tree':5s} {'phase':8s} {'CPU s (since start)':28s} {'wall s (since start)':28s}")
    for name in trees:
        mine = [r for r in rows if r["tree"] == name]
        for phase in () if args.check_only else (*PHASES, "end"):
            cpu = [r["marks"][phase][1] for r in mine]
            wall = [r["marks"][phase][0] for r in mine]
            print(f"{name:5s} {phase:8s} {stats(cpu):28s} {stats(wall):28s}")
        cpu = [r["check_cpu"] for r in mine]
        wall = [r["check_wall"] for r in mine]
        print(f"{name:5s} {'check':8s} {stats(cpu):28s} {stats(wall):28s}")
    if len(trees) == 2:
        for phase in ("check",) if args.check_only else ("step", "check"):
            key = (lambda r: r["marks"]["step"]) if phase == "step" else None
            ratio = []
            for what, index in (("CPU", 1), ("wall", 0)):
                a, b = (
                    statistics.median(
                        (key(r)[index] if key else r[f"check_{what.lower()}"])
                        for r in rows
                        if r["tree"] == t
                    )
                    for t in ("base", "this")
                )
                ratio.append(f"{what} median {a:.3f} -> {b:.3f} ({b - a:+.3f} s)")
            print(f"{phase}: " + "; ".join(ratio))


if __name__ == "__main__":
    main()
