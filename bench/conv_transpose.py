"""The CPU lowering of transposed convolutions: epoch and compile time of spec programs whose
conv2d_transpose layers compute through COL2IM (col2im: one matmul, each tap's products placed on
the output grid and summed; what nncompile emits) or through XLA:CPU's native input-dilated
convolution (what nnx.ConvTranspose runs), interleaved, a fresh process per measurement.

    .venv/bin/python bench/conv_transpose.py [--reps 3] [--out bench/results/conv_transpose.md]

Behind the plan's `conv lowering` decision ("im2col and col2im on CPU" for GANs; supervised
programs emit canonical_conv since bench/convrule.py unless a strided or transposed convolution is
wide: "emitted" here; "canonical" sends every convolution through canonical_conv). Per
run: the first call of the runtime's scan-fused epoch (trace, compile, run), and the median of
6 steady-state epochs; compilation cache off. Wall and CPU (process) time: on a busy
machine the CPU time is the steadier. The other convolutions take im2col in both modes.
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
PROGRAMS = [  # (spec, --set values)
    ("specs/conv_autoencoder.nn", {}),  # one small transposed convolution (2x2 -> 4x4)
    ("bench/specs/w5_decoder.nn", {}),  # two, as a DCGAN generator (2x2 -> 4x4 -> 8x8)
]
MODES = ["col2im", "native", "canonical", "emitted"]

ONE = r"""
import json, sys, time
import jax, numpy as np
from flax import nnx
import nncompile.api as api
from nncompile.runtime.batches import epoch_order
program = api.compile(sys.argv[1], sets=json.loads(sys.argv[3]))
from nncompile.registry.layers import CANONICAL, COL2IM, IM2COL
emitted = "canonical_conv" if "def canonical_conv(" in program.source else "col2im_conv"
if sys.argv[2] != "emitted":  # (what the plan's conv lowering chose)
    for snippet in (IM2COL, COL2IM, CANONICAL):
        exec(snippet.code, program.module.__dict__)
    # native: transposed convolutions fall back to XLA's (im2col_conv does), the others im2col;
    # canonical: every convolution through canonical_conv
    name = {"native": "im2col_conv", "col2im": "col2im_conv"}.get(sys.argv[2], "canonical_conv")
    setattr(program.module, emitted, getattr(program.module, name))
trainer = program.trainer_for(dict(program.load_data().splits), log=lambda line: None)
x, y = trainer._on_device("train")
state = jax.tree.leaves(nnx.state((trainer.model, trainer.optimizer)))
steps, epoch_fn = trainer.batching.steps, trainer._fns.epoch  # as the runtime calls it (unchunked)
idx, rest = epoch_order(trainer.batching, trainer.seed, 1)
t1 = time.perf_counter()
out = epoch_fn(state, None, 1, x, y, idx, 0, steps, rest)
jax.block_until_ready(out)
t2 = time.perf_counter()
times, cpu = [], []
for epoch in range(2, 8):
    idx, rest = epoch_order(trainer.batching, trainer.seed, epoch)
    a, c = time.perf_counter(), time.process_time()
    out = epoch_fn(out[0], None, epoch, x, y, idx, 0, steps, rest)
    jax.block_until_ready(out)
    times.append(time.perf_counter() - a)
    cpu.append(time.process_time() - c)
print(json.dumps({"first_s": t2 - t1, "epoch_s": float(np.median(times)),
                  "epoch_cpu_s": float(np.median(cpu))}))
"""


def measure(spec: str, mode: str, sets: dict) -> dict:
    env = {**os.environ, "NNCOMPILE_CACHE": "0"}
    p = subprocess.run(
        [sys.executable, "-c", ONE, spec, mode, json.dumps(sets)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{spec} {mode}: {p.stderr[-800:]}")
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=None, help="also write the markdown table here")
    a = ap.parse_args()
    runs: dict[tuple[int, str], list[dict]] = {}
    for rep in range(a.reps):
        for i, (spec, sets) in enumerate(PROGRAMS):
            for mode in MODES if rep % 2 == 0 else MODES[::-1]:
                runs.setdefault((i, mode), []).append(measure(spec, mode, sets))
                print(f"rep {rep + 1} {spec} {sets} {mode}: {runs[i, mode][-1]}", file=sys.stderr)
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    lines = [
        f"Transposed convolutions on XLA:CPU, {a.reps} interleaved repetitions, medians "
        "(bench/conv_transpose.py)",
        "",
        "| program | first epoch s col2im / native | epoch ms col2im | epoch ms native "
        "| ratio | epoch CPU ms col2im | epoch CPU ms native | ratio | epoch CPU ms canonical "
        "| ratio to col2im | epoch CPU ms emitted (the plan's) | ratio to col2im |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, (spec, sets) in enumerate(PROGRAMS):
        c, n = runs[i, "col2im"], runs[i, "native"]
        ec, en = med(c, "epoch_s") * 1e3, med(n, "epoch_s") * 1e3
        cc, cn = med(c, "epoch_cpu_s") * 1e3, med(n, "epoch_cpu_s") * 1e3
        ck = med(runs[i, "canonical"], "epoch_cpu_s") * 1e3
        ce = med(runs[i, "emitted"], "epoch_cpu_s") * 1e3
        name = spec + "".join(f" --set {k}={v}" for k, v in sets.items())
        lines.append(
            f"| {name} | {med(c, 'first_s'):.2f} / {med(n, 'first_s'):.2f} "
            f"| {ec:.1f} | {en:.1f} | {en / ec:.2f} | {cc:.1f} | {cn:.1f} | {cn / cc:.2f} "
            f"| {ck:.1f} | {ck / cc:.2f} | {ce:.1f} | {ce / cc:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
