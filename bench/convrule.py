"""The convolution rule's two factors, separated (issue 15, "choices measured, not assumed").

    python bench/convrule.py [--reps 5] [--specs ae,W2,W4] [--layers] [--out FILE.jsonl]

Per spec, in ONE process, the training step of the spec's own program in four forms:
the epoch's strategy ("scan": one compiled loop, "step": one call per batch) x the convolution's
CPU lowering ("im2col": the emitted im2col/col2im functions, "native": XLA's
conv_general_dilated). Each form is compiled first, then timed in interleaved rounds (A B C D A B
C D ...), `--reps` rounds, each round a whole epoch's steps from the initial state; CPU seconds
(time.process_time) and wall seconds per step, min and median. `--layers`: each convolution of
the model alone (forward + both gradients, jitted, batch of the spec), native against im2col, one
call per step and inside a lax.scan of the epoch's steps: where the difference comes from.

ae = bench/specs/parity/conv_autoencoder.nn, W2 = bench/specs/w2_cnn.nn, W4 = w4_cnn28.nn.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import nncompile.api as api
from nncompile.registry.layers.conv import transpose_pads
from nncompile.registry.layers.convgrad import CANONICAL
from nncompile.runtime import autotune
from nncompile.runtime.batches import epoch_order
from nncompile.runtime.compiled import Layout

HERE = Path(__file__).resolve().parent
SPECS = {
    "ae": HERE / "specs" / "parity" / "conv_autoencoder.nn",
    "W2": HERE / "specs" / "w2_cnn.nn",
    "W4": HERE / "specs" / "w4_cnn28.nn",
}
FORMS = [
    ("scan", "im2col"),
    ("step", "native"),
    ("step", "im2col"),
    ("scan", "native"),
    ("scan", "canonical"),
    ("step", "canonical"),
]


def lowerings(module) -> dict:
    """The convolution functions an nnx.Conv can compute through, by name."""
    ns: dict = {"jax": jax, "jnp": jnp}
    exec(CANONICAL.code, ns)  # (the snippet as an emitted program holds it)
    return {
        "native": jax.lax.conv_general_dilated,
        "im2col": getattr(module, "col2im_conv", None) or module.im2col_conv,
        "canonical": ns["canonical_conv"],
    }


def fns_with(trainer, strategy: str, fn):
    """The trainer's compiled functions with every nnx.Conv computing through `fn`."""
    for _, m in nnx.iter_graph(trainer.model):
        if isinstance(m, nnx.Conv):
            m.conv_general_dilated = fn
    layout = Layout.of(trainer.model, trainer.optimizer)
    return trainer.compiled_for(strategy, strategy == "scan" and trainer.chunked, layout)


def cpu_wall(fn) -> tuple[float, float]:
    c, w = time.process_time(), time.perf_counter()
    jax.block_until_ready(fn())
    return time.process_time() - c, time.perf_counter() - w


def forms(name: str, reps: int, steps_cap: int | None, only: list | None = None) -> dict:
    program = api.compile(SPECS[name])
    trainer = program.trainer_for(dict(program.load_data().splits), log=lambda line: None)
    x, y = jax.device_put(trainer.splits["train"])
    state0 = jax.tree.leaves(nnx.state((trainer.model, trainer.optimizer)))
    idx, rest = epoch_order(trainer.batching, trainer.seed, 1)
    steps = trainer.batching.steps if steps_cap is None else min(steps_cap, trainer.batching.steps)
    runs = {}
    compile_s = {}
    impls = lowerings(program.module)
    for strategy, conv in FORMS:
        if only and f"{strategy}, {conv}" not in only:
            continue
        fns = fns_with(trainer, strategy, impls[conv])
        run = autotune.runner(fns, state0, x, y, idx, rest)
        n = (
            fns.batching.steps + (rest is not None)
            if strategy == "scan" and not fns.chunked
            else steps
        )
        first = 0 if fns.strategy == "scan" and fns.chunked else 1
        form = f"{strategy}, {conv}"
        compile_s[form] = cpu_wall(functools.partial(run, first))
        runs[form] = (run, n)
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    wall: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(reps):
        for k, (run, n) in runs.items():
            c, w = cpu_wall(functools.partial(run, n))
            cpu[k].append(c / n * 1e3)
            wall[k].append(w / n * 1e3)
    out = {
        "spec": name,
        "steps": steps,
        "batch": trainer.batching.size,
        "chunked": trainer.chunked,
        "load": os.getloadavg()[0],
        "forms": {
            k: {
                "cpu_ms_min": round(min(cpu[k]), 3),
                "cpu_ms_median": round(statistics.median(cpu[k]), 3),
                "wall_ms_min": round(min(wall[k]), 3),
                "wall_ms_median": round(statistics.median(wall[k]), 3),
                "compile_cpu_s": round(compile_s[k][0], 2),
                "compile_wall_s": round(compile_s[k][1], 2),
            }
            for k in runs
        },
    }
    return out


