"""bench/run.py against every reference: which Python runs the reference programs (so that keras
and torch are found in whatever venv has them) and the single-threaded environment of
`--threads1`."""

from __future__ import annotations

import sys

from bench_modules import bench_module


def run_module():
    return bench_module("run")


def test_the_references_run_with_the_named_python_first(monkeypatch):
    run = run_module()
    monkeypatch.setenv("NNCOMPILE_BENCH_PYTHON", "/opt/bench/bin/python")
    assert run.bench_python() == "/opt/bench/bin/python"


def test_without_a_bench_venv_the_references_run_with_this_python(monkeypatch, tmp_path):
    run = run_module()
    monkeypatch.delenv("NNCOMPILE_BENCH_PYTHON", raising=False)
    monkeypatch.setattr(run, "HERE", tmp_path / "bench")  # a checkout without .venv-bench
    assert run.bench_python() == sys.executable
    venv = tmp_path / ".venv-bench" / "bin" / "python"
    venv.parent.mkdir(parents=True)
    venv.touch()
    assert run.bench_python() == str(venv)


def test_threads1_makes_every_contender_single_threaded(monkeypatch, tmp_path):
    run = run_module()
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "/elsewhere")
    env = run.environment("cold", tmp_path, threads1=True)
    assert env["OMP_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "1"
    assert "intra_op_parallelism_threads=1" in env["XLA_FLAGS"]
    assert "--xla_cpu_multi_thread_eigen=false" in env["XLA_FLAGS"]
    assert "JAX_COMPILATION_CACHE_DIR" not in env and env["NNCOMPILE_CACHE"] == "0"
    plain = run.environment("cold", tmp_path)
    assert plain["OMP_NUM_THREADS"] == "8" and "XLA_FLAGS" not in plain
