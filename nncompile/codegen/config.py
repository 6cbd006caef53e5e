"""The emitted program's CONFIG: a `RunConfig` built from a train block, dumped to a dict literal.

The values the plan decides (fusion -> output activation, strategy, activation size, XLA options,
precision) come in as arguments; everything else is read from the train block and its data block.
"""

from __future__ import annotations

from ..registry.losses import LOSSES
from ..runconfig import (
    VERSION,
    Checkpoint,
    Data,
    EarlyStopping,
    Gan,
    Init,
    Metric,
    Output,
    RunConfig,
    Samples,
    Transfer,
    Windows,
)
from ..semantics import ir


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
        task=train.data.info.task or "regression",
        metrics=tuple(
            Metric(name=m.name, **m.params.model_dump(mode="json"), **({"output": o} if o else {}))
            for o, m in train.metric_refs()
        ),
        output_activation=output_activation,
        early_stopping=EarlyStopping(**p.early_stopping.model_dump()) if p.early_stopping else None,
        checkpoint=Checkpoint(**p.checkpoint.model_dump()) if p.checkpoint else None,
        transfer=transfer(p),
        data=data(train.data),
        activation_floats=activation_floats or None,
        cpu_compiler_options=cpu_compiler_options or None,
        precision=precision,
        inputs=several_inputs(train),
        outputs=several_outputs(train, heads),
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


def gan_config(train: ir.Train, spec_name: str) -> dict:
    """CONFIG of an adversarial train block (`objective: gan(...)`)."""
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
        gan=Gan(
            example_shape=tuple(train.generator.outputs[0].shape),
            samples=Samples(**p.samples.model_dump()) if p.samples else None,
        ),
    ).dump()


def data(block: ir.Data) -> Data:
    p = block.props
    return Data(
        name=block.name,
        source=p.source.name,
        args=p.source.params.model_dump(mode="json"),
        split=dict(p.split),
        normalize=p.normalize,
        normalize_target=p.normalize_target,
        reshape=tuple(p.reshape) if p.reshape else None,
        one_hot=p.one_hot,
        shuffle=p.shuffle,
        windows=Windows(**p.windows.model_dump()) if p.windows else None,
        classes=tuple(p.classes) if p.classes else None,
        subset=p.subset,
    )


def transfer(p) -> Transfer | None:
    """Transfer learning (`init:`, `freeze:`, `unfreeze_after:`); None when the block has none."""
    if p.init is None and not p.freeze:
        return None
    init = Init(run=p.init.params.run, layers=p.init.params.layers) if p.init is not None else None
    return Transfer(init=init, freeze=tuple(p.freeze), unfreeze_after=p.unfreeze_after)
