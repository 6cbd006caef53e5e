"""W6's compiled epoch, nncompile against the pure-JAX reference (../shared/bench/c_jax_scan.py's
gan_step, its keys and its host-ordered batches): the optimized HLO of both, summarised (the ops
of the loop body and of the whole module, fusions by kind, RNG, copies, dots), written to --dump
for a diff, and the CPU time of an epoch and of the per-step parts (noise draws by PRNG
implementation), in one process, interleaved.

    python bench/gan_hlo.py [--dump /tmp/gan_hlo] [--reps 7] [--epochs 10]
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        taskset -c 0 python bench/gan_hlo.py     # one thread: CPU time = work
"""

from __future__ import annotations

import argparse
import collections
import math
import re
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gan_epoch  # noqa: E402  (the W6 spec text and its pixels)

import nncompile  # noqa: E402
from nncompile.runtime.gan import GanTrainer  # noqa: E402

BATCH, NOISE, LEAKY = 64, 32, 0.2


# ---- the HLO ------------------------------------------------------------------------------------
_HEAD = re.compile(r"^(ENTRY )?%?([\w.\-]+) ")
_INSTR = re.compile(r"^\s*(ROOT )?%?([\w.\-]+) = ")


def _opcode(rest: str) -> str:
    """The opcode after `name = `: skip the shape (a tuple shape is parenthesised)."""
    if rest.startswith("("):
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                rest = rest[i + 1 :].lstrip()
                break
    else:
        rest = rest.split(" ", 1)[1]
    return rest.split("(", 1)[0]


def computations(text: str) -> dict[str, list[tuple[str, str]]]:
    """{computation: [(opcode, line)]} of an HLO module's text."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        if not line.startswith(" ") and line.rstrip().endswith("{"):
            m = _HEAD.match(line)
            current = m.group(2) if m else None
            if current is not None:
                out[current] = []
            continue
        m = _INSTR.match(line)
        if m and current is not None:
            out[current].append((_opcode(line[m.end() :]), line))
    return out


_BYTES = {"f32": 4, "s32": 4, "u32": 4, "f16": 2, "bf16": 2, "pred": 1, "s8": 1, "u8": 1}


def _size(shape: str) -> int:
    """Bytes of an array shape like f32[256,128]{1,0}."""
    m = re.match(r"(\w+)\[([\d,]*)\]", shape)
    if not m:
        return 0
    dims = [int(d) for d in m.group(2).split(",") if d]
    return _BYTES.get(m.group(1), 4) * math.prod(dims)


def summary(text: str) -> dict:
    """The step loop's body (the largest while body: one training step) and the whole module."""
    comps = computations(text)
    fused = {n for n in comps if "fused" in n or "fusion" in n}
    bodies = [
        b
        for ops in comps.values()
        for op, line in ops
        if op == "while"
        for b in re.findall(r"body=%?([\w.\-]+)", line)
    ]
    step = max(bodies, key=lambda b: len(comps.get(b, [])))
    ops = comps[step]
    copies = [line.split("= ", 1)[1].split(" ", 1)[0] for op, line in ops if op == "copy"]
    top = [op for n, o in comps.items() if n not in fused for op, _ in o]
    return {
        "step body ops": dict(collections.Counter(op for op, _ in ops).most_common()),
        "step body fusion kinds": dict(
            collections.Counter(k for _, line in ops for k in re.findall(r"kind=(k\w+)", line))
        ),
        "step body copies": f"{len(copies)}, {sum(_size(c) for c in copies) / 1024:.0f} KiB",
        "step body inner while loops (rolled threefry)": sum(op == "while" for op, _ in ops),
        "module: while loops / sorts / fusions / copies": (
            len(bodies),
            top.count("sort"),
            top.count("fusion"),
            top.count("copy"),
        ),
    }


# ---- the reference: c_jax_scan.py's W6 epoch ----------------------------------------------------
def reference(x: np.ndarray):
    tx = optax.adam(2e-4, b1=0.5)
    rng = np.random.default_rng(0)

    def layer(i, o):
        limit = np.sqrt(6 / (i + o))
        return jnp.asarray(rng.uniform(-limit, limit, (i, o)), jnp.float32), jnp.zeros(o)

    gp = (layer(32, 128), layer(128, 256), layer(256, 64))
    dp = (layer(64, 256), layer(256, 128), layer(128, 1))

    def generator(gp, z):
        (k0, b0), (k1, b1), (k2, b2) = gp
        h = jax.nn.relu(z @ k0 + b0)
        h = jax.nn.relu(h @ k1 + b1)
        return jax.nn.sigmoid(h @ k2 + b2)

    def discriminator(dp, v):
        (k0, b0), (k1, b1), (k2, b2) = dp
        h = jax.nn.leaky_relu(v @ k0 + b0, LEAKY)
        h = jax.nn.leaky_relu(h @ k1 + b1, LEAKY)
        return h @ k2 + b2

    def gan_step(carry, batch):
        gp, dp, gs, ds = carry
        xb, ep, i = batch
        k = jax.random.fold_in(jax.random.fold_in(jax.random.key(2), ep), i)
        kd, kg = jax.random.split(k)
        zd, zg = jax.random.normal(kd, (BATCH, NOISE)), jax.random.normal(kg, (BATCH, NOISE))

        def d_loss_fn(dp):
            real, fake = discriminator(dp, xb), discriminator(dp, generator(gp, zd))
            return jnp.mean(jax.nn.softplus(-real) + jax.nn.softplus(fake))

        d_loss, d_grads = jax.value_and_grad(d_loss_fn)(dp)
        updates, ds = tx.update(d_grads, ds, dp)
        dp = optax.apply_updates(dp, updates)
        g_loss, g_grads = jax.value_and_grad(
            lambda gp: jnp.mean(jax.nn.softplus(-discriminator(dp, generator(gp, zg))))
        )(gp)
        updates, gs = tx.update(g_grads, gs, gp)
        return (optax.apply_updates(gp, updates), dp, gs, ds), (d_loss, g_loss)

    def epoch(carry, xb, ep):
        return jax.lax.scan(
            lambda c, b: gan_step(c, (b[0], ep, b[1])), carry, (xb, jnp.arange(len(xb)))
        )

    return (gp, dp, tx.init(gp), tx.init(dp)), jax.jit(epoch, donate_argnums=0)


