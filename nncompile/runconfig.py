"""The run configuration: what an emitted program's `CONFIG` holds and the runtime reads.

One typed, versioned, frozen model shared by the compiler (`codegen.config` builds it and writes its
JSON dump as `CONFIG = {...}`), the runtime (`RunConfig.load(CONFIG)` validates it, then every part
of the runtime reads typed fields) and run folders (spec.json and checkpoints record it).

Defaults live here and only here; they are the language's defaults (`semantics.schema`, checked
equal by tests/test_runconfig.py), used when a hand-written program leaves a key out. Every key is
read by the runtime. `kind` tells supervised programs from GANs; the fields of the other kind are
left out of the dump and refused when given.

Versions: `version` is `VERSION`; a CONFIG without it, or with another number, was written by
another nncompile and is refused with a ConfigError that says to regenerate it. Bump `VERSION`
whenever a key changes meaning or is renamed. Pydantic only, no JAX.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError

VERSION = 1

Positive = Annotated[int, Field(ge=1)]
Shape = tuple[Positive, ...]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Windows(_Frozen):
    """Sliding windows over a series (`windows:` of a data block)."""

    length: Positive
    horizon: Positive = 1
    targets: Literal["last", "sequence"] = "last"
    stride: Positive = 1


class Data(_Frozen):
    """A data block: its source and how the runtime prepares it (runtime.data.DataSpec)."""

    name: str
    source: str
    args: dict[str, Any] = {}
    split: dict[str, float] = {"train": 0.8, "test": 0.2}
    normalize: Literal["standard", "minmax", "none"] = "standard"
    normalize_target: Literal["standard", "minmax", "none"] = "none"
    reshape: Shape | None = None
    one_hot: bool = False
    shuffle: bool = True
    windows: Windows | None = None
    classes: tuple[Annotated[int, Field(ge=0)], ...] | None = None
    subset: Annotated[float, Field(gt=0, le=1)] = 1.0
    target: Literal["source", "input"] = "source"  # "input": the targets are the inputs
    pad: Annotated[int, Field(ge=0)] | None = None  # the target id that marks padding


# keys added after VERSION 1, left out of a dump at their default (older CONFIGs stay as they were)
OPTIONAL_DATA: dict[str, Any] = {"target": "source", "pad": None}
OPTIONAL_WINDOWS: dict[str, Any] = {"stride": 1}


class Metric(BaseModel):
    """One metric: its name and its arguments (e.g. {"name": "top_k", "k": 3})."""

    model_config = ConfigDict(frozen=True, extra="allow", defer_build=True)

    name: str

    @property
    def arguments(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class EarlyStopping(_Frozen):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs."""

    monitor: str = "val_loss"
    patience: Annotated[int, Field(ge=0)] = 5
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    restore_best: bool = True


class Checkpoint(_Frozen):
    """A checkpoint every `every` epochs (None: only when interrupted); the newest `keep` kept."""

    every: Positive | None = 1
    keep: Positive = 3


class Init(_Frozen):
    """`init: checkpoint(run, layers=[...])`: these layers (None: all that match) from a run."""

    run: str
    layers: tuple[str, ...] | None = None


class Plateau(_Frozen):
    """reduce_on_plateau: at an epoch's end, when `monitor` has not improved (by more than
    `min_delta`) for `patience` epochs, the rate held in the optimizer state is multiplied by
    `factor` (not below `min_lr`); then `cooldown` epochs pass before epochs are counted again."""

    monitor: str = "val_loss"
    patience: Positive = 5
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5
    min_lr: Annotated[float, Field(ge=0)] = 0.0
    cooldown: Annotated[int, Field(ge=0)] = 0
    min_delta: Annotated[float, Field(ge=0)] = 0.0


class Transfer(_Frozen):
    """Transfer learning: layers loaded from another run, layers frozen `unfreeze_after` epochs."""

    init: Init | None = None
    freeze: tuple[str, ...] = ()
    unfreeze_after: Positive | None = None
    # the rate every layer trains at once unfrozen (make_optimizer(frozen=False) holds it); None:
    # the schedule continues at the run's step for every layer
    unfreeze_lr: Annotated[float, Field(gt=0)] | None = None


class Samples(_Frozen):
    """GAN sample grids: `count` generated examples every `every` epochs (and after the last)."""

    every: Positive = 10
    count: Annotated[int, Field(ge=1, le=1024)] = 64


class Condition(_Frozen):
    """A conditional GAN: both models take the class label; `classes` the class count (None: the
    largest label in the training data + 1, found at run time)."""

    classes: Positive | None = None


