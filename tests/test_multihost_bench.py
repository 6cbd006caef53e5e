"""bench/scale.py on a machine it was not written on: the worker keeps the environment's
PYTHONPATH and XLA_FLAGS (extended, not replaced), and a worker that fails is reported with the end
of its stderr instead of a bare "exited 1"."""

from __future__ import annotations

import os

from bench_modules import BENCH, bench_module


def scale_module():
    return bench_module("scale")


def test_the_worker_keeps_the_environment_and_forces_cpu_devices():
    base = {"PYTHONPATH": "/opt/wheels", "XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    env = scale_module().worker_env(4, "cpu", base)
    assert env["PYTHONPATH"].split(os.pathsep) == [str(BENCH.parent), "/opt/wheels"]
    assert env["XLA_FLAGS"].split() == [
        "--xla_dump_to=/tmp/x",
        "--xla_force_host_platform_device_count=4",
    ]
    assert env["JAX_PLATFORMS"] == "cpu"
    gpu = scale_module().worker_env(1, "gpu", base)
    assert gpu["XLA_FLAGS"] == base["XLA_FLAGS"] and "JAX_PLATFORMS" not in gpu


def test_a_failing_worker_is_reported_with_its_stderr(capsys):
    # a TPU asked for on this CPU machine: the worker stops with a message
    assert scale_module().run("W1", 1, 2, "tpu", timeout=120) is None
    err = capsys.readouterr().err
    assert "W1 on 1 device(s): the worker exited 1; its stderr ends:" in err
    assert "| bench/scale.py: asked for tpu, JAX's backend is cpu" in err
