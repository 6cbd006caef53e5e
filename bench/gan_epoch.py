"""W6's pieces in one process: the GAN trainer's compiled epoch against a hand-written pure-JAX
epoch of the same networks, interleaved, so that the load of a shared machine falls on both alike.

    .venv/bin/python bench/gan_epoch.py [--epochs 60]
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        taskset -c 0 .venv/bin/python bench/gan_epoch.py     # one thread: CPU time = work

Rows (each epoch: 28 steps of 64, one discriminator then one generator Adam update per step):
  nncompile         GanTrainer's epoch function as the fit calls it (traced bounds: W6 is chunked)
  nncompile:static  the same with static bounds (a scan of known length)
  jax:host-order    hand-written: the epoch's batches gathered on the host and moved (as
                    ../shared/bench/c_jax_scan.py does), one lax.scan
  jax:device-order  hand-written: the permutation and the gather on the device, as nncompile
  jax:step          hand-written: one jitted call per step (the state donated), as
                    ../shared/bench/c_jax_scan.py's "step" variant
Then the host (Python thread) CPU per epoch of a whole fit (GanTrainer.fit) and of a hand-written
loop: what the per-epoch work outside the compiled epoch costs.
Medians and 10th percentiles of wall and process CPU time per epoch.
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import nncompile
from nncompile.runtime import gan
from nncompile.runtime.gan import GanTrainer

SPEC = """
data pixels { source: sklearn("digits")  split: {train: 1}  normalize: minmax }
model Generator {
  input z: [32]
  dense(128, activation=relu)
  dense(256, activation=relu)
  dense(64, activation=sigmoid)
}
model Discriminator {
  input x: [64]
  dense(256, activation=leaky_relu(0.2))
  dense(128, activation=leaky_relu(0.2))
  dense(1)
}
train gan {
  objective: gan(generator=Generator, discriminator=Discriminator, noise=normal([32]))
  data: pixels  loss: non_saturating  optimizer: adam(lr=2e-4, b1=0.5)
  batch_size: 64  epochs: 30  samples: {every: 30, count: 64}  seed: 0
}
"""
BATCH, NOISE = 64, 32
CHUNK_MIN_WORK = gan.CHUNK_MIN_WORK


def pixels() -> np.ndarray:
    x = load_digits().data.astype(np.float32)
    lo, hi = x.min(0), x.max(0)
    return (x - lo) / np.where(hi > lo, hi - lo, 1.0)


def hand_written(x: np.ndarray):
    """A pure-JAX W6 epoch: (params, Adam states) carried through lax.scan."""
    tx = optax.adam(2e-4, b1=0.5)
    rng = np.random.default_rng(0)

    def layer(i, o):
        limit = np.sqrt(6 / (i + o))
        return jnp.asarray(rng.uniform(-limit, limit, (i, o)), jnp.float32), jnp.zeros(o)

    gen = [layer(32, 128), layer(128, 256), layer(256, 64)]
    dis = [layer(64, 256), layer(256, 128), layer(128, 1)]

    def g_apply(p, z):
        h = jax.nn.relu(z @ p[0][0] + p[0][1])
        h = jax.nn.relu(h @ p[1][0] + p[1][1])
        return jax.nn.sigmoid(h @ p[2][0] + p[2][1])

    def d_apply(p, v):
        h = jax.nn.leaky_relu(v @ p[0][0] + p[0][1], 0.2)
        h = jax.nn.leaky_relu(h @ p[1][0] + p[1][1], 0.2)
        return h @ p[2][0] + p[2][1]

    def step(carry, inputs):
        gp, dp, gs, ds = carry
        xb, key = inputs
        kd, kg = jax.random.split(key)
        zd = jax.random.normal(kd, (xb.shape[0], NOISE))
        zg = jax.random.normal(kg, (xb.shape[0], NOISE))

        def d_loss(dp):
            fake = jax.lax.stop_gradient(g_apply(gp, zd))
            return jnp.mean(jax.nn.softplus(-d_apply(dp, xb)) + jax.nn.softplus(d_apply(dp, fake)))

        dl, grads = jax.value_and_grad(d_loss)(dp)
        updates, ds = tx.update(grads, ds, dp)
        dp = optax.apply_updates(dp, updates)
        gl, grads = jax.value_and_grad(
            lambda p: jnp.mean(jax.nn.softplus(-d_apply(dp, g_apply(p, zg))))
        )(gp)
        updates, gs = tx.update(grads, gs, gp)
        return (optax.apply_updates(gp, updates), dp, gs, ds), (dl, gl)

    steps = len(x) // BATCH

    @jax.jit
    def host_order(carry, xb, epoch):
        keys = jax.random.split(jax.random.fold_in(jax.random.key(1), epoch), steps)
        return jax.lax.scan(step, carry, (xb, keys))

    @jax.jit
    def device_order(carry, data, epoch):
        key = jax.random.fold_in(jax.random.key(1), epoch)
        rows = jax.random.permutation(key, data.shape[0])[: steps * BATCH].reshape(steps, BATCH)
        keys = jax.random.split(jax.random.fold_in(key, 1), steps)
        return jax.lax.scan(lambda c, r: step(c, (data[r[0]], r[1])), carry, (rows, keys))

    @functools.partial(jax.jit, donate_argnums=0)
    def one_step(carry, xb, epoch, i):
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(1), epoch), i)
        return step(carry, (xb, key))

    return (gen, dis, tx.init(gen), tx.init(dis)), host_order, device_order, one_step


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--epochs", type=int, default=60)
    a = ap.parse_args()
    x = pixels()
    program = nncompile.compile(text=SPEC)
    trainer = GanTrainer(program.module, {"train": (x, None)}, epochs=30)
    data, steps = trainer._on_device(), trainer.batching.steps
    gan.CHUNK_MIN_WORK = 2**62  # a second trainer whose epoch has static bounds
    static = GanTrainer(program.module, {"train": (x, None)}, epochs=30)
    assert trainer.chunked and not static.chunked
    carry0, host_order, device_order, one_step = hand_written(x)
    device_x = jnp.asarray(x)
    states = {"nncompile": trainer._leaves(), "nncompile:static": static._leaves()}
    carries = {
        "jax:host-order": carry0,
        "jax:device-order": jax.tree.map(jnp.copy, carry0),
        "jax:step": jax.tree.map(jnp.copy, carry0),
    }
    shuffle = np.random.default_rng(0)

    def run(name: str, epoch: int):
        zeros = np.zeros(2, np.float32)
        if name == "nncompile":
            states[name], out = trainer._fns.epoch(states[name], zeros, epoch, data, 0, steps)
        elif name == "nncompile:static":
            states[name], out = static._fns.epoch(states[name], zeros, epoch, data, 0, steps)
        elif name == "jax:host-order":
            idx = shuffle.permutation(len(x))[: steps * BATCH].reshape(steps, BATCH)
            carries[name], out = host_order(carries[name], jnp.asarray(x[idx]), epoch)
        elif name == "jax:device-order":
            carries[name], out = device_order(carries[name], device_x, epoch)
        else:  # one call per step, the state donated, batches sliced on the host
            xb = x[shuffle.permutation(len(x))[: steps * BATCH].reshape(steps, BATCH)]
            for i in range(steps):
                carries[name], out = one_step(carries[name], xb[i], np.int32(epoch), np.int32(i))
        jax.block_until_ready(out)

    names = ["nncompile", "nncompile:static", "jax:host-order", "jax:device-order", "jax:step"]
    for name in names:
        run(name, 0)  # compile
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for epoch in range(1, a.epochs + 1):
        for name in names[epoch % 5 :] + names[: epoch % 5]:  # rotated order
            t0, c0 = time.perf_counter(), time.process_time()
            run(name, epoch)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    print(f"{'epoch of W6':18s} {'wall ms med':>11s} {'p10':>7s} {'CPU ms med':>11s} {'p10':>7s}")
    for n in names:
        w, c = np.array(wall[n]) * 1e3, np.array(cpu[n]) * 1e3
        print(
            f"{n:18s} {np.median(w):11.2f} {np.percentile(w, 10):7.2f} "
            f"{np.median(c):11.2f} {np.percentile(c, 10):7.2f}"
        )

    # the host's share: Python-thread CPU per epoch of a 30-epoch fit and of a hand-written loop
    class Steps:  # a step callback, as the progress bar and bench/run.py's clock are
        def on_step_end(self, *args):
            pass

    gan.CHUNK_MIN_WORK = CHUNK_MIN_WORK
    fitting = GanTrainer(program.module, {"train": (x, None)}, epochs=30, callbacks=[Steps()])
    fitting.fit()  # compiles
    carry = carries["jax:host-order"]
    for rep in range(2):
        t = time.thread_time()
        fitting.fit()
        fit_host = (time.thread_time() - t) / 30
        t = time.thread_time()
        for epoch in range(30):
            idx = shuffle.permutation(len(x))[: steps * BATCH].reshape(steps, BATCH)
            carry, out = host_order(carry, jnp.asarray(x[idx]), epoch)
            jax.block_until_ready(out)
        loop_host = (time.thread_time() - t) / 30
        print(
            f"host CPU per epoch (rep {rep}): GanTrainer.fit {fit_host * 1e3:.2f} ms, "
            f"hand-written loop {loop_host * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main()