class Gan(_Frozen):
    """The GAN-specific part: the shape of one generated example, and the sample grids."""

    example_shape: Shape
    samples: Samples | None = None  # None: RunConfig.samples() -- about five grids per run
    condition: Condition | None = None  # a conditional GAN (`condition=label`)


class Output(_Frozen):
    """One output of a model with several: its name (the key of y and of predict's dict), its task
    and the activation fused into its loss (predict applies it)."""

    name: str
    task: Literal["classification", "regression", "sequence"] = "classification"
    activation: Literal["softmax", "sigmoid"] | None = None


# the fields only supervised programs have (a GAN's CONFIG leaves them out)
SUPERVISED_ONLY = frozenset(
    {
        "model",
        "drop_remainder",
        "strategy",
        "task",
        "metrics",
        "weighted_metrics",
        "output_activation",
        "early_stopping",
        "plateau",
        "transfer",
        "activation_floats",
        "precision",
        "inputs",
        "outputs",
        "shard",
        "accumulate",
        "autotune",
        "logical_shards",
        "class_weight",
    }
)
# scale-out keys (runtime.devices), left out of the dump at their defaults: programs that do not set
# them emit the CONFIG they did before
SCALE_DEFAULTS: dict[str, Any] = {
    "devices": "auto",
    "shard": "data",
    "accumulate": 1,
    "logical_shards": None,
}
# left out of the dump when None (programs with one input and one output do not mention them)
SEVERAL = ("inputs", "outputs")


