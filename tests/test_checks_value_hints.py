"""Values the schema refuses with a hint that says what to write: split fractions that do not add
up to 1 (a split that does), a list where one number goes (one value, or a sweep over it)."""

from __future__ import annotations

import pytest

import nncompile

DATA = 'data d { source: sklearn("digits")  split: SPLIT }'


def one(text: str) -> tuple[str, str | None]:
    (d,) = nncompile.check(text=text)
    return d.message, d.hint


@pytest.mark.parametrize(
    ("split", "total", "fixed"),
    [
        ("{train: 0.8, test: 0.3}", "1.1", "{train: 0.7, test: 0.3}"),
        ("{train: 0.5, test: 0.3}", "0.8", "{train: 0.7, test: 0.3}"),
        ("{train: 0.8, val: 0.5, test: 0.6}", "1.9", "{train: 0.42, val: 0.26, test: 0.32}"),
    ],
)
def test_split_fractions_that_do_not_add_up_to_one(split, total, fixed):
    assert one(DATA.replace("SPLIT", split)) == (
        f"invalid split of data block 'd': the split fractions add up to {total}, not 1",
        f"make them add up to 1, e.g. {fixed}",
    )


@pytest.mark.parametrize(
    ("text", "message", "values"),
    [
        (
            "train { model: M  data: d  loss: mse  epochs: [10, 20] }",
            "invalid epochs of train block 'main': expected a whole number, got a list",
            "[10, 20]",
        ),
        (
            "model M { input x: [4]  dense([32, 64]) }",
            "invalid units of dense: expected a whole number, got a list",
            "[32, 64]",
        ),
    ],
)
def test_a_list_where_one_number_goes(text, message, values):
    found = [(d.message, d.hint) for d in nncompile.check(text=text) if "got a list" in d.message]
    assert found == [
        (
            message,
            "give one value; to try several, name it (`let n = ...`, then n here) and sweep over "
            f"it: `sweep {{ grid: {{n: {values}}} }}`",
        )
    ]
