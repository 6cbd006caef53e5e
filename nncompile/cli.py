"""The `nncompile` command: argument parsing and exit codes only; the work is in the library.

Exit codes: 0 success, 1 errors in a spec (or training failed), 2 usage, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .diagnostics import CompileError, render, to_json


def _sources(paths: list[str]):
    from .compiler import read
    for path in paths:
        try:
            yield path, read(path), None
        except CompileError as e:
            yield path, None, e.diagnostics


def cmd_check(args) -> int:
    from .compiler import analyse
    found, texts = [], []
    for path, source, read_errors in _sources(args.files):
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
        print(f"checked {files} file{'s' if files != 1 else ''}: {status}", file=sys.stderr if errors else sys.stdout)
    return 1 if errors else 0


def _sets(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise SystemExit(f"nncompile: --set takes NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _program(path: str, sets: dict[str, str] | None = None):
    from .compiler import analyse
    (_, source, read_errors), = _sources([path])
    if source is None:
        print(render(read_errors), file=sys.stderr)
        return None
    program, diagnostics = analyse(source, sets)
    if diagnostics:  # errors, or warnings worth seeing before a long run
        print(render(diagnostics, source), file=sys.stderr)
    return program


def cmd_summary(args) -> int:
    from .summary import summary, summary_json
    program = _program(args.file)
    if program is None:
        return 1
    print(json.dumps(summary_json(program), indent=2) if args.format == "json" else summary(program), end="")
    return 0


def cmd_parse(args) -> int:
    from .compiler import parse
    from .syntax.ast import dump
    (_, source, read_errors), = _sources([args.file])
    if source is None:
        print(render(read_errors), file=sys.stderr)
        return 1
    try:
        print(dump(parse(source.text, source.path)))
    except CompileError as e:
        print(render(e.diagnostics, source), file=sys.stderr)
        return 1
    return 0


def cmd_emit(args) -> int:
    from .codegen.emit import emit_program
    from .errors import NncompileError
    program = _program(args.file, _sets(args.set))
    if program is None:
        return 1
    try:
        source = emit_program(program, args.train)
    except NncompileError as e:
        print(f"nncompile: {e}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(source)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(source, end="")
    return 0


def _compiled(args):
    """Compile the spec for train/eval/predict; None (after printing why) on errors."""
    from .api import Program
    from .errors import NncompileError
    program = _program(args.file, _sets(getattr(args, "set", None)))
    if program is None:
        return None
    try:
        return Program(program, args.train)
    except NncompileError as e:
        print(f"nncompile: {e}", file=sys.stderr)
        return None


def _fmt_metrics(metrics: dict) -> str:
    return "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


def cmd_train(args) -> int:
    from .errors import NncompileError
    from .runtime.progress import Progress
    program = _compiled(args)
    if program is None:
        return 1
    log = (lambda line: None) if args.quiet else (lambda line: print(f"note: {line}", file=sys.stderr))
    run_dir = Path(args.out) if args.out else Path("runs") / program.name
    try:
        history = program.fit(epochs=args.epochs, callbacks=[Progress(quiet=args.quiet or args.format == "json")],
                              log=log, run_dir=None if program.is_gan else run_dir, resume=args.resume)
        run = program.save(run_dir)
    except NncompileError as e:
        print(f"nncompile: {e}", file=sys.stderr)
        return 1
    summary = json.loads((run / "summary.json").read_text())
    if args.format == "json":
        print(json.dumps({"run": str(run), **summary}, indent=2))
    else:
        if summary.get("test"):
            print(f"test: {_fmt_metrics(summary['test'])}")
        print(f"run folder: {run}")
    if history.interrupted:
        done = program.trainer.epochs_done
        if done and not program.is_gan:
            again = " ".join(["nncompile train", args.file, *(["--train", args.train] if args.train else []),
                              *[f"--set {s}" for s in args.set or []], "--resume", "--out", str(run_dir)])
            print(f"interrupted: saved a checkpoint of epoch {done} in {run / 'checkpoints'}\n"
                  f"  resume with: {again}", file=sys.stderr)
        else:
            print(f"interrupted: kept the parameters of the last completed epoch in {run}", file=sys.stderr)
        return 130
    if history.reason and "finite" in history.reason:
        print(f"training stopped: {history.reason}", file=sys.stderr)
        return 1
    return 0


def _restored(args):
    """A compiled program whose trainer holds the parameters of ``--run``."""
    from .errors import NncompileError
    from .runtime.outputs import load_params
    program = _compiled(args)
    if program is None:
        return None
    run = Path(args.run)
    if not (run / "params").is_dir():
        print(f"nncompile: {run} is not a run folder (no params/ inside)", file=sys.stderr)
        return None
    try:
        program.trainer = program.trainer_for(program._splits(None), epochs=1)
        load_params(run, program.trainer)
    except NncompileError as e:
        print(f"nncompile: {e}", file=sys.stderr)
        return None
    except (ValueError, OSError, KeyError) as e:
        print(f"nncompile: cannot restore the parameters in {run}: {e}", file=sys.stderr)
        return None
    return program


def cmd_eval(args) -> int:
    program = _restored(args)
    if program is None:
        return 1
    metrics = program.evaluate(args.split)
    print(json.dumps(metrics, indent=2) if args.format == "json" else f"{args.split}: {_fmt_metrics(metrics)}")
    return 0


def _read_inputs(path: str):
    import numpy as np
    from .errors import DataError
    p = Path(path)
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        return np.loadtxt(p, delimiter=",", dtype=np.float32, ndmin=2)
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read inputs from {path}: {e}", "give a .npy array or a numeric CSV "
                        "without header, one example per row") from None


def cmd_predict(args) -> int:
    import numpy as np
    from .errors import NncompileError
    program = _restored(args)
    if program is None:
        return 1
    try:
        x = _read_inputs(args.input)
        out = program.predict(x)
    except NncompileError as e:
        print(f"nncompile: {e}", file=sys.stderr)
        return 1
    if args.output:
        np.save(args.output, out)
        print(f"wrote {args.output} {out.shape}", file=sys.stderr)
    else:
        np.savetxt(sys.stdout, out.reshape(len(out), -1), fmt="%.6g", delimiter=",")
    return 0


def cmd_sweep(args) -> int:
    from .runtime.sweep import best_trial, objective, run_sweep
    program = _program(args.file, _sets(args.set))
    if program is None:
        return 1
    if not program.sweeps:
        print(f"nncompile: {args.file} has no sweep block", file=sys.stderr)
        return 1
    name = args.sweep or next(iter(program.sweeps))
    if name not in program.sweeps:
        print(f"nncompile: no sweep '{name}' in {args.file}; the sweeps are {', '.join(program.sweeps)}",
              file=sys.stderr)
        return 1
    sweep = program.sweeps[name]
    out = Path(args.out or Path("runs") / f"{Path(args.file).stem}-{name}")
    results = run_sweep(args.file, sweep, out, epochs=args.epochs, report=lambda line: print(line, file=sys.stderr))
    direction, metric = objective(sweep)
    best = best_trial(results, direction)
    if best is None:
        print("no trial finished", file=sys.stderr)
        return 1
    values = ", ".join(f"{k}={v}" for k, v in best.values.items())
    print(f"best: trial {best.number} ({values}) {metric} {best.objective:.5g}\nresults: {out / 'trials.csv'}")
    return 0


def cmd_export(args) -> int:
    from .runtime.export import export_stablehlo
    program = _restored(args)
    if program is None:
        return 1
    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    info = export_stablehlo(program, args.output, platforms)
    print(f"wrote {args.output} ({info['bytes']} bytes; input {info['input']['dtype']}"
          f"[{', '.join(map(str, info['input']['shape']))}], parameters baked in; platforms {', '.join(platforms)})\n"
          f"  load with jax alone: jax.export.deserialize(bytearray(open({str(args.output)!r}, 'rb').read())).call(x)",
          file=sys.stderr)
    return 0


def cmd_docs(args) -> int:
    from .reference import TITLES, markdown
    if args.kind is not None and args.kind not in TITLES:
        from .diagnostics import did_you_mean
        print(f"nncompile docs: no such kind '{args.kind}'; " + (did_you_mean(args.kind, TITLES) or
              "kinds: " + ", ".join(TITLES)), file=sys.stderr)
        return 2
    print(markdown(args.kind))
    return 0


def _cache_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-cache", action="store_true", help="don't use JAX's persistent compilation cache "
                   "(~/.cache/nncompile/jax; same as NNCOMPILE_CACHE=0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nncompile", description="Compile .nn model specs into Flax/Optax "
                                     "training programs, and train them.")
    parser.add_argument("--version", action="version", version=f"nncompile {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("check", help="check specs for errors (fast; no JAX)",
                       description="Parse, validate and shape-check specs. Exit 0 when clean, 1 on errors.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: a list of diagnostics with path, line, column, end, code, message, hint")
    p.set_defaults(handler=cmd_check)
    p = sub.add_parser("summary", help="per-model layers, output shapes and parameter counts")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_summary)
    p = sub.add_parser("parse", help="print the syntax tree")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(handler=cmd_parse)
    p = sub.add_parser("emit", help="print the generated Flax NNX + Optax training program")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--train", metavar="NAME", help="which train block (when the spec has several)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a `let` value (repeatable)")
    p.add_argument("-o", "--output", metavar="OUT", help="write to this file instead of stdout")
    p.set_defaults(handler=cmd_emit)
    p = sub.add_parser("train", help="compile and train a spec; writes a run folder")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--train", metavar="NAME", help="which train block (when the spec has several)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a `let` value (repeatable)")
    p.add_argument("--epochs", type=int, metavar="N", help="override the number of epochs")
    p.add_argument("--out", metavar="DIR", help="run folder (default: runs/<spec>-<train>)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="json: print the run summary")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the run folder "
                   "(<out>/checkpoints); ends exactly where an uninterrupted run would")
    _cache_flag(p)
    p.set_defaults(handler=cmd_train)
    for name, helptext, run in (("eval", "metrics of a trained run on a split", cmd_eval),
                                ("predict", "predictions of a trained run for new inputs", cmd_predict)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("file", metavar="FILE")
        p.add_argument("--run", required=True, metavar="DIR", help="the run folder written by `train`")
        p.add_argument("--train", metavar="NAME")
        p.add_argument("--set", action="append", metavar="NAME=VALUE")
        if name == "eval":
            p.add_argument("--split", default="test", choices=("train", "val", "test"))
            p.add_argument("--format", choices=("text", "json"), default="text")
        else:
            p.add_argument("--input", required=True, metavar="X", help="inputs: X.npy or X.csv (raw features)")
            p.add_argument("--output", metavar="Y.npy", help="write predictions here (default: CSV to stdout)")
        _cache_flag(p)
        p.set_defaults(handler=run)
    p = sub.add_parser("sweep", help="search `let` values: run a sweep block's trials")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--sweep", metavar="NAME", help="which sweep block (default: the first)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="fix other `let` values")
    p.add_argument("--epochs", type=int, metavar="N", help="override the epochs of every trial")
    p.add_argument("--out", metavar="DIR", help="results folder (default: runs/<spec>-<sweep>)")
    _cache_flag(p)
    p.set_defaults(handler=cmd_sweep)
    p = sub.add_parser("export", help="a trained run as a StableHLO inference function (jax.export)",
                       description="Serialize the trained model (normalisation, model, output activation; "
                       "parameters baked in; any batch size) with jax.export. Reload it with jax alone.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--run", required=True, metavar="DIR", help="the run folder written by `train`")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="e.g. model.stablehlo")
    p.add_argument("--train", metavar="NAME")
    p.add_argument("--set", action="append", metavar="NAME=VALUE")
    p.add_argument("--platforms", default="cpu,cuda", help="comma-separated: cpu, cuda, rocm, tpu (default cpu,cuda)")
    p.set_defaults(handler=cmd_export)
    p = sub.add_parser("docs", help="list every layer, activation, loss, optimizer ... with its arguments")
    p.add_argument("kind", nargs="?", help="only this kind: layer, activation, loss, optimizer, ...")
    p.set_defaults(handler=cmd_docs)
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
    except Exception as e:  # a bug in nncompile: say so plainly; NNCOMPILE_DEBUG=1 shows the traceback
        import os
        if os.environ.get("NNCOMPILE_DEBUG"):
            raise
        from .errors import NncompileError
        if isinstance(e, NncompileError):
            print(f"nncompile: {e}", file=sys.stderr)
            return 1
        print(f"nncompile: internal error ({type(e).__name__}: {e})\n  hint: this is a bug in nncompile; "
              "rerun with NNCOMPILE_DEBUG=1 for the traceback and report it", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
