"""Progress display for `Trainer.fit`: a callback drawing with `rich` on terminals and notebooks.

Live (a terminal, or a Jupyter notebook, which rich renders as a widget): a bar over the fit's steps
with "epoch i/N  step s/S", the elapsed time and the ETA, and a permanent line per epoch with its
loss and metrics. Elsewhere (a log file, CI) one plain line per epoch, no control codes.
`quiet=True` prints nothing.

The ETA leaves compilation out: until the fit's first result arrives (the first epoch, or the first
chunk of steps of a chunked epoch) the bar says "compiling..."; the rate is then measured from that
moment on, so the first estimate comes from work after compilation, never from it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

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


def epoch_line(epoch: int, last: int, logs: dict, compiled: bool) -> str:
    """The permanent line of an epoch: its loss and metrics and its time."""
    shown = "  ".join(f"{k} {number(v)}" for k, v in logs.items() if k not in SHOWN)
    note = " (with compilation)" if compiled else ""
    return f"epoch {epoch}/{last}  {shown}  {logs.get('seconds', 0):.2f}s{note}"


class Eta:
    """The time left, measured from the fit's first result on (compilation excluded)."""

    def __init__(self, total: int):
        self.total = total
        self.since: tuple[float, int] | None = None  # (time, steps done) of the first result

    def update(self, done: int) -> str:
        """'compiling...' before the first result, '' until a rate is known, else 'ETA m:ss'."""
        now = time.perf_counter()
        if self.since is None:
            self.since = (now, done)
            return ""
        t0, d0 = self.since
        if done <= d0 or now <= t0:
            return ""
        return f"ETA {duration((now - t0) / (done - d0) * (self.total - done))}"


class Progress:
    """A Trainer callback. `stream` defaults to stderr; `tty` overrides terminal detection (True:
    live display); `redraw_every`: the least time between two redraws of the live bar."""

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
        self.tty = tty if tty is not None else live(self.stream)
        self.redraw_every = redraw_every
        self._bar: Any = None  # rich.progress.Progress while a fit runs (live display only)
        self._drawn = 0.0

    # ---- callback hooks --------------------------------------------------------------------------
    def on_fit_start(self, trainer, history) -> None:
        self.first = trainer.epochs_done + 1
        self.last = trainer.epochs_done + trainer.epochs
        self.steps = max(int(getattr(history, "steps_per_epoch", 0) or 0), 1)
        total = (self.last - self.first + 1) * self.steps
        self.eta = Eta(total)
        self.epochs_seen = 0
        if self.quiet or not self.tty or trainer.epochs == 0:
            return
        self._bar = bar(self.stream, self.tty)
        self._task = self._bar.add_task(f"epoch {self.first}/{self.last}", total=total, eta="")
        self._bar.update(self._task, eta="compiling...")
        self._bar.start()

    def on_step_end(self, trainer, epoch: int, step: int, steps: int) -> None:
        if self._bar is None:
            return
        now = time.perf_counter()
        done = (epoch - self.first) * self.steps + step
        eta = self.eta.update(done)
        if now - self._drawn < self.redraw_every and step < steps:
            return
        self._drawn = now
        text = f"epoch {epoch}/{self.last}  step {step}/{steps}"
        self._bar.update(self._task, completed=done, description=text, eta=eta, refresh=True)

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        self.epochs_seen += 1
        done = (epoch - self.first + 1) * self.steps
        eta = self.eta.update(done)
        line = epoch_line(epoch, self.last, logs, compiled=self.epochs_seen == 1)
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
            following = f"epoch {min(epoch + 1, self.last)}/{self.last}"
            self._bar.update(
                self._task, completed=done, description=following, eta=eta, refresh=True
            )
        elif not self.quiet:
            self.stream.write(line + "\n")
            self.stream.flush()

    def on_fit_end(self, trainer, history) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if history.reason and not self.quiet:
            self.stream.write(f"stopped: {history.reason}\n")
            self.stream.flush()


def live(stream: TextIO) -> bool:
    """Whether a live display fits: a terminal, or a Jupyter notebook (rich's detection)."""
    if bool(getattr(stream, "isatty", lambda: False)()):
        return True
    if "ipykernel" not in sys.modules:  # not a notebook: no need to ask rich
        return False
    from rich.console import Console

    return Console(file=stream).is_jupyter


def bar(stream: TextIO, tty: bool):
    """A transient rich progress bar on `stream` (the epoch lines stay, the bar goes)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=stream, force_terminal=tty, highlight=False)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}"),
        console=console,
        transient=True,
        refresh_per_second=5,  # (the elapsed time ticks while compiling)
        redirect_stdout=False,
        redirect_stderr=False,
    )


def with_progress(callbacks: list, verbose: bool | None) -> list:
    """`fit(verbose=)`: the callbacks with a Progress on stderr first; None: only where a live
    display fits (a terminal, a notebook); never a second one."""
    if verbose is False or any(isinstance(cb, Progress) for cb in callbacks):
        return callbacks
    if verbose is None and not live(sys.stderr):
        return callbacks
    return [Progress(sys.stderr), *callbacks]
