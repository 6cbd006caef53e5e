"""Arithmetic in specs: the grammar's signs and precedence, compile-time evaluation, diagnostics at
the sub-expression, `--set` of lets computed from other lets, and one emitted class for a block
whose arguments are expressions of its parameters."""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from flax import nnx

from nncompile.codegen.emit import emit_program
from nncompile.codegen.load import load_module
from nncompile.compiler import analyse
from nncompile.source import Source

IRIS = """
data iris { source: sklearn("iris")  split: {train: 0.7, val: 0.15, test: 0.15} }
train { model: Net  data: iris  loss: categorical_crossentropy  optimizer: adam(lr=1e-3)
        batch_size: full  epochs: 1 }
"""


def analysed(text: str, sets: dict[str, str] | None = None):
    program, diagnostics = analyse(Source(text, "t.nn"), sets)
    return program, [d for d in diagnostics if d.severity == "error"]


def lets(text: str, sets: dict[str, str] | None = None) -> dict:
    program, errors = analysed(text, sets)
    assert not errors, [d.message for d in errors]
    assert program is not None
    return program.lets


def errors_of(text: str) -> list[tuple[str, str, str, str | None]]:
    """(code, message, the text the span covers, hint) of each error."""
    _, errors = analysed(text)
    lines = text.split("\n")
    out = []
    for d in errors:
        assert d.span is not None and d.span.line == d.span.end_line
        covered = lines[d.span.line - 1][d.span.column - 1 : d.span.end_column - 1]
        out.append((d.code, d.message, covered, d.hint))
    return out


# ---- signs, precedence, evaluation --------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("a-1", 4),
        ("a - 1", 4),
        ("a -1", 4),
        ("-1", -1),
        ("- 1", -1),
        ("1e-3", 1e-3),
        ("2e+2", 200.0),
        ("-a", -5),
        ("--a", 5),
        ("a - -1", 6),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),
        ("2 * 6 / 4", 3.0),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("-(7 // 2)", -3),
        ("a * 2 // 3", 3),
        ("1.5 * 2", 3.0),
        ("b / 2", 0.25),
    ],
)
def test_expression_values(expr, value):
    got = lets(f"let a = 5\nlet b = 0.5\nlet x = {expr}\n")["x"]
    assert got == value and type(got) is type(value)


def test_a_space_before_a_minus_in_a_list_subtracts():
    assert lets("let x = [4 -1]\nlet y = [4, -1]\n") == {"x": [3], "y": [4, -1]}


def test_lets_computed_from_lets_and_expressions_inside_lists_dicts_and_calls():
    text = """
let size = 4
let ch = 2
let hidden = size * 8
data digits { source: sklearn("digits")  split: {train: 1 - 0.3, val: 0.3 / 2, test: 0.15} }
model Net {
  input x: [size * size * 2 * ch]
  reshape([size, size * 2, -1])
  flatten()
  dense(hidden + 1, activation=leaky_relu(0.1 * 2))
  dropout(1 / 4)
  dense(10, activation=softmax)
}
train { model: Net  data: digits  loss: categorical_crossentropy  optimizer: adam(lr=1e-3 / 2)
        batch_size: size * 8  epochs: 1 }
"""
    program, errors = analysed(text)
    assert not errors, [d.message for d in errors]
    assert program is not None
    net = program.models["Net"]
    assert net.inputs[0].shape == (64,)
    assert [n.shape for n in net.nodes][:3] == [(4, 8, 2), (64,), (33,)]
    assert net.nodes[2].params.activation.params.alpha == pytest.approx(0.2)
    assert net.nodes[3].params.rate == 0.25
    props = program.trains["main"].props
    assert props.batch_size == 32
    assert props.optimizer.params.lr == pytest.approx(5e-4)


# ---- diagnostics at the sub-expression ----------------------------------------------------------
def test_division_by_zero_points_at_the_divisor():
    text = "let n = 4\nmodel M {\n  input x: [8]\n  dense(n * 2 // (n - 4))\n}\n"
    assert errors_of(text) == [("E300", "division by zero", "n - 4", "this divisor evaluates to 0")]


def test_unknown_name_in_an_expression_points_at_the_name_with_a_suggestion():
    text = "let hidden = 4\nmodel M {\n  input x: [8]\n  dense(hiden * 2)\n}\n"
    assert errors_of(text) == [("E201", "unknown name 'hiden'", "hiden", "did you mean 'hidden'?")]


def test_a_float_where_a_whole_number_is_needed():
    text = "let hidden = 64\nmodel M {\n  input x: [8]\n  dense(hidden / 2)\n}\n"
    assert errors_of(text) == [
        (
            "E300",
            "invalid units of dense: expected a whole number, got 32.0",
            "hidden / 2",
            "`/` gives a float even for whole numbers: use `//` (7 // 2 = 3)",
        )
    ]


