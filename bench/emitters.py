"""Which XLA:CPU emitters suit which programs: compile time and epoch time of spec programs
compiled with XLA:CPU's default MLIR fusion emitters and with its elemental emitters
(`xla_cpu_use_fusion_emitters=False`), interleaved, fresh process per measurement.

    .venv/bin/python bench/emitters.py [--reps 3] [--out bench/results/emitters.md]

Behind the plan's `compiler_options` decision (nncompile/plan/): convolutional programs without
capsules take the elemental emitters. Per run: trace + lower, XLA compile, and the median of 6
steady-state epochs (whole-epoch calls of the runtime's compiled epoch loop), compilation cache off.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROGRAMS = [
    "bench/specs/w1_mlp.nn",
    "bench/specs/w2_cnn.nn",
    "specs/digits_cnn.nn",
    "specs/transfer_pretrain.nn",
    "specs/capsnet.nn",
    "specs/residual_mlp.nn",
]
MODES = {
    "fusion": {"xla_cpu_use_fusion_emitters": True},
    "elemental": {"xla_cpu_use_fusion_emitters": False},
}

ONE = r"""
import json, os, sys, time
import jax, numpy as np
from flax import nnx
import nncompile.api as api
from nncompile.runtime.batches import epoch_order
program = api.compile(sys.argv[1])
trainer = program.trainer_for(dict(program.load_data().splits), log=lambda line: None)
x, y = trainer._on_device("train")
state = jax.tree.leaves(nnx.state((trainer.model, trainer.optimizer)))
steps = trainer.batching.steps
idx, rest = epoch_order(trainer.batching, trainer.seed, 1)
t0 = time.perf_counter()
lowered = trainer._fns.epoch.trace(state, trainer._acc.zero(), 1, x, y, idx, 0, steps, rest).lower()
t1 = time.perf_counter()
compiled = lowered.compile(json.loads(sys.argv[2]))
t2 = time.perf_counter()
out = compiled(state, trainer._acc.zero(), 1, x, y, idx, 0, steps, rest)
jax.block_until_ready(out)
times = []
for epoch in range(2, 8):
    idx, rest = epoch_order(trainer.batching, trainer.seed, epoch)
    a = time.perf_counter()
    out = compiled(out[0], out[1], epoch, x, y, idx, 0, steps, rest)
    jax.block_until_ready(out)
    times.append(time.perf_counter() - a)
epoch_s = float(np.median(times))
print(json.dumps({"trace_lower_s": t1 - t0, "compile_s": t2 - t1, "epoch_s": epoch_s}))
"""


def measure(spec: str, options: dict) -> dict:
    env = {**os.environ, "NNCOMPILE_CACHE": "0"}
    p = subprocess.run(
        [sys.executable, "-c", ONE, spec, json.dumps(options)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{spec}: {p.stderr[-800:]}")
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=None, help="also write the markdown table here")
    a = ap.parse_args()
    runs: dict[tuple[str, str], list[dict]] = {}
    for rep in range(a.reps):
        for spec in PROGRAMS:
            for mode in list(MODES) if rep % 2 == 0 else list(MODES)[::-1]:
                runs.setdefault((spec, mode), []).append(measure(spec, MODES[mode]))
                print(f"rep {rep + 1} {spec} {mode}: {runs[spec, mode][-1]}", file=sys.stderr)
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    lines = [
        f"XLA:CPU emitters, {a.reps} interleaved repetitions, medians (bench/emitters.py)",
        "",
        "| program | compile s fusion | compile s elemental | ratio "
        "| epoch ms fusion | epoch ms elemental | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in PROGRAMS:
        f, e = runs[spec, "fusion"], runs[spec, "elemental"]
        cf, ce, ef, ee = (
            med(f, "compile_s"),
            med(e, "compile_s"),
            med(f, "epoch_s") * 1e3,
            med(e, "epoch_s") * 1e3,
        )
        lines.append(
            f"| {spec} | {cf:.3f} | {ce:.3f} | {ce / cf:.2f} "
            f"| {ef:.2f} | {ee:.2f} | {ee / ef:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
