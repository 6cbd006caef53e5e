"""The `nncompile` command: argument parsing and exit codes only; the work is in the library.

Exit codes: 0 success, 1 errors in a spec (or training failed), 2 usage, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM; training checkpoints like on Ctrl-C), 3 a bug.
Every command raises its errors; `main` is the one place that reports them.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from pathlib import Path

from .cli_flags import CACHE_HELP, FORMAT_HELP, RESUME_HELP, SAMPLE_FLAGS, epochs, flag
from .diagnostics import CompileError, Diagnostic, render, to_json
from .errors import NncompileError, out_of_memory
from .version import __version__


def _sources(paths: list[str]):
    from .compiler import read

    for path in paths:
        try:
            yield path, read(path), None
        except CompileError as e:
            yield path, None, e.diagnostics


def cmd_check(args) -> int:
    """check specs for errors (fast; no JAX)

    Parse, validate and shape-check specs. Exit 0 when clean, 1 on errors."""
    from .compiler import analyse

    found: list[Diagnostic] = []
    texts = []
    for _, source, read_errors in _sources(args.files):
        diagnostics = read_errors if source is None else analyse(source)[1]
        found.extend(diagnostics)
        if diagnostics and args.format == "text":
            texts.append(render(diagnostics, source))
    errors = sum(d.severity == "error" for d in found)
    if args.format == "json":
        print(to_json(found))
    else:
        if texts:
            print("\n\n".join(texts), file=sys.stderr)
        files = len(args.files)
        status = "ok" if not errors else f"{errors} error{'s' if errors != 1 else ''}"
        print(
            f"checked {files} file{'s' if files != 1 else ''}: {status}",
            file=sys.stderr if errors else sys.stdout,
        )
    return 1 if errors else 0


def _sets(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise SystemExit(f"nncompile: --set takes NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _program(args):
    """The analysed spec of `args.file` (with `--set` values); prints warnings, raises errors."""
    from .compiler import analyse, read

    source = read(args.file)
    program, diagnostics = analyse(source, _sets(getattr(args, "set", None)))
    if program is None:
        raise CompileError(diagnostics, source)
    if diagnostics:  # warnings worth seeing before a long run
        print(render(diagnostics, source), file=sys.stderr)
    return program


def _compiled(args):
    """The spec compiled for train/eval/predict/export (`--train`)."""
    from .api import Program

    return Program(_program(args), args.train)


def _fmt_metrics(metrics: dict) -> str:
    return "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
    )


def cmd_summary(args) -> int:
    """per-model layers, output shapes and parameter counts"""
    from .summary import summary, summary_json

    program = _program(args)
    print(
        json.dumps(summary_json(program), indent=2) if args.format == "json" else summary(program),
        end="",
    )
    return 0


def cmd_parse(args) -> int:
    """print the syntax tree"""
    from .compiler import parse, read
    from .syntax.ast import dump

    source = read(args.file)
    try:
        tree = parse(source.text, source.path)
    except CompileError as e:  # shown with the source lines
        raise CompileError(e.diagnostics, source) from None
    print(dump(tree))
    return 0


def cmd_emit(args) -> int:
    """print the generated Flax NNX + Optax training program"""
    from .codegen.emit import emit_program

    source = emit_program(_program(args), args.train)
    if args.output:
        Path(args.output).write_text(source)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(source, end="")
    return 0


def cmd_plan(args) -> int:
    """print the decisions made for a train block, and why"""
    from .plan import describe

    print(describe(_program(args), args.train), end="")
    return 0


def cmd_eject(args) -> int:
    """write a training folder that needs only jax, flax, optax and numpy"""
    from .codegen.eject import eject

    written = eject(_program(args), args.train, Path(args.output))
    train = Path(args.output) / "train.py"
    print(
        f"wrote {len(written)} files to {args.output}; train with: python {train}", file=sys.stderr
    )
    return 0


def cmd_train(args) -> int:
    """compile and train a spec; writes a run folder"""
    from .runtime.checkpoint_files import sigterm_as_interrupt, terminated

    with sigterm_as_interrupt():  # SIGTERM stops training like Ctrl-C, at a safe point
        try:
            code = _train(args)
        except KeyboardInterrupt:
            if not terminated():
                raise
            print("terminated", file=sys.stderr)
            return 143
    return 143 if code == 130 and terminated() else code


def _train(args) -> int:
    from .runtime.history import StopReason
    from .runtime.progress import Progress

    program = _compiled(args)

    def log(line: str) -> None:  # notes (not with --quiet) and warnings (always)
        if line.startswith("warning: "):
            print(line, file=sys.stderr)
        elif not args.quiet:
            print(f"note: {line}", file=sys.stderr)

    run_dir = Path(args.out) if args.out else Path("runs") / program.name
    history = program.fit(
        epochs=args.epochs,
        callbacks=[Progress(quiet=args.quiet or args.format == "json")],
        log=log,
        run_dir=run_dir,
        resume=args.resume,
    )
    run = program.save(run_dir)
    summary = json.loads((run / "summary.json").read_text())
    if args.format == "json":
        print(json.dumps({"run": str(run), **summary}, indent=2))
    else:
        if summary.get("test"):
            print(f"test: {_fmt_metrics(summary['test'])}")
        print(f"run folder: {run}")
    if history.stop is StopReason.INTERRUPTED:
        done = program.trainer.epochs_done
        if done:
            again = " ".join(
                [
                    "nncompile train",
                    args.file,
                    *(["--train", args.train] if args.train else []),
                    *[f"--set {s}" for s in args.set or []],
                    "--resume",
                    "--out",
                    str(run_dir),
                ]
            )
            print(
                f"interrupted: saved a checkpoint of epoch {done} in {run / 'checkpoints'}\n"
                f"  resume with: {again}",
                file=sys.stderr,
            )
        else:
            print(
                f"interrupted: kept the parameters of the last completed epoch in {run}",
                file=sys.stderr,
            )
        return 130
    if history.stop is StopReason.NONFINITE:
        print(f"training stopped: {history.reason}", file=sys.stderr)
        return 1
    return 0


def cmd_eval(args) -> int:
    """metrics of a trained run on a split"""
    program = _compiled(args).load(args.run)
    metrics = program.evaluate(args.split)
    print(
        json.dumps(metrics, indent=2)
        if args.format == "json"
        else f"{args.split}: {_fmt_metrics(metrics)}"
    )
    return 0


def cmd_predict(args) -> int:
    """predictions of a trained run for new inputs"""
    from .runtime.named import read_named_inputs, write_predictions

    program = _compiled(args).load(args.run)
    out = program.predict(read_named_inputs(args.input))
    for line in write_predictions(out, args.output, sys.stdout):
        print(line, file=sys.stderr)
    return 0


def cmd_sweep(args) -> int:
    """search `let` values: run a sweep block's trials"""
    from .search import sweep

    result = sweep(
        _program(args),
        args.sweep,
        sets=_sets(args.set),
        out=args.out,
        epochs=args.epochs,
        report=lambda line: print(line, file=sys.stderr),
    )
    best = result.best
    if best is None or best.objective is None:
        print("no trial finished", file=sys.stderr)
        return 1
    values = ", ".join(f"{k}={v}" for k, v in best.values.items())
    print(
        f"best: trial {best.number} ({values}) {result.metric} {best.objective:.5g}\n"
        f"results: {result.out / 'trials.csv'}"
    )
    return 0


