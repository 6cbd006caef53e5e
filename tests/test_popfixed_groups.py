"""NNCOMPILE_POPULATION_GROUPS=auto, the default (runtime.population.auto_groups,
runtime.idlecores): a population's members in more groups than one only where other processes left
cores free while it was built."""

from __future__ import annotations

import pytest

from nncompile.runtime import population
from nncompile.runtime.idlecores import IdleMeter
from nncompile.runtime.population import GROUPS_ENV, auto_groups, member_groups

CORES = "cpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\n"
STAT = "cpu  {u} 0 {s} {i} {w} 0 0 0 0 0\n" + CORES + "intr 1\n"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_free_cores_are_those_other_processes_left(tmp_path):
    stat, own, wall = tmp_path / "stat", Clock(), Clock()
    stat.write_text(STAT.format(u=100, s=20, i=500, w=10))
    meter = IdleMeter(stat, own, wall)
    # one second (100 jiffies on 2 cores): 60 busy, 40 idle of which 5 waiting for disk; this
    # process used 0.6 CPU-seconds of the machine's 1.2 busy: the others 0.6 of a core
    stat.write_text(STAT.format(u=150, s=30, i=535, w=15))
    own.now, wall.now = 0.6, 1.0
    assert meter.cores() == pytest.approx(2 - (2 * 60 / 100 - 0.6))
    own.now = 1.5  # its threads (XLA's) beyond the machine's busy share: no core taken by others
    assert meter.cores() == pytest.approx(2)
    assert IdleMeter(stat, own, wall).cores() is None  # no time since the start: nothing measured


@pytest.mark.parametrize("text", [None, "", "cpu  x y z\ncpu0 1\n", "intr 1\n"])
def test_unreadable_counters_measure_nothing(tmp_path, text):
    stat = tmp_path / "stat"
    if text is not None:
        stat.write_text(text)
    assert IdleMeter(stat).cores() is None


@pytest.mark.parametrize(
    "size, free, cores, groups",
    [
        (16, 1.97, 2, 2),  # a quiet 2-core machine
        (16, 1.75, 2, 2),
        (16, 1.6, 2, 1),  # one core busy 40% of the time with other processes
        (16, 0.3, 2, 1),  # under load from other processes
        (16, None, 2, 1),  # counters not readable
        (7, 1.97, 2, 1),  # fewer than AUTO_MEMBERS members a group
        (8, 1.97, 2, 2),
        (16, 4.0, 2, 2),  # at most one group per core this process may run on
        (16, 3.9, 8, 4),
    ],
)
def test_auto_takes_a_group_per_free_core(monkeypatch, size, free, cores, groups):
    monkeypatch.setattr(population, "cores", lambda: cores)
    assert auto_groups(size, free) == groups
    for value in (None, "auto"):  # auto is the default
        if value is None:
            monkeypatch.delenv(GROUPS_ENV, raising=False)
        else:
            monkeypatch.setenv(GROUPS_ENV, value)
        assert len(member_groups(size, "map", free=free)) == groups
        assert len(member_groups(size, "vmap", free=free)) == 1
    monkeypatch.setenv(GROUPS_ENV, "1")  # one group, whatever the machine
    assert len(member_groups(size, "map", free=free)) == 1
