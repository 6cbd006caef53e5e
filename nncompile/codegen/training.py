"""Lowering of a train block: loss, regularizers, optimizer + schedule, augmentation, CONFIG."""
from __future__ import annotations

from ..registry import Ref
from ..semantics import ir
from .expr import Expr, Sym, call, t

Y = Sym("y")
OUT = Sym("outputs")


def loss_expr(train: ir.Train) -> tuple[Expr, set[str]]:
    """The mean loss over a batch, from ``outputs`` (logits when the head is fused) and ``y``."""
    loss: Ref = train.props.loss
    p = loss.params
    one_hot = train.data.props.one_hot
    if loss.name == "categorical_crossentropy":
        # integer labels as one-hot rows (of the output width: the class count of a CSV is only known at
        # run time): a multiply-and-sum that fuses, where optax's integer-label form is a gather whose
        # gradient is a scatter (6 more XLA kernels per step; W1 compiles 0.02 s faster)
        target = Y if one_hot else t("jax.nn.one_hot({y}, {o}.shape[-1])", y=Y, o=OUT)
        if getattr(p, "label_smoothing", 0.0) > 0:
            return t("optax.softmax_cross_entropy({o}, optax.smooth_labels({y}, {a})).mean()",
                     o=OUT, y=target, a=p.label_smoothing), set()
        return t("optax.softmax_cross_entropy({o}, {y}).mean()", o=OUT, y=target), set()
    if loss.name == "binary_crossentropy":
        target = t("{y}.reshape({o}.shape).astype({o}.dtype)", y=Y, o=OUT)
        if p.label_smoothing > 0:
            target = t("{y} * (1 - {a}) + 0.5 * {a}", y=target, a=p.label_smoothing)
        return t("optax.sigmoid_binary_cross_entropy({o}, {y}).mean()", o=OUT, y=target), set()
    if loss.name == "mse":
        return t("jnp.mean(({o} - {y}) ** 2)", o=OUT, y=Y), set()
    if loss.name == "mae":
        return t("jnp.mean(jnp.abs({o} - {y}))", o=OUT, y=Y), set()
    if loss.name == "huber":
        return t("optax.huber_loss({o}, {y}, delta={d}).mean()", o=OUT, y=Y, d=p.delta), set()
    if loss.name == "margin":
        return t("margin_loss({o}, {y}, {mp}, {mm}, {w}).mean()", o=OUT, y=Y, mp=p.m_plus, mm=p.m_minus,
                 w=p.down_weight), {"margin_loss"}
    raise AssertionError(f"no lowering for loss {loss.name}")


def penalty_terms(train: ir.Train) -> list[Expr]:
    """``l1(c)`` / ``l2(c)``: c * sum(|w|) / c * sum(w^2) over kernels, added to the loss."""
    power = {"l1": 1, "l2": 2}
    return [t("{c} * kernel_penalty(model, {p})", c=r.params.strength, p=power[r.name]) for r in train.props.regularize]


def optimizer_expr(ref: Ref | None, lr: Expr) -> Expr:
    if ref is None:
        return call("optax.adam", lr)
    p = ref.params
    table = {
        "sgd": lambda: call("optax.sgd", lr, momentum=p.momentum or None, nesterov=p.nesterov),
        "momentum": lambda: call("optax.sgd", lr, momentum=p.beta),
        "adagrad": lambda: call("optax.adagrad", lr, initial_accumulator_value=p.initial, eps=p.eps),
        "adadelta": lambda: call("optax.adadelta", lr, rho=p.rho, eps=p.eps),
        "rmsprop": lambda: call("optax.rmsprop", lr, decay=p.decay, eps=p.eps, momentum=p.momentum or None),
        "adam": lambda: call("optax.adam", lr, b1=p.b1, b2=p.b2, eps=p.eps),
        "adamw": lambda: call("optax.adamw", lr, b1=p.b1, b2=p.b2, eps=p.eps, weight_decay=p.weight_decay),
        "nadam": lambda: call("optax.nadam", lr, b1=p.b1, b2=p.b2, eps=p.eps),
        "adamax": lambda: call("optax.adamax", lr, b1=p.b1, b2=p.b2, eps=p.eps),
    }
    return table[ref.name]()


def base_rate(ref: Ref | None) -> float:
    return 1e-3 if ref is None else ref.params.lr


