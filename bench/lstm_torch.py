"""W5's LSTM epoch, the emitted layer against PyTorch's nn.LSTM, timed in CPU seconds in ONE
process (run it with a Python that has torch and keras: the bench venv of bench/README.md).

    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        python bench/lstm_torch.py [--epochs 4] [--forms emitted,vjp,torch]

On a shared machine wall time measures the scheduler, not the program: a process's CPU seconds
per epoch are steadier, and single-threaded they compare the work each program does. An epoch =
50 batches of [32, 50, 1] (the references' W5 train rows, one permutation per epoch shared by all
forms), MSE, Adam 1e-3, the same Glorot-uniform weights everywhere.

Forms:
  emitted  the LSTM nncompile emits (registry/layers/recurrent.py, gates fused, per-step input
           projection, scan unroll 1 on a CPU), one jitted lax.scan over the epoch's batches
           (bench/recurrent.py's harness)
  vjp      a candidate: the same cell with a hand-written backward (jax.custom_vjp): the gates'
           activations saved by the forward loop, the backward loop doing one matmul per step
           (dh = dz @ R^T), and the weight gradients as ONE matmul over all steps after it (as
           cuDNN does) instead of one accumulation per step
  torch    PyTorch eager: nn.LSTM(1, 64, batch_first=True) + nn.Linear, zero_grad/backward/step
  keras    Keras 3 on JAX: LSTM(64) + Dense(1), `fit` of one epoch a call (the loss is the epoch's
           mean, not the last batch's)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import recurrent  # noqa: E402
import w5_data  # noqa: E402

U = 64


def glorot(rng, shape):
    lim = np.sqrt(6 / sum(shape))
    return rng.uniform(-lim, lim, shape).astype(np.float32)


def vjp_lstm(k, r, b, xs, h0, c0):
    """tanh LSTM over xs [T, B, F] -> the last h, with a hand-written backward."""

    def gates(z, c):
        i, f, g, o = jnp.split(z, 4, axis=-1)
        i, f, g, o = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)
        c2 = f * c + i * g
        return i, f, g, o, c2, jnp.tanh(c2)

    def fwd(k, r, b, xs, h0, c0):
        def step(carry, xt):
            c, h = carry
            i, f, g, o, c2, tc = gates(xt @ k + b + h @ r, c)
            return (c2, o * tc), (jnp.concatenate([i, f, g, o], -1), c, tc, h)

        (_, h), saved = jax.lax.scan(step, (c0, h0), xs)
        return h, (k, r, xs, *saved)

    def bwd(res, dh):
        k, r, xs, acts, cprev, tcs, hprev = res

        def step(carry, t):
            dc, dh = carry
            a, cp, tc = t
            i, f, g, o = jnp.split(a, 4, axis=-1)
            dc = dc + dh * o * (1 - tc * tc)
            di, df = dc * g * i * (1 - i), dc * cp * f * (1 - f)
            dg, do = dc * i * (1 - g * g), dh * tc * o * (1 - o)
            dz = jnp.concatenate([di, df, dg, do], -1)
            return (dc * f, dz @ r.T), dz

        (dc0, dh0), dz = jax.lax.scan(
            step, (jnp.zeros_like(dh), dh), (acts, cprev, tcs), reverse=True
        )
        return (
            jnp.einsum("tbf,tbg->fg", xs, dz),
            jnp.einsum("tbu,tbg->ug", hprev, dz),
            dz.sum((0, 1)),
            jnp.einsum("tbg,fg->tbf", dz, k),
            dh0,
            dc0,
        )

    run = jax.custom_vjp(lambda *a: fwd(*a)[0])
    run.defvjp(fwd, bwd)
    return run(k, r, b, xs, h0, c0)


def make_vjp(w):
    tx = optax.adam(1e-3)

    def predict(p, x):
        z = jnp.zeros((x.shape[0], U), x.dtype)
        h = vjp_lstm(p["k"], p["r"], p["b"], jnp.swapaxes(x, 0, 1), z, z)
        return h @ p["w"] + p["wb"]

    def body(st, batch):
        p, o = st
        x, y = batch
        loss, g = jax.value_and_grad(lambda p: jnp.mean((predict(p, x) - y) ** 2))(p)
        u, o = tx.update(g, o, p)
        return (optax.apply_updates(p, u), o), loss

    p = {k: jnp.asarray(v) for k, v in w.items()}
    state = {"st": (p, tx.init(p))}
    fn = jax.jit(lambda st, xb, yb: jax.lax.scan(body, st, (xb, yb)), donate_argnums=0)

    def epoch(xb, yb):
        state["st"], loss = fn(state["st"], jnp.asarray(xb), jnp.asarray(yb))
        return float(loss[-1])

    return epoch


def make_emitted(w):
    from flax import nnx

    model = recurrent.Model("lstm", "step-u1", U, nnx.Rngs(0))
    model.rnn.kernel[...] = jnp.asarray(w["k"])
    model.rnn.recurrent_kernel[...] = jnp.asarray(w["r"])
    model.rnn.bias[...] = jnp.zeros(4 * U)
    model.out.kernel[...] = jnp.asarray(w["w"])
    state, fn = recurrent.epoch_fn(model)
    box = {"st": state}

    def epoch(xb, yb):
        box["st"], loss = fn(box["st"], jnp.asarray(xb), jnp.asarray(yb))
        return float(loss[-1])

    return epoch


def make_torch(w):
    import torch

    class Forecaster(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(1, U, batch_first=True)
            self.out = torch.nn.Linear(U, 1)

        def forward(self, x):
            return self.out(self.lstm(x)[0][:, -1])

    m = Forecaster()
    with torch.no_grad():
        m.lstm.weight_ih_l0.copy_(torch.from_numpy(w["k"].T.copy()))
        m.lstm.weight_hh_l0.copy_(torch.from_numpy(w["r"].T.copy()))
        m.lstm.bias_ih_l0.zero_()
        m.lstm.bias_hh_l0.zero_()
        m.out.weight.copy_(torch.from_numpy(w["w"].T.copy()))
        m.out.bias.zero_()
    opt = torch.optim.Adam(m.parameters(), 1e-3)

    def epoch(xb, yb):
        for i in range(xb.shape[0]):
            opt.zero_grad(set_to_none=True)
            loss = torch.mean((m(torch.from_numpy(xb[i])) - torch.from_numpy(yb[i])) ** 2)
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


def make_keras(w):
    """Keras 3 on JAX (KERAS_BACKEND=jax), `fit` one epoch a call, as d_keras_jax.py's default."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    model = keras.Sequential([keras.Input((50, 1)), keras.layers.LSTM(U), keras.layers.Dense(1)])
    lstm, dense = model.layers
    lstm.set_weights([w["k"], w["r"], w["b"]])
    dense.set_weights([w["w"], w["wb"]])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")

    def epoch(xb, yb):
        h = model.fit(
            xb.reshape(-1, 50, 1),
            yb.reshape(-1, 1),
            batch_size=32,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        return h.history["loss"][-1]

    return epoch


def interleave(runs: dict, x: np.ndarray, y: np.ndarray, epochs: int, rng) -> tuple:
    """Time every form's epoch on the same batches, interleaved epoch by epoch (the order rotated),
    the first epoch untimed (it compiles). Returns CPU and wall seconds per form and epoch, and
    each form's last batch loss."""
    forms = list(runs)
    cpu: dict[str, list[float]] = {f: [] for f in forms}
    wall: dict[str, list[float]] = {f: [] for f in forms}
    last = {}
    for ep in range(epochs + 1):
        idx = rng.permutation(len(x))[:1600].reshape(50, 32)
        xb, yb = x[idx], y[idx]
        for f in forms[ep % len(forms) :] + forms[: ep % len(forms)]:
            t0, c0 = time.perf_counter(), time.process_time()
            last[f] = runs[f](xb, yb)
            if ep:
                wall[f].append(time.perf_counter() - t0)
                cpu[f].append(time.process_time() - c0)
    return cpu, wall, last


def report(cpu: dict, wall: dict, last: dict, label: str = "") -> None:
    forms = list(cpu)
    base = statistics.median(cpu[forms[0]])
    for f in forms:
        c = statistics.median(cpu[f])
        print(
            f"{label}{f:10s} CPU {c * 1e3:7.1f} ms/epoch (min {min(cpu[f]) * 1e3:6.1f}, "
            f"x{c / base:.2f} of {forms[0]})  wall {statistics.median(wall[f]) * 1e3:7.1f} ms  "
            f"last batch loss {last[f]:.4f}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4, help="timed epochs (after one untimed)")
    ap.add_argument("--forms", default="emitted,vjp,torch")
    a = ap.parse_args()
    d = w5_data.sine_windows()
    x, y = d["x_train"], d["y_train"]
    rng = np.random.default_rng(0)
    w = {
        "k": glorot(rng, (1, 4 * U)),
        "r": glorot(rng, (U, 4 * U)),
        "b": np.zeros(4 * U, np.float32),
        "w": glorot(rng, (U, 1)),
        "wb": np.zeros(1, np.float32),
    }
    makers = {"emitted": make_emitted, "vjp": make_vjp, "torch": make_torch, "keras": make_keras}
    runs = {f: makers[f](w) for f in a.forms.split(",")}
    report(*interleave(runs, x, y, a.epochs, rng))


if __name__ == "__main__":
    main()
