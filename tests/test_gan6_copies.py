"""A GAN's epoch compiles with XLA:CPU's copy insertion by region analysis
(plan.gan_compiler_options): the step loop then updates its parameters and Adam moments in place
instead of copying them every step (bench/results/gan6.md: W6 0.92-0.95x the CPU of an epoch), with
the same states bitwise."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import numpy as np
import pytest
from gan_specs import tiny_gan

import nncompile
from nncompile.plan import plan_for
from nncompile.runtime.gan import GanTrainer

REGION = "xla_cpu_copy_insertion_use_region_analysis"
SPEC = tiny_gan(
    """
train {
  objective: gan(generator=G, discriminator=D, noise=normal([8]))
  data: d  loss: non_saturating  optimizer: adam(lr=1e-3, b1=0.5)
  batch_size: 32  epochs: 2  seed: 3
}
""",
    dropout=0.2,
)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    path = Path(tmp_path_factory.mktemp("gan6")) / "gan.nn"
    path.write_text(SPEC)
    return nncompile.compile(path)


def test_the_plan_and_the_config_carry_the_option(program):
    plan = plan_for(program.spec)
    assert plan.compiler_options.value == {REGION: True}
    assert "region analysis" in plan.compiler_options.why
    assert program.module.CONFIG["cpu_compiler_options"] == {REGION: True}


def _float_copies(text: str) -> int:
    """Copies of float arrays of more than one element (parameters, moments) in the largest while
    body (the step loop)."""
    bodies = re.findall(r"body=%?([\w.\-]+)", text)
    blocks = dict(re.findall(r"^%?([\w.\-]+) [^\n]*\{\n(.*?)\n\}", text, re.S | re.M))
    step = max(bodies, key=lambda b: blocks.get(b, "").count("\n"))
    shapes = re.findall(r"= f32\[([\d,]*)\]\{[\d,]*\} copy\(", blocks[step])
    return sum(np.prod([int(d) for d in s.split(",") if d]) > 1 for s in shapes)


@pytest.mark.slow  # four compilations of a tiny GAN's epoch
@pytest.mark.skipif(jax.default_backend() != "cpu", reason="an XLA:CPU option")
def test_the_step_loop_copies_no_arrays_and_trains_the_same(program):
    x, _ = program.load_data().splits["train"]
    trainer = GanTrainer(program.module, {"train": (x, None)})
    epoch = trainer._fns.epoch
    plain = jax.jit(epoch.__wrapped__)  # XLA's default copy insertion
    data, steps = trainer._on_device(), trainer.batching.steps
    leaves = trainer._leaves()
    zeros = np.zeros(2, np.float32)
    args = (leaves, zeros, 2, data, 0, steps)
    if not trainer.chunked:
        plain = jax.jit(epoch.__wrapped__, static_argnums=(4, 5))
    assert _float_copies(plain.lower(*args).compile().as_text()) > 0
    assert _float_copies(epoch.lower(*args).compile().as_text()) == 0
    got, want = epoch(*args), plain(*args)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_array_equal(_plain(a), _plain(b))


def _plain(a) -> np.ndarray:
    """An array's values (a key array's raw words)."""
    return np.asarray(
        jax.random.key_data(a) if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) else a
    )