def cmd_export(args) -> int:
    """a trained run as a StableHLO inference function (jax.export)

    Serialize the trained model (normalisation, model, output activation; parameters baked in; any
    batch size) with jax.export. Reload it with jax alone."""
    from .runtime.export import check_output, check_platforms

    platforms = check_platforms(args.platforms.split(","))  # before loading anything
    check_output(args.output)
    program = _compiled(args).load(args.run)
    info = program.export(args.output, list(platforms))
    shape = ", ".join(map(str, info["input"]["shape"]))
    load = f"jax.export.deserialize(bytearray(open({str(args.output)!r}, 'rb').read())).call(x)"
    print(
        f"wrote {args.output} ({info['bytes']} bytes; input {info['input']['dtype']}[{shape}], "
        f"parameters baked in; platforms {', '.join(platforms)})\n  load with jax alone: {load}",
        file=sys.stderr,
    )
    return 0


def cmd_sample(args) -> int:
    """samples of a trained run: a GAN's images, text, generated sequences"""
    from .runtime.sampling import as_csv, check_output, write

    check_output(args.output)  # before anything is loaded
    program = _compiled(args).load(args.run)
    labels = None if args.label is None else [args.label]
    options = dict(temperature=args.temperature, prompt=args.prompt, seed=args.seed)
    result = program.sample(args.n, labels=labels, **options)
    if args.output:
        print(f"wrote {write(result, args.output)}", file=sys.stderr)
    else:
        print(as_csv(result), end="")
    return 0


