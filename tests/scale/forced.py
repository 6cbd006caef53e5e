"""A child process on forced CPU devices, for the tests of several devices and processes: XLA reads
XLA_FLAGS when JAX starts, so a test that needs N devices runs its work in a child whose
environment splits the host into N (and finds this checkout's nncompile and tests.scale runners).

    arrays("runner", spec, out, *args)  # python -m tests.scale.runner SPEC OUT ARGS..., its npz
    run(["-m", "nncompile", "train", ...], cwd=folder)  # any command, checked to exit 0
    env(2)  # the environment alone (subprocess.Popen of several processes)

and what those tests share: `digits_mlp(epochs, hidden)`, the digits MLP made small; `free_port()`
for a coordinator on loopback; `run_params(folder, run)`, a run folder's trained parameters; and, in
the runners, `overrides("k:v,k:v")`, their settings as CONFIG values.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def env(devices: int = 4) -> dict[str, str]:
    """This environment with the host split into `devices` CPU devices; unbuffered output (a test
    reading a process's lines while it runs sees them as they are written)."""
    return {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }


def run(
    args: list[str], *, cwd: Path = ROOT, devices: int = 4, input: str | None = None
) -> subprocess.CompletedProcess:
    """`python ARGS` on `devices` forced devices, in `cwd`; it must exit 0 (else the test fails
    with the end of its stderr)."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env(devices),
        input=input,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def arrays(runner: str, spec: Path, out: Path, *args: object) -> dict[str, np.ndarray]:
    """The arrays `python -m tests.scale.<runner> SPEC OUT ARGS...` writes to OUT (an npz), run on
    4 forced devices."""
    run(["-m", f"tests.scale.{runner}", str(spec), str(out), *map(str, args)])
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def digits_mlp(epochs: int, hidden: int, extra: str = "") -> str:
    """specs/digits_mlp.nn with `epochs` epochs and `hidden` units, without early stopping; `extra`:
    train-block text after `epochs:` (e.g. a checkpoint line)."""
    text = (ROOT / "specs" / "digits_mlp.nn").read_text()
    text = text.replace("epochs:     100", f"epochs: {epochs}{extra}")
    text = text.replace("hidden = 256", f"hidden = {hidden}")
    return "\n".join(line for line in text.splitlines() if "early_stopping" not in line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_params(folder: Path, run: str, spec: str = "spec.nn") -> list[np.ndarray]:
    """The trained parameters of run folder `folder/run` of `folder/spec` (read in this process)."""
    import jax

    import nncompile

    program = nncompile.compile(folder / spec).load(folder / run)
    return [np.asarray(a) for a in jax.tree.leaves(program.trainer.state()["model"])]


def overrides(settings: str) -> dict[str, int | str]:
    """A runner's settings `k:v,k:v` as CONFIG overrides (whole numbers as ints)."""
    pairs = (item.partition(":") for item in filter(None, settings.split(",")))
    return {k: int(v) if v.isdigit() else v for k, _, v in pairs}
