"""Recurrent states: ``return_state=true`` binds a recurrent layer's final states as tensors
(``seq, h, c = lstm(...)``) and ``initial_state=[h, c]`` starts a recurrent layer from them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from nncompile.codegen.emit import emit_model
from nncompile.codegen.load import load_module
from nncompile.compiler import analyse
from nncompile.source import Source


def model_of(body: str):
    program, diagnostics = analyse(Source(f"model M {{\n{body}\n}}\n", "states.nn"))
    return (program.models["M"] if program else None), diagnostics


def built(body: str):
    model, _ = model_of(body)
    source = emit_model(model, "states.nn")
    return source, load_module(source, "states.nn").Model(nnx.Rngs(0))


def errors(body: str) -> list[tuple[int, str, str | None]]:
    _, diagnostics = model_of(body)
    return [(d.span.line, d.message, d.hint) for d in diagnostics if d.severity == "error"]


CONTINUED = """
input x: [6, 3]
first, h, c = lstm(4, return_sequences=true, return_state=true)
second = lstm(4, return_sequences=true, initial_state=[h, c])(x)
out = concat(first, second)
"""


def test_emitted_code_unpacks_the_carry_and_passes_it_on():
    source, _ = built(CONTINUED)
    assert "(h, c), first = self.first(x, return_carry=True)" in source
    assert "second = self.second(x, initial_carry=(h, c))" in source


@pytest.mark.parametrize("kind, states", [("lstm", "h, c"), ("gru", "h"), ("simple_rnn", "h")])
def test_a_layer_started_from_states_continues_the_sequence(kind, states):
    """Running x then x again through one layer == running x, then x from its final states with a
    copy of the same weights: the states are the layer's carry, in the right order."""
    body = f"""
input x: [5, 3]
first, {states} = {kind}(4, return_sequences=true, return_state=true)
second = {kind}(4, return_sequences=true, initial_state=[{states}])(x)
out = concat(first, second)
"""
    _, model = built(body)
    nnx.update(model.second, nnx.state(model.first, nnx.Param))  # the same weights
    x = jax.random.normal(jax.random.key(1), (2, 5, 3))
    out = model(x)
    twice = model.first(jnp.concatenate([x, x], axis=1))
    np.testing.assert_allclose(out[..., 4:], twice[:, 5:], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[..., :4], twice[:, :5], rtol=1e-5, atol=1e-5)


def test_final_states_without_sequences_are_the_last_output():
    _, model = built(
        """
input x: [5, 3]
h, c = lstm(4, return_state=true)
last = lstm(4, return_sequences=true)(x)
out = concat(h, c)
"""
    )
    nnx.update(model.last, nnx.state(model.h, nnx.Param))
    x = jax.random.normal(jax.random.key(2), (2, 5, 3))
    np.testing.assert_allclose(model(x)[:, :4], model.last(x)[:, -1], rtol=1e-5, atol=1e-5)


