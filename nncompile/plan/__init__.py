"""The plan: every decision about how one train block becomes a program, made before any text is
written, typed, and printable (`nncompile plan FILE`). The convolution rule is in `conv.py`, what
every rule reads (Decision, the facts about a model) in `facts.py`.

Code generation only writes what the plan says; the runtime reads the decisions it needs from the
program's CONFIG. Each decision carries the reason it was taken, so the printed plan explains
itself.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..memory import Memory, estimate, size
from ..registry.layers import LAYERS
from ..registry.losses import LOSSES
from ..registry.schedules import SCHEDULES, schedule_refs
from ..semantics import ir
from ..semantics.ir import select_train
from ..semantics.schema import unfreeze_epochs
from .conv import CANONICAL_ON_CPU, COL2IM_ON_CPU, conv_lowering
from .cores import cores
from .facts import FUSABLE_HEADS, Decision, head_activation, model_layers

Frozen = tuple[tuple[str, ...], int | None]  # layers without updates, and until which epoch
ONE_CORE: Decision[int] = Decision(1, "one device computes each step")


@dataclass(frozen=True)
class Plan:
    """How `train <name>` of a spec is compiled and run."""

    spec: str
    train: str
    kind: Literal["supervised", "gan"]
    model: str  # the model trained (supervised) or the generator (gan)
    # output activation folded into the loss: the model returns logits
    head: Decision[str | None]
    freeze: Decision[Frozen]  # layers without updates, and for how many epochs
    # how the runtime runs an epoch: "scan" (one compiled loop) or "step"
    strategy: Decision[str]
    precision: Decision[str]  # "float32" or "bfloat16" (bf16 compute, float32 parameters)
    # "canonical gradients on CPU", "im2col on CPU" or "im2col and col2im on CPU" (backend
    # tunings of nnx.Conv) or "none"
    conv_lowering: Decision[str]
    compiler_options: Decision[dict[str, bool]]  # XLA:CPU options of the compiled functions
    # floats one example holds in a forward pass: sizes evaluation batches
    activation_floats: Decision[int]
    plateau: Decision[bool]  # reduce_on_plateau: the runtime lowers the rate at epoch ends
    # bytes a training run needs, checked against the free memory
    memory: Decision[Memory]
    # gan only: the discriminator's folded sigmoid
    discriminator_head: Decision[str | None] | None = None
    # a model with several outputs: the activation folded into each output's loss (or None)
    heads: Decision[dict[str, str | None]] | None = None
    # host CPU devices a step is split over (plan.cores): 1, or 2 for a recurrent program
    cores: Decision[int] = ONE_CORE
    notes: tuple[str, ...] = field(default=())

    @property
    def fold(self) -> str | None:
        return self.head.value

    @property
    def frozen(self) -> tuple[str, ...]:
        return self.freeze.value[0]

    @property
    def unfreeze_after(self) -> int | None:
        return self.freeze.value[1]

    @property
    def im2col(self) -> bool:
        return self.conv_lowering.value not in ("none", CANONICAL_ON_CPU)

    @property
    def col2im(self) -> bool:
        return self.conv_lowering.value == COL2IM_ON_CPU

    def decisions(self) -> list[tuple[str, Decision[Any]]]:
        named: list[tuple[str, Decision[Any]]] = [
            ("head", self.head),
            ("freeze", self.freeze),
            ("strategy", self.strategy),
            ("precision", self.precision),
            ("conv lowering", self.conv_lowering),
            ("compiler options", self.compiler_options),
            ("cores", self.cores),
            ("activation floats", self.activation_floats),
            ("plateau", self.plateau),
            ("memory", self.memory),
        ]
        if self.discriminator_head is not None:
            named.append(("discriminator head", self.discriminator_head))
        if self.heads is not None:
            named.insert(1, ("heads", self.heads))
        return named


def compiler_options(model: ir.Model) -> Decision[dict[str, bool]]:
    """XLA:CPU compiles every fused kernel with its MLIR fusion emitters and then LLVM (~10 ms of
    CPU per kernel), and an im2col convolution adds 2 * (taps - 1) small copy kernels. With the
    older elemental emitters the convolutional programs compile in 0.57-0.60 of the time (W2:
    0.62 -> 0.36 s) and run their epochs at 0.95-1.01 of the time; dense programs (W1 epochs
    1.13x) and capsule routing (1.23x) run slower with them (bench/emitters.py,
    bench/results/emitters.md)."""
    conv = [e.name for e in model_layers(model) if e.convolution]
    fusion = [e.name for e in model_layers(model) if e.fusion_emitters]
    if conv and not fusion:
        return Decision(
            {"xla_cpu_use_fusion_emitters": False},
            f"elemental emitters: convolutions ({', '.join(sorted(set(conv)))}) compile in ~0.6 of "
            "the time with them",
        )
    if fusion:
        return Decision(
            {}, f"XLA's defaults: {', '.join(sorted(set(fusion)))} run faster with fusion emitters"
        )
    return Decision({}, "XLA's defaults: dense programs run fastest with them")


def gan_compiler_options() -> Decision[dict[str, bool]]:
    """XLA's default emitters: the DCGAN compiled in 0.72-0.83 of the CPU time with the elemental
    ones but ran its epochs 1.09-1.10x slower. Copy insertion with region analysis: the W6 step no
    longer copies its parameters and Adam moments (27 copies, 724 KiB a step -> 9 scalars),
    0.92-0.95x the CPU of an epoch, states bitwise equal (bench/results/gan6.md); on supervised
    programs it measured 0.98x (W1, W3) and 1.10x (W5, LSTM): GANs only."""
    return Decision(
        {"xla_cpu_copy_insertion_use_region_analysis": True},
        "XLA's default emitters (a GAN's epochs run fastest with them); copy insertion with region "
        "analysis: the step loop does not copy the parameters and optimizer moments it updates",
    )


def activation_floats(model: ir.Model) -> int:
    """Floats a forward pass holds per example: the inputs, every layer's output and what a layer
    adds on top (im2col patches: taps x input channels per output position)."""
    total = sum(math.prod(t.shape) for t in model.inputs)
    for n in model.nodes:
        if n.submodel is not None:
            total += activation_floats(n.submodel)
            continue
        total += math.prod(n.shape) + sum(math.prod(t.shape) for t in n.extra)  # + states
        extra = LAYERS[n.kind].extra_activation_floats if n.kind in LAYERS else None
        if extra is not None:
            total += extra(n.params, n.in_shapes, n.shape)
    return total


def memory(train: ir.Train, models: list[ir.Model]) -> Decision[Memory]:
    """The run's memory (nncompile.memory): training refuses a run that cannot fit, up front."""
    mem = estimate(train, models, sum(activation_floats(m) for m in models))
    return Decision(
        mem, f"float32 {mem.parts()}; training checks the total against the free memory first"
    )


