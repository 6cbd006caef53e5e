"""Incremental parsing equals a whole parse: over every spec and many kinds of edit, the spliced
tree (spans included) is the whole parse's, or the edit falls back to a whole parse."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from nncompile.diagnostics import CompileError
from nncompile.lsp.incremental import changed_lines, reparse
from nncompile.source import Source
from nncompile.syntax.parser import parse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from check_speed import big_spec  # noqa: E402

SPECS = sorted((ROOT / "specs").glob("*.nn"))


def whole(text: str):
    try:
        return parse(Source(text, "s.nn"))
    except (CompileError, RecursionError):
        return None


def edits(text: str, seed: int):
    """Edits an editor makes: a number changed, lines deleted, duplicated, inserted, commented,
    a character typed anywhere (braces and quotes too), a line joined with the next."""
    lines = text.split("\n")
    rng = random.Random(seed)
    for k in sorted(rng.sample(range(len(lines)), min(6, len(lines)))):
        before, line, after = lines[:k], lines[k], lines[k + 1 :]
        yield "\n".join(before + after)
        yield "\n".join([*before, line, line, *after])
        yield "\n".join([*before, "", line, *after])
        yield "\n".join([*before, "  # note", line, *after])
        yield "\n".join([*before, line + "  # trailing", *after])
        yield "\n".join([*before, line + " " + (after[0] if after else ""), *after[1:]])
        yield "\n".join([*before, "let q = 2", line, *after])  # a keyword in a model: an error
        yield "\n".join([*before, "  }", line, *after])
        digits = [i for i, c in enumerate(line) if c.isdigit()]
        if digits:
            i = rng.choice(digits)
            yield "\n".join([*before, line[:i] + "7" + line[i + 1 :], *after])
    for _ in range(15):
        i = rng.randrange(len(text) + 1)
        typed = rng.choice([*'(){}[],=#x\n:"', "let"])
        yield text[:i] + typed + text[i:]
        j = rng.randrange(len(text))
        yield text[:j] + text[j + 1 :]


@pytest.mark.parametrize("path", [*SPECS, None], ids=lambda p: p.stem if p else "big_spec")
def test_incremental_parse_equals_whole_parse(path):
    text = path.read_text() if path is not None else big_spec(60)
    spec = whole(text)
    assert spec is not None
    used = total = 0
    for new in edits(text, seed=len(text)):
        total += 1
        fast = reparse(text, spec, new, "s.nn")
        if fast is None:
            continue
        used += 1
        assert fast == whole(new), new
    assert used > total // 4  # most edits do not need a whole parse


def test_changed_lines():
    assert changed_lines("ab\ncd", "ab\n\ncd") == (2, 2, 1)
    assert changed_lines("a\nb\nc", "a\nB\nc") == (2, 2, 0)
    assert changed_lines("a\nb\nc", "a\nc") == (2, 3, -1)
    assert changed_lines("a\nb", "a b") == (1, 2, -1)  # lines joined: the second one moved


def test_a_keystroke_costs_less_than_a_whole_parse():
    """The server's re-check after an edit in a 200-statement spec: interleaved with the same
    check parsing the whole text, CPU time (the machine may be loaded). bench/lsp_speed.py prints
    the absolute numbers (target: under 50 ms)."""
    import statistics
    import time

    from nncompile.lsp.document import analyse_text

    text = big_spec(200)
    doc = analyse_text(text, "big.nn")
    fast, slow = [], []
    for i in range(12):
        edited = text.replace("h50 = dense(width", f"h50 = dense({60 + i}", 1)
        start = time.process_time()
        again = analyse_text(edited, "big.nn", doc)
        fast.append(time.process_time() - start)
        start = time.process_time()
        whole_ = analyse_text(edited, "big.nn")
        slow.append(time.process_time() - start)
        assert again.diagnostics == whole_.diagnostics
        assert again.program == whole_.program
    assert statistics.median(fast) < 0.6 * statistics.median(slow)