def test_states_feed_other_layers_with_their_shapes():
    model, _ = model_of(
        """
input x: [7, 2]
seq, h = gru(8, return_sequences=true, return_state=true)
d = dense(3)(h)
"""
    )
    assert [(t.name, t.shape) for t in model.nodes[0].extra] == [("h", (8,))]
    assert model.nodes[0].shape == (7, 8) and model.nodes[1].in_shapes == ((8,),)


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "input x: [6, 3]\nseq, h, c = lstm(4, return_sequences=true, return_state=true)\n"
            "y = lstm(4, initial_state=[h])(x)",
            (
                4,
                "lstm starts from 2 state(s) [h, c], but initial_state names 1",
                "pass initial_state=[h, c]: the final states of another lstm "
                "(`seq, h, c = lstm(..., return_sequences=true, return_state=true)`)",
            ),
        ),
        (
            "input x: [6, 3]\nseq, h = gru(5, return_sequences=true, return_state=true)\n"
            "y = gru(4, initial_state=[h])(x)",
            (
                4,
                "gru(4) starts from states of shape [4], but its initial h, h, is [5]",
                "give the layer that produced h 4 units too",
            ),
        ),
        (
            "input x: [6, 3]\ny = lstm(4, initial_state=[h, c])",
            (3, "unknown tensor 'h' in model M", "bind it first: `h = dense(64)`"),
        ),
        (
            "input x: [6, 3]\ny = lstm(4, initial_state=[1, 2])",
            (
                3,
                "initial_state takes the names of tensors, e.g. initial_state=[h, c]",
                "bind them earlier in the model: "
                "`seq, h, c = lstm(64, return_sequences=true, return_state=true)`",
            ),
        ),
        (
            "input x: [6, 3]\nout, h, c = lstm(4, return_state=true)",
            (
                3,
                "lstm yields 2 tensors here (h, c), but the statement binds 3 names",
                "bind 2 names: `h, c = lstm(...)`; without return_sequences=true its output "
                "is the final state h",
            ),
        ),
        (
            "input x: [6, 3]\nseq, h = lstm(4, return_sequences=true)",
            (
                3,
                "lstm yields one tensor, but the statement binds 2 names",
                "lstm yields its final states too with return_state=true",
            ),
        ),
        (
            "input x: [6, 3]\nh, x = gru(4, return_sequences=true, return_state=true)",
            (3, "'x' is already defined in model M", "choose another name"),
        ),
        (
            "input x: [6]\na, b = dense(4)",
            (
                3,
                "dense yields one tensor, but the statement binds 2 names",
                "bind one name: `a = dense(...)`",
            ),
        ),
        (
            "input x: [6, 3]\na, b = relu",
            (
                3,
                "relu yields one tensor, but the statement binds 2 names",
                "bind one name: `a = relu(...)`",
            ),
        ),
    ],
)
def test_state_mistakes_are_diagnostics(body, expected):
    assert errors(body) == [expected]


def test_bidirectional_refuses_states():
    (found,) = errors("input x: [6, 3]\nbidirectional(lstm(4, return_state=true))")
    assert "bidirectional does not pass states" in found[1]


def test_unbound_states_are_a_warning_and_the_output_is_kept():
    model, diagnostics = model_of("input x: [6, 3]\nlstm(4, return_state=true)\ndense(2)")
    (warning,) = [d for d in diagnostics if d.severity == "warning"]
    assert warning.message == "lstm yields 2 tensors (h, c); only the first is used"
    assert model.nodes[-1].in_shapes == ((4,),)


def test_summary_and_comments_show_the_states():
    from nncompile.summary import model_table

    model, _ = model_of(CONTINUED)
    table = model_table(model)
    rows = [line.split() for line in table.splitlines()]
    assert ["4", "h", "state", "[4]"] in rows and ["4", "c", "state", "[4]"] in rows
    assert "total parameters: 256" in table
    source, _ = built(CONTINUED)
    assert "# states.nn:4  [6, 3] -> [6, 4], [4], [4]" in source


def test_a_parameterised_block_with_states_is_one_class():
    spec = """
model Block(w) {
  input x: [5, 3]
  s, h, c = lstm(w, return_sequences=true, return_state=true)
  out = lstm(w, initial_state=[h, c])(x)
}
model Top {
  input x: [5, 3]
  a = Block(w=4)(x)
  b = Block(w=6)(x)
  m = concat(a, b)
}
"""
    program, _ = analyse(Source(spec, "par.nn"))
    source = emit_model(program.models["Top"], "par.nn")
    assert source.count("class Block") == 1
    assert "(h, c), s = self.s(x, return_carry=True)  # par.nn:4  [5, 3] -> [5, w], [w], [w]" in (
        source
    )
    model = load_module(source, "par.nn").Model(nnx.Rngs(0))
    assert model(jnp.ones((2, 5, 3))).shape == (2, 10)
