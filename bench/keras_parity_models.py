"""The Keras side of bench/keras_parity.py: each parity model written as a Keras 3 user writes it
(functional API, Sequential, a subclassed Model with its own JAX `train_step` for the GAN), trained
with `model.fit` on the arrays nncompile's data block produced (the same rows, the same
preprocessing). Imported only by a worker process with ``KERAS_BACKEND=jax``.

Every builder takes the splits ``{"train": (x, y), "val": ..., "test": ...}`` and returns a
``Trained``: the fitted model's ``predict`` (and ``decode``/``generate`` where the workload needs
them), the epochs it ran, the examples it trained on per epoch and each epoch's wall time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import keras
from keras import layers, ops

assert keras.backend.backend() == "jax", keras.backend.backend()


@dataclass
class Trained:
    predict: Callable[[Any], Any]
    epochs: int
    examples_per_epoch: int
    epoch_seconds: list[float]
    decode: Callable[[Any], np.ndarray] | None = None
    generate: Callable[[np.ndarray], np.ndarray] | None = None
    extra: dict = field(default_factory=dict)


class EpochTimes(keras.callbacks.Callback):
    """Wall time of every epoch (training and validation), as nncompile's history records it."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def adam(lr: float, **kw) -> keras.optimizers.Optimizer:
    # optax's (and PyTorch's) epsilon: Keras' default is 1e-7, nncompile's adam 1e-8
    return keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8, **kw)


def n_rows(x) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def fit(
    model, splits, *, epochs, batch_size, callbacks=(), y_of=lambda y: y, **options
) -> tuple[int, list]:
    (x, y), (xv, yv) = splits["train"], splits["val"]
    timer = EpochTimes()
    history = model.fit(
        x,
        y_of(y),
        validation_data=(xv, y_of(yv)),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[timer, *callbacks],
        **options,
    )
    return len(history.history["loss"]), timer.seconds


def as_column(y):
    return np.asarray(y, np.float32).reshape(len(y), 1)


# ---- (1) two inputs, two heads -------------------------------------------------------------------
def multi_io(splits, seed: int) -> Trained:
    keras.utils.set_random_seed(seed)
    person = keras.Input((4,), name="person")
    blood = keras.Input((6,), name="blood")
    p = layers.Dense(16, activation="relu")(person)
    b = layers.Dense(32, activation="relu")(blood)
    h = layers.Dense(32, activation="relu")(layers.Concatenate()([p, b]))
    outputs = {
        "progression": layers.Dense(1, name="progression")(h),
        "high": layers.Dense(1, activation="sigmoid", name="high")(h),
    }
    model = keras.Model({"person": person, "blood": blood}, outputs)
    model.compile(
        optimizer=adam(1e-3),
        loss={"progression": "mse", "high": "binary_crossentropy"},
        loss_weights={"progression": 1.0, "high": 0.5},
        metrics={"progression": ["mae"], "high": ["accuracy"]},
    )
    targets = lambda y: {k: as_column(v) for k, v in y.items()}
    epochs, seconds = fit(model, splits, epochs=60, batch_size=16, y_of=targets)
    return Trained(
        lambda x: model.predict(x, verbose=0, batch_size=1024),
        epochs,
        n_rows(splits["train"][0]),
        seconds,
    )


# ---- (2) LSTM encoder-decoder, teacher forcing, greedy decoding ----------------------------------
def seq2seq(splits, seed: int) -> Trained:
    keras.utils.set_random_seed(seed)
    source = keras.Input((6,), dtype="int32", name="source")
    shifted = keras.Input((6,), dtype="int32", name="shifted")
    _, h, c = layers.LSTM(64, return_state=True)(layers.Embedding(10, 16)(source))
    t = layers.Embedding(10, 16)(shifted)
    dec = layers.LSTM(64, return_sequences=True)(t, initial_state=[h, c])
    answer = layers.Dense(10, activation="softmax")(dec)
    model = keras.Model({"source": source, "shifted": shifted}, answer)
    model.compile(adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    epochs, seconds = fit(model, splits, epochs=15, batch_size=64)

    def predict(x):
        return model.predict(x, verbose=0, batch_size=1024)

    def decode(x):  # greedy: the start token, then each step's most likely token fed back
        src = np.asarray(x["source"])
        fed = np.zeros_like(src)
        out = np.zeros_like(src)
        for step in range(src.shape[1]):
            probs = predict({"source": src, "shifted": fed})
            out[:, step] = probs[:, step].argmax(-1)
            if step + 1 < src.shape[1]:
                fed[:, step + 1] = out[:, step]
        return out

    return Trained(predict, epochs, n_rows(splits["train"][0]), seconds, decode=decode)


# ---- (3) convolutional autoencoder ---------------------------------------------------------------
def conv_autoencoder(splits, seed: int) -> Trained:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(4, 3, strides=2, padding="same"),
            layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
            layers.UpSampling2D(2),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
        ]
    )
    model.compile(adam(3e-3), "mse", metrics=["mae"])
    epochs, seconds = fit(model, splits, epochs=40, batch_size=64)
    return Trained(
        lambda x: model.predict(x, verbose=0, batch_size=1024),
        epochs,
        n_rows(splits["train"][0]),
        seconds,
    )


