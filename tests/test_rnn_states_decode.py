"""The encoder-decoder with states (specs/encoder_decoder.nn) and greedy decoding: `decode:` in a
train block is checked, emitted as a `decode` function, and run by Program.decode."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import nncompile
from nncompile.compiler import analyse
from nncompile.errors import NncompileError
from nncompile.source import Source

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "encoder_decoder.nn"


def reverse_data():
    spec = importlib.util.spec_from_file_location(
        "make_reverse", SPEC.parent / "data" / "make_reverse.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_file_is_what_its_script_writes():
    made = reverse_data().make()
    with np.load(SPEC.parent / "data" / "reverse.npz") as stored:
        for key, array in made.items():
            np.testing.assert_array_equal(stored[key], array)
    assert np.all(made["answer"] == made["source"][:, ::-1])
    assert np.all(made["shifted"][:, 0] == 0) and np.all(
        made["shifted"][:, 1:] == made["answer"][:, :-1]
    )


def test_emitted_decode_is_greedy_decoding_step_by_step():
    """The emitted decode (one nnx.fori_loop) gives what a plain Python loop of greedy steps gives,
    on an untrained model (its choices are arbitrary, so any slip in the feedback shows)."""
    program = nncompile.compile(SPEC)
    module = program.module
    assert "def decode(model, x):" in program.source
    model = module.make_model(0)
    model.eval()
    source = reverse_data().make(64, seed=5)["source"].astype(np.int32)
    tokens = np.zeros_like(source)
    for t in range(source.shape[1] - 1):
        out = np.asarray(model(jnp.asarray(source), jnp.asarray(tokens)))
        tokens[:, t + 1] = out[:, t].argmax(-1)
    expected = np.asarray(model(jnp.asarray(source), jnp.asarray(tokens))).argmax(-1)
    got = module.decode(model, {"source": jnp.asarray(source), "shifted": jnp.asarray(tokens)})
    np.testing.assert_array_equal(np.asarray(got), expected)
    assert len(set(expected.ravel().tolist())) > 1  # not a constant answer


def test_decode_without_the_property_is_refused():
    text = SPEC.read_text().replace("  decode: {input: shifted, start: 0}", "")
    program = nncompile.compile(text=text)
    assert "def decode" not in program.source
    program.trainer = type("Trained", (), {"program": program.module})()  # as after fit()
    with pytest.raises(NncompileError, match=r"`train main` has no `decode:` property"):
        program.decode({"source": np.zeros((2, 6), np.int32)})


def errors(decode: str, body: str | None = None, loss: str = "categorical_crossentropy"):
    text = SPEC.read_text().replace("decode: {input: shifted, start: 0}", decode)
    text = text.replace("loss: categorical_crossentropy", f"loss: {loss}")
    if body is not None:
        text = text.replace("  answer = dense(symbols, activation=softmax)(dec)", body)
    _, diagnostics = analyse(Source(text, str(SPEC)))
    return [(d.message, d.hint) for d in diagnostics if d.severity == "error"]


@pytest.mark.parametrize(
    "decode, body, loss, expected",
    [
        (
            "decode: {input: shiftd}",
            None,
            "categorical_crossentropy",
            (
                "decode reads input 'shiftd', but model Reverser has no such input",
                "did you mean 'shifted'?",
            ),
        ),
        (
            "decode: {input: shifted, start: 10}",
            None,
            "categorical_crossentropy",
            (
                "decode starts from token 10, but 'answer' predicts tokens 0..9",
                "the start token must be one of the model's token ids",
            ),
        ),
        (
            "decode: {input: shifted, output: answr}",
            None,
            "categorical_crossentropy",
            (
                "decode reads output 'answr', but model Reverser has no such output",
                "add `output: <name>` to decode; the outputs are answer",
            ),
        ),
        (
            "decode: {input: shifted}",
            "  last = lstm(8)(dec)\n  answer = dense(symbols, activation=softmax)(last)",
            "categorical_crossentropy",
            (
                "decode reads the next token from 'answer' [10], but it must give a distribution "
                "over tokens at each of the 6 steps of 'shifted': [6, tokens]",
                "end the decoder with return_sequences=true and a per-step dense(tokens, "
                "activation=softmax)",
            ),
        ),
        (
            "decode: {input: shifted}",
            "  answer = dense(symbols)(dec)",
            "mse",
            (
                "decode picks the most likely token, but 'answer' is trained with mse",
                "train the decoder's output as a classifier: loss: categorical_crossentropy",
            ),
        ),
    ],
)
def test_decode_mistakes_are_diagnostics(decode, body, loss, expected):
    assert expected in errors(decode, body, loss)


def test_a_float_decoder_input_is_refused():
    text = (
        SPEC.read_text()
        .replace("decode: {input: shifted, start: 0}", "decode: {input: f}")
        .replace("  input shifted: int[6]", "  input shifted: int[6]\n  input f: [6]")
    )
    _, diagnostics = analyse(Source(text, str(SPEC)))
    assert (
        "decode feeds tokens back into 'f', but it is [6]",
        "the decoder's input must be token ids: `input f: int[steps]`",
    ) in [(d.message, d.hint) for d in diagnostics if d.severity == "error"]


@pytest.mark.slow
def test_the_encoder_decoder_decodes_held_out_sequences(tmp_path):
    """Stated result of specs/encoder_decoder.nn: greedy decoding (no teacher forcing) writes >= 95%
    of held-out sequences back exactly (measured 99.6%; ~10 s of training on 2 cores)."""
    program = nncompile.compile(SPEC)
    history = program.fit()
    assert history.epochs[-1]["val_accuracy"] >= 0.95
    made = reverse_data()
    train_rows = {tuple(r) for r in made.make()["source"].tolist()}
    fresh = made.make(600, seed=123)
    keep = np.array([tuple(r) not in train_rows for r in fresh["source"].tolist()])
    source, answer = fresh["source"][keep], fresh["answer"][keep]
    ids = program.decode({"source": source})
    assert ids.shape == answer.shape and ids.dtype == np.int32
    exact = float(np.mean(np.all(ids == answer, axis=1)))
    assert exact >= 0.95, exact
    # a saved run decodes the same (eval mode both times)
    program.save(tmp_path / "run")
    loaded = nncompile.compile(SPEC).load(tmp_path / "run")
    np.testing.assert_array_equal(loaded.decode({"source": source[:50]}), ids[:50])
