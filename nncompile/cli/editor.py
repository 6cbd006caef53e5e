"""Commands for editing specs: fmt (the language server's commands live in cli/tools.py)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from ..diagnostics import CompileError, render
from .common import sources


def cmd_fmt(args) -> int:
    """format specs in the canonical layout

    Rewrite each FILE in one canonical layout (comments kept, meaning unchanged); a folder means
    every .nn file under it; `-` reads stdin and writes stdout. --check changes nothing and exits
    1 when a file would change (for CI and pre-commit); --diff prints the changes as a unified
    diff instead of writing. A file with syntax errors is left as it is (exit 1)."""
    from ..fmt import format_text

    seen = changed = errors = 0
    for path, source, read_errors in _inputs(args.files):
        seen += 1
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
            try:
                Path(path).write_text(formatted, encoding="utf-8")
            except OSError as e:
                print(f"nncompile: cannot write {path}: {e.strerror}", file=sys.stderr)
                changed, errors = changed - 1, errors + 1
                continue
            print(f"reformatted {path}", file=sys.stderr)
    if args.files != ["-"]:
        files = seen - errors
        verb = "would be reformatted" if args.check or args.diff else "reformatted"
        print(
            f"{changed} of {files} file{'s' if files != 1 else ''} {verb}"
            + (f", {errors} with errors" if errors else ""),
            file=sys.stderr,
        )
    return 1 if errors or (args.check and changed) else 0


def _inputs(paths: list[str]):
    """(path, Source or None, read errors) per file; a folder gives its .nn files."""
    from ..syntax.parser import decode

    files: list[str] = []
    for p in paths:
        if p != "-" and Path(p).is_dir():
            files += [str(f) for f in sorted(Path(p).rglob("*.nn")) if f.is_file()]
        elif p != "-":
            files.append(p)
    yield from sources(files)
    if "-" in paths:
        try:
            yield "-", decode(sys.stdin.buffer.read(), "<stdin>"), None
        except CompileError as e:
            yield "-", None, e.diagnostics


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "fmt": (cmd_fmt, ("files", "fmt_check", "diff")),
}
