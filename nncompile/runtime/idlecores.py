"""How many of the machine's cores sat idle over a stretch of this process's work (Linux
/proc/stat), for `NNCOMPILE_POPULATION_GROUPS=auto` (runtime.population): a population's members
in several groups at once pay only where cores are free (on the shared 2-core machine under load
from other processes, two groups took 1.3-1.9x the wall time of one, the same CPU time).

The counters are the whole machine's: what other processes keep busy is not idle. Where they
cannot be read (another system), `IdleMeter.cores()` is None and the caller keeps one group.
"""

from __future__ import annotations

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
    """Started at construction; `cores()`: the cores idle on average since then."""

    def __init__(self, stat: Path = STAT):
        self.stat = stat
        self.start = _sample(stat)

    def cores(self) -> float | None:
        end = _sample(self.stat)
        if self.start is None or end is None:
            return None
        idle, total = end[0] - self.start[0], end[1] - self.start[1]
        if total <= 0:  # (less than a tick since the start: nothing measured)
            return None
        return end[2] * idle / total
