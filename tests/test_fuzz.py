"""Property tests: whatever text or bytes ``check`` is given, it returns diagnostics and never
raises.

Inputs: arbitrary Unicode text, soups of the language's own tokens, arbitrary bytes read through a
file, and mutations (delete / duplicate / swap / rename tokens, change numbers, insert punctuation,
truncate) of the example specs in ``specs/*.nn`` and of a few valid specs written here. Every
diagnostic must point inside the text. Derandomized, so CI runs the same 6,500 cases every time:
3,500 in the fast tier (1,500 mutations: ~20 CPU s), 3,000 more mutations in the slow tier.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nncompile
from nncompile.diagnostics import Diagnostic, to_json
from nncompile.source import Source

ROOT = Path(__file__).resolve().parents[1]

INLINE = [
    """\
let hidden = 32
data iris { source: sklearn("iris")  split: {train: 0.7, val: 0.15, test: 0.15} }
model IrisNet {
  input x: [4]
  dense(hidden, activation=relu, init=he_normal)
  dropout(0.1)
  dense(3, activation=softmax)
}
train {
  model: IrisNet  data: iris  loss: categorical_crossentropy
  optimizer: adam(lr=1e-3)  schedule: cosine(warmup=10)  batch_size: full  epochs: 5
  early_stopping: {monitor: val_accuracy, patience: 3}  metrics: [accuracy, top_k(2)]
}
""",
    """\
data images { source: sklearn("digits")  reshape: [8, 8, 1]  augment: [random_shift(1)]
              split: {train: 0.8, val: 0.2} }
model Block(width, rate=0.1) { dense(width, activation=relu) dropout(rate) }
model Net {
  input x: [8, 8, 1]
  c = conv2d(8, 3, padding=valid, activation=relu)
  p = max_pool(2)(c)
  f = flatten()(p)
  h = Block(width=32)(f)
  r = dense(32)(f)
  s = add(h, r)
  dense(10, activation=softmax)
}
train fast { model: Net  data: images  loss: categorical_crossentropy  regularize: [l2(1e-4)] }
sweep { train: fast  grid: {}  objective: minimize(val_loss) }
""",
    """\
model Generator { input z: [16]  dense(64, activation=sigmoid) }
model Discriminator { input x: [64]  dense(32, activation=leaky_relu(0.2))  dense(1) }
data pixels { source: sklearn("digits")  normalize: minmax }
train gan {
  objective: gan(generator=Generator, discriminator=Discriminator, noise=normal([16]))
  data: pixels  loss: non_saturating  optimizer: adam(lr=2e-4, b1=0.5)
  samples: {every: 5, count: 16}
}
""",
    """\
model Tagger {
  input tokens: int[20]
  embedding(50, 8)
  bidirectional(lstm(16, return_sequences=true))
  gru(16)
  output gru_1
}
""",
]


def seeds() -> list[str]:
    """Example specs (when the folder has them), the inline ones, and the error corpus."""
    files = sorted((ROOT / "specs").glob("*.nn")) + sorted((ROOT / "tests" / "errors").glob("*.nn"))
    texts = []
    for f in files:
        try:
            texts.append(f.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            continue
    return INLINE + texts


SEEDS = seeds()
TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z_]\w*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\s+|.', re.S
)
NAMES = sorted({t for s in SEEDS for t in TOKEN.findall(s) if re.fullmatch(r"[A-Za-z_]\w*", t)})
PUNCTUATION = [
    *"{}[]()=:,;.'\"#-+@\\\t\n",
    "\u00e9",
    "\u200b",
    "\ufeff",
    "\x00",
    "1e",
    "1.2.3",
    "-",
]
NUMBERS = [
    "0",
    "-1",
    "0.0",
    "1.5",
    "-0",
    "1e400",
    "1e-400",
    "99999999999999999999999",
    "3",
    "65",
    "1024",
]
VOCABULARY = sorted(
    set(NAMES[:400])
    | set(PUNCTUATION)
    | {" ", "\n", "64", "0.5", "1e-3", '"digits"', "true", "false", "int"}
)


def cases(n: int) -> settings:
    # (the health checks but these two stay on)
    return settings(
        settings.get_profile("repeatable"),
        max_examples=n,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def assert_well_formed(diagnostics, text: str) -> None:
    assert isinstance(diagnostics, list)
    lines = text.count("\n") + 1
    source = Source(text, "<fuzz>")
    for d in diagnostics:
        assert isinstance(d, Diagnostic), d
        assert d.severity in ("error", "warning")
        assert re.fullmatch(r"E\d{3}", d.code), d
        assert d.message, d
        assert 1 <= d.span.line <= lines + 1, (d, lines)
        assert d.span.column >= 1, d
        d.render(source)  # never raises either
    json.loads(to_json(diagnostics))


# ---- arbitrary text ---------------------------------------------------------------------------
@cases(500)
@given(st.text(max_size=400))
def test_any_text(text):
    assert_well_formed(nncompile.check(text=text), text)


@cases(1000)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=80).map("".join))
def test_token_soup(text):
    assert_well_formed(nncompile.check(text=text), text)


# ---- arbitrary bytes, through a file ------------------------------------------------------------
@cases(500)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.sampled_from(SEEDS)
        .map(lambda s: s.encode("utf-8"))
        .flatmap(
            lambda b: st.tuples(st.integers(0, len(b)), st.binary(min_size=1, max_size=4)).map(
                lambda ix: b[: ix[0]] + ix[1] + b[ix[0] :]
            )
        ),
    )
)
def test_any_bytes_from_a_file(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz_bytes.nn"
    path.write_bytes(data)
    diagnostics = nncompile.check(path=str(path))
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        assert [d.code for d in diagnostics] == ["E103"]
        text = data.decode("utf-8", errors="replace")
    assert_well_formed(diagnostics, text)
    assert all(d.path == str(path) for d in diagnostics)


# ---- mutations of real specs --------------------------------------------------------------------
@st.composite
def mutated(draw) -> str:
    tokens = TOKEN.findall(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(
            st.sampled_from(
                ["delete", "duplicate", "swap", "punctuate", "rename", "renumber", "truncate"]
            )
        )
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "punctuate":
            tokens.insert(i, draw(st.sampled_from(PUNCTUATION)))
        elif op == "rename":
            tokens[i] = draw(st.sampled_from(NAMES))
        elif op == "renumber":
            numbers = [k for k, t in enumerate(tokens) if t[:1].isdigit()] or [i]
            tokens[draw(st.sampled_from(numbers))] = draw(st.sampled_from(NUMBERS))
        else:
            tokens = tokens[:i]
    return "".join(tokens)


@cases(1500)
@given(mutated())
def test_mutated_specs(text):
    assert_well_formed(nncompile.check(text=text), text)


@pytest.mark.slow
@cases(3000)
@given(mutated())
def test_more_mutated_specs(text):
    assert_well_formed(nncompile.check(text=text), text)


def test_seeds_parse():
    """The fuzzing starts from specs that parse (the error corpus aside)."""
    for text in INLINE:
        assert not [d for d in nncompile.check(text=text) if d.severity == "error"], text
