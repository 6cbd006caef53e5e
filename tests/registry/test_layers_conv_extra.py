"""upsample, rescale, spatial_dropout and a layer's own `regularize=` (package layers-conv): what
the emitted code computes, and the diagnostics for inputs they cannot take."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from layer_cases import analysed, load, module_source

import nncompile.api as api
from nncompile.codegen.load import load_module
from nncompile.compiler import analyse
from nncompile.registry.layers import LAYERS, Example
from nncompile.source import Source

RNG = np.random.default_rng(0)


def layer(statement: str, shape: str):
    model = analysed(Example(statement, (shape,)))
    node = model.nodes[-1]
    lowered = LAYERS[node.kind].lower(node.params, node.in_shapes, node.shape)
    return load(module_source(lowered, 1)).M(nnx.Rngs(0)), node


def errors(text: str) -> list:
    _, diagnostics = analyse(Source(text, "m.nn"))
    return [(d.message, d.hint) for d in diagnostics]


def test_nearest_upsampling_repeats_each_value_like_keras():
    m, node = layer("upsample([2, 3])", "[3, 4, 2]")
    x = RNG.normal(size=(2, 3, 4, 2)).astype(np.float32)
    want = np.repeat(np.repeat(x, 2, axis=1), 3, axis=2)
    assert node.shape == (6, 12, 2)
    np.testing.assert_array_equal(m(jnp.asarray(x)), want)
    m1, node1 = layer("upsample(3)", "[5, 2]")  # [steps, channels]
    x1 = RNG.normal(size=(2, 5, 2)).astype(np.float32)
    assert node1.shape == (15, 2)
    np.testing.assert_array_equal(m1(jnp.asarray(x1)), np.repeat(x1, 3, axis=1))


def test_bilinear_upsampling_interpolates_between_pixels():
    m, node = layer("upsample(2, method=bilinear)", "[2, 2, 1]")
    x = jnp.asarray([[[[0.0], [1.0]], [[2.0], [3.0]]]])
    y = np.asarray(m(x))[0, :, :, 0]
    assert node.shape == (4, 4, 1)
    # half-pixel centres (Keras' UpSampling2D(interpolation="bilinear")), edges clamped
    np.testing.assert_allclose(y[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(y[:, 0], [0.0, 0.5, 1.5, 2.0])
    np.testing.assert_allclose(y, jax.image.resize(x, (1, 4, 4, 1), "bilinear")[0, :, :, 0])


def test_rescale_scales_then_offsets():
    m, _ = layer("rescale(0.5, offset=-1)", "[3]")
    np.testing.assert_allclose(m(jnp.asarray([[0.0, 2.0, 4.0]])), [[-1.0, 0.0, 1.0]])
    m2, _ = layer("rescale(2)", "[2]")
    np.testing.assert_allclose(m2(jnp.asarray([[1.5, -1.0]])), [[3.0, -2.0]])


@pytest.mark.parametrize("shape", ["[6, 5, 40]", "[30, 40]"])
def test_spatial_dropout_drops_whole_channels_while_training_only(shape):
    m, node = layer("spatial_dropout(0.5)", shape)
    x = jnp.ones((8, *node.shape))
    y = np.asarray(m(x))
    spatial = tuple(range(1, len(node.shape)))
    kept = y.max(axis=spatial)
    assert np.array_equal(y.min(axis=spatial), kept), "a channel is partly dropped"
    assert set(np.unique(kept)) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - rate)
    assert 0.35 < float(np.mean(kept == 0)) < 0.65
    m.eval()
    np.testing.assert_array_equal(m(x), x)


@pytest.mark.parametrize(
    "statement, shape, message, hint",
    [
        (
            "upsample(2)",
            "[64]",
            "upsample expects an input of rank 2 or 3 (without the batch axis), but receives "
            "[64] of rank 1",
            "upsample needs [steps, channels] or [height, width, channels]",
        ),
        (
            "upsample([2, 2])",
            "[10, 3]",
            "upsample over 1 axes takes 1 factors, got size=[2, 2]",
            None,
        ),
        (
            "spatial_dropout(0.2)",
            "[64]",
            "spatial_dropout expects an input of rank 2 or 3 (without the batch axis), but "
            "receives [64] of rank 1",
            "it drops channels of [steps, C] or [H, W, C]",
        ),
    ],
)
def test_inputs_they_cannot_take_are_shape_errors(statement, shape, message, hint):
    assert errors(f"model M {{ input x: {shape}  {statement} }}") == [(message, hint)]


def test_unknown_upsampling_method_is_refused():
    ((message, hint),) = errors("model M { input x: [4, 4, 1]  upsample(2, method=cubic) }")
    assert message == "unknown value 'cubic' for method of upsample"
    assert "nearest" in hint and "bilinear" in hint


SPEC = """
data d {{ source: sklearn("iris")  normalize: standard }}
model M {{
  input x: [4]
  dense(8, activation=relu{first})
  dense(3, activation=softmax)
}}
train {{ model: M  data: d  loss: categorical_crossentropy  epochs: 1  batch_size: 16 }}
"""


def test_a_layer_penalty_adds_to_the_loss_for_that_layers_kernel_only():
    plain = api.compile(text=SPEC.format(first=""))
    penalised = api.compile(text=SPEC.format(first=", regularize=l2(0.01)"))
    assert "loss += 0.01 * kernel_penalty(model.dense_1, 2)  # <string>:5" in penalised.source
    a, b = (load_module(p.source, "m.nn") for p in (plain, penalised))
    model = a.make_model(0)
    x = jnp.asarray(RNG.normal(size=(5, 4)), jnp.float32)
    y = jnp.asarray([0, 1, 2, 0, 1])
    base, _ = a.loss_fn(model, x, y)
    total, _ = b.loss_fn(model, x, y)
    kernel = model.dense_1.kernel[...]
    np.testing.assert_allclose(total - base, 0.01 * jnp.sum(kernel**2), rtol=1e-5)


def test_layer_penalties_reach_layers_inside_blocks_and_convolutions():
    text = """
