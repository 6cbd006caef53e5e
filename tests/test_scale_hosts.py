"""Two processes on loopback (`--coordinator 127.0.0.1:PORT --num-processes 2`), each with 2 forced
CPU devices: killing one process makes the other exit non-zero, with a message, within 60 s. (That
they train the digits MLP to the parameters of one process with 4 devices, with checkpoints and a
resume: tests/test_multihost_checkpoints.py.)"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from scale.forced import digits_mlp, env, free_port


def start(tmp_path: Path, port: int, i: int, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nncompile", "train", "spec.nn", "--quiet", "--devices", "4"]
    cmd += ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)]
    return subprocess.Popen(
        [*cmd, *args],
        cwd=tmp_path,
        env=env(2),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_dead_process_stops_the_other(tmp_path):
    # (killing process 0, the coordinator, stops process 1 the same way: tried by hand)
    killed = 1
    (tmp_path / "spec.nn").write_text(digits_mlp(2000, 64))
    port = free_port()
    procs = [start(tmp_path, port, i, *(["--out", "run"] if i == 0 else [])) for i in (0, 1)]
    other = procs[1 - killed]
    try:
        time.sleep(1)
        deadline = time.monotonic() + 240  # until both train (compiled, the collectives connected)
        while time.monotonic() < deadline and not (tmp_path / "run").exists():
            time.sleep(0.5)
        time.sleep(8)
        assert other.poll() is None, other.communicate()[1][-2000:]
        procs[killed].kill()
        killed_at = time.monotonic()
        _, err = other.communicate(timeout=90)
        took = time.monotonic() - killed_at
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert other.returncode != 0
    assert took < 60
    assert "another process" in err or "gloo" in err.lower() or "distributed" in err.lower()
