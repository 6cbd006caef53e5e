"""The `nncompile` command: argument parsing and exit codes only; the work is in the library.

Exit codes: 0 success, 1 errors in a spec (or training failed), 2 usage, 130 interrupted (Ctrl-C),
141 stdout closed early (`nncompile docs | head`: nothing is printed), 143 terminated (SIGTERM;
training checkpoints like on Ctrl-C), 3 a bug.
Every command raises its errors; `main` is the one place that reports them.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys

from ..diagnostics import CompileError, render
from ..errors import NncompileError, out_of_memory
from ..version import __version__
from . import devices, editor, insight, runs, spec, startgc, tools, training, tune
from .common import FLAGS

COMMANDS = {  # one line per module of commands
    **spec.COMMANDS,
    **training.COMMANDS,
    **runs.COMMANDS,
    **insight.COMMANDS,
    **editor.COMMANDS,
    **tools.COMMANDS,
    **devices.COMMANDS,
    **tune.COMMANDS,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nncompile",
        description="Compile .nn model specs into Flax/Optax training programs, and train them.",
    )
    parser.add_argument("--version", action="version", version=f"nncompile {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (handler, flags) in COMMANDS.items():
        text = inspect.getdoc(handler) or ""
        first, _, more = text.partition("\n\n")
        about = more or first[:1].upper() + first[1:] + "."
        p = sub.add_parser(name, help=first, description=about)
        for key in flags:
            names, options = FLAGS[key]
            p.add_argument(*names, **options)
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # this process's own command: no collections while it starts (cli.startgc)
        startgc.hold()
    try:
        return command(argv)
    finally:
        startgc.release(freeze=False)


def command(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in startgc.HOLD:  # (a long-running command: the collector as usual)
        startgc.release(freeze=False)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "no_cache", False):
        from ..runtime.jaxcache import disable

        disable()
    if getattr(args, "no_autotune", False):
        os.environ["NNCOMPILE_AUTOTUNE"] = "0"  # (runtime.tunerecord.enabled reads it)
    try:
        devices.join(args)  # a multi-host run: before anything uses JAX
        code = args.handler(args)
        # flushed here, where a closed pipe is handled, not at the interpreter's exit (unless the
        # command closed it: the language server does when its client leaves)
        if not sys.stdout.closed:
            sys.stdout.flush()
        return code
    except BrokenPipeError:  # `nncompile docs | head`: the reader has what it wanted
        return broken_pipe()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except CompileError as e:
        print(render(e.diagnostics, e.source), file=sys.stderr)
        return 1
    except NncompileError as e:
        print(f"nncompile: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: say so plainly; NNCOMPILE_DEBUG=1 shows the traceback
        if os.environ.get("NNCOMPILE_DEBUG"):
            raise
        if lost := devices.lost_peer(e):  # a multi-host run lost a process: stop at once
            print(lost, file=sys.stderr, flush=True)
            os._exit(1)  # (not interpreter teardown: JAX's distributed client would wait on it)
        if isinstance(e, OSError) and e.filename is not None:  # a path's problem, not a bug
            print(f"nncompile: {file_problem(e)}", file=sys.stderr)
            return 1
        if out_of_memory(e):  # XLA's RESOURCE_EXHAUSTED or a host MemoryError: not a bug
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            print(
                f"nncompile: out of memory ({first})\n  hint: use a smaller model, batch_size "
                "or data; `nncompile plan FILE` prints the estimate",
                file=sys.stderr,
            )
            return 1
        print(
            f"nncompile: internal error ({type(e).__name__}: {e})\n  hint: this is a bug in "
            "nncompile; rerun with NNCOMPILE_DEBUG=1 for the traceback and report it",
            file=sys.stderr,
        )
        return 3


def file_problem(e: OSError) -> str:
    """A file system error on a path (a read-only folder, a full disk, a file that went away) as
    what a user can act on: the path, the system's reason, what to check."""
    reason = e.strerror or type(e).__name__
    other = f" -> {e.filename2}" if e.filename2 is not None else ""
    return (
        f"cannot use {e.filename}{other}: {reason}\n  hint: check that the path exists and that "
        "you may read or write there (permissions, free space)"
    )


def broken_pipe() -> int:
    """stdout's reader went away: end quietly, like a command stopped by SIGPIPE (141). stdout
    then points at /dev/null, so that flushing it at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor behind stdout (a test's capture)
        pass
    return 141


if __name__ == "__main__":
    sys.exit(main())
