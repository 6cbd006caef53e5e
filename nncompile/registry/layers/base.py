"""The layer entry type and what the layer definitions share.

Shapes exclude the batch axis: a digits image is (8, 8, 1). A shape rule receives the validated
arguments and the shapes of its inputs and returns the output shape, or raises ShapeError with a
message and a hint the diagnostic shows at the layer's statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from ...expr import Sym
from ...shapes import Shape, ShapeError, fmt
from .. import Entry, Ref, RefTo
from ..activations import initializer_expr
from ..bounds import Size
from ..lowering import Code, Lowered

ActivationRef = Annotated[Ref | None, RefTo("activation")]
InitRef = Annotated[Ref | None, RefTo("initializer")]
RegularizerRef = Annotated[Ref | None, RefTo("regularizer")]  # a penalty on this layer's kernel
Positive = Size  # at most bounds.MAX_WIDTH
KernelSize = Positive | list[Positive]
Padding = Literal["same", "valid"]


@dataclass(frozen=True)
class Example:
    """A minimal valid use of a layer, for the table tests: its statement in a model block,
    reading the inputs ``a, b, ...`` of the given types (``"[8, 8, 1]"``, ``"int[10]"``: token
    ids)."""

    statement: str
    inputs: tuple[str, ...] = ("[8]",)


@dataclass(frozen=True)
class LossTerm:
    """A term a layer adds to the loss: ``weight`` x ``value`` (the unweighted term, read on the
    layer's attribute), recorded unweighted in the history as ``key`` (``kl_loss``)."""

    key: str
    weight: float
    value: Code


def no_params(p: Any, x: list[Shape], out: Shape) -> int:
    return 0


@dataclass(frozen=True, kw_only=True)
class Layer(Entry):
    """Everything the pipeline knows about one layer name.

    - ``shape(p, in_shapes) -> Shape``: the output shape, or ShapeError;
    - ``count(p, in_shapes, shape) -> int``: its parameters and batch statistics, as Flax has them;
    - ``lower(p, in_shapes, shape) -> Lowered``: the Flax NNX constructor and call;
    - ``example``: a minimal valid use (the table tests in tests/registry/ build and run it);
    - ``merge``: it reads several tensors, named as positional arguments (``add(h, r)``), written
      ``merge_names`` in its documented signature;
    - ``reads_tokens``: it accepts integer token ids (and passes them on unless ``needs_tokens``);
    - ``needs_tokens``: it accepts only token ids and turns them into floats (embedding);
    - ``token_count``: the argument counting the ids it takes (``vocab``: ids 0..vocab-1), against
      which check and the runtime test the token ids of the data;
    - ``convolution``: it builds an nnx.Conv (an im2col candidate on CPU; elemental emitters);
    - ``col2im``: its nnx.Conv dilates its input (a transposed convolution; COL2IM on CPU);
    - ``fusion_emitters``: XLA:CPU's fusion emitters run it faster (capsule routing);
    - ``extra_activation_floats(p, in_shapes, shape)``: floats per example it holds besides its
      output (im2col patches), to size evaluation batches;
    - ``outputs(p, in_shapes)``: the tensors it yields, by label, when the arguments make it yield
      several (``seq, h, c = lstm(64, return_sequences=true, return_state=true)``), its first
      entry ``shape``'s; None: one tensor. Its lowering then sets ``apply_all`` and ``unpack``;
    - ``tensor_args``: keyword arguments that name tensors (``initial_state=[h, c]``): the walk
      reads them as further inputs, after the one the layer transforms, and validates the
      arguments with the tensor names as strings;
    - ``loss_term(p, attr) -> LossTerm``: a term it adds to the loss (Keras' ``add_loss``), written
      on the layer's attribute in the model (``model.z``) and read after loss_fn's forward pass
      (``gaussian_sample``'s KL divergence), recorded in the history under its own key;
    - ``latent``: it draws the model's latent point (``gaussian_sample``): its output shape is the
      latent space's, and its module answers ``nnx.view(model, prior=True)`` (draw from the prior
      N(0, I) whatever its inputs) and ``nnx.view(model, latent=z)`` (return the given points), so
      ``nncompile sample`` and ``Program.sample(latent=, grid=)`` decode through it;
    - ``batch_statistics``: its module keeps statistics of the batches it sees (BatchNorm's
      running averages), which couple every row of a batch: its steps cannot be computed shard
      by shard (`logical_shards:` is refused at check time);
    - ``recurrent``: a time loop of small per-step matmuls, which XLA:CPU runs on one core (the
      plan's `cores` rule splits such programs' batches over the CPU's cores: plan.cores).
    """

    shape: Callable[[Any, list[Shape]], Shape]
    count: Callable[[Any, list[Shape], Shape], int] = no_params
    lower: Callable[[Any, tuple[Shape, ...], Shape], Lowered]
    example: Example
    merge: bool = False
    merge_names: str = "a, b, ..."
    reads_tokens: bool = False
    needs_tokens: bool = False
    token_count: str | None = None
    convolution: bool = False
    col2im: bool = False
    fusion_emitters: bool = False
    extra_activation_floats: Callable[[Any, tuple[Shape, ...], Shape], int] | None = None
    outputs: Callable[[Any, list[Shape]], dict[str, Shape] | None] | None = None
    tensor_args: tuple[str, ...] = ()
    batch_statistics: bool = False
    recurrent: bool = False
    loss_term: Callable[[Any, Sym], LossTerm] | None = None
    latent: bool = False


def rank(name: str, x: Shape, *ranks: int, hint: str | None = None) -> None:
    if len(x) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(
            f"{name} expects an input of rank {want} (without the batch axis), "
            f"but receives {fmt(x)} of rank {len(x)}",
            hint,
        )


def spread(v: int | list[int], n: int) -> tuple[int, ...]:
    """A size given once (``3``) or per axis (``[3, 2]``) as a tuple with one size per axis."""
    return tuple(v) if isinstance(v, list) else (v,) * n


def same(p: Any, x: list[Shape]) -> Shape:
    return x[0]


def weights(p: Any) -> dict[str, Code | bool]:
    """The keyword arguments of a layer's kernel (and bias): ``use_bias`` only when false."""
    kw: dict[str, Code | bool] = {"use_bias": False} if not p.use_bias else {}
    kw["kernel_init"] = initializer_expr(p.init)
    if getattr(p, "bias_init", None) is not None:
        kw["bias_init"] = initializer_expr(p.bias_init)
    return kw
