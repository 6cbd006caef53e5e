"""A user's mistakes with run folders, through the CLI (package fuzz, session 24).

    python bench/fuzz_runfolder.py [--flips 3] [--out FILE]

Trains a few small specs of different kinds (a classifier, a regression on windows, a GAN, a
character model, a tagger with `pad:`) into run folders (with checkpoints), then:

- every command on every other spec's folder: eval, predict, export, sample, train --resume;
- resume and eval with the spec edited (a width, the learning rate, a layer added, the data);
- every file of a run folder in turn truncated, emptied, bit-flipped (``--flips`` places) or
  deleted, then eval, predict, export, sample and train --resume on it.

Each command must end with exit 0 or a diagnostic (exit 1, no traceback, no "internal error"), and
must leave the folder as it was unless it succeeded at training into it (a failed resume changes
nothing). Failures are written to ``--out`` (default bench/results/fuzz_runfolder_failures.txt);
prints the counts.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import io
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

SPECS = {
    "mlp": """\
data d { source: synthetic("blobs", n=40, features=6, classes=3)
         split: {train: 0.5, val: 0.25, test: 0.25} }
model M { input x: [6]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy  metrics: [accuracy]
        optimizer: adam(lr=1e-2)  batch_size: 8  epochs: 2  checkpoint: {every: 1} }
""",
    "windows": """\
data s { source: synthetic("sine", n=60)  windows: {length: 5}  split: {train: 0.7, test: 0.3} }
model F { input x: [5, 1]  gru(4)  dense(1) }
train { model: F  data: s  loss: mse  optimizer: adam(lr=1e-2)  batch_size: 8  epochs: 2
        checkpoint: {every: 1} }
""",
    "gan": """\
data p { source: synthetic("blobs", n=32, features=8, classes=2)  normalize: minmax
         split: {train: 1} }
model G { input z: [4]  dense(8, activation=sigmoid) }
model D { input x: [8]  dense(4, activation=relu)  dense(1) }
train { objective: gan(generator=G, discriminator=D, noise=normal([4]))  data: p
        loss: non_saturating  optimizer: adam(lr=1e-3)  batch_size: 8  epochs: 2 }
""",
    "chars": """\
data t { source: text("corpus.txt", level=char)  windows: {length: 8, targets: sequence}
         split: {train: 1} }
model C { input x: int[8]  embedding(28, 4)  gru(8, return_sequences=true)
          dense(28, activation=softmax) }
