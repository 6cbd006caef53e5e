"""Commands that read a spec and print what the compiler makes of it: check, summary, parse, emit,
plan, eject, docs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..diagnostics import CompileError, Diagnostic, render, to_json
from .common import SPEC, sources, spec_program


def cmd_check(args) -> int:
    """check specs for errors (fast; no JAX)

    Parse, validate and shape-check specs (and the headers of the data files they name). Exit 0
    when clean, 1 on errors (with --strict: on warnings too, such as a data file not found)."""
    from ..compiler import analyse

    found: list[Diagnostic] = []
    texts = []
    for _, source, read_errors in sources(args.files):
        diagnostics = read_errors if source is None else analyse(source)[1]
        found.extend(diagnostics)
        if diagnostics and args.format == "text":
            texts.append(render(diagnostics, source))
    errors = sum(d.severity == "error" or args.strict for d in found)
    if args.format == "json":
        print(to_json(found))
    else:
        if texts:
            print("\n\n".join(texts), file=sys.stderr)
        files = len(args.files)
        what = "error" if not args.strict else "error or warning"
        status = "ok" if not errors else f"{errors} {what}{'s' if errors != 1 else ''}"
        print(
            f"checked {files} file{'s' if files != 1 else ''}: {status}",
            file=sys.stderr if errors else sys.stdout,
        )
    return 1 if errors else 0


def cmd_summary(args) -> int:
    """per-model layers, output shapes and parameter counts"""
    from ..summary import summary, summary_json

    program = spec_program(args)
    print(
        json.dumps(summary_json(program), indent=2) if args.format == "json" else summary(program),
        end="",
    )
    return 0


def cmd_parse(args) -> int:
    """print the syntax tree"""
    from ..compiler import parse, read
    from ..syntax.ast import dump

    source = read(args.file)
    try:
        tree = parse(source.text, source.path)
    except CompileError as e:  # shown with the source lines
        raise CompileError(e.diagnostics, source) from None
    print(dump(tree))
    return 0


def cmd_emit(args) -> int:
    """print the generated Flax NNX + Optax training program"""
    from ..codegen.emit import emit_program

    source = emit_program(spec_program(args), args.train)
    if args.output:
        Path(args.output).write_text(source)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(source, end="")
    return 0


def cmd_plan(args) -> int:
    """print the decisions made for a train block, and why"""
    from ..plan import describe
    from ..population import describe_sweeps
    from .tune import tuning_lines

    program = spec_program(args)
    text = describe(program, args.train) + tuning_lines(program, args.train)
    print(text + describe_sweeps(program), end="")
    return 0


def cmd_eject(args) -> int:
    """write a training folder that needs only jax, flax, optax and numpy"""
    from ..codegen.eject import eject

    written = eject(spec_program(args), args.train, Path(args.output))
    train = Path(args.output) / "train.py"
    print(
        f"wrote {len(written)} files to {args.output}; train with: python {train}", file=sys.stderr
    )
    return 0


def cmd_docs(args) -> int:
    """list every layer, activation, loss, optimizer ... with its arguments"""
    from ..reference import TITLES, markdown

    if args.kind is not None and args.kind not in TITLES:
        from ..diagnostics import did_you_mean

        print(
            f"nncompile docs: no such kind '{args.kind}'; "
            + (did_you_mean(args.kind, TITLES) or "kinds: " + ", ".join(TITLES)),
            file=sys.stderr,
        )
        return 2
    print(markdown(args.kind))
    return 0


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "check": (cmd_check, ("files", "format", "strict")),
    "summary": (cmd_summary, ("file", "format")),
    "parse": (cmd_parse, ("file",)),
    "emit": (cmd_emit, (*SPEC, "source")),
    "plan": (cmd_plan, SPEC),
    "eject": (cmd_eject, (*SPEC, "folder")),
    "docs": (cmd_docs, ("kind",)),
}
