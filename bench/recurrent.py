"""The recurrent layers' emitted forms, timed: one W5 epoch (the LSTM forecaster of
../shared/bench, 50 batches of [32, 50, 1], Adam, MSE) as one jitted lax.scan over batches, per
layer form; everything else equal. Interleaved, in one process; prints one JSON line and a table.

    python bench/recurrent.py [--reps 3] [--epochs 5] [--kind lstm|gru|simple_rnn] [--units 64]

Forms: `flax`  nnx.RNN(nnx.LSTMCell / GRUCell / SimpleCell), what nncompile emitted before;
`fused-uK`: the layer nncompile emits (nncompile/registry/layers/recurrent.py: gates fused, the
input projection of all time steps one matmul before the loop) with lax.scan unroll K; `step-uK`:
the same layer with `hoist=False` (each step projects its own input); `flax-opt`:
nnx.RNN(nnx.OptimizedLSTMCell).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from nncompile.expr import in_order  # noqa: E402
from nncompile.registry.layers.recurrent import LAYERS  # noqa: E402

CELLS = {"lstm": nnx.LSTMCell, "gru": nnx.GRUCell, "simple_rnn": nnx.SimpleCell}


def layer_classes(kind: str) -> type:
    ns = {"jax": jax, "jnp": jnp, "nnx": nnx}
    for s in in_order([LAYERS[kind]]):
        exec(s.code, ns)
    return ns[{"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}[kind]]


class Model(nnx.Module):
    def __init__(self, kind, form, units, rngs):
        init = nnx.initializers.glorot_uniform()
        if form in ("flax", "flax-opt"):  # flax-opt: nnx.OptimizedLSTMCell (gates fused per step)
            cell = nnx.OptimizedLSTMCell if form == "flax-opt" else CELLS[kind]
            self.rnn = nnx.RNN(cell(1, units, kernel_init=init, rngs=rngs))
            self.last = True
        else:  # fused-uK: inputs projected before the loop; step-uK: each step projects its own
            unroll, hoist = int(form.split("-u")[1]), form.startswith("fused")
            self.rnn = layer_classes(kind)(
                1, units, kernel_init=init, hoist=hoist, unroll=unroll, rngs=rngs
            )
            self.last = False
        self.out = nnx.Linear(units, 1, kernel_init=init, rngs=rngs)

    def __call__(self, x):
        h = self.rnn(x)
        return self.out(h[:, -1] if self.last else h)


def epoch_fn(model):
    tx = optax.adam(1e-3)
    gdef, state = nnx.split((model, nnx.Optimizer(model, tx, wrt=nnx.Param)))

    def body(state, batch):
        m, o = nnx.merge(gdef, state)
        x, y = batch
        loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(m)
        o.update(m, grads)
        return nnx.state((m, o)), loss

    return state, jax.jit(lambda st, xb, yb: jax.lax.scan(body, st, (xb, yb)), donate_argnums=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--kind", default="lstm", choices=sorted(CELLS))
    ap.add_argument("--units", type=int, default=64)
    ap.add_argument("--forms", default="flax,fused-u1,fused-u2,fused-u5,fused-u10")
    a = ap.parse_args()
    import w5_data

    d = w5_data.sine_windows()
    x, y = d["x_train"], d["y_train"]
    rng = np.random.default_rng(0)
    forms = a.forms.split(",")
    runs = {f: epoch_fn(Model(a.kind, f, a.units, nnx.Rngs(0))) for f in forms}
    states = {f: runs[f][0] for f in forms}
    times: dict[str, list[float]] = {f: [] for f in forms}
    cpu: dict[str, list[float]] = {f: [] for f in forms}  # CPU seconds: steadier on a busy machine
    losses = {}
    for rep in range(a.reps):  # interleaved epoch by epoch, the order rotated every repetition
        order = forms[rep % len(forms) :] + forms[: rep % len(forms)]
        for ep in range(a.epochs):
            idx = rng.permutation(len(x))[:1600].reshape(50, 32)
            xb, yb = jnp.asarray(x[idx]), jnp.asarray(y[idx])
            for f in order:
                t0, c0 = time.perf_counter(), time.process_time()
                states[f], loss = runs[f][1](states[f], xb, yb)
                loss.block_until_ready()
                if ep > 0 or rep > 0:  # the first call compiles
                    times[f].append(time.perf_counter() - t0)
                    cpu[f].append(time.process_time() - c0)
                losses[f] = float(loss.mean())
    base = statistics.median(times[forms[0]])
    cbase = statistics.median(cpu[forms[0]])
    res = {
        f: {
            "epoch_median_s": statistics.median(t),
            "epoch_min_s": min(t),
            "epoch_cpu_median_s": statistics.median(cpu[f]),
            "cpu_speedup_vs_first": cbase / statistics.median(cpu[f]),
            "ex_s": 1600 / statistics.median(t),
            "speedup_vs_first": base / statistics.median(t),
            "last_loss": losses[f],
        }
        for f, t in times.items()
    }
    for f, r in res.items():
        print(
            f"{a.kind:10s} {f:10s} {r['epoch_median_s'] * 1e3:8.1f} ms/epoch  "
            f"{r['ex_s']:9,.0f} ex/s  x{r['speedup_vs_first']:.2f}  "
            f"min {r['epoch_min_s'] * 1e3:7.1f} ms  "
            f"cpu {r['epoch_cpu_median_s'] * 1e3:8.1f} ms  x{r['cpu_speedup_vs_first']:.2f}",
            file=sys.stderr,
        )
    res["config"] = vars(a) | {"backend": jax.default_backend(), "jax": jax.__version__}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
