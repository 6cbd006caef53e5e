"""What a train block names: losses, optimizers, schedules, regularizers, metrics, objectives."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from . import BlockRef, Params, Ref, RefTo, Registry, entry

LearningRate = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]


# ---- losses: `task` is what the data must be; `head` the output activation it fuses -----------------
class Huber(Params):
    delta: Annotated[float, Field(gt=0)] = 1.0


class CrossEntropy(Params):
    label_smoothing: Fraction = 0.0


class Margin(Params):
    m_plus: Annotated[float, Field(gt=0, le=1)] = 0.9
    m_minus: Annotated[float, Field(ge=0, lt=1)] = 0.1
    down_weight: Annotated[float, Field(gt=0)] = 0.5


LOSSES = Registry("loss", [
    entry("mse", doc="mean squared error (regression)", task="regression"),
    entry("mae", doc="mean absolute error (regression, robust to outliers)", task="regression"),
    entry("huber", Huber, ("delta",), "squared error near 0, absolute error past delta", task="regression"),
    entry("binary_crossentropy", CrossEntropy, (), "two classes: one sigmoid unit (labels 0/1)",
          task="classification", head="sigmoid"),
    entry("categorical_crossentropy", CrossEntropy, (), "C classes: C softmax units (integer or one-hot labels)",
          task="classification", head="softmax"),
    entry("margin", Margin, (), "capsule margin loss on capsule lengths", task="classification", head="capsule"),
    entry("non_saturating", doc="GAN: generator maximises log D(G(z))", task="adversarial"),
    entry("minimax", doc="GAN: the original minimax game (generator minimises log(1 - D(G(z))))",
          task="adversarial"),
    entry("least_squares", doc="GAN: least-squares (LSGAN) objective", task="adversarial"),
])


# ---- optimizers ----------------------------------------------------------------------------------
class Sgd(Params):
    lr: LearningRate = 0.01
    momentum: Fraction = 0.0
    nesterov: bool = False


class Momentum(Params):
    lr: LearningRate = 0.01
    beta: Fraction = 0.9


class Adagrad(Params):
    lr: LearningRate = 0.01
    initial: NonNegative = 0.1
    eps: Annotated[float, Field(gt=0)] = 1e-7


class Adadelta(Params):
    lr: LearningRate = 1.0
    rho: Fraction = 0.95
    eps: Annotated[float, Field(gt=0)] = 1e-6


class Rmsprop(Params):
    lr: LearningRate = 1e-3
    decay: Fraction = 0.9
    momentum: Fraction = 0.0
    eps: Annotated[float, Field(gt=0)] = 1e-7


class Adam(Params):
    lr: LearningRate = 1e-3
    b1: Fraction = 0.9
    b2: Fraction = 0.999
    eps: Annotated[float, Field(gt=0)] = 1e-8


class AdamW(Adam):
    weight_decay: NonNegative = 1e-4


OPTIMIZERS = Registry("optimizer", [
    entry("sgd", Sgd, ("lr",), "gradient descent: w -= lr * g (optionally with momentum, Nesterov)"),
    entry("momentum", Momentum, ("lr",), "gradient descent with momentum: a running sum of gradients"),
    entry("adagrad", Adagrad, ("lr",), "per-weight rates shrinking with the sum of squared gradients"),
    entry("adadelta", Adadelta, ("lr",), "Adagrad with a decaying window, nearly rate-free"),
    entry("rmsprop", Rmsprop, ("lr",), "per-weight rates from a running mean of squared gradients"),
    entry("adam", Adam, ("lr",), "momentum + RMSprop with bias correction"),
    entry("adamw", AdamW, ("lr",), "Adam with decoupled weight decay"),
    entry("nadam", Adam, ("lr",), "Adam with Nesterov momentum"),
    entry("adamax", Adam, ("lr",), "Adam with the infinity norm"),
])


# ---- learning-rate schedules -------------------------------------------------------------------------
class Step(Params):
    every: Positive = 10  # epochs
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5


class Exponential(Params):
    decay: Annotated[float, Field(gt=0, lt=1)] = 0.96  # per epoch


class Cosine(Params):
    warmup: Annotated[int, Field(ge=0)] = 0  # steps
    min_lr: NonNegative = 0.0


class Warmup(Params):
    steps: Positive = 100


class Plateau(Params):
    patience: Positive = 5
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5
    cooldown: Annotated[int, Field(ge=0)] = 0


SCHEDULES = Registry("schedule", [
    entry("constant", doc="the optimizer's rate throughout"),
    entry("step", Step, ("every", "factor"), "multiply the rate by `factor` every `every` epochs"),
    entry("exponential", Exponential, ("decay",), "multiply the rate by `decay` each epoch (smoothly)"),
    entry("cosine", Cosine, ("warmup",), "linear warm-up over `warmup` steps, then cosine decay to min_lr"),
    entry("warmup", Warmup, ("steps",), "linear warm-up from 0 over `steps` steps, then constant"),
    entry("reduce_on_plateau", Plateau, ("patience", "factor"),
          "scale the rate by `factor` when the training loss stops improving for `patience` epochs"),
])


class Penalty(Params):
    strength: Annotated[float, Field(gt=0)]


REGULARIZERS = Registry("regularizer", [
    entry("l1", Penalty, ("strength",), "adds strength * sum(|w|) over kernels to the loss (sparse weights)"),
    entry("l2", Penalty, ("strength",), "adds strength * sum(w^2) over kernels to the loss (small weights)"),
])


class TopK(Params):
    k: Positive = 5


METRICS = Registry("metric", [
    entry("accuracy", doc="fraction of examples whose predicted class is right", task="classification"),
    entry("top_k", TopK, ("k",), "fraction whose true class is among the k most likely", task="classification"),
    entry("precision", doc="true positives / predicted positives (macro mean over classes)", task="classification"),
    entry("recall", doc="true positives / actual positives (macro mean over classes)", task="classification"),
    entry("f1", doc="harmonic mean of precision and recall (macro)", task="classification"),
    entry("mae", doc="mean absolute error", task="regression"),
    entry("mse", doc="mean squared error", task="regression"),
    entry("rmse", doc="root mean squared error", task="regression"),
])


# ---- GAN objective and its noise ----------------------------------------------------------------------
class NoiseShape(Params):
    shape: Annotated[list[Positive], Field(min_length=1)]


NOISES = Registry("noise", [
    entry("normal", NoiseShape, ("shape",), "standard normal noise of the given shape"),
    entry("uniform", NoiseShape, ("shape",), "uniform noise in [-1, 1] of the given shape"),
])


class Gan(Params):
    generator: Annotated[str, BlockRef("model")]
    discriminator: Annotated[str, BlockRef("model")]
    noise: Annotated[Ref, RefTo("noise")]


OBJECTIVES = Registry("objective", [
    entry("gan", Gan, ("generator", "discriminator", "noise"),
          "adversarial training: a generator against a discriminator"),
])


class FromCheckpoint(Params):
    run: str
    layers: list[str] | None = None


INITS = Registry("init", [
    entry("checkpoint", FromCheckpoint, ("run", "layers"),
          "load matching parameters (by block/layer name) from another run folder"),
])


class Monitor(Params):
    metric: str = "val_loss"


SWEEP_OBJECTIVES = Registry("sweep_objective", [
    entry("minimize", Monitor, ("metric",), "pick the trial with the lowest final value"),
    entry("maximize", Monitor, ("metric",), "pick the trial with the highest final value"),
])
