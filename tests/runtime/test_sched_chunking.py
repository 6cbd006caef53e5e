"""The chunk scheduler both trainers use (runtime/chunking.py), on its own: a fake loop and a
fake clock, no compilation. The trainers' own tests (tests/runtime/test_loop.py,
tests/test_gan_chunks.py) check the same rules through real fits."""

from __future__ import annotations

import types

import numpy as np
import pytest

from nncompile.runtime import chunking
from nncompile.runtime.chunking import ChunkScheduler, traced_bounds

STEP_S, COMPILE_S = 0.01, 5.0


class Steps:
    def __init__(self):
        self.seen: list[tuple] = []

    def on_step_end(self, trainer, epoch, step, steps):
        self.seen.append((trainer, epoch, step, steps))


@pytest.fixture
def loop(monkeypatch):
    """A loop whose calls take STEP_S a step (the first of all also COMPILE_S) on a fake clock;
    its carry counts the steps run, and it records the (lo, hi) of every call."""
    now = [0.0]
    monkeypatch.setattr(chunking, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    calls: list[tuple[int, int]] = []

    def call(carry, lo, hi):
        now[0] += (hi - lo) * STEP_S + (COMPILE_S if not calls else 0.0)
        calls.append((lo, hi))
        return carry + np.int32(hi - lo)

    return calls, call


def test_first_call_one_step_then_doubling_then_chunks_of_chunk_s(loop):
    calls, call = loop
    s, hook = ChunkScheduler(steps=40, updates=41, chunked=True), Steps()
    done = s.chunks(np.int32(0), call, lambda c: c, [hook], "t", 1, chunk_s=0.1)
    assert done == 40  # every step once, the last call's carry returned
    # one step (compiling: no step time), two steps (0.01 s a step), then chunks of 0.1 s
    assert calls == [(0, 1), (1, 3), (3, 13), (13, 23), (23, 33), (33, 40)]
    assert hook.seen == [("t", 1, step, 41) for step in (1, 3, 13, 23, 33)]  # told of `updates`
    assert s.step_seconds == pytest.approx(STEP_S) and s.compiling
    s.timed(60.0)  # the epoch that compiled: its wall time gives no step time
    assert s.step_seconds == pytest.approx(STEP_S)
    calls.clear()
    s.chunks(np.int32(0), call, lambda c: c, [hook], "t", 2, chunk_s=0.1)
    assert calls[0] == (0, 10) and not s.compiling  # sized from the start
    s.timed(41 * 0.05)  # a later epoch's wall time does: 0.05 s a step, chunks of 2
    assert s.step_seconds == pytest.approx(0.05)
    calls.clear()
    s.chunks(np.int32(0), call, lambda c: c, [hook], "t", 3, chunk_s=0.1)
    assert calls[0] == (0, 2)


@pytest.mark.parametrize("chunked, hooks", [(True, False), (False, True)])
def test_one_call_per_epoch_without_hooks_or_traced_bounds(loop, chunked, hooks):
    calls, call = loop
    s, hook = ChunkScheduler(steps=40, updates=40, chunked=chunked), Steps()
    assert s.chunks(np.int32(0), call, lambda c: c, [hook] if hooks else [], "t", 1, 0.1) == 40
    assert calls == [(0, 40)] and hook.seen == [] and s.step_seconds is None
    s.timed(1.0)  # the call that compiled: no step time, but later calls are warm
    assert s.step_seconds is None and s.warm
    s.chunks(np.int32(0), call, lambda c: c, [], "t", 2, 0.1)
    s.timed(0.4)
    assert s.step_seconds == pytest.approx(0.01)


def test_traced_bounds_need_a_cpu_and_enough_work(monkeypatch):
    params = [np.zeros((100, 10)), np.zeros(10)]  # 1010 parameters
    assert traced_bounds(1000, params, 1_010_000) and not traced_bounds(999, params, 1_010_000)
    monkeypatch.setattr(chunking.jax, "default_backend", lambda: "gpu")
    assert not traced_bounds(1000, params, 0)