# ---- (4) transformer classifier over tokens ------------------------------------------------------
class AddPositions(layers.Layer):
    """A learned vector per position added to the sequence (nncompile's positional_embedding)."""

    def build(self, shape):
        self.table = self.add_weight(
            shape=tuple(shape[-2:]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="positions",
        )

    def call(self, x):
        return x + self.table


def prenorm_block(x, heads: int, hidden: int):
    """x + attention(layer_norm(x)), then x + mlp(layer_norm(x)): nncompile's transformer_block."""
    width = x.shape[-1]
    a = layers.LayerNormalization(epsilon=1e-6)(x)
    a = layers.MultiHeadAttention(num_heads=heads, key_dim=width // heads)(a, a)
    x = layers.Add()([x, a])
    m = layers.LayerNormalization(epsilon=1e-6)(x)
    m = layers.Dense(hidden, activation="gelu")(m)
    m = layers.Dense(width)(m)
    return layers.Add()([x, m])


def transformer(splits, seed: int) -> Trained:
    keras.utils.set_random_seed(seed)
    tokens = keras.Input((16,), dtype="int32")
    x = AddPositions()(layers.Embedding(17, 32)(tokens))
    x = prenorm_block(x, heads=2, hidden=64)
    x = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(tokens, layers.Dense(10, activation="softmax")(x))
    model.compile(adam(2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    epochs, seconds = fit(model, splits, epochs=30, batch_size=64)
    return Trained(
        lambda x: model.predict(x, verbose=0, batch_size=1024),
        epochs,
        n_rows(splits["train"][0]),
        seconds,
    )


# ---- (5) conditional GAN: a Model with its own JAX train_step ------------------------------------
NOISE, CLASSES, SMOOTHING = 32, 10, 0.1


def cgan_models():
    z = keras.Input((NOISE,))
    label = keras.Input((1,), dtype="int32")
    f = layers.Flatten()(layers.Embedding(CLASSES, 16)(label))
    h = layers.Concatenate()([z, f])
    h = layers.Dense(256, activation="relu")(h)
    h = layers.Dense(256, activation="relu")(h)
    generator = keras.Model([z, label], layers.Dense(64, activation="sigmoid")(h))
    x = keras.Input((64,))
    onehot = keras.Input((CLASSES,))
    h = layers.Concatenate()([x, onehot])
    h = layers.LeakyReLU(0.2)(layers.Dense(256)(h))
    h = layers.Dropout(0.3)(h)
    h = layers.LeakyReLU(0.2)(layers.Dense(128)(h))
    discriminator = keras.Model([x, onehot], layers.Dense(1)(h))
    return generator, discriminator


class ConditionalGAN(keras.Model):
    """fit() on {"images", "labels"}: per batch one discriminator update (real high, fake low,
    one-sided label smoothing), then one generator update (non-saturating). The compiled optimizer
    is the discriminator's; the generator's Adam is built here and its variables kept in a list
    attribute, which Keras tracks as the model's non-trainable state, so they travel through the
    stateless step like every other variable."""

    def __init__(self, generator, discriminator, g_optimizer):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.noise = keras.random.SeedGenerator(1234)
        g_optimizer.build(generator.trainable_variables)
        self.g_optimizer = g_optimizer
        self.g_slots = list(g_optimizer.variables)
        self.d_mean = keras.metrics.Mean(name="d_loss")
        self.g_mean = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_mean, self.g_mean]

    def call(self, inputs, training=False):
        return self.discriminator(
            [inputs["images"], ops.one_hot(inputs["labels"], CLASSES)], training=training
        )

    def _where(self):
        """Positions of each part's variables in the model's state lists (found by identity)."""
        t = {id(v): i for i, v in enumerate(self.trainable_variables)}
        n = {id(v): i for i, v in enumerate(self.non_trainable_variables)}
        return {
            "g": [t[id(v)] for v in self.generator.trainable_variables],
            "d": [t[id(v)] for v in self.discriminator.trainable_variables],
            "d_state": [n[id(v)] for v in self.discriminator.non_trainable_variables],
            "g_opt": [n[id(v)] for v in self.g_slots],
            "noise": n[id(self.noise.state)],
        }

    def train_step(self, state, data):
        tv, ntv, d_opt, mv = state
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        images, labels = x["images"], x["labels"]
        at = self._where()
        g_w = [tv[i] for i in at["g"]]
        d_w = [tv[i] for i in at["d"]]
        d_state = [ntv[i] for i in at["d_state"]]
        g_opt = [ntv[i] for i in at["g_opt"]]
        onehot = ops.one_hot(labels, CLASSES)
        gen_labels = ops.reshape(labels, (-1, 1))
        shape = (ops.shape(images)[0], NOISE)
        with keras.StatelessScope(state_mapping=[(self.noise.state, ntv[at["noise"]])]) as scope:
            z_d = keras.random.normal(shape, seed=self.noise)
            z_g = keras.random.normal(shape, seed=self.noise)
        noise_state = scope.get_current_value(self.noise.state)

        def generate(g_w, z):
            fake, _ = self.generator.stateless_call(g_w, [], [z, gen_labels], training=True)
            return fake

        def d_loss_fn(d_w, d_state):
            fake = jax.lax.stop_gradient(generate(g_w, z_d))
            real, d_state = self.discriminator.stateless_call(
                d_w, d_state, [images, onehot], training=True
            )
            made, d_state = self.discriminator.stateless_call(
                d_w, d_state, [fake, onehot], training=True
            )
            target = 1.0 - SMOOTHING
            loss = target * jax.nn.softplus(-real) + (1 - target) * jax.nn.softplus(real)
            return ops.mean(loss + jax.nn.softplus(made)), d_state

        (d_loss, d_state), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_w, d_state)
        d_w, d_opt = self.optimizer.stateless_apply(d_opt, d_grads, d_w)

        def g_loss_fn(g_w, d_state):
            made, d_state = self.discriminator.stateless_call(
                d_w, d_state, [generate(g_w, z_g), onehot], training=True
            )
            return ops.mean(jax.nn.softplus(-made)), d_state

        (g_loss, d_state), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_w, d_state)
        g_w, g_opt = self.g_optimizer.stateless_apply(g_opt, g_grads, g_w)

        tv, ntv = list(tv), list(ntv)
        for where, values in (("g", g_w), ("d", d_w)):
            for i, v in zip(at[where], values, strict=True):
                tv[i] = v
        for where, values in (("d_state", d_state), ("g_opt", g_opt)):
            for i, v in zip(at[where], values, strict=True):
                ntv[i] = v
        ntv[at["noise"]] = noise_state
        k = len(self.d_mean.variables)
        d_mv = self.d_mean.stateless_update_state(mv[:k], d_loss)
        g_mv = self.g_mean.stateless_update_state(mv[k:], g_loss)
        logs = {
            "d_loss": self.d_mean.stateless_result(d_mv),
            "g_loss": self.g_mean.stateless_result(g_mv),
        }
        return logs, (tv, ntv, d_opt, [*d_mv, *g_mv])


def cgan(splits, seed: int) -> Trained:
    keras.utils.set_random_seed(seed)
    generator, discriminator = cgan_models()
    model = ConditionalGAN(generator, discriminator, adam(1e-3, beta_1=0.5))
    d_optimizer = adam(1e-3, beta_1=0.5)
    d_optimizer.build(discriminator.trainable_variables)  # the compiled one: discriminator only
    model.compile(optimizer=d_optimizer)
    images, labels = splits["train"]
    timer = EpochTimes()
    history = model.fit(
        {"images": images, "labels": np.asarray(labels, np.int32)},
        epochs=60,
        batch_size=64,
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )

    def generate(wanted: np.ndarray) -> np.ndarray:
        z = np.random.default_rng(seed).standard_normal((len(wanted), NOISE)).astype(np.float32)
        return generator.predict([z, wanted.reshape(-1, 1).astype(np.int32)], verbose=0)

    extra = {k: float(v[-1]) for k, v in history.history.items()}
    return Trained(None, len(timer.seconds), len(images), timer.seconds, generate=generate,
                   extra=extra)  # fmt: skip


# ---- (6) Dense + L2 + Dropout, EarlyStopping, ReduceLROnPlateau ----------------------------------
def regularized_mlp(splits, seed: int) -> Trained:
    keras.utils.set_random_seed(seed)
    l2 = keras.regularizers.L2(1e-4)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(128, activation="relu", kernel_regularizer=l2),
            layers.Dropout(0.3),
            layers.Dense(64, activation="relu", kernel_regularizer=l2),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=True)
    # min_delta=0: nncompile's reduce_on_plateau default (Keras' is 1e-4)
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=3, min_delta=0.0
    )
    epochs, seconds = fit(model, splits, epochs=80, batch_size=32, callbacks=[stop, plateau])
    lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    return Trained(
        lambda x: model.predict(x, verbose=0, batch_size=1024),
        epochs,
        n_rows(splits["train"][0]),
        seconds,
        extra={"final_lr": lr, "best_epoch": stop.best_epoch + 1},
    )