def cmd_docs(args) -> int:
    """list every layer, activation, loss, optimizer ... with its arguments"""
    from .reference import TITLES, markdown

    if args.kind is not None and args.kind not in TITLES:
        from .diagnostics import did_you_mean

        print(
            f"nncompile docs: no such kind '{args.kind}'; "
            + (did_you_mean(args.kind, TITLES) or "kinds: " + ", ".join(TITLES)),
            file=sys.stderr,
        )
        return 2
    print(markdown(args.kind))
    return 0


# ---- arguments: every flag declared once; each command names the flags it takes -----------------
FLAGS = {
    "file": flag("file", metavar="FILE"),
    "files": flag("files", nargs="+", metavar="FILE"),
    "train": flag("--train", metavar="NAME", help="which train block (if the spec has several)"),
    "set": flag("--set", action="append", metavar="NAME=VALUE", help="override a `let` value"),
    "format": flag("--format", choices=("text", "json"), default="text", help=FORMAT_HELP),
    "cache": flag("--no-cache", action="store_true", help=CACHE_HELP),
    "run": flag("--run", required=True, metavar="DIR", help="a run folder written by `train`"),
    "epochs": flag("--epochs", type=epochs, metavar="N", help="override the number of epochs"),
    "out": flag("--out", metavar="DIR", help="the folder (default: runs/<spec>-<train|sweep>)"),
    "quiet": flag("--quiet", action="store_true", help="no progress display"),
    "resume": flag("--resume", action="store_true", help=RESUME_HELP),
    "split": flag("--split", default="test", choices=("train", "val", "test")),
    "input": flag("--input", required=True, metavar="X", help="X.npy or X.csv (raw features)"),
    "predictions": flag("--output", metavar="Y.npy", help="default: CSV to stdout"),
    "source": flag("-o", "--output", metavar="OUT", help="write to this file instead of stdout"),
    "folder": flag("-o", "--output", required=True, metavar="DIR", help="the folder to write"),
    "artifact": flag("-o", "--output", required=True, metavar="OUT", help="e.g. model.stablehlo"),
    "sweep": flag("--sweep", metavar="NAME", help="which sweep block (default: the first)"),
    "platforms": flag("--platforms", default="cpu,cuda", help="cpu, cuda, rocm, tpu"),
    "kind": flag("kind", nargs="?", help="only this kind: layer, activation, loss, ..."),
    **SAMPLE_FLAGS,
}
SPEC = ("file", "train", "set")  # a spec compiled for one train block
COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "check": (cmd_check, ("files", "format")),
    "summary": (cmd_summary, ("file", "format")),
    "parse": (cmd_parse, ("file",)),
    "emit": (cmd_emit, (*SPEC, "source")),
    "plan": (cmd_plan, SPEC),
    "eject": (cmd_eject, (*SPEC, "folder")),
    "train": (cmd_train, (*SPEC, "epochs", "out", "format", "quiet", "resume", "cache")),
    "eval": (cmd_eval, (*SPEC, "run", "split", "format", "cache")),
    "predict": (cmd_predict, (*SPEC, "run", "input", "predictions", "cache")),
    "sweep": (cmd_sweep, ("file", "sweep", "set", "epochs", "out", "cache")),
    "export": (cmd_export, (*SPEC, "run", "artifact", "platforms")),
    "sample": (cmd_sample, (*SPEC, "run", *SAMPLE_FLAGS, "source", "cache")),
    "docs": (cmd_docs, ("kind",)),
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "no_cache", False):
        from .runtime.jaxcache import disable

        disable()
    try:
        return args.handler(args)
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


if __name__ == "__main__":
    sys.exit(main())
