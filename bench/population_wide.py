"""Does sharing the first layer's product pay for a population on a CPU? W1 by hand (popfuse).

    .venv/bin/python bench/population_wide.py                # 16 members, 7 repetitions
    .venv/bin/python bench/population_wide.py --members 8 --reps 5 --variants map,wide

The members of a learning-rate population see the same batches in the same order, so the first
layer's input is the same for all: x @ [W_1 | ... | W_16] can be ONE wide product (and its
gradient x^T @ [dH_1 | ... | dH_16] another) instead of 16 small ones. That needs every member at
the same step: the steps outside, the members inside. This measures, in pure JAX (no nncompile),
one epoch of 16 W1 members (64-256-256-10, softmax cross-entropy, Adam, 22 steps of 64 rows of
random data) laid out as:

  map              the members one after another, each its whole epoch (runtime.population's CPU
                   layout: a member's 1 MB of parameters and Adam state stays in cache over its
                   steps)
  vmap             every member at once (jax.vmap, x not mapped: JAX's dot_general batching rule
                   folds the member axis of the first layer into one wide product; the later
                   layers are batched products)
  wide             the steps outside; the first layer's product and its gradient wide over the
                   members, the rest of each step member by member (lax.map), Adam vmapped
  wide-unrolled    `wide` with the members of a step unrolled in the program instead of lax.map
  steps-outer-map  the steps outside, every member's step one after another (the loop order of
                   `wide` without its wide products)
  groups<g>        groups of g members vmapped, the groups one after another

Prints the CPU and wall seconds of an epoch per variant (min, median; variants interleaved, order
alternating) and each one's largest parameter difference from `map` after one epoch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

ROWS, BATCH = 1437, 64  # the digits train split of W1
STEPS = ROWS // BATCH


def setup(members: int):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(ROWS, 64)).astype(np.float32))
    y = jax.nn.one_hot(jnp.asarray(rng.integers(0, 10, ROWS)), 10)
    idx = jnp.asarray(rng.permutation(ROWS)[: STEPS * BATCH].reshape(STEPS, BATCH))
    rates = jnp.asarray(np.geomspace(1e-4, 3e-2, members).astype(np.float32))
    keys = jax.random.split(jax.random.key(1), 3)
    params = {}
    for i, (a, b) in enumerate([(64, 256), (256, 256), (256, 10)]):
        params[f"w{i}"] = jax.random.normal(keys[i], (a, b)) / np.sqrt(a)
        params[f"b{i}"] = jnp.zeros((b,))
    zeros = jax.tree.map(jnp.zeros_like, params)
    stack = lambda t: jax.tree.map(lambda a: jnp.broadcast_to(a, (members, *a.shape)), t)
    state = (stack(params), stack(zeros), stack(zeros), jnp.zeros((members,)))
    return (x, y, idx), rates, state


def adam(p, g, m, v, t, lr):
    m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
    v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
    t = t + 1
    c1, c2 = 1 - 0.9**t, 1 - 0.999**t
    p = jax.tree.map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + 1e-8), p, m, v)
    return p, m, v, t


def rest_loss(p, pre1, yb):
    """The loss from the first layer's pre-activation on."""
    h = jax.nn.relu(pre1)
    h = jax.nn.relu(h @ p["w1"] + p["b1"])
    return -(yb * jax.nn.log_softmax(h @ p["w2"] + p["b2"])).sum(-1).mean()


def loss(p, xb, yb):
    return rest_loss(p, xb @ p["w0"] + p["b0"], yb)


def step(s, xb, yb, lr):
    p, m, v, t = s
    value, g = jax.value_and_grad(loss)(p, xb, yb)
    return adam(p, g, m, v, t, lr), value