class RunConfig(_Frozen):
    """An emitted program's CONFIG, typed. See the module docstring."""

    version: int
    kind: Literal["supervised", "gan"] = "supervised"
    spec: str | None = None  # the spec file's name, the train block, the model: for messages
    train: str | None = None
    model: str | None = None
    batch_size: Positive | Literal["full"] = 32
    epochs: Positive = 10
    seed: Annotated[int, Field(ge=0)] = 0
    drop_remainder: bool = True
    strategy: Literal["scan", "step"] = "scan"
    task: Literal["classification", "regression", "sequence"] = "classification"
    metrics: tuple[Metric, ...] = ()
    # Keras' weighted_metrics: scored with each example weighed by its sample weight (left out of
    # CONFIG when empty)
    weighted_metrics: tuple[Metric, ...] = ()
    # the output activation fused into the loss (the model returns logits); predict applies it
    output_activation: Literal["softmax", "sigmoid"] | None = None
    early_stopping: EarlyStopping | None = None
    checkpoint: Checkpoint | None = None
    plateau: Plateau | None = None  # reduce_on_plateau (left out of CONFIG when None)
    transfer: Transfer | None = None
    data: Data | None = None  # None: the caller passes the splits
    # the floats a forward pass holds per example: sizes evaluation batches
    activation_floats: Positive | None = None
    cpu_compiler_options: dict[str, bool | int | float | str] | None = None  # XLA options, CPU only
    precision: Literal["float32", "bfloat16"] = "float32"
    # several inputs: x is a dict keyed by these names (None: one input, x is an array)
    inputs: tuple[str, ...] | None = None
    # several outputs: y, outputs and predictions are dicts keyed by their names
    outputs: tuple[Output, ...] | None = None
    gan: Gan | None = None
    # regression metrics in the targets' own units: the per-target scale `normalize_target` divided
    # by (a dict per output for several outputs); set at run time from the data, never emitted
    target_scale: tuple[float, ...] | dict[str, tuple[float, ...]] | None = None
    # the devices of the data-parallel mesh: "auto" (the default backend's local devices), a
    # platform, or a count; "params" shards parameters and optimizer state too (FSDP-style)
    devices: Literal["auto", "cpu", "gpu", "tpu"] | Positive = "auto"
    shard: Literal["data", "params"] = "data"
    accumulate: Positive = 1  # batches whose gradients are averaged into one update
    # a step as this many shards summed in a fixed order (None: XLA's all-reduce; runtime.shards)
    logical_shards: Positive | None = None
    # False: the train block pins `strategy:`; the runtime measures no candidates (runtime.autotune)
    autotune: bool = True
    # "balanced": the runtime sets the program's CLASS_WEIGHT from the training split before it
    # compiles (runtime.classweight); None: the program's own CLASS_WEIGHT, if any (left out)
    class_weight: Literal["balanced"] | None = None
    # host CPU devices a step is split over on a CPU (plan.cores, runtime.cores); left out when 1
    cpu_cores: Positive = 1

    @model_validator(mode="before")
    @classmethod
    def _known_version(cls, data: Any) -> Any:
        # raised as is (not a ValueError): RunConfig.model_validate itself says what to do
        if isinstance(data, dict) and data.get("version") != VERSION:
            if "version" not in data:
                raise ConfigError(
                    "this program's CONFIG has no 'version': it was written by an older nncompile",
                    'regenerate the program with `nncompile emit` (or add "version": '
                    f"{VERSION} to a hand-written CONFIG)",
                )
            raise ConfigError(
                f"this program's CONFIG has version {data['version']!r}; this nncompile reads "
                f"version {VERSION}",
                "regenerate the program with this nncompile's `nncompile emit`",
            )
        return data

    @model_validator(mode="after")
    def _kind(self) -> RunConfig:
        if self.kind == "gan":
            if self.gan is None:
                raise ValueError("a GAN's CONFIG needs 'gan': {'example_shape': [...]}")
            wrong = sorted(SUPERVISED_ONLY & self.model_fields_set)
            if wrong:
                raise ValueError(f"{', '.join(wrong)}: not read for GANs")
        elif self.gan is not None:
            raise ValueError("'gan' is only for kind 'gan'")
        return self

    # ---- reading and writing ---------------------------------------------------------------------
    @classmethod
    def load(cls, config: dict, **overrides: Any) -> RunConfig:
        """Validate a CONFIG dict (with `overrides` over its keys); ConfigError if it is not one."""
        data = {**config, **overrides}
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'CONFIG'}: {err['msg']}"
                for err in e.errors()[:3]
            )
            raise ConfigError(
                f"CONFIG is not a valid run configuration: {problems}",
                "regenerate the program with `nncompile emit`",
            ) from None

    def dump(self) -> dict:
        """The JSON-able dict an emitted program holds as CONFIG: no fields of the other kind."""
        exclude: Any = set(SUPERVISED_ONLY) if self.kind == "gan" else {"gan"}
        exclude |= {k for k in SEVERAL if getattr(self, k) is None}
        exclude |= {k for k, v in SCALE_DEFAULTS.items() if getattr(self, k) == v}
        if self.autotune:  # left out unless a train block pins its strategy
            exclude.add("autotune")
        if self.plateau is None:
            exclude.add("plateau")
        if self.class_weight is None:
            exclude.add("class_weight")
        if not self.weighted_metrics:
            exclude.add("weighted_metrics")
        if self.cpu_cores == 1:
            exclude.add("cpu_cores")
        if self.target_scale is None:
            exclude.add("target_scale")
        if self.kind == "gan" and self.checkpoint is None:  # GANs without checkpoints: as before
            exclude.add("checkpoint")
        if self.kind == "gan" and self.cpu_compiler_options is None:  # XLA's defaults: as before
            exclude.add("cpu_compiler_options")
        if self.gan is not None and self.gan.condition is None:  # unconditional: as before
            exclude = {**dict.fromkeys(exclude, True), "gan": {"condition"}}
        out = self.model_dump(mode="json", exclude=exclude)
        data = out.get("data")
        if data is not None:
            for key, default in OPTIONAL_DATA.items():
                if data[key] == default:
                    del data[key]
            for key, default in OPTIONAL_WINDOWS.items():
                if data["windows"] is not None and data["windows"][key] == default:
                    del data["windows"][key]
        return out

    # ---- derived values --------------------------------------------------------------------------
    def samples(self) -> Samples:
        """The GAN's sample grids: as configured, else about five per run (every epochs // 5)."""
        if self.gan is not None and self.gan.samples is not None:
            return self.gan.samples
        return Samples(every=max(1, self.epochs // 5))

    @property
    def freeze(self) -> tuple[str, ...]:
        return self.transfer.freeze if self.transfer is not None else ()

    @property
    def unfreeze_after(self) -> int | None:
        return self.transfer.unfreeze_after if self.transfer is not None else None

    @property
    def unfreeze_lr(self) -> float | None:
        return self.transfer.unfreeze_lr if self.transfer is not None else None

    @property
    def init(self) -> Init | None:
        return self.transfer.init if self.transfer is not None else None


def batch_hint(size: int, devices: int) -> str:
    """The hint for a batch size that `devices` does not divide: the nearest sizes it does."""
    below = size // devices * devices
    sizes = " or ".join(f"`batch_size: {s}`" for s in (below, below + devices) if s >= 1)
    return f"use {sizes} (each of the {devices} devices takes an equal part)"


def batch_statistics_refusal(shards: int) -> tuple[str, str]:
    """The message and hint refusing `logical_shards:` on a model that keeps batch statistics:
    `check` reports it at the property, the trainer raises it for a program it is given."""
    return (
        f"`logical_shards: {shards}`: the model keeps batch statistics (e.g. BatchNorm), which "
        "couple every row of a batch, so its steps cannot be computed shard by shard",
        "remove `logical_shards` (resuming on another device count then agrees to float tolerance)",
    )
