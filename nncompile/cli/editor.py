"""Commands for editing specs: fmt (the language server's commands live in cli/tools.py)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from ..diagnostics import CompileError, render
from .common import sources


def cmd_fmt(args) -> int:
    """format specs in the canonical layout

    Rewrite each FILE in one canonical layout (comments kept, meaning unchanged); `-` reads
    stdin and writes stdout. --check changes nothing and exits 1 when a file would change
    (for CI and pre-commit); --diff prints the changes as a unified diff instead of writing."""
    from ..fmt import format_text

    changed = errors = 0
    for path, source, read_errors in _inputs(args.files):
        if source is None:
            print(render(read_errors), file=sys.stderr)
            errors += 1
            continue
        try:
            formatted = format_text(source.text, source.path)
        except CompileError as e:
            print(render(e.diagnostics, source), file=sys.stderr)
            errors += 1
            continue
        if path == "-" and not (args.check or args.diff):
            sys.stdout.write(formatted)
            continue
        if formatted == source.text:
            continue
        changed += 1
        if args.diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    source.text.splitlines(keepends=True),
                    formatted.splitlines(keepends=True),
                    f"{path} (original)",
                    f"{path} (formatted)",
                )
            )
        if args.check:
            print(f"would reformat {path}", file=sys.stderr)
        elif not args.diff:
            Path(path).write_text(formatted, encoding="utf-8")
            print(f"reformatted {path}", file=sys.stderr)
    if not (len(args.files) == 1 and args.files[0] == "-"):
        files = len(args.files) - errors
        verb = "would be reformatted" if args.check or args.diff else "reformatted"
        print(
            f"{changed} of {files} file{'s' if files != 1 else ''} {verb}"
            + (f", {errors} with errors" if errors else ""),
            file=sys.stderr,
        )
    return 1 if errors or (args.check and changed) else 0


def _inputs(paths: list[str]):
    from ..syntax.parser import decode

    yield from sources([p for p in paths if p != "-"])
    if "-" in paths:
        try:
            yield "-", decode(sys.stdin.buffer.read(), "<stdin>"), None
        except CompileError as e:
            yield "-", None, e.diagnostics


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "fmt": (cmd_fmt, ("files", "fmt_check", "diff")),
}