# ---- the per-step parts -------------------------------------------------------------------------
def noise_draws(impl: str, steps: int):
    """An epoch's noise alone: per step one key split and two normal draws of (64, 32)."""

    @jax.jit
    def draw(seed):
        key = jax.random.key(seed, impl=impl)

        def body(acc, k):
            kd, kg = jax.random.split(k)
            z = jax.random.normal(kd, (BATCH, NOISE)) + jax.random.normal(kg, (BATCH, NOISE))
            return acc + z.sum(), None

        return jax.lax.scan(body, jnp.float32(0), jax.random.split(key, steps))[0]

    return draw


def _option(text: str) -> tuple[str, bool]:
    name, _, value = text.partition("=")
    return name, value.lower() not in ("false", "0", "no")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dump", default=None, help="write both modules' optimized HLO here")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=10, help="epochs per timed repetition")
    ap.add_argument(
        "--option",
        action="append",
        default=[],
        help="also time nncompile's epoch compiled with this XLA option: NAME (true) or "
        "NAME=false (e.g. xla_cpu_use_xnnpack, xla_cpu_multi_thread_eigen=false)",
    )
    a = ap.parse_args()
    x = gan_epoch.pixels()
    program = nncompile.compile(text=gan_epoch.SPEC)
    trainer = GanTrainer(program.module, {"train": (x, None)}, epochs=30)
    data, steps = trainer._on_device(), trainer.batching.steps
    leaves = trainer._leaves()
    zeros = np.zeros(2, np.float32)
    nn_args = (leaves, zeros, 1, data, 0, steps)
    nn_text = trainer._fns.epoch.lower(*nn_args).compile().as_text()
    carry, ref_epoch = reference(x)
    xb = jnp.asarray(x[np.random.default_rng(1).permutation(len(x))[: steps * BATCH]]).reshape(
        steps, BATCH, -1
    )
    ref_text = ref_epoch.lower(carry, xb, jnp.int32(1)).compile().as_text()
    if a.dump:
        Path(a.dump).mkdir(parents=True, exist_ok=True)
        Path(a.dump, "nncompile_epoch.hlo").write_text(nn_text)
        Path(a.dump, "reference_epoch.hlo").write_text(ref_text)
    for name, text in (("nncompile", nn_text), ("reference", ref_text)):
        print(f"== {name}")
        for k, v in summary(text).items():
            print(f"  {k}: {v}")

    # CPU time per epoch, interleaved
    state = {"nncompile": leaves, "reference": carry}
    draws = {impl: noise_draws(impl, steps) for impl in ("threefry2x32", "rbg", "unsafe_rbg")}
    shuffle = np.random.default_rng(0)

    def run(name: str, ep: int):
        if name == "nncompile":
            state[name], out = trainer._fns.epoch(state[name], zeros, ep, data, 0, steps)
        elif name in variants:
            state[name], out = variants[name](state[name], zeros, ep, data, 0, steps)
        elif name == "reference":
            idx = shuffle.permutation(len(x))[: steps * BATCH].reshape(steps, BATCH)
            state[name], out = ref_epoch(state[name], jnp.asarray(x[idx]), jnp.int32(ep))
        else:
            out = draws[name.split(":")[1]](ep)
        jax.block_until_ready(out)

    plain = trainer._fns.epoch.__wrapped__  # the epoch function before jax.jit
    variants = {
        f"nncompile+{o}": jax.jit(plain, compiler_options=dict([_option(o)])) for o in a.option
    }
    for name in variants:
        state[name] = [jnp.copy(v) for v in leaves]
    names = ["nncompile", "reference", *variants] + [f"noise:{k}" for k in draws]
    for n in names:
        run(n, 0)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(a.reps):
        for n in names[rep % len(names) :] + names[: rep % len(names)]:
            c0, w0 = time.process_time(), time.perf_counter()
            for e in range(a.epochs):
                run(n, 1 + rep * a.epochs + e)
            cpu[n].append((time.process_time() - c0) / a.epochs * 1e3)
            wall[n].append((time.perf_counter() - w0) / a.epochs * 1e3)
    print(
        f"\nms per epoch ({steps} steps), {a.reps} reps of {a.epochs} epochs: "
        "CPU min / median, wall min / median"
    )
    for n in names:
        c, w = cpu[n], wall[n]
        print(f"  {n:36s} {min(c):8.3f} {np.median(c):8.3f}   {min(w):8.3f} {np.median(w):8.3f}")


if __name__ == "__main__":
    main()