train { model: C  data: t  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: 16  epochs: 2  checkpoint: {every: 1} }
""",
}
EDITS = {  # spec: (what is edited, old, new)
    "mlp": [
        ("width", "dense(8,", "dense(9,"),
        ("lr", "lr=1e-2", "lr=1e-3"),
        ("layer", "dense(8, activation=relu)", "dense(8, activation=relu)  dense(8)"),
        ("data", "n=40", "n=44"),
        ("activation", "activation=relu", "activation=tanh"),
    ],
    "windows": [("length", "length: 5", "length: 6"), ("units", "gru(4)", "lstm(4)")],
    "chars": [("vocab", "embedding(28, 4)", "embedding(29, 4)")],
}


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*"))}


def cli(argv: list[str]) -> tuple[int, str]:
    from nncompile.cli import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = int(e.code or 0)
    return code, err.getvalue()


def commands(spec: Path, run: Path, tmp: Path) -> list[list[str]]:
    x = tmp / "x.npy"
    return [
        ["eval", str(spec), "--run", str(run), "--split", "train"],
        [
            "predict",
            str(spec),
            "--run",
            str(run),
            "--input",
            str(x),
            "--output",
            str(tmp / "y.npy"),
        ],
        ["export", str(spec), "--run", str(run), "-o", str(tmp / "m.stablehlo")],
        ["sample", str(spec), "--run", str(run), "-n", "2", "-o", str(tmp / "s.npy")],
        ["train", str(spec), "--out", str(run), "--resume", "--epochs", "3", "--quiet"],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flips", type=int, default=3)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--files", type=int, default=6, help="damaged files per spec (drawn)")
    default = Path(__file__).parent / "results" / "fuzz_runfolder_failures.txt"
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args(argv)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ["NNCOMPILE_DEBUG"] = "1"
    import logging

    import numpy as np

    logging.disable(logging.WARNING)
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="nncompile-runfuzz-"))
    (root / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog. " * 20)
    counts: collections.Counter[str] = collections.Counter()
    messages: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    start = time.perf_counter()
    specs, runs = {}, {}
    for name, text in SPECS.items():
        specs[name] = root / f"{name}.nn"
        specs[name].write_text(text)
        runs[name] = root / "runs" / name
        code, err = cli(["train", str(specs[name]), "--out", str(runs[name]), "--quiet"])
        assert code == 0, err
    pristine = {name: root / "pristine" / name for name in runs}
    for name in runs:
        shutil.copytree(runs[name], pristine[name], symlinks=True)
    x = np.zeros((3, 6), np.float32)

    def attempt(label: str, argv: list[str], run: Path, may_change: bool) -> None:
        before = tree(run) if run.exists() else {}
        try:
            code, err = cli(argv)
        except Exception as e:  # NNCOMPILE_DEBUG: the CLI's internal error, raised
            counts["FAILURE"] += 1
            failures.append(f"{label}: {' '.join(argv)}\n{type(e).__name__}: {e}")
            print(f"FAILURE {label}: {argv[0]}: {type(e).__name__}: {e}"[:300], flush=True)
            return
        bad = code not in (0, 1) or "Traceback" in err or "internal error" in err
        changed = run.exists() and tree(run) != before and not (code == 0 and may_change)
        if bad or changed:
            counts["FAILURE"] += 1
            why = "changed the folder" if changed else f"exit {code}"
            failures.append(f"{label}: {' '.join(argv)}\n{why}\n{err[-1500:]}")
            print(f"FAILURE {label}: {argv[0]} {why}: {err.strip()[-300:]}", flush=True)
            return
        counts["ok" if code == 0 else "diagnostic"] += 1
        if code == 1:
            messages[f"{argv[0]}: {err.strip().splitlines()[0][:110]}"] += 1

    def restore(name: str) -> None:
        shutil.rmtree(runs[name])
        shutil.copytree(pristine[name], runs[name], symlinks=True)

    tmp = root / "tmp"
    tmp.mkdir()
    # ---- another spec's folder
    for a in specs:
        for b in runs:
            if a == b:
                continue
            feature = {"mlp": (3, 6), "windows": (3, 5, 1), "chars": (3, 8), "gan": (3, 4)}[a]
            np.save(tmp / "x.npy", np.zeros(feature, np.int64 if a == "chars" else np.float32))
            for argv in commands(specs[a], runs[b], tmp):
                attempt(f"{a} on {b}'s folder", argv, runs[b], may_change=False)
            restore(b)
    # ---- the spec edited
    for name, edits in EDITS.items():
        for what, old, new in edits:
            edited = root / f"{name}_{what}.nn"
            edited.write_text(specs[name].read_text().replace(old, new))
            for argv in commands(edited, runs[name], tmp):
                attempt(f"{name} edited ({what})", argv, runs[name], may_change=False)
            restore(name)
    # ---- damaged files
    del x
    for name in runs:
        feature = {"mlp": (3, 6), "windows": (3, 5, 1), "chars": (3, 8), "gan": (3, 4)}[name]
        np.save(tmp / "x.npy", np.zeros(feature, np.int64 if name == "chars" else np.float32))
        files = sorted(p.relative_to(runs[name]) for p in runs[name].rglob("*") if p.is_file())
        for rel in rng.sample(files, min(args.files, len(files))):
            chosen = commands(specs[name], runs[name], tmp)
            if rel.parts[0] == "checkpoints":  # read by a resume only
                chosen = chosen[-1:]
            for damage in ("truncate", "empty", "flip", "delete"):
                path = runs[name] / rel
                raw = path.read_bytes()
                if damage == "truncate" and len(raw) > 1:
                    path.write_bytes(raw[: len(raw) // 2])
                elif damage == "empty":
                    path.write_bytes(b"")
                elif damage == "flip" and raw:
                    data = bytearray(raw)
                    for _ in range(args.flips):
                        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                    path.write_bytes(bytes(data))
                elif damage == "delete":
                    path.unlink()
                else:
                    continue
                for argv in chosen:
                    # a resume may succeed (a damaged file it does not read): it may write then
                    attempt(f"{name}: {rel} {damage}", argv, runs[name], may_change=True)
                    restore(name)
                    if damage == "flip":  # the same flips for every command
                        path.write_bytes(bytes(data))
                    elif damage == "truncate":
                        path.write_bytes(raw[: len(raw) // 2])
                    elif damage == "empty":
                        path.write_bytes(b"")
                    elif damage == "delete":
                        path.unlink()
                restore(name)
    seconds = time.perf_counter() - start
    print(f"{sum(counts.values())} commands in {seconds:.0f} s: {dict(counts)}")
    for message, n in messages.most_common(60):
        print(f"  {n:4d} x {message}")
    if failures:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n\n=====\n\n".join(failures), encoding="utf-8")
        print(f"{len(failures)} failures, written to {args.out}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