# ---- (7) imbalanced classes: class_weight -------------------------------------------------------
def class_weight(splits, seed: int) -> Trained:
    """specs/imbalanced_digits.nn: `class_weight: balanced` is scikit-learn's rule on the training
    split, which a Keras user computes with compute_class_weight and passes to fit."""
    from sklearn.utils.class_weight import compute_class_weight

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(32, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(adam(3e-3), "binary_crossentropy", metrics=["accuracy"])
    y = np.reshape(splits["train"][1], -1)
    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    epochs, seconds = fit(
        model,
        splits,
        epochs=60,
        batch_size=32,
        y_of=as_column,
        class_weight={int(c): float(w) for c, w in zip(classes, weights, strict=True)},
    )
    return Trained(
        lambda x: model.predict(x, verbose=0, batch_size=1024),
        epochs,
        n_rows(splits["train"][0]),
        seconds,
        extra={"weight_1": float(weights[-1])},
    )


# ---- (8) variational autoencoder: Keras' Sampling layer, the KL term by add_loss ----------------
class Sampling(layers.Layer):
    """Keras' VAE example's Sampling layer: z = z_mean + exp(0.5 * z_log_var) * epsilon. Two
    changes, both nncompile's gaussian_sample: the mean outside training (the example draws in
    predict too), and the KL term added here with add_loss (the example computes it in a custom
    train_step), weighted like the spec's `kl_weight`."""

    def __init__(self, kl_weight: float, **kw):
        super().__init__(**kw)
        self.kl_weight = kl_weight
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs, training=None):
        z_mean, z_log_var = inputs
        kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
        self.add_loss(self.kl_weight * ops.mean(kl))
        if not training:
            return z_mean
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def vae(splits, seed: int) -> Trained:
    """specs/digits_vae.nn: dense encoder to a 2-D (mean, log-variance), Sampling, dense decoder;
    mse + 0.002 x KL, Adam 2e-3, 60 epochs of 32. The test KL (nats, the mean over the test rows
    of the sum over the latent values) from the encoder's outputs, as nncompile's kl_loss."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((64,))
    h = layers.Dense(128, activation="relu")(x)
    z_mean, z_log_var = layers.Dense(2)(h), layers.Dense(2)(h)
    z = Sampling(0.002)([z_mean, z_log_var])
    d = layers.Dense(128, activation="relu")(z)
    model = keras.Model(x, layers.Dense(64, activation="sigmoid")(d))
    model.compile(adam(2e-3), "mse")
    epochs, seconds = fit(model, splits, epochs=60, batch_size=32)
    encoder = keras.Model(x, [z_mean, z_log_var])
    encoded = encoder.predict(splits["test"][0], verbose=0)
    mean, log_var = (np.asarray(a, np.float64) for a in encoded)
    kl = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=1)
    return Trained(
        lambda x: model.predict(x, verbose=0, batch_size=1024),
        epochs,
        n_rows(splits["train"][0]),
        seconds,
        extra={"kl": float(kl.mean())},
    )


# ---- (9) per-example loss weights: sample_weight ------------------------------------------------
def sample_weight(splits, seed: int) -> Trained:
    """bench/specs/parity/sample_weight.nn: each row weighs its loss by its inverse noise variance;
    the data's val weights weigh val_loss (Keras: validation_data=(x, y, w))."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((10,)), layers.Dense(32, activation="relu"), layers.Dense(1)]
    )
    model.compile(adam(3e-3), "mse", metrics=["mae"])
    (x, y), (xv, yv) = splits["train"], splits["val"]
    weights = splits["weights"]
    timer = EpochTimes()
    history = model.fit(
        x,
        y,
        sample_weight=weights["train"],
        validation_data=(xv, yv, weights["val"]),
        epochs=80,
        batch_size=32,
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )
    return Trained(
        lambda x: model.predict(x, verbose=0, batch_size=1024),
        len(history.history["loss"]),
        n_rows(x),
        timer.seconds,
        extra={"final_loss": float(history.history["loss"][-1])},
    )


BUILDERS = {
    "multi_io": multi_io,
    "seq2seq": seq2seq,
    "conv_autoencoder": conv_autoencoder,
    "transformer": transformer,
    "cgan": cgan,
    "regularized_mlp": regularized_mlp,
    "class_weight": class_weight,
    "vae": vae,
    "sample_weight": sample_weight,
}
