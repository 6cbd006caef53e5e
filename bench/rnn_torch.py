"""W5-shaped epochs for the GRU and the simple RNN, as bench/lstm_torch.py does for the LSTM: the
emitted layer (and candidate forms of it) against PyTorch's nn.GRU / nn.RNN and Keras 3's GRU /
SimpleRNN, timed in CPU seconds in ONE process (lstm_torch.py's harness: the same batches, one
permutation per epoch, forms interleaved epoch by epoch with the order rotated). Run it with the
bench venv's Python (torch and keras: bench/README.md):

    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 KERAS_BACKEND=jax
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        python bench/rnn_torch.py --kind gru|simple_rnn [--epochs 4] [--forms emitted,torch,keras]

An epoch = 50 batches of [32, 50, 1] (W5's train rows), MSE, Adam 1e-3, 64 units then Dense(1),
the same Glorot-uniform weights (zero biases) in every form: the same function, so the last batch
losses agree up to float order (Keras reports its epoch's mean loss instead).

Forms:
  emitted   the layer nncompile emits (registry/layers/recurrent.py) with its defaults; a form
            NAME-step, NAME-hoist, NAME-uK (e.g. emitted-step-u2) pins the options: each step
            projecting its own input (hoist=False) or every step's input projected by ONE matmul
            before the loop (hoist=True); scan unroll K
  xla       (gru) the GRU emitted before: its cell in the shared loop (RecurrentLayer.loop),
            differentiated by XLA (simple_rnn: the emitted layer)
  rz        (gru) candidate cell: the r and z gates' sigmoid as one op over [B, 2U], slices
            instead of splits, h' = n + z (h - n)
  vjp       candidate: a hand-written backward (jax.custom_vjp, tanh, many-to-one): the forward
            loop keeps every h (gru: and r, z, n, (h R)_n); the backward loop does one matmul per
            step (dh = dz R^T) and the weight gradients are ONE matmul over all steps after it
            (lstm_torch.py's `vjp` for these cells)
  torch     PyTorch eager: nn.GRU / nn.RNN(1, 64, batch_first=True) + nn.Linear
  keras     Keras 3 on JAX: GRU(64) / SimpleRNN(64) + Dense(1), `fit` of one epoch a call
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import lstm_torch  # noqa: E402
import recurrent  # noqa: E402
import w5_data  # noqa: E402

U = lstm_torch.U
GATES = {"gru": 3, "simple_rnn": 1}


class Forecaster(nnx.Module):
    def __init__(self, layer, rngs):
        self.rnn = layer
        self.out = nnx.Linear(U, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(self.rnn(x))


def candidate_classes(kind: str) -> dict[str, type]:
    base = recurrent.layer_classes(kind)

    class RZ(base):  # type: ignore[misc, valid-type]
        def cell(self, proj, r, act):
            u = self.units

            def step(carry, xw_t):
                (h,) = carry
                xw, hr = proj(xw_t), h @ r
                rz = jax.nn.sigmoid(xw[:, : 2 * u] + hr[:, : 2 * u])
                n = act(xw[:, 2 * u :] + rz[:, :u] * hr[:, 2 * u :])
                return (n + rz[:, u:] * (h - n),)

            return step

    class Xla(base):  # type: ignore[misc, valid-type]
        """The GRU as emitted before: its cell in the shared loop, differentiated by XLA."""

        loop = base.__mro__[1].loop

        def cell(self, proj, r, act):
            def step(carry, xw_t):
                (h,) = carry
                x_r, x_z, x_n = jnp.split(proj(xw_t), 3, axis=-1)
                h_r, h_z, h_n = jnp.split(h @ r, 3, axis=-1)
                z = jax.nn.sigmoid(x_z + h_z)
                n = act(x_n + jax.nn.sigmoid(x_r + h_r) * h_n)
                return ((1.0 - z) * n + z * h,)

            return step

    class Vjp(base):  # type: ignore[misc, valid-type]
        def __call__(self, x, initial_carry=None, return_carry=False):
            k, r, b = self.kernel[...], self.recurrent_kernel[...], self.bias[...]
            run = vjp_gru if kind == "gru" else vjp_rnn
            return run(k, r, b, jnp.swapaxes(x, 0, 1))

    return {"emitted": base, "rz": RZ, "vjp": Vjp, "xla": Xla if kind == "gru" else base}


def vjp_rnn(k, r, b, xs):
    """tanh Elman layer over xs [T, B, F] from zeros -> the last h, with a hand-written backward."""

    def fwd(k, r, b, xs):
        def step(h, xt):
            h2 = jnp.tanh(xt @ k + b + h @ r)
            return h2, h2

        h0 = jnp.zeros((xs.shape[1], r.shape[0]), xs.dtype)
        h, hs = jax.lax.scan(step, h0, xs)
        return h, (k, r, xs, h0, hs)

    def bwd(res, dh):
        k, r, xs, h0, hs = res

        def step(dh, h):
            dz = dh * (1 - h * h)
            return dz @ r.T, dz

        _, dz = jax.lax.scan(step, dh, hs, reverse=True)
        hprev = jnp.concatenate([h0[None], hs[:-1]], 0)
        return (
            jnp.einsum("tbf,tbg->fg", xs, dz),
            jnp.einsum("tbu,tbg->ug", hprev, dz),
            dz.sum((0, 1)),
            jnp.einsum("tbg,fg->tbf", dz, k),
        )

    run = jax.custom_vjp(lambda *a: fwd(*a)[0])
    run.defvjp(fwd, bwd)
    return run(k, r, b, xs)


def vjp_gru(k, r, b, xs):
    """tanh GRU over xs [T, B, F] from zeros -> the last h, with a hand-written backward: the
    forward loop keeps r, z, n, (h R)_n and h per step; the weight gradients after the loop."""

    def fwd(k, r, b, xs):
        u = r.shape[0]

        def step(h, xw):
            hr = h @ r
            rz = jax.nn.sigmoid(xw[:, : 2 * u] + hr[:, : 2 * u])
            rr, z, hn = rz[:, :u], rz[:, u:], hr[:, 2 * u :]
            n = jnp.tanh(xw[:, 2 * u :] + rr * hn)
            return n + z * (h - n), (rr, z, n, hn, h)

        h0 = jnp.zeros((xs.shape[1], u), xs.dtype)
        h, saved = jax.lax.scan(step, h0, jnp.einsum("tbf,fg->tbg", xs, k) + b)
        return h, (k, r, xs, *saved)

    def bwd(res, dh):
        k, r, xs, rr, z, n, hn, hprev = res

        def step(dh, t):
            rr, z, n, hn, h = t
            dan = dh * (1 - z) * (1 - n * n)
            dar, daz = dan * hn * rr * (1 - rr), dh * (h - n) * z * (1 - z)
            dhr = jnp.concatenate([dar, daz, dan * rr], -1)
            return dh * z + dhr @ r.T, (dhr, dan)

        _, (dhr, dan) = jax.lax.scan(step, dh, (rr, z, n, hn, hprev), reverse=True)
        dxw = jnp.concatenate([dhr[..., : 2 * r.shape[0]], dan], -1)
        return (
            jnp.einsum("tbf,tbg->fg", xs, dxw),
            jnp.einsum("tbu,tbg->ug", hprev, dhr),
            dxw.sum((0, 1)),
            jnp.einsum("tbg,fg->tbf", dxw, k),
        )

    run = jax.custom_vjp(lambda *a: fwd(*a)[0])
    run.defvjp(fwd, bwd)
    return run(k, r, b, xs)


def make_layer(kind: str, form: str):
    """The emitted layer or a candidate; ``-step`` / ``-hoist`` / ``-uK`` pin hoist and unroll."""
    name, *pins = form.split("-")
    cls = candidate_classes(kind)[name]
    kw: dict = {}
    for pin in pins:
        if pin in ("step", "hoist"):
            kw["hoist"] = pin == "hoist"
        else:
            kw["unroll"] = int(pin.removeprefix("u"))

    def make(w):
        rngs = nnx.Rngs(0)
        init = nnx.initializers.glorot_uniform()
        model = Forecaster(cls(1, U, kernel_init=init, rngs=rngs, **kw), rngs)
        model.rnn.kernel[...] = jnp.asarray(w["k"])
        model.rnn.recurrent_kernel[...] = jnp.asarray(w["r"])
        model.rnn.bias[...] = jnp.asarray(w["b"])
        model.out.kernel[...] = jnp.asarray(w["w"])
        model.out.bias[...] = jnp.asarray(w["wb"])
        state, fn = recurrent.epoch_fn(model)
        box = {"st": state}

        def epoch(xb, yb):
            box["st"], loss = fn(box["st"], jnp.asarray(xb), jnp.asarray(yb))
            return float(loss[-1])

        return epoch

    return make


def make_torch(kind: str):
    def make(w):
        import torch

        class Forecaster(torch.nn.Module):
            def __init__(self):
                super().__init__()
                rnn = torch.nn.GRU if kind == "gru" else torch.nn.RNN
                self.rnn = rnn(1, U, batch_first=True)
                self.out = torch.nn.Linear(U, 1)

            def forward(self, x):
                return self.out(self.rnn(x)[0][:, -1])

        m = Forecaster()
        with torch.no_grad():  # torch's gate order r, z, n is ours
            m.rnn.weight_ih_l0.copy_(torch.from_numpy(w["k"].T.copy()))
            m.rnn.weight_hh_l0.copy_(torch.from_numpy(w["r"].T.copy()))
            m.rnn.bias_ih_l0.copy_(torch.from_numpy(w["b"].copy()))
            m.rnn.bias_hh_l0.zero_()
            m.out.weight.copy_(torch.from_numpy(w["w"].T.copy()))
            m.out.bias.copy_(torch.from_numpy(w["wb"].copy()))
        opt = torch.optim.Adam(m.parameters(), 1e-3)

        def epoch(xb, yb):
            for i in range(xb.shape[0]):
                opt.zero_grad(set_to_none=True)
                loss = torch.mean((m(torch.from_numpy(xb[i])) - torch.from_numpy(yb[i])) ** 2)
                loss.backward()
                opt.step()
            return loss.item()

        return epoch

    return make


def make_keras(kind: str):
    def make(w):
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras

        layer = keras.layers.GRU(U) if kind == "gru" else keras.layers.SimpleRNN(U)
        model = keras.Sequential([keras.Input((50, 1)), layer, keras.layers.Dense(1)])
        if kind == "gru":  # Keras' gate order z, r, h; reset_after: biases [input, recurrent]
            g = [slice(U, 2 * U), slice(0, U), slice(2 * U, 3 * U)]
            k, r = (np.concatenate([m[:, s] for s in g], 1) for m in (w["k"], w["r"]))
            b = np.stack([np.concatenate([w["b"][s] for s in g]), np.zeros(3 * U, np.float32)])
            layer.set_weights([k, r, b])
        else:
            layer.set_weights([w["k"], w["r"], w["b"]])
        model.layers[-1].set_weights([w["w"], w["wb"]])
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

    return make


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="gru", choices=sorted(GATES))
    ap.add_argument("--epochs", type=int, default=4, help="timed epochs (after one untimed)")
    ap.add_argument("--forms", default="emitted,torch,keras")
    a = ap.parse_args()
    d = w5_data.sine_windows()
    x, y = d["x_train"], d["y_train"]
    rng = np.random.default_rng(0)
    g = GATES[a.kind]
    w = {
        "k": lstm_torch.glorot(rng, (1, g * U)),
        "r": lstm_torch.glorot(rng, (U, g * U)),
        "b": np.zeros(g * U, np.float32),
        "w": lstm_torch.glorot(rng, (U, 1)),
        "wb": np.zeros(1, np.float32),
    }
    runs = {}
    for f in a.forms.split(","):
        maker = {"torch": make_torch, "keras": make_keras}.get(f)
        runs[f] = (maker(a.kind) if maker else make_layer(a.kind, f))(w)
    lstm_torch.report(*lstm_torch.interleave(runs, x, y, a.epochs, rng), label=f"{a.kind} ")


if __name__ == "__main__":
    main()
