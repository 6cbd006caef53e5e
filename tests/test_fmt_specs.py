"""`nncompile fmt` keeps the meaning (the same validated program, spans aside), is idempotent and
keeps every comment: over every spec in specs/ and over Hypothesis-generated valid specs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pydantic
import pytest
import spec_strategy
from hypothesis import given, settings
from hypothesis import strategies as st

from nncompile.compiler import analyse
from nncompile.fmt import format_text
from nncompile.source import Source, Span
from nncompile.syntax.printer import WIDTH, comments_of

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.nn"))


def meaning(obj, seen=None) -> object:
    """A validated program as plain data without where things were written (spans, source)."""
    if isinstance(obj, (Span, Source)):
        return None
    if isinstance(obj, pydantic.BaseModel):
        return (type(obj).__name__, {k: meaning(getattr(obj, k)) for k in type(obj).model_fields})
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (
            type(obj).__name__,
            {f.name: meaning(getattr(obj, f.name)) for f in dataclasses.fields(obj)},
        )
    if isinstance(obj, dict):
        return {meaning(k): meaning(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [meaning(v) for v in obj]
    return obj


def program(text: str, path: str):
    prog, diagnostics = analyse(Source(text, path))
    assert prog is not None, [str(d) for d in diagnostics]
    return meaning(prog), sorted((d.code, d.message) for d in diagnostics)


def comment_texts(text: str) -> list[str]:
    return sorted(c for _, c in comments_of(text.split("\n")).values())


def assert_formats_well(text: str, path: str) -> str:
    out = format_text(text, path)
    assert format_text(out, path) == out, "not idempotent"
    assert program(out, path) == program(text, path), "the program changed"
    assert comment_texts(out) == comment_texts(text), "comments lost"
    assert out.endswith("\n") and "\n\n\n" not in out and "\t" not in out
    assert all(line == line.rstrip() for line in out.split("\n"))
    return out


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_keeps_its_program_and_comments(path):
    assert_formats_well(path.read_text(encoding="utf-8"), str(path))


@settings(settings.get_profile("repeatable"), max_examples=40)
@given(spec_strategy.specs())
def test_generated_specs_keep_their_program(text):
    out = assert_formats_well(text, "<string>")
    assert all(len(line) <= WIDTH for line in out.split("\n") if "#" not in line)


def test_messy_layout_becomes_canonical():
    messy = """# header comment
let hidden=32 # width
let lr = 1e-3
data d{source:sklearn("iris")
split:{train:0.8,val:0.2}  normalize:standard}
model M(w,rate=0.1){input x:[w*2]
  h=dense(w,activation=relu)  # first
  d = dropout(( rate ))
      out=dense(3,activation=softmax)(d)
  # last
  output out}
train{model:M data:d loss:categorical_crossentropy optimizer:adam(lr=lr)
  early_stopping: {monitor: val_loss, patience: 2}
  epochs:  -(-3)  batch_size: 2*(hidden-(8+8))
}
"""
    assert (
        format_text(messy)
        == """# header comment
let hidden = 32  # width
let lr     = 1e-3

data d {
  source:    sklearn("iris")
  split:     {train: 0.8, val: 0.2}
  normalize: standard
}

model M(w, rate=0.1) {
  input x: [w * 2]
  h   = dense(w, activation=relu)  # first
  d   = dropout(rate)
  out = dense(3, activation=softmax)(d)
  # last
  output out
}

train {
  model:      M
  data:       d
  loss:       categorical_crossentropy
  optimizer:  adam(lr=lr)
  early_stopping: {monitor: val_loss, patience: 2}
  epochs:     -(-3)
  batch_size: 2 * (hidden - (8 + 8))
}
"""
    )


def test_long_values_break_one_item_per_line_and_comments_inside_move_above():
    text = (
        "train {\n  objective: gan(generator=Generator, discriminator=Discriminator, "
        "noise=normal([noise_dim]), label_smoothing=0.1)\n  grid: {a: [1,  # one\n 2]}\n}\n"
    )
    assert (
        format_text(text)
        == """train {
  objective: gan(
    generator=Generator,
    discriminator=Discriminator,
    noise=normal([noise_dim]),
    label_smoothing=0.1,
  )
  # one
  grid: {a: [1, 2]}
}
"""
    )


def test_trailing_comments_align_and_continuations_stay_under_them():
    text = (
        'data d {\n  source: sklearn("iris") # a\n  shuffle: true # bb\n'
        "                # more of bb\n\n  split: {train: 1}   # alone\n}\n"
    )
    assert (
        format_text(text)
        == """data d {
  source:  sklearn("iris")  # a
  shuffle: true             # bb
                            # more of bb

  split: {train: 1}  # alone
}
"""
    )


def test_hash_inside_a_string_is_not_a_comment():
    text = 'data d { source: csv("a#b.csv")   # the file\n}\n'
    assert format_text(text) == 'data d {\n  source: csv("a#b.csv")  # the file\n}\n'


def test_syntax_errors_raise_compile_error_with_every_error():
    from nncompile.diagnostics import CompileError

    with pytest.raises(CompileError) as e:
        format_text("let a = (1\nlet b = 2\nlet c = = 3\n", "x.nn")
    assert [d.render(None).split(": ")[0] for d in e.value.diagnostics] == ["x.nn:2:1", "x.nn:3:9"]


@st.composite
def commented(draw):
    """A spec of specs/ with comments added at the ends of lines and on lines of their own."""
    path = draw(st.sampled_from(SPECS))
    lines = path.read_text().split("\n")
    for k in sorted(draw(st.lists(st.integers(0, len(lines) - 1), max_size=8)), reverse=True):
        if draw(st.booleans()) and "#" not in lines[k]:
            lines[k] += f"  # end {k}"
        else:
            lines.insert(k, " " * draw(st.integers(0, 6)) + f"# own {k}")
    return str(path), "\n".join(lines)


@settings(settings.get_profile("repeatable"), max_examples=40)
@given(commented())
def test_comments_anywhere_are_kept(case):
    path, text = case
    assert_formats_well(text, path)