def test_input_dimensions_are_checked_one_by_one():
    text = (
        'let s = 4\nlet name = "abc"\nmodel M {\n'
        "  input x: [s / 2, s // 0, sz, name * 2, s - 4]\n  dense(2)\n}\n"
    )
    assert errors_of(text) == [
        (
            "E300",
            "input dimensions must be whole numbers, got 2.0",
            "s / 2",
            "`/` gives a float: use `//` to divide whole numbers (7 // 2 = 3)",
        ),
        ("E300", "division by zero", "0", "this divisor evaluates to 0"),
        ("E201", "unknown name 'sz'", "sz", "did you mean 's'?"),
        (
            "E300",
            "'name' is a string, not a number",
            "name",
            "'name' is defined at line 2; arithmetic needs numbers",
        ),
        ("E300", "input dimensions must be at least 1, got 0", "s - 4", None),
    ]


def test_values_that_are_not_numbers():
    text = (
        'model M {\n  input x: [8]\n  dense(2 * relu)\n  dropout(true + 1)\n  dense("a" * 2)\n}\n'
    )
    hint = "arithmetic works on numbers, `let` values and model parameters"
    assert errors_of(text) == [
        ("E201", "unknown name 'relu'", "relu", f"{hint}: define it with `let`"),
        ("E300", "true cannot be used in arithmetic", "true", hint),
        ("E300", "a string cannot be used in arithmetic", '"a"', hint),
    ]


def test_results_out_of_range_and_cycles():
    text = (
        "let big = 9223372036854775807\nlet a = a + 1\nmodel M {\n  input x: [8]\n"
        "  dense(big + 1)\n  dropout(1e308 * 10)\n  dense(a)\n}\n"
    )
    assert errors_of(text) == [
        (
            "E403",
            "'a' is defined in terms of itself",
            "a + 1",
            "give the `let` a value that does not use its own name",
        ),
        (
            "E300",
            "the result of this expression is out of range (integers must lie within "
            "±9223372036854775807)",
            "big + 1",
            None,
        ),
        ("E300", "the result of this expression is too large to be a float", "1e308 * 10", None),
    ]


def test_syntax_hints_do_not_list_the_operators():
    _, errors = analysed("model M {\n  input x: [8 8]\n}\n")
    assert [(d.message, d.hint) for d in errors] == [("unexpected number 8", "expected ',' or ']'")]


# ---- --set and sweeps ---------------------------------------------------------------------------
SET = """
let base = 16
let hidden = base * 2
model Net { input x: [4]  dense(hidden, activation=relu)  dense(3, activation=softmax) }
"""


def test_set_changes_lets_computed_from_the_one_set():
    assert lets(SET)["hidden"] == 32
    assert lets(SET, {"base": "8"})["hidden"] == 16
    assert lets(SET, {"hidden": "base * 3 + 1"})["hidden"] == 49
    program, _ = analysed(SET, {"base": "5"})
    assert program.models["Net"].nodes[0].shape == (10,)


def test_set_expression_errors_point_at_the_let():
    _, errors = analysed(SET, {"hidden": "base // 0"})
    assert [(d.message, d.span.line) for d in errors] == [("division by zero", 3)]


def test_sweep_trials_set_the_let_others_are_computed_from():
    from nncompile.runtime.sweep import as_text

    for value in (4, 8):
        assert lets(SET, {"base": as_text(value)})["hidden"] == 2 * value


# ---- one class for a block whose arguments are expressions of its parameters ---------------
BLOCK = (
    """
model Block(width, rate=0.1) {
  dense(width * 2 - 1, activation=relu)
  dropout(rate / 2)
  dense(16)
  reshape([width // 8, -1])
  flatten()
}
model Net {
  input x: [4]
  dense(16)
  Block(width=8)
  Block(width=32, rate=0.2)
  dense(3, activation=softmax)
}
"""
    + IRIS
)


def test_a_block_with_expressions_of_its_parameters_is_one_class():
    program, errors = analysed(BLOCK)
    assert not errors and program is not None
    source = emit_program(program)
    assert len(re.findall(r"^class Block", source, re.M)) == 1, source
    assert "nnx.Linear(16, width * 2 - 1" in source
    assert "nnx.Linear(width * 2 - 1, 16" in source
    assert "nnx.Dropout(rate / 2" in source
    module = load_module(source, "block")
    model = module.make_model(0)
    params = nnx.state(model, nnx.Param)
    count = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params))
    assert count == program.models["Net"].param_count
    assert model.Block.dropout_1.rate == 0.05 and model.Block_2.dropout_1.rate == 0.1
    assert (model.Block_2.dense_1.in_features, model.Block_2.dense_1.out_features) == (16, 63)
    out = model(np.zeros((2, 4), np.float32))
    assert out.shape == (2, 3)
