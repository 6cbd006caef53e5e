"""What the commands share: the flags declared once, the spec a command reads (with `--set`
values), and how metrics are printed."""

from __future__ import annotations

import sys

from ..diagnostics import CompileError, render
from .devices import SCALE_FLAGS
from .flags import CACHE_HELP, FORMAT_HELP, RESUME_HELP, SAMPLE_FLAGS, epochs, flag


def sources(paths: list[str]):
    from ..compiler import read

    for path in paths:
        try:
            yield path, read(path), None
        except CompileError as e:
            yield path, None, e.diagnostics


def overrides(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise SystemExit(f"nncompile: --set takes NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def spec_program(args):
    """The analysed spec of `args.file` (with `--set` values); prints warnings, raises errors."""
    from ..compiler import analyse, read

    source = read(args.file)
    program, diagnostics = analyse(source, overrides(getattr(args, "set", None)))
    if program is None:
        raise CompileError(diagnostics, source)
    if diagnostics:  # warnings worth seeing before a long run
        print(render(diagnostics, source), file=sys.stderr)
    return program


def compiled_program(args):
    """The spec compiled for train/eval/predict/export (`--train`)."""
    from ..api import Program

    return Program(spec_program(args), args.train)


def fmt_metrics(metrics: dict) -> str:
    return "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
    )


# every flag declared once; each command names the flags it takes
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
    **SCALE_FLAGS,
}
SPEC = ("file", "train", "set")  # a spec compiled for one train block
