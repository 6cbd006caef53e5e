"""objkeys: early stopping's monitor and a sweep's objective name the same history keys (one rule,
semantics/history_keys.py): per-output keys of several outputs, the layers' loss terms (kl_loss),
the metrics' own keys (top_3), with `val_` only when the data has a validation split."""

from __future__ import annotations

from pathlib import Path

import pytest

import nncompile
from tests.gan_specs import tiny_gan

SPECS = Path(__file__).resolve().parent.parent / "specs"
VAE = (SPECS / "digits_vae.nn").read_text()
MULTI = (SPECS / "multi_io.nn").read_text()
NO_VAL = ("split:     {train: 0.8, val: 0.1, test: 0.1}", "split: {train: 0.8, test: 0.2}")


def sweep(objective: str, lets: str = "{latent: [2, 3]}") -> str:
    return f"\nsweep {{ grid: {lets}  objective: {objective} }}\n"


def found(text: str, name: str) -> list[tuple[str, int, str, str | None]]:
    return [
        (d.code, d.span.line, d.message, d.hint)
        for d in nncompile.check(text=text, path=str(SPECS / name))
    ]


@pytest.mark.parametrize(
    "objective",
    ["minimize(val_kl_loss)", "minimize(kl_loss)", "minimize(val_mse)", "minimize(loss)"],
)
def test_a_sweep_objective_may_name_a_layers_loss_term(objective):
    assert found(VAE + sweep(objective), "digits_vae.nn") == []


@pytest.mark.parametrize(
    "objective",
    [
        "maximize(val_digit_accuracy)",
        "minimize(val_big_loss)",
        "maximize(big_accuracy)",
        "minimize(digit_loss)",
    ],
)
def test_a_sweep_objective_may_name_an_outputs_key(objective):
    assert found(MULTI + sweep(objective, "{width: [8, 16]}"), "multi_io.nn") == []


def test_a_misspelt_layer_loss_term_is_refused_with_a_suggestion():
    assert found(VAE + sweep("minimize(val_kl_lss)"), "digits_vae.nn") == [
        (
            "E201",
            42,
            "the sweep objective 'val_kl_lss' is not recorded by train 'main'",
            "did you mean 'val_kl_loss'?",
        )
    ]


def test_a_metric_of_several_outputs_is_named_per_output():
    text = MULTI + sweep("maximize(val_accuracy)", "{width: [8, 16]}")
    assert found(text, "multi_io.nn") == [
        (
            "E201",
            41,
            "the sweep objective 'val_accuracy' is not recorded by train 'main'",
            "it is recorded per output: use one of 'val_big_accuracy' or 'val_digit_accuracy'",
        )
    ]


def test_an_unlisted_metric_is_refused_with_the_recorded_keys():
    assert found(VAE + sweep("maximize(val_accuracy)"), "digits_vae.nn") == [
        (
            "E201",
            42,
            "the sweep objective 'val_accuracy' is not recorded by train 'main'",
            "add accuracy to `metrics: [...]`, or use one of 'kl_loss', 'loss', 'mse', "
            "'val_kl_loss', 'val_loss' or 'val_mse'",
        )
    ]


def test_a_validation_key_needs_a_validation_split():
    text = VAE.replace(*NO_VAL) + sweep("minimize(val_kl_loss)")
    assert found(text, "digits_vae.nn") == [
        (
            "E502",
            42,
            "the sweep objective val_kl_loss is recorded only with a validation split, and data "
            "digits of train 'main' has none",
            "add one: `split: {train: 0.7, val: 0.15, test: 0.15}`",
        )
    ]
    assert found(VAE.replace(*NO_VAL) + sweep("minimize(kl_loss)"), "digits_vae.nn") == []


def test_a_metrics_own_history_key_is_named_not_the_metric():
    # top_k(k=3) records top_3 (its registry key), which both rules accept; top_k is not recorded
    base = VAE.replace("loss:       mse", "loss: categorical_crossentropy")
    text = (
        base.replace("target:    input   # reconstruct the input\n", "")
        .replace("dense(64, activation=sigmoid)(d)", "dense(10, activation=softmax)(d)")
        .replace("metrics:    [mse]", "metrics: [top_k(k=3)]\n  early_stopping: {monitor: MON}")
    )
    ok = text.replace("MON", "val_top_3")
    assert found(ok + sweep("maximize(val_top_3)"), "digits_vae.nn") == []
    bad = found(text.replace("MON", "val_top_k") + sweep("maximize(top_k)"), "digits_vae.nn")
    assert [(code, message) for code, _, message, _ in bad] == [
        ("E201", "early_stopping monitors 'val_top_k', which is not recorded"),
        ("E201", "the sweep objective 'top_k' is not recorded by train 'main'"),
    ]


def test_the_monitor_follows_the_same_rule():
    text = VAE.replace("seed:       0", "seed: 0\n  early_stopping: {monitor: val_kl_loss}")
    assert found(text, "digits_vae.nn") == []
    text = MULTI.replace("monitor: val_digit_accuracy", "monitor: val_accuracy")
    assert found(text, "multi_io.nn") == [
        (
            "E201",
            37,
            "early_stopping monitors 'val_accuracy', which is not recorded",
            "it is recorded per output: monitor one of 'val_big_accuracy' or 'val_digit_accuracy'",
        )
    ]


def gan(extra: str = "") -> str:
    train = (
        "train { data: d  objective: gan(generator=G, discriminator=D, noise=normal([8]))\n"
        f"  loss: non_saturating  optimizer: adam(lr=lr)  epochs: 2 {extra}}}"
    )
    text = "let lr = 0.001\n" + tiny_gan(train)
    return text.replace("split: {train: 1}", "split: {train: 0.8, val: 0.2}")


def test_adversarial_training_records_its_two_losses_and_no_validation_keys():
    lr = "{lr: [0.001, 0.01]}"
    for objective in ("minimize(d_loss)", "minimize(g_loss)", "minimize(loss)"):
        assert found(gan() + sweep(objective, lr), "gan.nn") == []
    choices = "use one of 'd_loss', 'g_loss' or 'loss'"
    assert found(gan() + sweep("minimize(val_loss)", lr), "gan.nn") == [
        (
            "E201",
            22,
            "the sweep objective 'val_loss' is not recorded by train 'main'",
            f"adversarial training evaluates no validation data: {choices}",
        )
    ]
    assert found(gan("early_stopping: {monitor: val_g_loss} "), "gan.nn") == [
        (
            "E201",
            20,
            "early_stopping monitors 'val_g_loss', which is not recorded",
            "adversarial training evaluates no validation data: monitor one of 'd_loss', "
            "'g_loss' or 'loss'",
        )
    ]


def test_the_default_objective_needs_a_validation_split():
    text = VAE.replace(*NO_VAL) + "\nsweep { grid: {latent: [2, 3]} }\n"
    assert found(text, "digits_vae.nn") == [
        (
            "E502",
            42,
            "the sweep has no `objective:`, and its default, minimize(val_loss), is not recorded "
            "by train 'main': data digits has no validation split",
            "give one: `objective: minimize(loss)`",
        )
    ]
    assert found(VAE + "\nsweep { grid: {latent: [2, 3]} }\n", "digits_vae.nn") == []
    assert [m for _, _, m, _ in found(gan() + "\nsweep { grid: {lr: [0.1, 0.2]} }\n", "g.nn")] == [
        "the sweep has no `objective:`, and its default, minimize(val_loss), is not recorded by "
        "train 'main': adversarial training records no val_ keys"
    ]
