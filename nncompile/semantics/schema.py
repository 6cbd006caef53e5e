"""The properties each block accepts: pydantic models, the language's block reference."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..errors import HintedValueError
from ..registry import BlockRef, Params, Ref, RefTo
from ..registry.bounds import MAX_BATCH, MAX_EPOCHS, MAX_TRIALS, Size

Positive = Size  # at most bounds.MAX_WIDTH
SPLITS = ("train", "val", "test")


class Windows(Params):
    length: Positive
    horizon: Positive = 1
    targets: Literal["last", "sequence"] = "last"
    stride: Positive = 1


class DataProps(Params):
    source: Annotated[Ref, RefTo("source")]
    split: dict[str, Annotated[float, Field(gt=0, lt=1)] | Literal[1]] = {"train": 0.8, "test": 0.2}
    normalize: Literal["standard", "minmax", "none"] = "standard"
    normalize_target: Literal["standard", "none"] = "none"
    reshape: Annotated[list[Positive], Field(min_length=1)] | None = None
    one_hot: bool = False
    shuffle: bool = True
    windows: Windows | None = None
    augment: Annotated[list[Ref], RefTo("augmentation")] = []
    classes: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2)] | None = None
    subset: Annotated[float, Field(gt=0, le=1)] = 1.0
    target: Literal["source", "input"] = "source"
    pad: Annotated[int, Field(ge=0)] | None = None

    @field_validator("classes")
    @classmethod
    def _classes(cls, v: list[int] | None) -> list[int] | None:
        twice = sorted({c for c in v if v.count(c) > 1}) if v is not None else []
        if twice:  # (found only when loading before: "classes are listed twice")
            raise ValueError(f"class {twice[0]} is listed twice; list each class id once")
        return v

    @field_validator("split")
    @classmethod
    def _split(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(SPLITS))
        if unknown:
            raise ValueError(
                f"unknown split {unknown[0]!r}: the splits are 'train', 'val' and 'test'"
            )
        if "train" not in v:
            raise ValueError("a split needs a 'train' part")
        if abs(sum(v.values()) - 1) > 1e-6:
            raise HintedValueError(
                f"the split fractions add up to {sum(v.values()):g}, not 1",
                f"make them add up to 1, e.g. {{{_adding_to_one(v)}}}",
            )
        return v


def _adding_to_one(split: dict[str, float]) -> str:
    """The split with train taking what the others leave, or all scaled when they leave none."""
    total = sum(split.values())
    others = {k: f for k, f in split.items() if k != "train"}
    if sum(others.values()) >= 1 - 1e-6:
        others = {k: round(f / total, 2) for k, f in others.items()}
    fixed = {k: 1 - sum(others.values()) if k == "train" else others[k] for k in split}
    return ", ".join(f"{k}: {round(f, 6):g}" for k, f in fixed.items())


class EarlyStopping(Params):
    monitor: str = "val_loss"
    patience: Positive = 5
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    restore_best: bool = True


class Checkpoint(Params):
    every: Positive = 1
    keep: Positive = 3


class Samples(Params):
    every: Positive = 10
    count: Annotated[int, Field(ge=1, le=1024)] = 64


class Decode(Params):
    """Greedy decoding of a sequence model (`decode` in the program, Program.decode)."""

    input: str  # the model's token input the decoder reads, fed back step by step
    start: Annotated[int, Field(ge=0)] = 0  # the token id it starts from
    output: str | None = None  # the output predicting the next token (default: the only one)


Optimizer = Annotated[Ref | None, RefTo("optimizer")]
ClassWeights = Annotated[
    dict[Annotated[int, Field(ge=0)], Annotated[float, Field(gt=0, le=1e6)]],
    Field(min_length=1),
]


class Unfreeze(Params):
    """`unfreeze_after: {epochs: 10, lr: 1e-5}`: the `freeze:` layers train from epoch 11 on, and
    from then every layer trains at `lr` (a constant rate replacing the schedule), the fine-tuning
    phase of Keras' transfer-learning guide. Without `lr` the schedule simply continues."""

    epochs: Positive
    lr: Annotated[float, Field(gt=0)] | None = None


def number_key(key: Any) -> Any:
    """A dict key written as a number (`{0: 1.0}`: the text "0") as that number, others as is."""
    for kind in (int, float):
        try:
            return kind(key)
        except (TypeError, ValueError):
            pass
    return key


def unfreeze_epochs(value: int | Unfreeze | None) -> int | None:
    """The epochs the `freeze:` layers stay frozen (`unfreeze_after: 10` or `{epochs: 10, ...}`)."""
    return value.epochs if isinstance(value, Unfreeze) else value


