"""Issue 10, section 4 (parser and diagnostics): numbers no parameter can take are diagnostics in
the parser, control characters from a spec never reach the terminal raw, and `check` reads only
regular files, capped (a FIFO does not hang it, /dev/zero does not exhaust memory)."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

import nncompile
from nncompile.cli import main as cli_main

IRIS = """\
data iris {{ source: {source}  split: {{train: 0.7, val: 0.3}} }}
model M {{ input x: [4]  dense({units}, activation=softmax) }}
train {{ model: M  data: iris  loss: categorical_crossentropy  optimizer: adam(lr={lr}) }}
"""
GOOD = dict(source='sklearn("iris")', units=3, lr="1e-3")


def messages(text: str) -> list[tuple[str, str, str | None]]:
    return [(d.code, d.message, d.hint) for d in nncompile.check(text=text)]


INT_HINT = "integers must lie between -9223372036854775807 and 9223372036854775807"
FLOAT_HINT = "numbers must lie between about 1e-308 and 1.8e308 in magnitude"


@pytest.mark.parametrize(
    "field, literal, message, hint",
    [
        ("lr", "1e999", "the number 1e999 cannot be represented as a float", FLOAT_HINT),
        ("lr", "-1e999", "the number -1e999 cannot be represented as a float", FLOAT_HINT),
        ("lr", "1e-999", "the number 1e-999 cannot be represented as a float", FLOAT_HINT),
        (
            "units",
            "9" * 4301,
            "the integer 9999999999...999999 (4301 characters) is out of range",
            INT_HINT,
        ),
        (
            "units",
            "9223372036854775808",
            "the integer 9223372036854775808 is out of range",
            INT_HINT,
        ),
    ],
)
def test_numbers_out_of_range_are_parser_diagnostics(field, literal, message, hint):
    assert messages(IRIS.format(**{**GOOD, field: literal})) == [("E300", message, hint)]


def test_too_large_input_dimension_and_set_value():
    assert messages("model M { input x: [99999999999999999999] dense(1) }") == [
        ("E300", "the integer 99999999999999999999 is out of range", INT_HINT)
    ]
    text = "let lr = 0.1\n" + IRIS.format(**{**GOOD, "lr": "lr"})
    with pytest.raises(nncompile.CompileError) as e:
        nncompile.compile(text=text, sets={"lr": "1e999"})
    assert [(d.code, d.message) for d in e.value.diagnostics] == [
        ("E300", "the number 1e999 cannot be represented as a float")
    ]
    # numbers in range still parse (a subnormal; a zero with a large exponent)
    spec = nncompile.parse(
        "let a = 1e308\nlet b = 1e-310\nlet c = 0e-999\nlet d = -9223372036854775807"
    )
    assert [item.value.value for item in spec.items] == [1e308, 1e-310, 0.0, -(2**63 - 1)]


CONTROL = "\x1b[2J\x1b]0;owned\x07\u202e\x08"  # clear screen, set title, bell, RTL override


def test_control_characters_from_a_spec_are_escaped(tmp_path, capsys):
    spec = tmp_path / f"x{CONTROL}\r.nn"
    spec.write_text(
        IRIS.format(**{**GOOD, "source": f'csv("{CONTROL}.csv")'}).replace(
            "softmax", f'"{CONTROL}"'
        )
    )
    assert cli_main(["check", str(spec)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "error[E300]" in text
    assert text.isprintable() or set(text) - {" "} <= {"\n"} | {c for c in text if c.isprintable()}
    assert not any(c in text for c in CONTROL if not c.isprintable()), repr(text)
    assert "x\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x08\\r.nn:" in text
    assert 'csv("\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x08.csv"' in text
    # the caret still points at the escaped text
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if "activation=" in line and " | " in line)
    caret = lines[row + 1].index("^")
    escaped = '"\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x08"'
    assert lines[row][caret:].startswith(escaped)
    assert lines[row + 1][caret:] == "^" * len(escaped)


def _finishes(fn, seconds: float = 20.0):
    """fn() in a thread; fails (instead of hanging the suite) when it does not return in time."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return result[0]


def _unblock(fifo: Path) -> None:
    with contextlib.suppress(OSError):  # a reader stuck in open() of the FIFO (before) is let go
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_check_refuses_a_fifo_and_a_device_as_spec(tmp_path):
    fifo = tmp_path / "spec.nn"
    os.mkfifo(fifo)
    try:
        found = _finishes(lambda: nncompile.check(path=str(fifo)))
    finally:
        _unblock(fifo)
    assert [(d.code, d.message) for d in found] == [
        ("E504", f"'{fifo}' is a FIFO, not a spec file")
    ]
    found = _finishes(lambda: nncompile.check(path="/dev/zero"))
    assert [(d.code, d.message) for d in found] == [
        ("E504", "'/dev/zero' is a device or socket, not a spec file")
    ]


def test_check_does_not_read_a_fifo_or_device_as_text_source(tmp_path):
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    text = """\
data corpus {{ source: text("{path}")  windows: {{length: 8, targets: sequence}} }}
model M {{ input t: int[8]  embedding(64, 8)  lstm(16, sequences=true)  dense(64) }}
train {{ model: M  data: corpus  loss: sparse_categorical_crossentropy }}
"""
    try:
        for path in (fifo, "/dev/zero"):
            found = _finishes(lambda p=path: nncompile.check(text=text.format(path=p)))
            assert all("internal error" not in d.message for d in found)
    finally:
        _unblock(fifo)
