"""What bench/fuzz_mutate.py found (package fuzz, session 24): specs that passed `check` and then
stopped when their data loaded, now refused by `check` at the line to change."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile


def _errors(tmp_path, text: str) -> list[str]:
    (tmp_path / "s.nn").write_text(text)
    found = nncompile.check(path=str(tmp_path / "s.nn"))
    return [
        f"{d.span.line}:{d.span.column} {d.message} | {d.hint}"
        for d in found
        if d.severity == "error"
    ]


@pytest.fixture
def halves(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "h.npz", a=rng.normal(size=(20, 4)), b=rng.normal(size=(20, 4)),
             c=np.arange(20) % 3)  # fmt: skip
    return tmp_path


@pytest.mark.parametrize(
    ("prop", "column"),
    [("windows: {length: 4}", 12), ("classes: [0, 1]", 12), ("reshape: [2, 2]", 12)],
)
def test_options_named_arrays_do_not_take_are_refused_by_check(halves, prop, column):
    """(`windows` on multi_io.nn's npz of named arrays passed check, then loading said "`windows`
    is not supported yet for data with several named arrays")"""
    option = prop.split(":")[0]
    text = (
        'data d {\n  source: npz("h.npz", x=["a", "b"], y="c")\n'
        f"  {prop}\n}}\n"
        "model M { input a: [4]  input b: [4]  h = concat(a, b)\n"
        "          c = dense(3, activation=softmax)(h) }\n"
        "train { model: M  data: d  loss: categorical_crossentropy }\n"
    )
    assert _errors(halves, text)[0] == (
        f"3:{column} `{option}` is not supported yet for data with several named arrays | "
        f"remove `{option}`, or prepare the arrays before saving them"
    )


def test_csv_column_groups_are_named_arrays_too(tmp_path):
    (tmp_path / "t.csv").write_text("p,q,t\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    text = 'data d { source: csv("t.csv", inputs={a: ["p", "q"]}, target="t")  reshape: [2, 1] }\n'
    assert _errors(tmp_path, text) == [
        "1:77 `reshape` is not supported yet for data with several named arrays | "
        "remove `reshape`, or prepare the arrays before saving them"
    ]
    one = _errors(tmp_path, 'data d { source: csv("t.csv", target="t")  reshape: [2, 1] }\n')
    assert one == []  # one input array: reshape is fine


def test_a_class_listed_twice_is_refused_by_check(tmp_path):
    """(`classes: [5, 6, 6, 8, 9]`, a mutated transfer_finetune.nn: check passed, loading said
    "classes are listed twice")"""
    errors = _errors(tmp_path, 'data d { source: sklearn("digits")  classes: [5, 6, 6, 8, 8] }\n')
    assert errors == [
        "1:46 invalid classes of data block 'd': class 6 is listed twice; list each class id once"
        " | None"
    ]


def test_two_names_for_a_gru_with_return_state_but_no_sequences(tmp_path):
    """(`enc, h = gru(6, return_state=true)(e)`, Keras' `output, state = GRU(...)`: the hint said
    "gru yields its final states too with return_state=true", which the statement already has)"""
    text = (
        "model S {\n  input src: int[6]\n  e = embedding(7, 4)(src)\n"
        "  enc, h = gru(6, return_state=true)(e)\n  dense(2)(h)\n}\n"
    )
    assert _errors(tmp_path, text) == [
        "4:3 gru yields one tensor here (h), but the statement binds 2 names | bind one name: "
        "`h = gru(...)` (without return_sequences=true its output is the final state h), or add "
        "return_sequences=true for the steps too: `seq, h = gru(...)`"
    ]


@pytest.mark.parametrize("augment", ["gaussian_noise(0.1)", "random_flip()"])
def test_augmenting_token_ids_is_refused_by_check(tmp_path, augment):
    """(`augment: [gaussian_noise(0.1)]` on addition_seq2seq.nn's token ids passed check; the first
    step crashed: "dtype argument to `normal` must be a float or complex dtype, got int32")"""
    text = (
        f'data d {{ source: synthetic("addition", n=50, features=2)  augment: [{augment}] }}\n'
        "model M { input q: int[5]  one_hot(12)  lstm(8)  repeat(3)\n"
        "          lstm(8, return_sequences=true)  dense(12, activation=softmax) }\n"
        "train { model: M  data: d  loss: categorical_crossentropy }\n"
    )
    name = augment.split("(")[0]
    assert _errors(tmp_path, text) == [
        f"1:69 {name} changes real values, but data d gives token ids (integers) | "
        "remove `augment`: augmentations work on real-valued features and images"
    ]


def test_one_hot_targets_against_one_sigmoid_unit_are_refused_by_check(tmp_path):
    """(`one_hot: true` added to perceptron.nn: check passed, loading said "the train split has
    one-hot rows of 2 classes, but model Perceptron ends with 1 unit(s)")"""
    text = (
        'data d { source: sklearn("breast_cancer")  one_hot: true }\n'
        "model P { input x: [30]\n  dense(1, activation=sigmoid) }\n"
        "train { model: P  data: d  loss: LOSS }\n"
    )
    said = (
        "3:3 data d has `one_hot: true`: its targets are rows of 2 values, but model P ends with "
        "1 unit(s) | end with dense(2), or remove `one_hot` (the losses read class ids)"
    )
    assert _errors(tmp_path, text.replace("LOSS", "binary_crossentropy")) == [said]
    assert _errors(tmp_path, text.replace("LOSS", "mse")) == [  # (refused before, as regression)
        "3:3 model P outputs [1], but data d has targets of shape [2] | end the model with an "
        "output of shape [2]"
    ]
    two = text.replace("dense(1, activation=sigmoid)", "dense(2, activation=softmax)")
    assert _errors(tmp_path, two.replace("LOSS", "categorical_crossentropy")) == []
    assert _errors(tmp_path, two.replace("LOSS", "mse")) == []


def test_reconstructed_token_ids_against_other_steps_are_refused_by_check(tmp_path):
    """(`target: input` added to addition_seq2seq.nn: 5 question ids as targets of a model of 3
    answer steps passed check; loading said "class ids of shape [5] per example, but model Adder
    outputs [3, 12]")"""
    text = (
        'data d { source: synthetic("addition", n=50, features=2)  target: input }\n'
        "model M { input q: int[5]  one_hot(12)  lstm(8)  repeat(STEPS)\n"
        "          lstm(8, return_sequences=true)  dense(12, activation=softmax) }\n"
        "train { model: M  data: d  loss: categorical_crossentropy }\n"
    )
    assert _errors(tmp_path, text.replace("STEPS", "3")) == [
        "3:43 data d has `target: input`: its targets are the input's [5] token ids per example, "
        "but model M outputs [3, 12] | end with a distribution per input step: an output of shape "
        "[5, tokens]"
    ]
    assert _errors(tmp_path, text.replace("STEPS", "5")) == []