def schedule_expr(ref: Ref | None, lr: float) -> Expr:
    """The learning rate: a float, or an optax schedule over steps (steps_per_epoch, epochs known)."""
    if ref is None or ref.name in ("constant", "reduce_on_plateau"):
        return lr
    p = ref.params
    spe, total = Sym("steps_per_epoch"), t("steps_per_epoch * epochs")
    table = {
        "step": lambda: call("optax.exponential_decay", lr, transition_steps=t("{n} * steps_per_epoch", n=p.every),
                             decay_rate=p.factor, staircase=True),
        "exponential": lambda: call("optax.exponential_decay", lr, transition_steps=spe, decay_rate=p.decay),
        "cosine": lambda: call("optax.warmup_cosine_decay_schedule", 0.0, lr, warmup_steps=p.warmup,
                               decay_steps=t("max(steps_per_epoch * epochs, {w} + 1)", w=p.warmup),
                               end_value=p.min_lr) if p.warmup else
        call("optax.cosine_decay_schedule", lr, decay_steps=total, alpha=p.min_lr / lr),
        "warmup": lambda: call("optax.linear_schedule", 0.0, lr, transition_steps=p.steps),
    }
    return table[ref.name]()


def optimizer_lines(train: ir.Train, which: str = "optimizer") -> list[tuple[str, Expr]]:
    """Assignments building ``tx`` in make_optimizer, in optax.chain order."""
    props = train.props
    ref = getattr(props, which) or props.optimizer
    lr = schedule_expr(props.schedule, base_rate(ref))
    lines: list[tuple[str, Expr]] = [("learning_rate", lr), ("tx", optimizer_expr(ref, Sym("learning_rate")))]
    if props.clip_norm is not None:
        lines.append(("tx", call("optax.chain", call("optax.clip_by_global_norm", props.clip_norm), Sym("tx"))))
    if props.schedule is not None and props.schedule.name == "reduce_on_plateau":
        s = props.schedule.params
        lines.append(("tx", call("optax.chain", Sym("tx"), call(
            "optax.contrib.reduce_on_plateau", factor=s.factor, patience=s.patience, cooldown=s.cooldown,
            accumulation_size=Sym("steps_per_epoch")))))
    return lines


AUGMENT = {
    "random_flip": lambda p: ("random_flip", dict(horizontal=p.mode in ("horizontal", "both"),
                                                 vertical=p.mode in ("vertical", "both"))),
    "random_shift": lambda p: ("random_shift", dict(pixels=p.pixels)),
    "random_rotate": lambda p: ("random_rotate", dict(degrees=p.degrees)),
    "gaussian_noise": lambda p: ("gaussian_noise", dict(stddev=p.stddev)),
}


def augment_calls(train: ir.Train) -> list[tuple[str, Expr]]:
    out = []
    for i, ref in enumerate(train.data.props.augment):
        fn, kwargs = AUGMENT[ref.name](ref.params)
        out.append((fn, call(fn, t("keys[{i}]", i=i), Sym("x"), **kwargs)))
    return out


def data_config(data: ir.Data) -> dict:
    p = data.props
    return {
        "name": data.name, "source": p.source.name, "args": p.source.params.model_dump(mode="json"),
        "split": dict(p.split), "normalize": p.normalize, "normalize_target": p.normalize_target,
        "reshape": list(p.reshape) if p.reshape else None, "one_hot": p.one_hot, "shuffle": p.shuffle,
        "windows": p.windows.model_dump(mode="json") if p.windows else None,
        "classes": list(p.classes) if p.classes else None, "subset": p.subset,
    }


def config(train: ir.Train, spec_name: str, head: str | None, strategy: str) -> dict:
    p = train.props
    return {
        "spec": spec_name, "train": train.name, "model": p.model,
        "batch_size": p.batch_size, "epochs": p.epochs, "seed": p.seed, "drop_remainder": p.drop_remainder,
        "task": train.data.info.task or "regression",
        "num_classes": train.data.info.num_classes,
        "metrics": [{"name": m.name, **m.params.model_dump(mode="json")} for m in p.metrics],
        "early_stopping": p.early_stopping.model_dump(mode="json") if p.early_stopping else None,
        "checkpoint": p.checkpoint.model_dump(mode="json") if p.checkpoint else None,
        "strategy": strategy, "output_activation": head,
        "reduce_on_plateau": p.schedule is not None and p.schedule.name == "reduce_on_plateau",
        "data": data_config(train.data),
        **transfer_config(p),
    }


def transfer_config(p) -> dict:
    """CONFIG entries of transfer learning, present only when the train block uses it."""
    out: dict = {}
    if p.init is not None:
        out["init"] = {"run": p.init.params.run, "layers": p.init.params.layers}
    if p.freeze:
        out["freeze"] = list(p.freeze)
        out["unfreeze_after"] = p.unfreeze_after
    return out
