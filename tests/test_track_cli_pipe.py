"""A closed pipe ends a command quietly: `nncompile docs | head`, `nncompile emit ... | head`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "argv", [["docs"], ["emit", "specs/digits_mlp.nn"], ["summary", "specs/digits_cnn.nn"]]
)
def test_a_reader_that_went_away_ends_the_command_quietly(argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NNCOMPILE_DEBUG", None)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes anything: EPIPE on first write
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nncompile", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.stderr == ""  # no "internal error", no "Exception ignored" at exit
    assert done.returncode == 141


def test_docs_piped_into_head_prints_its_first_lines():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        f"{sys.executable} -m nncompile docs | head -n 1",
        shell=True,
        capture_output=True,
        cwd=ROOT,
        env=env,
        text=True,
        timeout=120,
    )
    assert done.stdout == "# Reference: every name a spec can use\n"
    assert done.stderr == ""
