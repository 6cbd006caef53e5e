"""Diagnostics at the value they are about: a `freeze:` name that is no layer of the model is
underlined itself (not the whole list), so the second of two names is found at once."""

from __future__ import annotations

import nncompile

SPEC = """\
data d { source: sklearn("iris") }
model M { input x: [4]  Encoder = dense(8, activation=relu)  Head = dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy
  freeze: [Encoder, Haed] }
"""


def test_a_freeze_name_that_is_no_layer_is_underlined_itself():
    (d,) = nncompile.check(text=SPEC)
    assert d.message == "freeze names 'Haed', which is not a layer with parameters of model M"
    assert d.hint == "did you mean 'Head'?"
    line = SPEC.splitlines()[3]
    assert (d.span.line, d.span.column, d.span.end_column) == (
        4,
        line.index("Haed") + 1,
        line.index("Haed") + 5,
    )