# ---- the plan ------------------------------------------------------------------------------------
def _head(train: ir.Train) -> Decision[str | None]:
    if train.model is not None and len(train.model.outputs) > 1:
        return Decision(None, "several outputs: each has its own head (below)")
    loss = train.loss
    entry = LOSSES[loss.name]
    fuses = entry.head
    head = head_activation(train.model)  # type: ignore[arg-type]
    if head is not None and head == fuses:
        return Decision(
            head,
            f"{loss.name} takes logits: the model's final {head} moves into the loss "
            f"(one numerically stable step); predict applies it",
        )
    if head is not None:
        return Decision(None, f"the model ends with {head}, which {loss.name} does not fuse")
    return Decision(None, "the model's output goes to the loss as it is")


def output_heads(train: ir.Train) -> Decision[dict[str, str | None]]:
    """Per output of a model with several: its final softmax/sigmoid moves into its loss when that
    loss takes logits and no other layer reads the output."""
    model = train.model
    assert model is not None
    read = {i for n in model.nodes for i in n.inputs}
    heads: dict[str, str | None] = {}
    why: list[str] = []
    for out, loss in train.output_losses().items():
        node = next((n for n in model.nodes if n.output == out), None)
        act = None
        if node is not None and node.kind != "model":
            if node.kind == "activation":
                act = node.params.name  # type: ignore[union-attr]
            elif getattr(node.params, "activation", None) is not None:
                act = node.params.activation.name  # type: ignore[union-attr]
        fused = act in FUSABLE_HEADS and act == LOSSES[loss.name].head and out not in read
        heads[out] = act if fused else None
        why.append(
            f"{out}: {loss.name} takes logits, its {act} moves into the loss"
            if fused
            else f"{out}: goes to {loss.name} as it is"
        )
    return Decision(heads, "; ".join(why) + "; predict applies each folded activation")


