"""A conditional GAN's label input of another shape than a class label: the message says which
input and why (the data's class count, or no class label shape), the hint what to declare."""

from __future__ import annotations

from pathlib import Path

import pytest

import nncompile

SPEC = (Path(__file__).resolve().parent / "errors" / "cgan_label_shape.nn").read_text()
HINT = "declare `input label: int[1]` (then embed it) or `input label: [10]` (one-hot)"


@pytest.mark.parametrize(
    ("declared", "why"),
    [
        ("[8]", "[8], but data pixels has 10 classes"),
        ("int[3]", "int[3], which is not the shape of a class label"),
    ],
)
def test_the_label_input_of_another_shape(declared, why):
    text = SPEC.replace("input label: [8]", f"input label: {declared}")
    found = [(d.span.line, d.message, d.hint) for d in nncompile.check(text=text)]
    message = f"Discriminator takes the class label as input label: {why}"
    assert (13, message, HINT) in found
