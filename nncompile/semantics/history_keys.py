"""The history keys a train block records each epoch: ONE rule for everything that names one
(early stopping's and reduce_on_plateau's `monitor`, a sweep's `objective`)."""

from __future__ import annotations

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry.metrics import METRICS
from . import ir
from .layerloss import recorded_keys
from .several import recorded

GAN_KEYS = ("loss", "d_loss", "g_loss")  # runtime.gan's epoch logs


def history_keys(train: ir.Train) -> list[str]:
    """The keys without `val_` (each recorded with `val_` too when the data has a validation
    split): `loss`, the metrics' keys (per output with several outputs: `digit_loss`,
    `digit_accuracy`) and the layers' loss terms (`kl_loss`)."""
    if train.model is None:
        return list(GAN_KEYS)
    keys = recorded(train) or [
        "loss",
        *(METRICS[m.name].history_key(m.params) for _, m in train.metric_refs()),
        *train.weighted_keys(),
    ]
    return [*keys, *recorded_keys(train.model)]


def validated(train: ir.Train) -> bool:
    """Whether the `val_` keys are recorded: the data has a validation split (adversarial training
    records none)."""
    return "val" in train.data.props.split


def check_named(
    train: ir.Train, out: Collector, span, name: str, unknown: str, verb: str, needs_val: str
) -> bool:
    """`name` is a history key `train` records (`unknown`: the message when it is not, `verb`: how
    the hint lists the choices; `needs_val`: the message for a `val_` key without a validation
    split, "" to accept it). False when an error was reported."""
    known = history_keys(train)
    gan = train.model is None  # runtime.gan evaluates nothing: no `val_` keys
    both = known if gan else [*known, *(f"val_{k}" for k in known)]
    base = name[4:] if name.startswith("val_") and not gan else name
    if base not in known:
        choices = f"{verb} one of {D.one_of(both)}"
        prefix = name[: len(name) - len(base)]
        per_output = [f"{prefix}{k}" for k in known if k.endswith(f"_{base}")]
        if gan and name.startswith("val_"):
            hint = f"adversarial training evaluates no validation data: {choices}"
        elif per_output:  # several outputs record each output's value
            hint = f"it is recorded per output: {verb} one of {D.one_of(per_output)}"
        elif base in METRICS:
            hint = f"add {base} to `metrics: [...]`, or {choices}"
        else:
            hint = D.did_you_mean(name, both) or choices
        out.error(D.UNKNOWN_REFERENCE, unknown, span, hint)
        return False
    if needs_val and name.startswith("val_") and not validated(train):
        out.error(
            D.NEEDS_VALIDATION,
            needs_val,
            span,
            "add one: `split: {train: 0.7, val: 0.15, test: 0.15}`",
        )
        return False
    return True


def check_default_objective(train: ir.Train, out: Collector, span) -> None:
    """A sweep without `objective:` minimizes val_loss (nncompile.search), which needs one."""
    if train.model is not None and validated(train):
        return
    why = (
        "adversarial training records no val_ keys"
        if train.model is None
        else f"data {train.data.name} has no validation split"
    )
    out.error(
        D.NEEDS_VALIDATION,
        f"the sweep has no `objective:`, and its default, minimize(val_loss), is not recorded by "
        f"train '{train.name}': {why}",
        span,
        f"give one: `objective: minimize({'g_loss' if train.model is None else 'loss'})`",
    )
