"""`python -m nncompile` and the `nncompile` command (pyproject's [project.scripts]).

The cyclic garbage collector is paused before the CLI's modules are imported (they allocate most
of a start's long-lived objects); `cli.main` resumes it (cli.startgc)."""

import gc
import sys


def main() -> int:
    was_enabled = gc.isenabled()
    gc.disable()
    from .cli import main as command
    from .cli import startgc

    if was_enabled:
        startgc.hold(paused=True)
    return command()


if __name__ == "__main__":
    sys.exit(main())
