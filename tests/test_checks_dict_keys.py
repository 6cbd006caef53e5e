"""A dict key the schema refuses is reported as a key, at the key, in the words of what the keys
are (`class_weight: {1.5: 2.0}` used to get the generic whole-number message about
`class_weight.1.5` and the hint about `/` and `//`); a bad value under a numeric key is reported
at that value (it was the whole dict)."""

from __future__ import annotations

import pytest

import nncompile

SPEC = """\
data d { source: sklearn("digits") }
model M { input x: [64]  dense(10, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy
  class_weight: WEIGHTS }
"""
CLASS_IDS = "its keys are class ids, whole numbers"
EXAMPLE = "class_weight: {0: 1.0, 1: 5.0}"


def diagnose(weights: str):
    found = nncompile.check(text=SPEC.replace("WEIGHTS", weights))
    return [(d.code, d.span.line, d.span.column, d.message, d.hint) for d in found]


@pytest.mark.parametrize(
    ("weights", "column", "key", "rule", "hint"),
    [
        ("{1.5: 2.0}", 18, "1.5", "", f"key each weight by its class id: {EXAMPLE}"),
        ("{0: 1, 2.5: 3}", 24, "2.5", "", f"key each weight by its class id: {EXAMPLE}"),
        ("{1.0: 2}", 18, "1.0", "", "write the key as 1"),
        ("{-1: 2}", 18, "-1", " from 0", "class ids start at 0"),
        (
            '{"a": 2}',
            18,
            '"a"',
            "",
            "key each weight by its class id (text labels are numbered from 0 in sorted "
            f"order): {EXAMPLE}",
        ),
    ],
)
def test_a_key_that_is_no_class_id(weights, column, key, rule, hint):
    assert diagnose(weights) == [
        (
            "E300",
            4,
            column,
            f"invalid key {key} in class_weight of train block 'main': {CLASS_IDS}{rule}",
            hint,
        )
    ]


def test_a_bad_weight_is_reported_at_the_weight():
    assert diagnose("{0: 1, 1: -2}") == [
        (
            "E300",
            4,
            27,
            "invalid class_weight.1 of train block 'main': must be greater than 0, got -2",
            None,
        )
    ]


def test_whole_number_values_keep_their_hint():
    """A value that must be a whole number still gets the hint about `/` (`units / 2`)."""
    text = SPEC.replace("dense(10", "dense(10 / 2").replace("WEIGHTS", "balanced")
    (d,) = nncompile.check(text=text)
    assert d.hint == "`/` gives a float even for whole numbers: use `//` (7 // 2 = 3)"