data d { source: sklearn("digits")  normalize: minmax  reshape: [8, 8, 1] }
model Block { input h: [4, 4, 8]  conv2d(8, 3, regularize=l1(1e-5)) }
model M {
  input x: [8, 8, 1]
  conv2d(8, 3, strides=2, regularize=l2(1e-4))
  enc = Block()
  conv2d_transpose(4, 3, strides=2, regularize=l2(1e-3))
  flatten()
  dense(10, activation=softmax)
}
train { model: M  data: d  loss: categorical_crossentropy  epochs: 1  regularize: l2(1e-6) }
"""
    source = api.compile(text=text).source
    assert "loss += 1e-06 * kernel_penalty(model, 2)" in source
    assert "loss += 0.0001 * kernel_penalty(model.conv2d_1, 2)  # <string>:6" in source
    assert "loss += 1e-05 * kernel_penalty(model.enc.conv2d_1, 1)  # <string>:3" in source
    assert "loss += 0.001 * kernel_penalty(model.conv2d_transpose_1, 2)  # <string>:8" in source


def test_a_layer_penalty_in_a_gan_is_an_error():
    text = """
data d { source: sklearn("digits")  split: {train: 1}  normalize: minmax }
model G { input z: [8]  dense(64, activation=sigmoid, regularize=l2(1e-4)) }
model D { input x: [64]  dense(1) }
train { objective: gan(generator=G, discriminator=D, noise=normal([8]))  data: d
        loss: non_saturating  epochs: 1 }
"""
    assert errors(text) == [
        (
            "dense in model G: `regularize=` is not applied in adversarial (GAN) training",
            "remove `regularize=` from this layer",
        )
    ]


def test_an_unknown_layer_regularizer_names_the_choices():
    ((message, hint),) = errors("model M { input x: [4]  dense(3, regularize=l3(0.1)) }")
    assert message == "unknown regularizer 'l3'"
    assert hint == "the regularizers are 'l1' or 'l2'"
