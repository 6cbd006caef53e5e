"""The validated, shaped program description that code generation reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..registry import Params, Ref
from ..registry.loading import SourceInfo
from ..source import Source, Span
from .schema import DataProps, SweepProps, TrainProps

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: Shape
    dtype: str = "float32"


@dataclass(frozen=True)
class Node:
    """One layer statement, resolved and shaped.

    ``kind`` is a layer registry name, ``"activation"`` (a bare activation statement, ``params`` is
    then the activation Ref), or ``"model"`` (a model used as a layer, see ``submodel``).
    """

    name: str
    kind: str
    params: Params | Ref | None
    inputs: tuple[str, ...]
    output: str
    in_shapes: tuple[Shape, ...]
    shape: Shape
    span: Span
    param_count: int = 0
    submodel: Model | None = None
    named: bool = (
        False  # the spec binds the output to a name (`r = dense(8)`): emitted code keeps it
    )
    # the tensors it yields besides ``output`` (``seq, h, c = lstm(..., return_state=true)``)
    extra: tuple[Tensor, ...] = ()


# An expression of a block's parameter as data: a number, ("param", name), ("neg", operand) or
# (op, left, right) with op one of + - * / //.
Formula = tuple[str, object, object, object]  # (parameter, expression, value, value in the variant)


@dataclass(frozen=True)
class Model:
    name: str
    inputs: tuple[Tensor, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[Tensor, ...]
    span: Span
    bound: tuple[tuple[str, object], ...] = ()  # parameter values of a parameterised model
    # (parameter, value, the model built with that one parameter changed to value): how each number
    # of the model depends on its parameters, so that code generation can write one parameterised
    # class
    variants: tuple[tuple[str, object, Model], ...] = field(default=(), compare=False, repr=False)
    # the block's arithmetic on one parameter (``width * 2``), each with its value in this model and
    # in that parameter's variant: numbers that follow it are written as the expression
    formulas: tuple[Formula, ...] = field(default=(), compare=False, repr=False)

    @property
    def param_count(self) -> int:
        return sum(n.param_count for n in self.nodes)

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def layer_paths(self, prefix: str = "") -> list[tuple[str, Node]]:
        """The layer nodes of this model and of the models it uses as blocks, in order, each with
        its attribute path (`z`, `enc.code` inside a block named enc)."""
        out: list[tuple[str, Node]] = []
        for n in self.nodes:
            if n.submodel is not None:
                out += n.submodel.layer_paths(f"{prefix}{n.name}.")
            else:
                out.append((prefix + n.name, n))
        return out

    @property
    def last(self) -> Node | None:
        out = self.outputs[0].name if self.outputs else None
        return next((n for n in reversed(self.nodes) if n.output == out), None)


@dataclass(frozen=True)
class Data:
    name: str
    props: DataProps
    info: SourceInfo  # after windows/reshape: the shape a model's input must have
    span: Span
    base_dir: Path | None
    # a train block without `data:`: the arrays given to `fit(data=...)`, nothing known before
    given: bool = False


def given_data(span: Span, task: str | None) -> Data:
    """The data of a train block without `data:`: any split may come; the targets are what the
    loss reads (`task`: classification or regression, None when not known)."""
    splits = {"train": 0.6, "val": 0.2, "test": 0.2}  # (which splits fit() may be given)
    props = DataProps(source=Ref("source", "arrays", Params(), span), split=splits)
    return Data("arrays", props, SourceInfo(None, None, task), span, None, given=True)


@dataclass(frozen=True)
class Train:
    name: str
    props: TrainProps
    data: Data
    model: Model | None
    span: Span
    generator: Model | None = None
    discriminator: Model | None = None
    property_spans: dict[str, Span] = field(default_factory=dict, compare=False)

    @property
    def loss(self) -> Ref:
        """The loss (of the first output when `loss:` gives one per output)."""
        loss = self.props.loss
        return loss if isinstance(loss, Ref) else next(iter(loss.values()))

    def output_losses(self) -> dict[str, Ref]:
        """Each output's loss (`loss: {out: ...}`; one loss given: the same for every output)."""
        assert self.model is not None
        loss = self.props.loss
        names = [t.name for t in self.model.outputs]
        if isinstance(loss, Ref):
            return dict.fromkeys(names, loss)
        return {n: loss[n] for n in names if n in loss}

    def metric_refs(self) -> list[tuple[str | None, Ref]]:
        """(output, metric): None for a metric of `metrics: [...]` (every output of its task)."""
        m = self.props.metrics
        if isinstance(m, dict):
            return [(out, ref) for out, refs in m.items() for ref in refs]
        return [(None, ref) for ref in m]

    def weighted_keys(self) -> list[str]:
        """The history keys of `weighted_metrics: [...]` (Keras' naming: registry.metrics)."""
        from ..registry.metrics import METRICS
        from ..registry.weightedmetrics import weighted_keys

        key = lambda m: METRICS[m.name].history_key(m.params)
        plain = [key(m) for _, m in self.metric_refs()]
        return weighted_keys(plain, [key(m) for m in self.props.weighted_metrics])

    def loss_weight(self, output: str) -> float:
        return (self.props.loss_weights or {}).get(output, 1.0)

    @property
    def several(self) -> bool:
        """The model has several inputs or several outputs: x and y are dicts keyed by name."""
        m = self.model
        return m is not None and (len(m.inputs) > 1 or len(m.outputs) > 1)


@dataclass(frozen=True)
class Sweep:
    name: str
    props: SweepProps
    span: Span
    property_spans: dict[str, Span] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Program:
    """Everything in one spec, validated and shaped."""

    source: Source
    lets: dict[str, object]
    data: dict[str, Data]
    models: dict[str, Model]
    trains: dict[str, Train]
    sweeps: dict[str, Sweep]


def select_train(program: Program, name: str | None) -> Train:
    """The train block ``name``, or the only one, or the one called ``main``."""
    from ..diagnostics import did_you_mean
    from ..errors import NncompileError

    if not program.trains:
        raise NncompileError(
            f"{program.source.path} has no train block", "add `train { model: ...  data: ... }`"
        )
    if name is None:
        if len(program.trains) == 1 or "main" in program.trains:
            return program.trains.get("main") or next(iter(program.trains.values()))
        names = ", ".join(program.trains)
        raise NncompileError(
            f"{program.source.path} has several train blocks ({names})",
            "choose one with --train NAME",
        )
    if name not in program.trains:
        raise NncompileError(
            f"no train block '{name}' in {program.source.path}",
            did_you_mean(name, program.trains)
            or f"the train blocks are {', '.join(program.trains)}",
        )
    return program.trains[name]
