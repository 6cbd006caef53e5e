"""What the commands share: the flags declared once, the spec a command reads (with `--set`
values), and how metrics are printed."""

from __future__ import annotations

import sys

from ..diagnostics import CompileError, render
from .devices import SCALE_FLAGS
from .flags import CACHE_HELP, FORMAT_HELP, RESUME_HELP, SAMPLE_FLAGS, TRACK_HELP, epochs, flag

RUN_SPEC_HELP = "the spec (default: the one the run recorded, with its --set values)"
OUT_HELP = (
    "the run folder (default: a new runs/<spec>-<train>/<n>, `latest` pointing at it; "
    "sweeps: runs/<spec>-<sweep>)"
)


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


def run_program(args):
    """The trained run of `--run` as a Program: rebuilt from the run's record, or from FILE (which
    must be the program that trained it)."""
    from ..runs import program_for_run

    def log(line: str) -> None:
        print(line if line.startswith("warning: ") else f"note: {line}", file=sys.stderr)

    return program_for_run(
        args.run,
        args.file,
        train=args.train,
        sets=overrides(args.set),
        log=log,
        devices=getattr(args, "devices", None),
    )


def compiled_program(args):
    """The spec compiled for train/eval/predict/export (`--train`)."""
    from ..api import Program

    return Program(spec_program(args), args.train, sets=overrides(getattr(args, "set", None)))


def fmt_metrics(metrics: dict) -> str:
    return "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
    )


def units_line(units: dict[str, str]) -> str:
    """Which printed numbers are in which units ({key: units} of Program.units)."""
    groups: dict[str, list[str]] = {}
    for key, unit in units.items():
        name = key.removeprefix("val_")
        if name not in groups.setdefault(unit, []):
            groups[unit].append(name)
    return "units: " + "; ".join(f"{', '.join(k)} in {u}" for u, k in groups.items())


# every flag declared once; each command names the flags it takes
FLAGS = {
    "file": flag("file", metavar="FILE"),
    "files": flag("files", nargs="+", metavar="FILE"),
    "spec?": flag("file", nargs="?", metavar="FILE", help=RUN_SPEC_HELP),
    "train": flag("--train", metavar="NAME", help="which train block (if the spec has several)"),
    "set": flag("--set", action="append", metavar="NAME=VALUE", help="override a `let` value"),
    "format": flag("--format", choices=("text", "json"), default="text", help=FORMAT_HELP),
    "strict": flag(
        "--strict", action="store_true", help="warnings fail too (exit 1): e.g. a missing data file"
    ),
    "cache": flag("--no-cache", action="store_true", help=CACHE_HELP),
    "autotune": flag(
        "--no-autotune", action="store_true", help="no measured strategy choice (runtime.autotune)"
    ),
    "run": flag("--run", required=True, metavar="DIR", help="a run folder written by `train`"),
    "epochs": flag("--epochs", type=epochs, metavar="N", help="override the number of epochs"),
    "out": flag("--out", metavar="DIR", help=OUT_HELP),
    "force": flag("--force", action="store_true", help="let --out replace another spec's run"),
    "runs_dir": flag("dir", nargs="?", default="runs", metavar="DIR", help="default: runs"),
    "sort": flag("--sort", metavar="KEY", help="a column or metric: val_loss, test_accuracy, ..."),
    "reverse": flag("--reverse", action="store_true", help="sort descending"),
    "run_list": flag("runs", nargs="+", metavar="RUN", help="run folders, or folders of runs"),
    "curves": flag("-o", "--output", metavar="PNG", help="write the learning curves there"),
    "quiet": flag("--quiet", action="store_true", help="no progress display"),
    "resume": flag("--resume", action="store_true", help=RESUME_HELP),
    "track": flag("--track", action="append", metavar="NAME", help=TRACK_HELP),
    "split": flag("--split", default="test", choices=("train", "val", "test")),
    "input": flag("--input", required=True, metavar="X", help="X.npy or X.csv (raw features)"),
    "predictions": flag("--output", metavar="Y.npy", help="default: CSV to stdout"),
    "source": flag("-o", "--output", metavar="OUT", help="write to this file instead of stdout"),
    "folder": flag("-o", "--output", required=True, metavar="DIR", help="the folder to write"),
    "artifact": flag("-o", "--output", required=True, metavar="OUT", help="e.g. model.stablehlo"),
    "sweep": flag("--sweep", metavar="NAME", help="which sweep block (default: the first)"),
    "platforms": flag("--platforms", default="cpu,cuda", help="cpu, cuda, rocm, tpu"),
    "kind": flag("kind", nargs="?", help="only this kind: layer, activation, loss, ..."),
    "fmt_check": flag("--check", action="store_true", help="change no file; exit 1 if any would"),
    "diff": flag("--diff", action="store_true", help="print a unified diff instead of writing"),
    "maybe_file": flag("file", nargs="?", metavar="FILE", help="print this spec's program"),
    "model": flag("--model", metavar="NAME", help="only this model (default: every model)"),
    "picture": flag("-o", "--output", required=True, metavar="OUT", help="model.svg or model.png"),
    "data": flag("--data", metavar="NAME", help="which data block (default: the train block's)"),
    "report": flag("-o", "--output", metavar="PNG", help="also draw the report as a PNG"),
    **SAMPLE_FLAGS,
    **SCALE_FLAGS,
}
SPEC = ("file", "train", "set")  # a spec compiled for one train block
RUN_SPEC = ("spec?", "train", "set")  # the same, optional: a run folder records its own