def conv_calls(name: str) -> tuple[list[dict], object, int]:
    """The convolutions of the spec's model as called: shapes and arguments."""
    program = api.compile(SPECS[name])
    trainer = program.trainer_for(dict(program.load_data().splits), log=lambda line: None)
    model = trainer.model
    seen: list[dict] = []
    for _, m in nnx.iter_graph(model):
        if isinstance(m, nnx.Conv):
            f = m.conv_general_dilated

            def record(x, kernel, window_strides, padding, _f=f, **kw):
                seen.append(
                    {
                        "x": tuple(x.shape),
                        "kernel": tuple(kernel.shape),
                        "strides": tuple(window_strides),
                        "padding": padding
                        if isinstance(padding, str)
                        else tuple(map(tuple, padding)),
                        "lhs_dilation": tuple(kw.get("lhs_dilation") or (1, 1)),
                    }
                )
                return _f(x, kernel, window_strides, padding, **kw)

            m.conv_general_dilated = record
    b = trainer.batching.size
    x = trainer.splits["train"][0][:b]
    model.eval()
    model(jnp.asarray(x))
    for call in seen:
        call["x"] = (b, *call["x"][1:])
    return seen, program.module, trainer.batching.steps


def conv_loss(f, call: dict):
    """sum(conv(x, k)**2) of one recorded convolution through `f`."""
    pad = call["padding"]
    pad = pad if isinstance(pad, str) else [tuple(p) for p in pad]

    def loss(x, k):
        dn = jax.lax.conv_dimension_numbers(x.shape, k.shape, ("NHWC", "HWIO", "NHWC"))
        y = f(x, k, call["strides"], pad, lhs_dilation=call["lhs_dilation"], dimension_numbers=dn)
        return jnp.sum(y * y)

    return loss


def scanned(loss, steps: int):
    """`steps` gradients of `loss` inside one lax.scan (each depends on the previous)."""
    grad = jax.grad(loss, argnums=(0, 1))

    def run(x, k):
        def body(carry, _):
            return grad(x + carry[0] * 1e-6, k + carry[1] * 1e-6), None

        return jax.lax.scan(body, (jnp.zeros_like(x), jnp.zeros_like(k)), None, length=steps)[0]

    return jax.jit(run)


def stepwise(g, x, k, steps: int):
    r = None
    for _ in range(steps):
        r = g(x, k)
    return r


def layers(name: str, reps: int) -> list[dict]:
    calls, module, steps = conv_calls(name)
    impl = lowerings(module)
    out = []
    for call in calls:
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.normal(size=call["x"]), jnp.float32)
        k = jnp.asarray(rng.normal(size=call["kernel"]) * 0.1, jnp.float32)
        timed = {}
        for lname, f in impl.items():
            loss = conv_loss(f, call)
            g, s = jax.jit(jax.grad(loss, argnums=(0, 1))), scanned(loss, steps)
            jax.block_until_ready((g(x, k), s(x, k)))
            timed[f"step {lname}"] = functools.partial(stepwise, g, x, k, steps)
            timed[f"scan {lname}"] = functools.partial(s, x, k)
        cpu: dict[str, list[float]] = {key: [] for key in timed}
        for _ in range(reps):
            for key, fn in timed.items():
                cpu[key].append(cpu_wall(fn)[0] / steps * 1e3)
        medians = {key: round(statistics.median(v), 3) for key, v in cpu.items()}
        out.append({**call, "cpu_ms_median": medians})
    return out


def sweep(reps: int, steps: int = 16) -> list[dict]:
    """Single convolutions over a grid of shapes (batch 64, 3x3 kernels), step-mode gradients,
    native against im2col/col2im: the data of the plan's cost model."""
    module = api.compile(SPECS["ae"]).module  # (its program holds im2col_conv and col2im_conv)
    out = []
    grid = [
        (h, cin, cout, s, t)
        for h in (4, 8, 16)
        for cin in (1, 8, 32)
        for cout in (1, 16, 64)
        for s, t in ((1, False), (2, False), (2, True))
    ]
    for h, cin, cout, s, t in grid:
        if t:  # a transposed convolution: input dilated by s, Keras' `same` pads
            call = {
                "padding": (transpose_pads(3, s, "same"),) * 2,
                "strides": (1, 1),
                "lhs_dilation": (s, s),
            }
        else:
            call = {"padding": "SAME", "strides": (s, s), "lhs_dilation": (1, 1)}
        call.update(x=(64, h, h, cin), kernel=(3, 3, cin, cout))
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.normal(size=call["x"]), jnp.float32)
        k = jnp.asarray(rng.normal(size=call["kernel"]) * 0.1, jnp.float32)
        timed = {}
        for lname, f in lowerings(module).items():
            g = jax.jit(jax.grad(conv_loss(f, call), argnums=(0, 1)))
            jax.block_until_ready(g(x, k))
            timed[lname] = functools.partial(stepwise, g, x, k, steps)
        cpu: dict[str, list[float]] = {key: [] for key in timed}
        for _ in range(reps):
            for key, fn in timed.items():
                cpu[key].append(cpu_wall(fn)[0] / steps * 1e3)
        rec = {"h": h, "cin": cin, "cout": cout, "strides": s, "transposed": t}
        rec.update({f"{key}_ms": round(min(v), 4) for key, v in cpu.items()})
        print(json.dumps(rec), flush=True)
        out.append(rec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--specs", default="ae,W2,W4")
    ap.add_argument("--steps", type=int, default=None, help="at most this many steps a round (W4)")
    ap.add_argument("--forms", default=None, help="e.g. 'scan, im2col;scan, canonical'")
    ap.add_argument("--layers", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="single convolutions over a grid")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.sweep:
        rows = sweep(a.reps)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps({"sweep": rows, "load": os.getloadavg()[0]}) + "\n")
        return
    for name in a.specs.split(","):
        rec = (
            {"forms": forms(name, a.reps, a.steps, a.forms and a.forms.split(";"))}
            if not a.layers
            else {"layers": layers(name, a.reps)}
        )
        rec = {"spec": name, **rec}
        print(json.dumps(rec), flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
