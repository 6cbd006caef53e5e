"""How many of the machine's cores other processes left free over a stretch of this process's work
(Linux /proc/stat against this process's CPU time), for `NNCOMPILE_POPULATION_GROUPS=auto`
(runtime.population): a population's members in several groups at once pay only where cores are
free (on the shared 2-core machine under load from other processes, two groups took 1.3-1.9x the
wall time of one, the same CPU time).

The counters are the whole machine's: what other processes keep busy is not idle. Where they
cannot be read (another system), `IdleMeter.cores()` is None and the caller keeps one group.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

STAT = Path("/proc/stat")


def _sample(stat: Path = STAT) -> tuple[int, int, int] | None:
    """(idle jiffies, all jiffies, cores) of the machine now, or None."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    total = next((line.split() for line in lines if line.startswith("cpu ")), None)
    count = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    if total is None or len(total) < 5 or not count:
        return None
    try:
        ticks = [int(v) for v in total[1:9]]
    except ValueError:
        return None
    return ticks[3] + ticks[4], sum(ticks), count  # idle + iowait, all (to steal)


class IdleMeter:
    """Started at construction; `cores()`: the cores other processes left this one on average since
    then: all of the machine's, less what the machine was busy with beyond this process's own CPU
    time (its own threads, XLA's included, do not count against it)."""

    def __init__(
        self,
        stat: Path = STAT,
        own: Callable[[], float] = time.process_time,
        wall: Callable[[], float] = time.perf_counter,
    ):
        self.stat, self.own, self.wall = stat, own, wall
        self.start = _sample(stat)
        self.own0, self.wall0 = own(), wall()

    def cores(self) -> float | None:
        end = _sample(self.stat)
        seconds = self.wall() - self.wall0
        if self.start is None or end is None or seconds <= 0:
            return None
        idle, total = end[0] - self.start[0], end[1] - self.start[1]
        if total <= 0:  # (less than a tick since the start: nothing measured)
            return None
        busy = end[2] * (1 - idle / total)  # cores, on average
        mine = (self.own() - self.own0) / seconds
        return end[2] - max(0.0, busy - mine)
