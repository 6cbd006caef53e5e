"""Mutated example specs, checked and trained (package fuzz, session 24).

    python bench/fuzz_mutate.py --cases 2000 [--seed N] [--train-every 10] [--runs-every 40]
                                [--out FILE]

The specs in specs/ and the seeds of tests/spec_mutate.py (`pad:`, `windows`, `class_weight`,
recurrent states with attention, a sweep) are mutated one to three times each case (numbers,
registry names, data and train properties, layer keywords, lines). Every mutant is checked
(`check` must return diagnostics, never raise); a mutant that passes is traced one training step
(spec_harness.trace_step, no XLA compilation), every ``--train-every``-th one trained for one epoch
instead (Program.fit, then predict, sample or decode), and every ``--runs-every``-th one used as a
user does a run folder, through the CLI in this process: train --out, eval, export, sample, eject,
train --resume (a spec with a sweep block: `sweep` with one epoch). An exception that is not a
diagnostic is a failure, written to ``--out`` (default bench/results/fuzz_mutate_failures.txt) with
the spec and the traceback's last lines; the exit status is 1 if there was one. Prints the counts:
cases, refused by check (by code), trained or traced, diagnostics after check (by message),
failures by kind.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def run_folder_ops(path: Path, folder: Path, sweep: bool, train: str | None) -> str:
    """What a user does with a spec and its run folder, through the CLI (NNCOMPILE_DEBUG: an
    unexpected exception is raised, not printed). A command that ends with a diagnostic (exit 1)
    stops the sequence."""
    from nncompile.cli import main

    out = folder / "run"
    if sweep:
        steps = [["sweep", str(path), "--epochs", "1", "--out", str(out)]]
    else:
        steps = [
            ["train", str(path), "--out", str(out), "--quiet", "--epochs", "1", "--force"],
            ["eval", str(path), "--run", str(out), "--split", "train"],
            ["export", str(path), "--run", str(out), "-o", str(folder / "m.stablehlo")],
            ["sample", str(path), "--run", str(out), "-n", "2", "-o", str(folder / "s.out")],
            ["eject", str(path), "-o", str(folder / "ejected")],
            ["train", str(path), "--out", str(out), "--quiet", "--epochs", "2", "--resume"],
        ]
    done = []
    for argv in steps:
        if train is not None and argv[0] not in ("sweep",):
            argv = [*argv, "--train", train]
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
        if code not in (0, 1):
            raise AssertionError(f"`{' '.join(argv[:1])}` exited {code}: {err.getvalue()[-400:]}")
        if "internal error" in err.getvalue() or "Traceback" in err.getvalue():
            raise AssertionError(f"`{argv[0]}` printed: {err.getvalue()[-600:]}")
        done.append(argv[0] if code == 0 else f"{argv[0]}: {err.getvalue().strip()[:80]}")
        if code == 1 and argv[0] in ("train", "sweep"):
            break
    return "; ".join(done)


def where(case: int, name: str, kinds: list[str], stage: str) -> str:
    return f"case {case} seed {name} {kinds} at {stage}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--train-every", type=int, default=10)
    parser.add_argument("--runs-every", type=int, default=40)
    parser.add_argument("--only", default=None, help="seeds whose name contains this")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "fuzz_mutate_failures.txt")
    args = parser.parse_args(argv)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ["NNCOMPILE_DEBUG"] = "1"
    import logging

    logging.disable(logging.WARNING)
    import spec_harness
    import spec_mutate

    import nncompile
    from nncompile.errors import NncompileError, out_of_memory

    folder = Path(tempfile.mkdtemp(prefix="nncompile-mutate-"))
    seeds = spec_mutate.workspace(folder)
    if args.only:
        seeds = {k: v for k, v in seeds.items() if args.only in k}
    counts: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[str] = collections.Counter()
    diagnostics: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    late: list[str] = []
    start = time.perf_counter()
    passed = 0
    stream = spec_mutate.mutants(seeds, args.seed)
    for case in range(args.cases):
        if case and case % 100 == 0:
            print(f"{case} cases, {dict(counts)}", flush=True)
        name, text, kinds = next(stream)
        path = folder / "mut.nn"
        path.write_text(text, encoding="utf-8")
        stage = "check"
        try:
            errors = [d for d in nncompile.check(path=str(path)) if d.severity == "error"]
            if errors:
                counts["refused by check"] += 1
                refused[errors[0].code or "?"] += 1
                continue
            passed += 1
            trains = re.findall(r"(?m)^train\s+(\w+)\s*\{", text)
            train = trains[case % len(trains)] if len(trains) > 1 else None
            program = nncompile.compile(str(path), train=train)
            sweep = bool(program.spec.sweeps)
            if args.runs_every and passed % args.runs_every == 0:
                stage = "run folder"
                with tempfile.TemporaryDirectory(dir=folder) as tmp:
                    detail = run_folder_ops(path, Path(tmp), sweep, train)
            elif args.train_every and passed % args.train_every == 0:
                stage = "train"
                detail = spec_harness.train_step(program)
            else:
                stage = "trace"
                step = spec_harness.trace_gan_step if program.is_gan else spec_harness.trace_step
                detail = step(program)
            counts[f"{stage}: ok"] += 1
            if "no sample" in detail or (stage == "run folder" and ": " in detail):
                diagnostics[f"{stage}: {detail[-100:]}"] += 1
        except NncompileError as e:
            counts[f"{stage}: diagnostic"] += 1
            diagnostics[f"{stage}: {str(e).splitlines()[0][:100]}"] += 1
            if stage != "check":  # check passed: a diagnostic check might have given
                late.append(f"{where(case, name, kinds, stage)}\n{e}\n--- spec ---\n{text}")
        except Exception as e:
            if out_of_memory(e):
                counts[f"{stage}: out of memory"] += 1
                continue
            counts[f"{stage}: FAILURE"] += 1
            tb = "".join(traceback.format_exception(e)[-6:])
            failures.append(f"{where(case, name, kinds, stage)}\n{tb}\n--- spec ---\n{text}")
            line = f"FAILURE {where(case, name, kinds, stage)}: {type(e).__name__}: {e}"
            print(line[:300], flush=True)
    seconds = time.perf_counter() - start
    print(f"{args.cases} cases in {seconds:.0f} s: {dict(counts)}")
    print(f"refused by check (first error's code): {dict(refused.most_common())}")
    for message, n in diagnostics.most_common(40):
        print(f"  {n:4d} x {message}")
    late_file = args.out.with_name(args.out.stem + "_late.txt")
    late_file.parent.mkdir(parents=True, exist_ok=True)
    late_file.write_text("\n\n=====\n\n".join(late), encoding="utf-8")
    print(f"{len(late)} diagnostics after check passed, written to {late_file}")
    if failures:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n\n=====\n\n".join(failures), encoding="utf-8")
        print(f"{len(failures)} failures, written to {args.out}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
