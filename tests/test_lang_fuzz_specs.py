"""Generated valid specs train one step or stop with a diagnostic, never an internal error
(issue 11). The strategy (tests/spec_strategy.py) builds specs from the grammar's forms and every
registry entry; `python bench/fuzz_specs.py --examples 2000` is the nightly run of the same
property with real training steps.

Derandomized: CI runs the same specs every time. The traced tests cover hundreds of specs (120 in
the fast tier, 250 others in the slow one) up to the step's trace (data loading and its checks,
code generation, the step's shapes and dtypes); a slow test trains a few of them for real, through
`Program.fit`.
"""

from __future__ import annotations

import collections
import re
from dataclasses import replace

import pytest
import spec_data
import spec_harness
import spec_strategy
from hypothesis import given, settings

from nncompile.registry.layers import LAYERS
from nncompile.registry.optimizers import OPTIMIZERS


def cases(n: int) -> settings:
    return settings(settings.get_profile("repeatable"), max_examples=n)


SEEN: collections.Counter[str] = collections.Counter()
OUTCOMES: collections.Counter[bool] = collections.Counter()


def trace(text: str) -> None:
    outcome = spec_harness.run_spec(text, "trace")  # raises InternalError with the spec
    OUTCOMES[outcome.trained] += 1
    SEEN.update(re.findall(r"([a-z_0-9]+)\(", text))


# 120 specs in the fast tier draw 28 of the 34 layers (250 drew 29); 250 more in the slow tier
@cases(120)
@given(spec_strategy.specs())
def test_generated_specs_trace_one_training_step(text):
    trace(text)


@pytest.mark.slow
@cases(250)
@given(spec_strategy.specs())
def test_more_generated_specs_trace_one_training_step(text):
    trace(text)


def test_the_generated_specs_are_varied():
    """(after the traced run) most layers and every optimizer were drawn, and most specs train."""
    if not OUTCOMES:
        pytest.skip("runs after test_generated_specs_trace_one_training_step")
    layers = [name for name in LAYERS if SEEN[name]]
    assert len(layers) >= len(LAYERS) * 2 // 3, sorted(set(LAYERS) - set(layers))
    assert all(SEEN[name] for name in OPTIMIZERS), sorted(set(OPTIMIZERS) - set(SEEN))
    assert OUTCOMES[True] >= 0.6 * sum(OUTCOMES.values()), OUTCOMES


@pytest.mark.slow
@cases(8)
@given(spec_strategy.specs())
def test_generated_specs_train_one_step(text):
    spec_harness.run_spec(text, "train")


def test_a_new_layer_entry_is_drawn_without_changing_the_strategy(monkeypatch):
    twin = replace(LAYERS["dense"], name="dense_twin")
    monkeypatch.setitem(LAYERS._entries, "dense_twin", twin)
    setup = spec_data.data_setups()[0]
    bodies = []

    @cases(60)
    @given(spec_strategy.model_body(setup))
    def grow(body):
        bodies.append(body[0])

    grow()
    assert any("dense_twin(" in s for body in bodies for s in body)


def test_internal_errors_are_reported_with_the_spec(monkeypatch):
    """The harness tells a crash (here a code generator gone wrong) from a diagnostic."""
    text = (
        'data d { source: synthetic("xor", n=20)  split: {train: 1} }\n'
        "model M { input x: [2]  dense(2, activation=softmax) }\n"
        "train { model: M  data: d  loss: categorical_crossentropy  batch_size: full }\n"
    )
    assert spec_harness.run_spec(text, "trace").trained
    from nncompile.api import weights  # where a Program emits its source

    real = weights.emit_program
    monkeypatch.setattr(
        weights, "emit_program", lambda *a, **k: real(*a, **k) + "\nundefined_name\n"
    )
    with pytest.raises(spec_harness.InternalError, match=r"NameError(.|\n)*--- spec ---"):
        spec_harness.run_spec(text, "trace")


# ---- the bugs the generated specs found -------------------------------------------------------
def test_check_refuses_a_regression_loss_on_text_tokens(tmp_path):
    """`check` passed, and loading the data then refused: token ids are class labels."""
    import nncompile

    (tmp_path / "t.txt").write_text("abracadabra " * 3, encoding="utf-8")
    spec = tmp_path / "t.nn"
    spec.write_text(
        'data d { source: text("t.txt")  windows: {length: 6} }\n'
        "model M { input x: int[6]  embedding(6, 4)  flatten()  dense(6) }\n"
        "train { model: M  data: d  loss: mse }\n",
        encoding="utf-8",
    )
    assert [(d.code, d.message) for d in nncompile.check(path=str(spec))] == [
        ("E501", "mse is a regression loss, but data d has class labels")
    ]


def test_a_metric_of_the_other_task_on_a_csv_is_a_diagnostic_not_a_crash(tmp_path):
    """A csv's task is known only when it is loaded: `mae` on its class labels passed `check` and
    crashed the first epoch (reshaping the class ids to the output's shape)."""
    import nncompile
    from nncompile.errors import DataError

    rows = "".join(f"{i},{i % 3},{i % 2}\n" for i in range(12))
    (tmp_path / "d.csv").write_text("a,b,y\n" + rows, encoding="utf-8")
    spec = tmp_path / "s.nn"
    spec.write_text(
        'data d { source: csv("d.csv", target="y")  split: {train: 1} }\n'
        "model M { input x: [2]  dense(2, activation=softmax) }\n"
        "train { model: M  data: d  loss: categorical_crossentropy  batch_size: full\n"
        "        metrics: [accuracy, mae] }\n",
        encoding="utf-8",
    )
    (found,) = nncompile.check(path=str(spec))  # (check reads the column's values now)
    assert "metric mae is for regression, but the targets are class labels" in found.message
    from nncompile.registry import datavalues

    with pytest.MonkeyPatch.context() as patch:  # files check does not read: loading refuses
        patch.setattr(datavalues, "CSV_BYTES", 0)
        with pytest.raises(DataError, match="metric mae is for regression, but the targets are"):
            nncompile.compile(str(spec)).splits()


@pytest.mark.parametrize("layer", ["lstm(6)", "gru(6, return_sequences=true)", "simple_rnn(6)"])
def test_recurrent_layers_with_bfloat16_trace_a_step(layer):
    """A cell computing in bfloat16 returned a bfloat16 carry to a float32 scan: TypeError."""
    text = (
        'data d { source: synthetic("sine", n=20)  windows: {length: 5}  split: {train: 1} }\n'
        f"model M {{ input x: [5, 1]  {layer}  flatten()  dense(1) }}\n"
        "train { model: M  data: d  loss: mse  batch_size: full  precision: bfloat16 }\n"
    )
    assert spec_harness.run_spec(text, "trace").trained