def _freeze(train: ir.Train) -> Decision[Frozen]:
    p = train.props
    frozen = tuple(p.freeze or ())
    if not frozen:
        return Decision(((), None), "every layer trains")
    after = unfreeze_epochs(p.unfreeze_after)
    until = f" for the first {after} epochs" if after else ""
    rate = getattr(p.unfreeze_after, "lr", None)
    if rate is not None:
        until += f", then every layer at lr {rate:g}"
    return Decision(
        (frozen, after),
        f"no updates, no optimizer state and BatchNorm in inference mode for "
        f"{', '.join(frozen)}{until}",
    )


def _strategy(gan: bool, pinned: str = "auto") -> Decision[str]:
    if pinned != "auto":
        return Decision(pinned, f"pinned by the train block (`strategy: {pinned}`): not measured")
    if gan:
        return Decision(
            "scan",
            "an epoch is one compiled loop over the batches (chunks between progress updates "
            "when a step is large), a discriminator and a generator update per batch",
        )
    return Decision(
        "scan",
        "per-step dispatch dominates small models: the steps of an epoch run as one "
        "compiled loop over device-resident batches (bench/README.md); with autotune on, the "
        "first run on a machine measures the candidates instead (autotune below)",
    )


def plan_for(program: ir.Program, train_name: str | None = None) -> Plan:
    train = select_train(program, train_name)
    spec = Path(program.source.path).name
    p = train.props
    precision: Decision[str] = Decision(
        p.precision,
        "bf16 compute, float32 parameters and loss"
        if p.precision == "bfloat16"
        else "float32 throughout",
    )
    adapting = [r for r in schedule_refs(p) if SCHEDULES[r.name].adapts]
    plateau = Decision(
        bool(adapting),
        f"{adapting[0].name}: the runtime lowers the rate held in the optimizer state when "
        f"{getattr(adapting[0].params, 'monitor', 'the monitor')} stops improving (epoch ends)"
        if adapting
        else "no reduce_on_plateau: the rate follows the schedule's steps",
    )
    if train.model is None:  # adversarial
        g, d = train.generator, train.discriminator
        assert g is not None and d is not None
        d_head = head_activation(d)
        fold = d_head if d_head is not None and d_head == LOSSES[train.loss.name].head else None
        why = (
            "the GAN loss takes the discriminator's logits (softplus form)"
            if fold
            else "the discriminator's output goes to the loss as it is"
        )
        return Plan(
            spec,
            train.name,
            "gan",
            g.name,
            Decision(None, "a generator has no loss head"),
            Decision(((), None), "every layer trains"),
            _strategy(True),
            precision,
            conv_lowering([g, d], gan=True),
            gan_compiler_options(),
            Decision(activation_floats(g), "generator forward pass"),
            plateau,
            memory(train, [g, d]),
            Decision(fold, why),
        )
    model = train.model
    return Plan(
        spec,
        train.name,
        "supervised",
        model.name,
        _head(train),
        _freeze(train),
        _strategy(False, p.strategy),
        precision,
        conv_lowering([model]),
        compiler_options(model),
        Decision(
            activation_floats(model), "sizes evaluation and prediction batches to the free memory"
        ),
        plateau,
        memory(train, [model]),
        heads=output_heads(train) if len(model.outputs) > 1 else None,
        cores=cores(train, model),
    )


def describe(program: ir.Program, train_name: str | None = None) -> str:
    """The plan as text, one decision a line with its reason."""
    plan = plan_for(program, train_name)
    lines = [f"plan for `train {plan.train}` of {plan.spec} ({plan.kind}, model {plan.model})"]
    for name, d in plan.decisions():
        value = d.value
        if name == "freeze":
            frozen, after = d.value
            value = (
                ", ".join(frozen) + (f" (until epoch {after})" if after else "")
                if frozen
                else "none"
            )
        lines.append(f"  {name + ':':19} {_show(value)}")
        lines += textwrap.wrap(d.why, 100, initial_indent=" " * 22, subsequent_indent=" " * 22)
    return "\n".join(lines) + "\n"


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, Memory):
        return f"about {size(value.total)}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "defaults"
    return str(value).lower() if isinstance(value, bool) else str(value)
