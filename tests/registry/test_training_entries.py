"""One test per entry of the training registries: each optimizer, schedule, loss, regularizer,
augmentation and activation compiles into a program that trains (the loss goes down, stays
finite)."""

import numpy as np
import pytest

import nncompile
from nncompile.registry.activations import ACTIVATIONS, INITIALIZERS
from nncompile.registry.augmentations import AUGMENTATIONS
from nncompile.registry.losses import LOSSES
from nncompile.registry.optimizers import OPTIMIZERS
from nncompile.registry.schedules import REGULARIZERS, SCHEDULES

IRIS = """
data d {{ source: sklearn("iris")  split: {{train: 0.8, test: 0.2}} }}
model M {{ input x: [4]  dense(16, activation={act}, init={init})  dense(3, activation=softmax) }}
train {{ model: M  data: d  loss: categorical_crossentropy  optimizer: {opt}  schedule: {schedule}
        batch_size: 16  epochs: {epochs}  regularize: {reg} }}
"""
REGRESSION = """
data d {{ source: sklearn("diabetes")  normalize_target: standard }}
model M {{ input x: [10]  dense(16, activation=relu)  dense(1) }}
train {{ model: M  data: d  loss: {loss}  optimizer: adam(lr=1e-2)  batch_size: 32  epochs: 4 }}
"""
BINARY = """
data d {{ source: sklearn("breast_cancer") }}
model M {{ input x: [30]  dense(1, activation=sigmoid) }}
train {{ model: M  data: d  loss: {loss}  optimizer: adam(lr=1e-2)  batch_size: 32  epochs: 4 }}
"""
IMAGES = """
data d {{ source: sklearn("digits")  reshape: [8, 8, 1]  normalize: minmax  augment: [{aug}] }}
model M {{ input x: [8, 8, 1]  conv2d(4, 3, activation=relu)  flatten()
           dense(10, activation=softmax) }}
train {{ model: M  data: d  loss: categorical_crossentropy  optimizer: adam(lr=3e-3)  batch_size: 64
        epochs: 3 }}
"""
LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.1, "adadelta": 1.0, "rmsprop": 0.01}


def trains(text: str) -> list[float]:
    program = nncompile.compile(text=text)
    history = program.fit()
    losses = [e["loss"] for e in history.epochs]
    assert all(np.isfinite(losses)), history.reason
    assert min(losses[1:]) < losses[0], losses
    return losses


def iris(**kw) -> str:
    values = dict(
        act="relu",
        init="glorot_uniform",
        opt="adam(lr=1e-2)",
        schedule="constant",
        epochs=4,
        reg="[]",
    )
    values.update(kw)
    return IRIS.format(**values)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_trains(name):
    trains(iris(opt=f"{name}(lr={LR.get(name, 1e-2)})"))


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_trains(name):
    example = SCHEDULES[name].example  # e.g. step(every=1): the rate changes within 5 epochs
    args = f"({', '.join(f'{k}={v}' for k, v in example.items())})" if example else ""
    trains(iris(schedule=f"{name}{args}", epochs=5))


@pytest.mark.parametrize("name", list(REGULARIZERS))
def test_regularizer_trains(name):
    trains(iris(reg=f"{name}(1e-3)"))


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "softmax"])
def test_activation_trains(name):
    trains(iris(act=name))


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_initializer_trains(name):
    trains(iris(init=name))


@pytest.mark.parametrize("name", [n for n in LOSSES if LOSSES[n].task == "regression"])
def test_regression_loss_trains(name):
    trains(REGRESSION.format(loss=name))


def test_binary_crossentropy_trains():
    trains(BINARY.format(loss="binary_crossentropy(label_smoothing=0.1)"))


def test_label_smoothing_trains():
    trains(
        iris(opt="adam(lr=1e-2)").replace(
            "categorical_crossentropy", "categorical_crossentropy(label_smoothing=0.1)"
        )
    )


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_augmentation_trains(name):
    trains(IMAGES.format(aug=name))
