"""NNCOMPILE_POPULATION_GROUPS=auto (runtime.population.auto_groups, runtime.idlecores): a
population's members in more groups than one only where cores sat idle while it was built."""

from __future__ import annotations

import pytest

from nncompile.runtime import population
from nncompile.runtime.idlecores import IdleMeter
from nncompile.runtime.population import GROUPS_ENV, auto_groups, member_groups

CORES = "cpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\n"
STAT = "cpu  {u} 0 {s} {i} {w} 0 0 0 0 0\n" + CORES + "intr 1\n"


def test_the_idle_cores_are_the_machines_idle_share_of_the_stretch(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(STAT.format(u=100, s=20, i=500, w=10))
    meter = IdleMeter(stat)
    # 100 jiffies later: 60 busy (one core, this process), 40 idle of which 5 waiting for disk
    stat.write_text(STAT.format(u=150, s=30, i=535, w=15))
    assert meter.cores() == pytest.approx(2 * 40 / 100)
    assert IdleMeter(stat).cores() is None  # no tick since the start: nothing measured


@pytest.mark.parametrize("text", [None, "", "cpu  x y z\ncpu0 1\n", "intr 1\n"])
def test_unreadable_counters_measure_nothing(tmp_path, text):
    stat = tmp_path / "stat"
    if text is not None:
        stat.write_text(text)
    assert IdleMeter(stat).cores() is None


@pytest.mark.parametrize(
    "size, idle, cores, groups",
    [
        (16, 0.95, 2, 2),  # a quiet 2-core machine: this process on one core, the other free
        (16, 0.75, 2, 2),
        (16, 0.6, 2, 1),  # the other core busy 40% of the time
        (16, 0.02, 2, 1),  # under load from other processes
        (16, None, 2, 1),  # counters not readable
        (7, 0.95, 2, 1),  # fewer than AUTO_MEMBERS members a group
        (8, 0.95, 2, 2),
        (16, 3.0, 2, 2),  # at most one group per core this process may run on
        (16, 3.0, 8, 4),
    ],
)
def test_auto_adds_a_group_per_idle_core(monkeypatch, size, idle, cores, groups):
    monkeypatch.setattr(population, "cores", lambda: cores)
    assert auto_groups(size, idle) == groups
    for value in (None, "auto"):  # auto is the default
        if value is None:
            monkeypatch.delenv(GROUPS_ENV, raising=False)
        else:
            monkeypatch.setenv(GROUPS_ENV, value)
        assert len(member_groups(size, "map", idle=idle)) == groups
        assert len(member_groups(size, "vmap", idle=idle)) == 1
    monkeypatch.setenv(GROUPS_ENV, "1")  # one group, whatever the machine
    assert len(member_groups(size, "map", idle=idle)) == 1