def variants(data, rates, members: int) -> dict:
    x, y, idx = data

    def epoch(s, lr):
        def body(i, c):
            rows = idx[i]
            s, value = step(c[0], x[rows], y[rows], lr)
            return s, c[1] + value

        return jax.lax.fori_loop(0, STEPS, body, (s, 0.0))

    def wide(s):
        def body(i, c):
            (p, m, v, t), total = c
            rows = idx[i]
            xb, yb = x[rows], y[rows]
            pre1 = jnp.einsum("bi,mij->mbj", xb, p["w0"]) + p["b0"][:, None, :]
            rest = {k: p[k] for k in ("w1", "b1", "w2", "b2")}

            def member(a):
                value, (g, g_pre1) = jax.value_and_grad(rest_loss, argnums=(0, 1))(a[0], a[1], yb)
                return value, g, g_pre1

            value, g, g_pre1 = jax.lax.map(member, (rest, pre1))
            g = {**g, "w0": jnp.einsum("bi,mbj->mij", xb, g_pre1), "b0": g_pre1.sum(1)}
            return jax.vmap(adam)(p, g, m, v, t, rates), total + value

        return jax.lax.fori_loop(0, STEPS, body, (s, jnp.zeros((members,))))

    def wide_unrolled(s):
        def body(i, c):
            (p, m, v, t), total = c
            rows = idx[i]
            xb, yb = x[rows], y[rows]
            pre1 = jnp.einsum("bi,mij->mbj", xb, p["w0"]) + p["b0"][:, None, :]
            outs = []
            for k in range(members):
                rest = {n: p[n][k] for n in ("w1", "b1", "w2", "b2")}
                outs.append(jax.value_and_grad(rest_loss, argnums=(0, 1))(rest, pre1[k], yb))
            value = jnp.stack([o[0] for o in outs])
            g = {n: jnp.stack([o[1][0][n] for o in outs]) for n in ("w1", "b1", "w2", "b2")}
            g_pre1 = jnp.stack([o[1][1] for o in outs])
            g = {**g, "w0": jnp.einsum("bi,mbj->mij", xb, g_pre1), "b0": g_pre1.sum(1)}
            return jax.vmap(adam)(p, g, m, v, t, rates), total + value

        return jax.lax.fori_loop(0, STEPS, body, (s, jnp.zeros((members,))))

    def steps_outer_map(s):
        def body(i, c):
            rows = idx[i]
            xb, yb = x[rows], y[rows]
            s, value = jax.lax.map(lambda a: step(a[0], xb, yb, a[1]), (c[0], rates))
            return s, c[1] + value

        return jax.lax.fori_loop(0, STEPS, body, (s, jnp.zeros((members,))))

    def groups(g):
        def run(s):
            cut = lambda a: a.reshape((members // g, g, *a.shape[1:]))
            out = jax.lax.map(
                lambda a: jax.vmap(epoch)(a[0], a[1]), (jax.tree.map(cut, s), cut(rates))
            )
            return jax.tree.map(lambda a: a.reshape((members, *a.shape[2:])), out)

        return run

    found = {
        "map": lambda s: jax.lax.map(lambda a: epoch(a[0], a[1]), (s, rates)),
        "vmap": lambda s: jax.vmap(epoch)(s, rates),
        "wide": wide,
        "wide-unrolled": wide_unrolled,
        "steps-outer-map": steps_outer_map,
    }
    for g in (2, 4, 8):
        if members % g == 0 and g < members:
            found[f"groups{g}"] = groups(g)
    return {k: jax.jit(f) for k, f in found.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--variants", default="map,vmap,wide,steps-outer-map,groups4")
    a = ap.parse_args()
    data, rates, state = setup(a.members)
    every = variants(data, rates, a.members)
    chosen = {k: every[k] for k in a.variants.split(",") if k in every}
    params = {k: jax.block_until_ready(f(state))[0][0] for k, f in chosen.items()}  # compiles
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in chosen}
    for rep in range(a.reps):
        for name in list(chosen)[:: 1 if rep % 2 == 0 else -1]:
            c, w = time.process_time(), time.perf_counter()
            jax.block_until_ready(chosen[name](state))
            times[name].append((time.process_time() - c, time.perf_counter() - w))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{a.members} W1 members, one epoch of {STEPS} steps, {a.reps} reps, load {load}")
    base = params.get("map")
    for name, t in times.items():
        cs, ws = [c for c, _ in t], [w for _, w in t]
        diff = ""
        if base is not None:
            d = max(
                float(jnp.abs(p - q).max())
                for p, q in zip(jax.tree.leaves(params[name]), jax.tree.leaves(base), strict=True)
            )
            diff = f"   max |param - map's| after 1 epoch {d:.2g}"
        print(
            f"{name:16s} CPU s/epoch min {min(cs):.4f} median {statistics.median(cs):.4f}   "
            f"wall min {min(ws):.4f} median {statistics.median(ws):.4f}{diff}"
        )


if __name__ == "__main__":
    main()
