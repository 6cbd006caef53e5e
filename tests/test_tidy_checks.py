"""Refusals of a spec's static content that `check` reports at the line, before anything runs (they
were refused only when training started): `logical_shards:` on a model that keeps batch statistics,
directly or in a model it uses as a layer. The trainer keeps the same refusal, in the same words,
for a program it is given (tests/test_bitwise_shards.py)."""

from __future__ import annotations

import pytest

import nncompile
from nncompile.cli import main
from nncompile.errors import ConfigError
from nncompile.runtime import shards

SPEC = """data d { source: sklearn("digits")  split: {train: 0.8, val: 0.2} }
model Normed {
  input x: [64]
  dense(16)
  NORM
}
model M {
  input x: [64]
  LAYER
  dense(10, activation=softmax)
}
train {
  model: M  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
  batch_size: 32  epochs: 1
  logical_shards: 4
}
"""
MESSAGE = (
    "`logical_shards: 4`: the model keeps batch statistics (e.g. BatchNorm), which couple every "
    "row of a batch, so its steps cannot be computed shard by shard"
)
HINT = "remove `logical_shards` (resuming on another device count then agrees to float tolerance)"


def spec(layer: str = "dense(16)\n  batch_norm()", norm: str = "batch_norm()") -> str:
    return SPEC.replace("LAYER", layer).replace("NORM", norm)


def line_of_shards(text: str) -> int:
    return text.splitlines().index("  logical_shards: 4") + 1


@pytest.mark.parametrize(
    "layer", ["dense(16)\n  batch_norm()", "Normed()"], ids=["in the model", "in a model it uses"]
)
def test_logical_shards_on_batch_statistics_is_refused_at_the_property(layer):
    text = spec(layer)
    diagnostics = nncompile.check(text=text)
    assert len(diagnostics) == 1, diagnostics
    d = diagnostics[0]
    assert (d.code, d.message, d.hint) == ("E300", MESSAGE, HINT)
    assert (d.span.line, d.span.column) == (line_of_shards(text), 19)  # at the value


def test_the_command_line_shows_the_file_and_line(tmp_path, capsys):
    path = tmp_path / "m.nn"
    path.write_text(spec())
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{line_of_shards(spec())}:19: error[E300]: {MESSAGE}" in err
    assert f"hint: {HINT}" in err


def test_without_batch_statistics_or_with_one_shard_it_passes():
    assert nncompile.check(text=spec(layer="dense(16)")) == []
    assert nncompile.check(text=spec(layer="Normed()", norm="layer_norm()")) == []
    one = spec().replace("logical_shards: 4", "logical_shards: 1")
    assert nncompile.check(text=one) == []


def test_the_trainer_refuses_it_in_the_same_words():
    # a program whose CONFIG asks for shards (written by hand, or given to the trainer directly)
    text = spec().replace("  logical_shards: 4\n", "")
    model = nncompile.compile(text=text, path="m.nn").module.make_model(0)
    with pytest.raises(ConfigError) as e:
        shards.initial(None, model, 4)
    assert (e.value.message, e.value.hint) == (MESSAGE, HINT)
