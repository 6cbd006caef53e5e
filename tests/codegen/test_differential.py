"""Differential test: emitted programs against hand-written Flax NNX + Optax references.

For the digits MLP and CNN, the emitted model, initialised with the reference's parameters, must
give the same outputs and, for each optimizer, the same loss after 10 optimizer steps (float32
tolerance). The references below are written by hand, independently of the code generator.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from sklearn.datasets import load_digits

from nncompile.codegen.emit import emit_program
from nncompile.codegen.load import load_module
from nncompile.compiler import analyse
from nncompile.source import Source

MLP = """
data digits {{ source: sklearn("digits")  split: {{train: 0.8, test: 0.2}} }}
model MLP {{ input x: [64]  dense(32, activation=relu)  dense(16, activation=tanh)
            dense(10, activation=softmax) }}
train {{ model: MLP  data: digits  loss: categorical_crossentropy  optimizer: {opt}
        batch_size: 32 }}
"""
CNN = """
data images {{ source: sklearn("digits")  reshape: [8, 8, 1] }}
model CNN {{
  input x: [8, 8, 1]
  conv2d(4, 3, activation=relu)
  conv2d(6, 3, padding=valid, activation=relu)
  max_pool(2)
  flatten()
  dense(10, activation=softmax)
}}
train {{ model: CNN  data: images  loss: categorical_crossentropy  optimizer: {opt}
        batch_size: 32 }}
"""

OPTIMIZERS = {
    "sgd(lr=0.05)": optax.sgd(0.05),
    "momentum(lr=0.05, beta=0.9)": optax.sgd(0.05, momentum=0.9),
    "adagrad(lr=0.05)": optax.adagrad(0.05, initial_accumulator_value=0.1, eps=1e-7),
    "adadelta(lr=1.0, rho=0.9)": optax.adadelta(1.0, rho=0.9, eps=1e-6),
    "rmsprop(lr=0.001)": optax.rmsprop(0.001, decay=0.9, eps=1e-7),
    "adam(lr=0.001)": optax.adam(0.001),
}


class ReferenceMLP(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(64, 32, rngs=rngs)
        self.l2 = nnx.Linear(32, 16, rngs=rngs)
        self.l3 = nnx.Linear(16, 10, rngs=rngs)

    def __call__(self, x):
        return self.l3(jnp.tanh(self.l2(jax.nn.relu(self.l1(x)))))


class ReferenceCNN(nnx.Module):
    def __init__(self, rngs):
        self.c1 = nnx.Conv(1, 4, (3, 3), padding="SAME", rngs=rngs)
        self.c2 = nnx.Conv(4, 6, (3, 3), padding="VALID", rngs=rngs)
        self.out = nnx.Linear(3 * 3 * 6, 10, rngs=rngs)

    def __call__(self, x):
        x = jax.nn.relu(self.c2(jax.nn.relu(self.c1(x))))
        x = nnx.max_pool(x, (2, 2), strides=(2, 2))
        return self.out(x.reshape(x.shape[0], -1))


def _copy(reference, emitted):
    """Give the emitted model the reference's parameters, layer by layer in order."""
    ref = [
        v
        for _, v in sorted(nnx.to_flat_state(nnx.state(reference, nnx.Param)), key=lambda kv: kv[0])
    ]
    ours = nnx.state(emitted, nnx.Param)
    flat = sorted(nnx.to_flat_state(ours), key=lambda kv: kv[0])
    assert [v.shape for v in ref] == [v.shape for _, v in flat]
    for (_, var), value in zip(flat, ref, strict=True):
        var[...] = value[...]
    nnx.update(emitted, ours)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = ((x - x.mean(0)) / (x.std(0) + 1e-8)).astype(np.float32)
    return x[:320], y[:320].astype(np.int32)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_emitted_program_matches_reference(kind, opt, digits):
    text = (MLP if kind == "mlp" else CNN).format(opt=opt)
    program, diagnostics = analyse(Source(text, "diff.nn"))
    assert program is not None, diagnostics
    module = load_module(emit_program(program), "diff.nn")
    reference = (ReferenceMLP if kind == "mlp" else ReferenceCNN)(nnx.Rngs(7))
    emitted = module.make_model(0)
    _copy(reference, emitted)
    x, y = digits
    if kind == "cnn":
        x = x.reshape(-1, 8, 8, 1)
    np.testing.assert_allclose(
        module.predict(emitted, x[:64]), jax.nn.softmax(reference(x[:64])), atol=1e-6
    )

    ref_opt = nnx.Optimizer(reference, OPTIMIZERS[opt], wrt=nnx.Param)
    our_opt = nnx.Optimizer(emitted, module.make_optimizer(10, 1), wrt=nnx.Param)

    @nnx.jit
    def reference_step(model, optimizer, xb, yb):
        def loss_fn(m):
            return optax.softmax_cross_entropy_with_integer_labels(m(xb), yb).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    our_step = nnx.jit(module.train_step)
    key = jax.random.key(0)
    for i in range(10):
        xb, yb = x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32]
        ref_loss = reference_step(reference, ref_opt, xb, yb)
        our_loss, _ = our_step(emitted, our_opt, xb, yb, key)
        np.testing.assert_allclose(our_loss, ref_loss, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(
        module.predict(emitted, x[:64]), jax.nn.softmax(reference(x[:64])), atol=2e-5
    )
