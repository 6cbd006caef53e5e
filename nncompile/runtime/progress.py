"""Progress display for `Trainer.fit`: a callback, standard library only.

On a terminal one line is redrawn with `\\r` while an epoch runs (epoch i/N, step s/S for strategy
"step", ETA) and left behind at the end of each epoch with its loss and metrics. Elsewhere (a log
file, CI) it prints one plain line per epoch. `quiet=True` prints nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

SHOWN = ("seconds", "epoch")  # logs keys not repeated in the metric list


def duration(seconds: float) -> str:
    seconds = round(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def number(value) -> str:
    if isinstance(value, float):
        return (
            f"{value:.4g}" if abs(value) >= 1e4 or (value and abs(value) < 1e-3) else f"{value:.4f}"
        )
    return str(value)


class Progress:
    """A Trainer callback. `stream` defaults to stderr; `tty` overrides terminal detection."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        tty: bool | None = None,
        redraw_every: float = 0.1,
    ):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = tty if tty is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.redraw_every = redraw_every
        self._width = 0
        self._drawn = 0.0

    # ---- callback hooks --------------------------------------------------------------------------
    def on_fit_start(self, trainer, history) -> None:
        self.first = trainer.epochs_done + 1
        self.last = trainer.epochs_done + trainer.epochs
        self.epoch_seconds: list[float] = []
        self.epoch_start = time.perf_counter()
        self._draw(f"epoch {self.first}/{self.last}  compiling...")

    def on_step_end(self, trainer, epoch: int, step: int, steps: int) -> None:
        if not self.tty or self.quiet:
            return
        now = time.perf_counter()
        if now - self._drawn < self.redraw_every and step < steps:
            return
        eta = ""
        if self.epoch_seconds:
            per_epoch = self._per_epoch()
            left = per_epoch * (1 - step / steps) + per_epoch * (self.last - epoch)
            eta = f"  ETA {duration(left)}"
        self._draw(f"epoch {epoch}/{self.last}  step {step}/{steps}{eta}")

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        self.epoch_seconds.append(logs.get("seconds", time.perf_counter() - self.epoch_start))
        self.epoch_start = time.perf_counter()
        shown = "  ".join(f"{k} {number(v)}" for k, v in logs.items() if k not in SHOWN)
        eta = (
            f"  ETA {duration(self._per_epoch() * (self.last - epoch))}"
            if epoch < self.last
            else ""
        )
        self._line(f"epoch {epoch}/{self.last}  {shown}  {logs.get('seconds', 0):.2f}s{eta}")
        if epoch < self.last:
            self._draw(f"epoch {epoch + 1}/{self.last}{eta}")

    def on_fit_end(self, trainer, history) -> None:
        self._clear()
        if history.reason:
            self._line(f"stopped: {history.reason}")

    # ---- drawing ---------------------------------------------------------------------------------
    def _per_epoch(self) -> float:
        """Mean epoch time, without the first epoch (it holds compilation) when there are others."""
        timed = self.epoch_seconds[1:] or self.epoch_seconds
        return sum(timed) / len(timed)

    def _draw(self, text: str) -> None:
        """Redraw the live line (terminals only)."""
        if self.quiet or not self.tty:
            return
        self.stream.write("\r" + text + " " * max(self._width - len(text), 0))
        self.stream.flush()
        self._width = len(text)
        self._drawn = time.perf_counter()

    def _clear(self) -> None:
        if self._width and self.tty and not self.quiet:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
        self._width = 0

    def _line(self, text: str) -> None:
        """A permanent line: replaces the live line on a terminal."""
        if self.quiet:
            return
        if self.tty:
            self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()
