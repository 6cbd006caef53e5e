"""A Keras user's spellings of losses, metrics, arguments and Python literals get a diagnostic that
says what the language writes (each message and hint exact); `activation=none`, as the reference
prints the default, is accepted."""

from __future__ import annotations

import pytest

import nncompile
from nncompile.diagnostics import CompileError

MODEL = "model M {\n  input x: [4]\n  dense(3, activation=softmax)\n}\n"


def train(body: str) -> str:
    return MODEL + "train {\n  model: M\n" + body + "\n}\n"


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            train("  loss: sparse_categorical_crossentropy"),
            "7:9: error[E200]: unknown loss 'sparse_categorical_crossentropy'",
            "did you mean 'categorical_crossentropy'? (Keras' sparse_categorical_crossentropy: "
            "it takes integer class ids directly, as Keras' sparse form does)",
        ),
        (
            train("  loss: mean_squared_error"),
            "7:9: error[E200]: unknown loss 'mean_squared_error'",
            "did you mean 'mse'? (Keras' mean_squared_error)",
        ),
        (
            train("  loss: categorical_crossentropy\n  metrics: [sparse_categorical_accuracy]"),
            "8:13: error[E200]: unknown metric 'sparse_categorical_accuracy'",
            "did you mean 'accuracy'? (Keras' sparse_categorical_accuracy: one accuracy for "
            "class ids and binary outputs)",
        ),
        (
            train("  loss: categorical_crossentropy\n  metrics: [root_mean_squared_error]"),
            "8:13: error[E200]: unknown metric 'root_mean_squared_error'",
            "did you mean 'rmse'? (Keras' root_mean_squared_error)",
        ),
        (
            train("  loss: categorical_crossentropy\n  optimizer: adam(lr=1e-3, clipnorm=1.0)"),
            "8:28: error[E302]: adam() has no argument 'clipnorm'",
            "gradient clipping is a train property: `clip_norm: 1.0`",
        ),
        (
            train("  loss: categorical_crossentropy\n  optimizer: adam(weight_decay=1e-4)"),
            "8:19: error[E302]: adam() has no argument 'weight_decay'",
            "decoupled weight decay is adamw's: `adamw(lr=1e-3, weight_decay=1e-4)`",
        ),
        (
            train("  loss: categorical_crossentropy(from_logits=true)"),
            "7:34: error[E302]: categorical_crossentropy() has no argument 'from_logits'",
            "a loss reads logits when the output layer has no activation; a softmax or sigmoid "
            "output is folded into the loss (`nncompile plan` shows it)",
        ),
        (
            "model M {\n  input x: [4]\n  dense(3, activation=leaky_relu(negative_slope=0.2))\n}\n",
            "3:34: error[E302]: leaky_relu() has no argument 'negative_slope'",
            "did you mean 'alpha'? (Keras' negative_slope)",
        ),
        (
            "model M {\n  input x: [6, 3]\n  lstm(8, recurrent_dropout=0.1)\n}\n",
            "3:11: error[E302]: lstm() has no argument 'recurrent_dropout'",
            "no recurrent dropout yet: `dropout(rate)` before the layer drops its inputs",
        ),
        (
            "model M {\n  input x: [4]\n  dense(8, dropout=0.2)\n}\n",
            "3:12: error[E302]: dense() has no argument 'dropout'",
            "dropout is a layer of its own here: put `dropout(rate)` before this one",
        ),
        (  # Python's literals
            "model M {\n  input x: [6, 3]\n  lstm(8, return_sequences=True)\n}\n",
            "3:28: error[E201]: unknown name 'True'",
            "write true: the language's literals are lower case",
        ),
        (
            "model M {\n  input x: [4]\n  dense(8, activation=None)\n}\n",
            "3:23: error[E200]: unknown activation 'None'",
            "write none: the language's literals are lower case",
        ),
    ],
)
def test_keras_spellings_get_the_language_s_name(text, message, hint):
    with pytest.raises(CompileError) as e:
        nncompile.compile(text=text)
    first = e.value.diagnostics[0]
    assert str(e.value).startswith(f"<string>:{message}"), str(e.value)
    assert first.hint == hint


def test_none_is_the_default_of_an_optional_reference():
    """`nncompile docs` prints `dense(units, activation=none, ..., init=none)`: writing it is
    the default, the same program as leaving the argument out."""
    given = "model M {\n  input x: [4]\n  dense(8, activation=none, init=none)\n}\n"
    plain = "model M {\n  input x: [4]\n  dense(8)\n}\n"
    assert nncompile.check(text=given) == []
    layer = nncompile.compile(text=given + "train { model: M loss: mse }\n").source
    assert layer == nncompile.compile(text=plain + "train { model: M loss: mse }\n").source
