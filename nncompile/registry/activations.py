"""Activations and weight initializers: one typed entry each, with arguments, docs and lowering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from ..expr import Call, Snippet, Sym, call, t
from . import Entry, Params, Ref, Registry
from .lowering import Code, changed


@dataclass(frozen=True, kw_only=True)
class Activation(Entry):
    """An activation function. ``lower(p, x)`` is the expression applying it to ``x``; ``example``
    a valid use in a spec where the bare name is not one (required arguments)."""

    lower: Callable[[Any, Code], Code]
    snippets: tuple[Snippet, ...] = ()
    example: str | None = None


@dataclass(frozen=True, kw_only=True)
class Initializer(Entry):
    """A weight initializer. ``lower(p)`` is the expression of the initializer function
    (``nnx.initializers.he_normal()``); ``snippets``: helper code it calls; ``matrices_only``: it
    scales by fan-in/fan-out or needs a matrix, so it cannot initialize a bias vector."""

    lower: Callable[[Any], Code]
    snippets: tuple[Snippet, ...] = ()
    example: str | None = None
    matrices_only: bool = False


# ---- activations -------------------------------------------------------------------------------
class LeakyRelu(Params):
    alpha: Annotated[float, Field(ge=0)] = 0.01


class Elu(Params):
    alpha: Annotated[float, Field(gt=0)] = 1.0


class Softmax(Params):
    axis: int = -1


def _fn(name: str) -> Callable[[Any, Code], Code]:
    """An activation that is one call of a library function without arguments."""
    return lambda p, x: call(name, x)


def _leaky_relu(p: LeakyRelu, x: Code) -> Code:
    return call("jax.nn.leaky_relu", x, **changed(negative_slope=(p.alpha, 0.01)))


def _elu(p: Elu, x: Code) -> Code:
    return call("jax.nn.elu", x, **changed(alpha=(p.alpha, 1.0)))


def _softmax(p: Softmax, x: Code) -> Code:
    return call("jax.nn.softmax", x, **changed(axis=(p.axis, -1)))


ACTIVATIONS = Registry(
    "activation",
    [
        Activation(
            "linear", doc="identity: f(x) = x (a layer without activation)", lower=lambda p, x: x
        ),
        Activation(
            "relu",
            doc="max(0, x); cheap, but units can 'die' (stay at 0)",
            lower=_fn("jax.nn.relu"),
        ),
        Activation(
            "leaky_relu",
            LeakyRelu,
            ("alpha",),
            "x for x > 0, alpha*x otherwise; avoids dying ReLU",
            lower=_leaky_relu,
            example="leaky_relu(0.2)",
        ),
        Activation(
            "elu",
            Elu,
            ("alpha",),
            "x for x > 0, alpha*(exp(x)-1) otherwise",
            lower=_elu,
            example="elu(0.5)",
        ),
        Activation("selu", doc="scaled ELU (self-normalising networks)", lower=_fn("jax.nn.selu")),
        Activation(
            "gelu",
            doc="x * Phi(x), smooth ReLU used in transformers",
            lower=lambda p, x: call("jax.nn.gelu", x, approximate=False),
        ),
        Activation(
            "sigmoid",
            doc="1/(1+exp(-x)) in (0, 1): binary outputs; saturates (vanishing gradient)",
            lower=_fn("jax.nn.sigmoid"),
        ),
        Activation("tanh", doc="in (-1, 1), zero-centred; saturates", lower=_fn("jnp.tanh")),
        Activation(
            "softmax",
            Softmax,
            ("axis",),
            "exp(x)/sum(exp(x)): class probabilities over the last axis",
            lower=_softmax,
        ),
        Activation("softplus", doc="log(1+exp(x)), smooth ReLU", lower=_fn("jax.nn.softplus")),
        Activation("swish", doc="x * sigmoid(x) (also called silu)", lower=_fn("jax.nn.swish")),
    ],
)


def activation_call(ref: Ref | None, x: Code) -> Code:
    """``x`` through the activation ``ref`` (None: no activation)."""
    if ref is None:
        return x
    return ACTIVATIONS[ref.name].lower(ref.params, x)


def activation_fn(ref: Ref) -> Code:
    """The activation as a function value (a recurrent cell's ``activation_fn``): the library
    function itself where the lowering is one call of it, otherwise a lambda."""
    v = Sym("v")
    body = activation_call(ref, v)
    if isinstance(body, Call) and body.args == (v,) and not body.kwargs:
        return Sym(body.fn)
    return t("lambda v: {body}", body=body)


# ---- initializers ------------------------------------------------------------------------------
class Normal(Params):
    stddev: Annotated[float, Field(gt=0)] = 0.05


class Uniform(Params):
    scale: Annotated[float, Field(gt=0)] = 0.05


class Constant(Params):
    value: float = 0.0


SYMMETRIC_UNIFORM = Snippet(
    "symmetric_uniform",
    '''
def symmetric_uniform(scale):
    """Initializer: uniform in [-scale, scale]."""
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)
    return init
''',
)


def _matrix(name: str, doc: str) -> Initializer:
    """An initializer of ``nnx.initializers`` without arguments that scales by fan-in/out."""
    lower = lambda p: call(f"nnx.initializers.{name}")
    return Initializer(name, doc=doc, lower=lower, matrices_only=True)


INITIALIZERS = Registry(
    "initializer",
    [
        _matrix("glorot_uniform", "Glorot/Xavier uniform (the default for kernels)"),
        _matrix("glorot_normal", "Glorot/Xavier normal"),
        _matrix("he_uniform", "He/Kaiming uniform, for ReLU layers"),
        _matrix("he_normal", "He/Kaiming normal, for ReLU layers"),
        _matrix("lecun_uniform", "LeCun uniform"),
        _matrix("lecun_normal", "LeCun normal (for selu)"),
        _matrix("orthogonal", "orthogonal matrix (recurrent kernels)"),
        Initializer(
            "normal",
            Normal,
            ("stddev",),
            "normal with the given standard deviation",
            lower=lambda p: call("nnx.initializers.normal", p.stddev),
            example="normal(0.1)",
        ),
        Initializer(
            "uniform",
            Uniform,
            ("scale",),
            "uniform in [-scale, scale]",
            lower=lambda p: call("symmetric_uniform", p.scale),
            snippets=(SYMMETRIC_UNIFORM,),
            example="uniform(0.1)",
        ),
        Initializer(
            "constant",
            Constant,
            ("value",),
            "every weight the same value",
            lower=lambda p: call("nnx.initializers.constant", p.value),
            example="constant(0.5)",
        ),
        Initializer(
            "zeros",
            doc="all zeros (the default for biases)",
            lower=lambda p: Sym("nnx.initializers.zeros"),
        ),
        Initializer("ones", doc="all ones", lower=lambda p: Sym("nnx.initializers.ones")),
    ],
)


def initializer_expr(ref: Ref | None) -> Code:
    """The initializer ``ref`` names; None: the language's default kernel initializer."""
    if ref is None:
        return Sym("KERNEL_INIT")
    return INITIALIZERS[ref.name].lower(ref.params)


def initializer_snippets(*refs: Ref | None) -> tuple[Snippet, ...]:
    return tuple(s for r in refs if r is not None for s in INITIALIZERS[r.name].snippets)