class TrainProps(Params):
    model: Annotated[str | None, BlockRef("model")] = None
    # None: no data block; the arrays come from Python (`program.fit(data=...)`)
    data: Annotated[str | None, BlockRef("data")] = None
    # one loss for every output, or one per output of a model with several: {digit: ..., big: ...}
    loss: Annotated[Ref | dict[str, Ref], RefTo("loss")]
    loss_weights: dict[str, Annotated[float, Field(ge=0)]] | None = None  # per output; default 1
    # the training loss's weight of each class: {class id: weight} (others 1), or `balanced`
    # (n / (classes * count) of the training split); validation loss and metrics stay unweighted
    class_weight: ClassWeights | Literal["balanced"] | None = None
    optimizer: Optimizer = None  # adam(lr=1e-3)
    # one schedule, or consecutive phases: [warmup(500), cosine()]
    schedule: Annotated[list[Ref], RefTo("schedule")] = []
    clip_norm: Annotated[float, Field(gt=0)] | None = None
    batch_size: Annotated[int, Field(ge=1, le=MAX_BATCH)] | Literal["full"] = 32
    drop_remainder: bool = True
    epochs: Annotated[int, Field(ge=1, le=MAX_EPOCHS)] = 10
    regularize: Annotated[list[Ref], RefTo("regularizer")] = []
    early_stopping: EarlyStopping | None = None
    # several outputs: a list applies each metric to every output of its task; or {output: [...]}
    metrics: Annotated[list[Ref] | dict[str, list[Ref]], RefTo("metric")] = []
    # Keras' weighted_metrics: each example counts by its sample weight (a model with one output)
    weighted_metrics: Annotated[list[Ref], RefTo("metric")] = []
    seed: Annotated[int, Field(ge=0)] = 0
    checkpoint: Checkpoint | None = None
    init: Annotated[Ref | None, RefTo("init")] = None
    freeze: list[str] = []
    unfreeze_after: Unfreeze | None = None  # `unfreeze_after: 10` is {epochs: 10}
    devices: Literal["auto", "cpu", "gpu", "tpu"] | Positive = "auto"
    shard: Literal["data", "params"] = "data"  # "params": parameters sharded too (FSDP-style)
    accumulate: Annotated[int, Field(ge=1, le=MAX_BATCH)] = 1  # batches per update
    # each step computed as this many equal shards summed in a fixed order: the same bits on any
    # device count that divides it (resume a 4-device run on 1 or 2 bitwise; runtime.shards)
    logical_shards: Annotated[int | None, Field(ge=1, le=MAX_BATCH)] = None
    precision: Literal["float32", "bfloat16"] = "float32"
    # auto: the plan's rule, or what the runtime measured (runtime.autotune); scan/step: pinned
    strategy: Literal["auto", "scan", "step"] = "auto"
    objective: Annotated[Ref | None, RefTo("objective")] = None
    generator_optimizer: Optimizer = None
    discriminator_optimizer: Optimizer = None
    samples: Samples | None = None
    decode: Decode | None = None
    track: Annotated[list[Ref], RefTo("tracker")] = []  # experiment trackers: [tensorboard]

    @field_validator("unfreeze_after", mode="before")
    @classmethod
    def _unfreeze_after(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return {"epochs": v}
        if v is not None and not isinstance(v, (dict, Unfreeze)):
            raise ValueError("expected a number of epochs, or {epochs: N, lr: R}")
        return v

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_ids(cls, v: Any) -> Any:
        # dict keys arrive as their text: `{0: 1.0}` has the key "0"
        return {number_key(k): w for k, w in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _model_or_objective(self) -> TrainProps:
        if self.model is None and self.objective is None:
            raise ValueError(
                "a train block needs `model:` (or `objective: gan(...)` for adversarial training)"
            )
        if self.model is not None and self.objective is not None:
            raise ValueError("give either `model:` or `objective:`, not both")
        if self.objective is not None and self.data is None:
            raise ValueError("adversarial training needs `data:` (the real examples)")
        if self.unfreeze_after is not None and not self.freeze:
            raise ValueError("`unfreeze_after` needs `freeze: [...]`")
        return self


class SweepProps(Params):
    train: Annotated[str, BlockRef("train")] = "main"
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = None
    random: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = None
    trials: Annotated[int, Field(ge=1, le=MAX_TRIALS)] = 10
    objective: Annotated[Ref | None, RefTo("sweep_objective")] = None  # minimize(val_loss)
    seed: Annotated[int, Field(ge=0)] = 0
    engine: Annotated[Ref | None, RefTo("sweep_engine")] = None  # local; optuna(storage=...)
    sampler: Annotated[Ref | None, RefTo("sweep_sampler")] = None  # random; tpe
    pruner: Annotated[Ref | None, RefTo("sweep_pruner")] = None  # none; median; halving

    @model_validator(mode="after")
    def _space(self) -> SweepProps:
        if (self.grid is None) == (self.random is None):
            raise ValueError("a sweep needs exactly one of `grid: {...}` or `random: {...}`")
        if self.grid is not None and self.sampler is not None:
            raise ValueError(
                "`sampler:` chooses the values of a `random: {...}` sweep; a grid runs every point"
            )
        return self


BLOCKS: dict[str, type[Params]] = {"data": DataProps, "train": TrainProps, "sweep": SweepProps}
