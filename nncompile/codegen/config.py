"""The emitted program's CONFIG: a `RunConfig` built from a train block, dumped to a dict literal.

The values the plan decides (fusion -> output activation, strategy, activation size, XLA options,
precision) come in as arguments; everything else is read from the train block and its data block.
"""

from __future__ import annotations

from ..registry.losses import LOSSES
from ..registry.schedules import SCHEDULES
from ..runconfig import (
    VERSION,
    Checkpoint,
    Condition,
    Data,
    EarlyStopping,
    Gan,
    Init,
    Metric,
    Output,
    Plateau,
    RunConfig,
    Samples,
    Transfer,
    Windows,
)
from ..semantics import ir
from ..semantics.schema import unfreeze_epochs


def config(
    train: ir.Train,
    spec_name: str,
    output_activation: str | None,
    strategy: str,
    *,
    activation_floats: int | None,
    cpu_compiler_options: dict | None,
    precision: str,
    heads: dict | None = None,
    cpu_cores: int = 1,
) -> dict:
    """CONFIG of a supervised train block; the keyword arguments are the plan's decisions."""
    p = train.props
    return RunConfig(
        version=VERSION,
        kind="supervised",
        spec=spec_name,
        train=train.name,
        model=p.model,
        batch_size=p.batch_size,
        epochs=p.epochs,
        seed=p.seed,
        drop_remainder=p.drop_remainder,
        strategy=strategy,
        task=task_of(train),
        metrics=tuple(
            Metric(name=m.name, **m.params.model_dump(mode="json"), **({"output": o} if o else {}))
            for o, m in train.metric_refs()
        ),
        weighted_metrics=tuple(
            Metric(name=m.name, **m.params.model_dump(mode="json")) for m in p.weighted_metrics
        ),
        output_activation=output_activation,
        early_stopping=EarlyStopping(**p.early_stopping.model_dump()) if p.early_stopping else None,
        checkpoint=Checkpoint(**p.checkpoint.model_dump()) if p.checkpoint else None,
        plateau=plateau(p),
        transfer=transfer(p),
        data=None if train.data.given else data(train.data),
        activation_floats=activation_floats or None,
        cpu_compiler_options=cpu_compiler_options or None,
        precision=precision,
        inputs=several_inputs(train),
        outputs=several_outputs(train, heads),
        devices=p.devices,
        shard=p.shard,
        accumulate=p.accumulate,
        logical_shards=p.logical_shards,
        autotune=p.strategy == "auto",
        cpu_cores=cpu_cores,
        class_weight="balanced" if p.class_weight == "balanced" else None,
    ).dump()


def several_inputs(train: ir.Train) -> tuple[str, ...] | None:
    m = train.model
    return tuple(t.name for t in m.inputs) if m is not None and len(m.inputs) > 1 else None


def several_outputs(train: ir.Train, heads: dict | None) -> tuple[Output, ...] | None:
    """Each output's task (its loss's: a classification loss reads class ids) and fused head."""
    m = train.model
    if m is None or len(m.outputs) < 2:
        return None
    base = train.data.info.task or "regression"
    out = []
    for name, loss in train.output_losses().items():
        want = LOSSES[loss.name].task
        task = base if want == "classification" and base == "sequence" else want
        task = task if task in ("classification", "regression") else base
        out.append(Output(name=name, task=task, activation=(heads or {}).get(name)))
    return tuple(out)


def task_of(train: ir.Train) -> str:
    """The task of data whose source does not tell it before loading: the loss's, as `check`
    assumed; "regression" for a reconstruction (`target: input`) of float inputs."""
    info = train.data.info
    if info.task is not None:
        return info.task  # (`target: input` is already in it)
    classes = LOSSES[train.loss.name].task == "classification"
    return "classification" if classes else "regression"


def gan_config(train: ir.Train, spec_name: str, cpu_compiler_options: dict | None = None) -> dict:
    """CONFIG of an adversarial train block (`objective: gan(...)`); `cpu_compiler_options`: the
    plan's XLA:CPU options."""
    p = train.props
    assert train.generator is not None
    return RunConfig(
        version=VERSION,
        kind="gan",
        spec=spec_name,
        train=train.name,
        batch_size=p.batch_size,
        epochs=p.epochs,
        seed=p.seed,
        data=data(train.data),
        checkpoint=Checkpoint(**p.checkpoint.model_dump()) if p.checkpoint else None,
        devices=p.devices,
        cpu_compiler_options=cpu_compiler_options or None,
        gan=Gan(
            example_shape=tuple(train.generator.outputs[0].shape),
            samples=Samples(**p.samples.model_dump()) if p.samples else None,
            condition=gan_condition(train),
        ),
    ).dump()


def gan_condition(train: ir.Train) -> Condition | None:
    """A conditional GAN's class count: the data's, else a one-hot label input's width."""
    objective = train.props.objective
    if objective is None or getattr(objective.params, "condition", None) is None:
        return None
    one_hot = [
        m.inputs[1].shape[0]
        for m in (train.generator, train.discriminator)
        if m is not None and len(m.inputs) > 1 and m.inputs[1].dtype == "float32"
    ]
    return Condition(classes=train.data.info.num_classes or next(iter(one_hot), None))


def source_args(args: dict) -> dict:
    """The source's arguments, without a `sample_weight` it does not give (the CONFIG of the
    specs written before it existed stays as it was)."""
    return {k: v for k, v in args.items() if not (k == "sample_weight" and v is None)}


def data(block: ir.Data) -> Data:
    p = block.props
    return Data(
        name=block.name,
        source=p.source.name,
        args=source_args(p.source.params.model_dump(mode="json")),
        split=dict(p.split),
        normalize=p.normalize,
        normalize_target=p.normalize_target,
        reshape=tuple(p.reshape) if p.reshape else None,
        one_hot=p.one_hot,
        shuffle=p.shuffle,
        windows=Windows(**p.windows.model_dump()) if p.windows else None,
        classes=tuple(p.classes) if p.classes else None,
        subset=p.subset,
        target=p.target,
        pad=p.pad,
    )


def transfer(p) -> Transfer | None:
    """Transfer learning (`init:`, `freeze:`, `unfreeze_after:`); None when the block has none."""
    if p.init is None and not p.freeze:
        return None
    init = Init(run=p.init.params.run, layers=p.init.params.layers) if p.init is not None else None
    return Transfer(
        init=init,
        freeze=tuple(p.freeze),
        unfreeze_after=unfreeze_epochs(p.unfreeze_after),
        unfreeze_lr=getattr(p.unfreeze_after, "lr", None),
    )


def plateau(p) -> Plateau | None:
    """reduce_on_plateau's rule, which the runtime applies at epoch ends; None without it."""
    for ref in p.schedule:
        entry = SCHEDULES[ref.name]
        if entry.plateau is not None:
            return Plateau(**entry.plateau(ref.params))
    return None
