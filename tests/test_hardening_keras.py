"""Hardening: specs written as a Keras user writes them, from the docs alone, get diagnostics that
say what the language writes instead (each message and hint exact)."""

from __future__ import annotations

import pytest

import nncompile
from nncompile.diagnostics import CompileError

HEAD = "model M {\n  input a: [5]\n  input b: [3]\n"


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (  # a call nested in a layer's inputs
            HEAD + "  h = dense(16)(concat(a, b))\n}\n",
            "4:23: error[E100]: unexpected '(': a layer's inputs are tensor names, not calls "
            "(concat(...))",
            "bind the inner call on a line of its own, `t = concat(...)`, and pass t",
        ),
        (  # a keyword argument among a layer's inputs
            "model M {\n  input x: [5, 4]\n  h, c = lstm(8, return_state=true)\n"
            "  lstm(8)(x, initial_state=[h, c])\n}\n",
            "4:27: error[E100]: unexpected '=': the parentheses after a layer's call hold its "
            "inputs, not arguments (initial_state=...)",
            "move initial_state=... into the layer's call, before its inputs: "
            "`layer(..., initial_state=...)(inputs)`",
        ),
        (  # a tuple
            "model M {\n  input x: [8, 8, 1]\n  conv2d(4, (3, 3))\n}\n",
            "3:15: error[E100]: unexpected ',': (3, 3) is a tuple; the language writes lists in "
            "brackets",
            "write [3, 3]",
        ),
        (  # a quoted activation
            HEAD + '  dense(4, activation="relu")(a)\n}\n',
            "4:23: error[E300]: expected an activation name, not a string: relu is written "
            "without quotes",
            "write relu",
        ),
        (  # Keras' layer names
            HEAD + "  Concatenate(a, b)\n}\n",
            "4:3: error[E200]: unknown layer 'Concatenate'",
            "did you mean 'concat'? (Keras' Concatenate)",
        ),
        (
            "model M {\n  input x: [5, 4]\n  time_distributed(dense(3))\n}\n",
            "3:3: error[E200]: unknown layer 'time_distributed'",
            "no TimeDistributed is needed: dense and the other per-feature layers apply to the "
            "last axis at every step; write the inner layer itself, e.g. dense(4)",
        ),
        (  # Keras' argument names
            "model M {\n  input x: [9, 8]\n  multi_head_attention(num_heads=2)\n}\n",
            "3:24: error[E302]: multi_head_attention() has no argument 'num_heads'",
            "did you mean 'heads'? (Keras' num_heads)",
        ),
        (
            "model M {\n  input x: [4]\n  dense(1)\n}\n"
            "train { model: M loss: mse optimizer: adam(learning_rate=0.1) }\n",
            "5:44: error[E302]: adam() has no argument 'learning_rate'",
            "did you mean 'lr'? (Keras' learning_rate)",
        ),
        (  # a list of losses for several outputs
            HEAD + "  p = dense(1, activation=sigmoid)(a)\n  q = dense(2)(b)\n  output p, q\n}\n"
            "train { model: M loss: [binary_crossentropy, mse] }\n",
            "8:24: error[E300]: expected one loss, not a list: a model with several outputs "
            "takes a loss per output by name",
            "write `loss: {output_name: mse, other: binary_crossentropy}` (or one loss for all)",
        ),
        (  # Keras' fit() arguments
            "model M {\n  input x: [4]\n  dense(1)\n}\n"
            "train { model: M loss: mse validation_split: 0.2 }\n",
            "5:28: error[E203]: unknown property 'validation_split' in a train block",
            "the split is the data block's: `split: {train: 0.8, val: 0.2}`",
        ),
        (
            'model M {\n  input x: [4]\n  dense(1)\n}\ntrain { model: M loss: "mse" }\n',
            "5:24: error[E300]: expected a loss name, not a string: mse is written without quotes",
            "write mse",
        ),
    ],
)
def test_keras_spellings_are_explained(text, message, hint):
    with pytest.raises(CompileError) as e:
        nncompile.compile(text=text)
    first = e.value.diagnostics[0]
    assert str(e.value).startswith(f"<string>:{message}"), str(e.value)
    assert first.hint == hint
