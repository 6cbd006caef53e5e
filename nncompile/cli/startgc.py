"""The `nncompile` command's cyclic garbage collector while it starts: paused, then frozen.

Starting a command allocates hundreds of thousands of long-lived objects (the modules of JAX,
Flax, Optax and nncompile, the analysed spec, the emitted program) and almost no cyclic garbage
(~1,800 objects, 0.45 MB, by the time `train` has compiled W3's spec). The collector does not know
that: on W3 it ran 385 young, 35 middle and 3 full collections before the first step, each full
one walking every object, ~0.29 CPU s of ~3.4. So the command's own process (the `nncompile`
script and `python -m nncompile`, nncompile.__main__, before they import the CLI; `cli.main()`
without argv: not a caller's process) pauses it from the start (`hold`); `train` resumes it once the
program is compiled, before training (`release`): `gc.freeze()` first moves every object alive
then to the permanent generation (the pattern of the `gc.freeze` documentation), so that the
collections during training never walk the start-up's objects again (W3's whole run: 0.45 -> 0.09
CPU s of collections). The one-shot commands (check, summary, eval, ...) keep it paused until they
return; the long-running ones (`lsp`, `sweep`, `tune`, commands not listed) never pause it.
Nothing here changes a result: the collector frees only unreachable cycles, whenever it runs.
"""

from __future__ import annotations

import gc

# commands that pause the collector: one-shot, or (train) resuming it once compiled
HOLD = frozenset(
    {
        "check",
        "summary",
        "plan",
        "emit",
        "eject",
        "schema",
        "docs",
        "graph",
        "fmt",
        "data",
        "runs",
        "compare",
        "train",
        "eval",
        "predict",
        "export",
        "sample",
    }
)

_held = False


def hold(paused: bool = False) -> None:
    """Pause the cyclic collector (if it runs) until `release`; `paused`: the command's entry point
    (nncompile.__main__) paused it already, before importing the CLI: `release` resumes it."""
    global _held
    if gc.isenabled() or paused:
        gc.disable()
        _held = True


def release(freeze: bool = True) -> None:
    """Resume the collector `hold` paused; with `freeze`, the objects alive now are moved out of
    its way first (gc.freeze). Nothing when `hold` did not pause it."""
    global _held
    if _held:
        if freeze:
            gc.freeze()
        gc.enable()
        _held = False


def held() -> bool:
    return _held
