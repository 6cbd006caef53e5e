"""Activations and weight initializers."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from . import Params, Registry, entry


class LeakyRelu(Params):
    alpha: Annotated[float, Field(ge=0)] = 0.01


class Elu(Params):
    alpha: Annotated[float, Field(gt=0)] = 1.0


class Softmax(Params):
    axis: int = -1


ACTIVATIONS = Registry("activation", [
    entry("linear", doc="identity: f(x) = x (a layer without activation)"),
    entry("relu", doc="max(0, x); cheap, but units can 'die' (stay at 0)"),
    entry("leaky_relu", LeakyRelu, ("alpha",), "x for x > 0, alpha*x otherwise; avoids dying ReLU"),
    entry("elu", Elu, ("alpha",), "x for x > 0, alpha*(exp(x)-1) otherwise"),
    entry("selu", doc="scaled ELU (self-normalising networks)"),
    entry("gelu", doc="x * Phi(x), smooth ReLU used in transformers"),
    entry("sigmoid", doc="1/(1+exp(-x)) in (0, 1): binary outputs; saturates (vanishing gradient)"),
    entry("tanh", doc="in (-1, 1), zero-centred; saturates"),
    entry("softmax", Softmax, ("axis",), "exp(x)/sum(exp(x)): class probabilities over the last axis"),
    entry("softplus", doc="log(1+exp(x)), smooth ReLU"),
    entry("swish", doc="x * sigmoid(x) (also called silu)"),
])


class Normal(Params):
    stddev: Annotated[float, Field(gt=0)] = 0.05


class Uniform(Params):
    scale: Annotated[float, Field(gt=0)] = 0.05


class Constant(Params):
    value: float = 0.0


INITIALIZERS = Registry("initializer", [
    entry("glorot_uniform", doc="Glorot/Xavier uniform (the default for kernels)"),
    entry("glorot_normal", doc="Glorot/Xavier normal"),
    entry("he_uniform", doc="He/Kaiming uniform, for ReLU layers"),
    entry("he_normal", doc="He/Kaiming normal, for ReLU layers"),
    entry("lecun_uniform", doc="LeCun uniform"),
    entry("lecun_normal", doc="LeCun normal (for selu)"),
    entry("orthogonal", doc="orthogonal matrix (recurrent kernels)"),
    entry("normal", Normal, ("stddev",), "normal with the given standard deviation"),
    entry("uniform", Uniform, ("scale",), "uniform in [-scale, scale]"),
    entry("constant", Constant, ("value",), "every weight the same value"),
    entry("zeros", doc="all zeros (the default for biases)"),
    entry("ones", doc="all ones"),
])
