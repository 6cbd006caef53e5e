"""The memory a training run needs, estimated from the spec before anything is allocated: the plan's
`memory` decision (`nncompile plan FILE`). Training compares it with the device's free memory and
refuses a run that cannot fit with a ResourceError that carries the estimate (nncompile.api).

float32 throughout (bfloat16 programs keep float32 parameters; their activations are counted as
float32 too, an over-estimate). Activations: the floats one example holds in a forward pass
(plan.activation_floats), kept for the backward pass and matched by their gradients.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import ResourceError
from .registry import Ref
from .registry.optimizers import OPTIMIZERS
from .semantics import ir

FLOAT = 4  # bytes of a float32 or int32
WINDOWS_CAP = 20000  # windows kept when the source sets no max_windows (runtime.data.windowed)


@dataclass(frozen=True)
class Memory:
    """Bytes of a training run, by what holds them; None where only loading the data tells."""

    parameters: int
    optimizer: int  # optimizer state (Adam: two moments per parameter)
    gradients: int
    activations_per_example: int  # forward pass kept for the backward pass, and its gradients
    batch: int | None  # examples per step (None: `batch_size: full` of data not yet loaded)
    data: int | None  # the data's arrays (train, val, test; the device holds them in an epoch)
    data_per_example: int

    @property
    def activations(self) -> int | None:
        return None if self.batch is None else self.activations_per_example * self.batch

    @property
    def total(self) -> int:
        return sum(
            v or 0
            for v in (
                self.parameters,
                self.optimizer,
                self.gradients,
                self.activations,
                self.data,
            )
        )

    def loaded(self, examples: int, data_bytes: int, full_batch: bool) -> Memory:
        """The estimate once the data is loaded: its real size (and the batch of `full`)."""
        batch = examples if full_batch else self.batch
        return dataclasses.replace(self, data=data_bytes, batch=batch)

    def parts(self) -> str:
        acts = self.activations
        items = [
            f"parameters {size(self.parameters)}",
            f"optimizer state {size(self.optimizer)}",
            f"gradients {size(self.gradients)}",
            f"activations {size(acts)} (batches of {self.batch})"
            if acts is not None
            else f"activations {size(self.activations_per_example)} per example",
            f"data {size(self.data)}" if self.data is not None else "data: measured when loaded",
        ]
        return ", ".join(items)

    def __str__(self) -> str:
        return f"about {size(self.total)}: {self.parts()}"


def size(n: int | None) -> str:
    """Bytes for people: 512 B, 3.2 MiB, 37.3 GiB, 4.0 TiB."""
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def examples(data: ir.Data) -> int | None:
    """Examples the data block holds, when the spec alone tells (generated data), else None."""
    p = data.props
    if p.source.name != "synthetic":
        return None
    n = int(p.source.params.n)  # type: ignore[attr-defined]
    if p.windows is None:
        return n
    return min(n, int(getattr(p.source.params, "max_windows", None) or WINDOWS_CAP))


def _slots(ref: Ref | None) -> int:
    if ref is None:  # adam(lr=1e-3)
        return 2
    return OPTIMIZERS[ref.name].slots(ref.params)


def estimate(train: ir.Train, models: list[ir.Model], activation_floats: int) -> Memory:
    """The run's memory from its models (the trained one, or a GAN's generator + discriminator)."""
    p = train.props
    params = sum(m.param_count for m in models)
    if train.model is not None:
        state = params * _slots(p.optimizer)
        x = math.prod(train.model.inputs[0].shape)
        out = tuple(train.model.outputs[0].shape)
        ids = (
            train.data.info.task in ("classification", "sequence") and not train.data.props.one_hot
        )
        y = math.prod(out[:-1]) if ids and out else math.prod(out)  # class ids: one int per row
    else:
        g, d = models
        state = g.param_count * _slots(p.generator_optimizer)
        state += d.param_count * _slots(p.discriminator_optimizer)
        x, y = math.prod(g.outputs[0].shape), 0
    n = examples(train.data)
    batch = None if p.batch_size == "full" else int(p.batch_size)
    if batch is not None and n is not None:
        batch = min(batch, n)
    elif batch is None:
        batch = n
    per_example = (x + y) * FLOAT
    return Memory(
        parameters=params * FLOAT,
        optimizer=state * FLOAT,
        gradients=params * FLOAT,
        activations_per_example=activation_floats * FLOAT * 2,
        batch=batch,
        data=None if n is None else n * per_example,
        data_per_example=per_example,
    )


def check_fits(memory: Memory, free: int | None, where: str) -> None:
    """Raise a ResourceError when the estimate exceeds the free memory (None: unknown, no check)."""
    if free is None or memory.total <= free:
        return
    raise ResourceError(
        f"{where} needs {memory}; the device has {size(free)} free",
        "use a smaller model, batch_size or data (`subset:`, `max_windows`), or a device with "
        "more memory; `nncompile plan FILE` prints the estimate",
    )


def with_data(memory: Memory, splits: dict, full_batch: bool) -> Memory:
    """The estimate with the loaded splits' real size ({"train": (x, y), ...} of arrays)."""
    # x and y may be dicts of named arrays (a model with several inputs or outputs)
    named = lambda v: list(v.values()) if isinstance(v, dict) else [v]
    arrays = [a for pair in splits.values() for v in pair if v is not None for a in named(v)]
    train = splits.get("train")
    examples = len(named(train[0])[0]) if train is not None else 0
    return memory.loaded(examples, sum(int(getattr(a, "nbytes", 0)) for a in arrays), full_batch)


def out_of_memory_error(e: BaseException, memory: Memory, where: str) -> ResourceError:
    """XLA's RESOURCE_EXHAUSTED (or a host MemoryError) as a ResourceError with the estimate."""
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    return ResourceError(
        f"{where} ran out of memory ({first}); the estimate was {memory}",
        "use a smaller model, batch_size or data, or a device with more memory; "
        "`nncompile plan FILE` prints the estimate",
    )
