"""One canonical layout: however a spec's tokens are spaced and broken over lines, fmt writes the
same text (blank lines and comments aside, which fmt keeps where the author put them)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nncompile.fmt import format_text

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.nn"))
TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|//|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?![A-Za-z_])'
    r"|[A-Za-z_0-9.]+|\S"
)
WORD = re.compile(r"[A-Za-z_0-9.\"]")


def bare(text: str) -> str:
    """The spec without comments and blank lines."""
    out = []
    for line in text.split("\n"):
        code = re.sub(r'("(?:[^"\\\n]|\\.)*")|#.*', lambda m: m.group(1) or "", line)
        if code.strip():
            out.append(code.rstrip())
    return "\n".join(out) + "\n"


@st.composite
def respaced(draw):
    path = draw(st.sampled_from(SPECS))
    text = bare(path.read_text())
    tokens = TOKEN.findall(text)
    out = [tokens[0]]
    for before, token in itertools.pairwise(tokens):
        glue = draw(st.sampled_from(["", " ", "\n", "   ", " \n  "]))
        words = WORD.match(before[-1]) and WORD.match(token[0])
        if glue == "" and (words or token[0] in "+-"):
            glue = " "  # keep words apart, and `-1` after a value a subtraction, as written
        out.append(glue + token)
    return text, "".join(out)


@settings(settings.get_profile("repeatable"), max_examples=60)
@given(respaced())
def test_any_spacing_gives_the_same_text(case):
    text, spaced = case
    assert format_text(spaced) == format_text(text)
