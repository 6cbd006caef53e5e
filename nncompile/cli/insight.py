"""Commands that help read data and fits: `data` (what a data block holds, its problems)."""

from __future__ import annotations

import json
import sys

from ..errors import NncompileError
from .common import spec_program


def cmd_data(args) -> int:
    """describe a spec's data: splits, feature statistics, classes, problems (and a PNG)

    Load a data block as training does and report rows per split, shapes and dtypes, per-feature
    min/mean/max/std in the data's units, missing and non-finite values, constant features,
    repeated rows and rows shared across splits (leakage), class counts per split (imbalance) and
    the target range. `-o report.png` draws histograms, a sample grid for images, a few sequences
    for series and text. Exit 0 (findings are warnings)."""
    from ..runtime.datareport import data_report

    spec = data_spec(args)
    report = data_report(spec)
    if args.output:
        from ..runtime.dataplot import plot_report

        plot_report(report, args.output)
    if args.format == "json":
        print(json.dumps(report.json(), indent=2))
    elif sys.stdout.isatty():
        render_rich(report)
    else:  # piped: plain text, stable for scripts and tests
        print(render(report), end="")
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def data_spec(args):
    """The runtime DataSpec of `--data NAME` (default: the train block's data, or the only one),
    split with the seed of a train block that uses it (as training splits it)."""
    from ..codegen.config import data
    from ..diagnostics import did_you_mean
    from ..runtime.data import DataSpec
    from ..semantics.ir import select_train

    program = spec_program(args)
    if args.data is not None:
        if args.data not in program.data:
            raise NncompileError(
                f"no data block '{args.data}' in {program.source.path}",
                did_you_mean(args.data, list(program.data))
                or f"its data blocks are {', '.join(program.data) or '(none)'}",
            )
        block = program.data[args.data]
    elif len(program.data) == 1:
        block = next(iter(program.data.values()))
    elif not program.data:
        raise NncompileError(f"{program.source.path} has no data block")
    else:
        block = select_train(program, args.train).data
    users = [t for t in program.trains.values() if t.data.name == block.name]
    train = next((t for t in users if t.name == args.train), users[0] if users else None)
    seed = train.props.seed if train is not None else 0
    return DataSpec.from_config(data(block), seed, str(block.base_dir) if block.base_dir else None)


STATS = ("min", "mean", "max", "std")  # the columns of a feature table


# ---- the text report -----------------------------------------------------------------------------
def render(report) -> str:
    from ..runtime.datareport import SHOWN

    s = report.summary
    lines = [f"data {s['data']} ({s['source']}): {s['task']}"]
    lines.append("  " + "  ".join(f"{k} {n} rows" for k, n in s["rows"].items()))
    for k, info in s["inputs"].items():
        lines.append(f"  input {k}: {info['dtype']} {info['shape']}")
    for k, info in s["targets"].items():
        lines.append(f"  target {k}: {info['dtype']} {info['shape']} ({info['task']})")
    for k, table in s["features"].items():
        if isinstance(table, dict):
            lines.append(f"features {k}: token ids {table['min']}..{table['max']}")
            continue
        lines.append(f"features {k} (data units, all rows):")
        lines += _table(table[:SHOWN])
        if len(table) > SHOWN:
            lines.append(f"  ... {len(table) - SHOWN} more features (--format json lists all)")
    for k, table in s["target_range"].items():
        lines.append(f"target range {k} (data units, all rows):")
        lines += _table(table, "target")
    if "sample_weights" in s:
        lines.append("sample weights (per split):")
        for k, w in s["sample_weights"].items():
            bad = "".join(f"  {n} {w[n]}" for n in ("missing", "infinite", "negative") if n in w)
            if w["min"] is not None:
                numbers = "  ".join(f"{n} {w[n]:.4g}" for n in ("min", "mean", "max"))
                lines.append(f"  {k:<6} {numbers}  zeros {w['zeros']}{bad}")
            elif bad:
                lines.append(f"  {k:<6} no valid weight{bad}")
    for k, counts in s["classes"].items():
        unit = "tokens" if s["targets"][k]["task"] == "sequence" else "rows"
        lines.append(f"classes {k} ({unit} per split):")
        splits = list(counts)
        labels = list(counts[splits[0]]) if splits else []
        width = max([5, *(len(c) for c in labels)])
        lines.append("  " + "class".ljust(width) + "".join(f"{p:>8}" for p in splits))
        for c in labels:
            lines.append("  " + c.ljust(width) + "".join(f"{counts[p][c]:>8}" for p in splits))
    if report.findings:
        for f in report.findings:
            lines.append(f"warning: {f.message}\n  hint: {f.hint}")
    else:
        lines.append(
            "no problems found (missing values, constant features, repeats, leakage, imbalance)"
        )
    return "\n".join(lines) + "\n"


def _table(rows: list[dict], what: str = "feature") -> list[str]:
    width = max([7, *(len(r["feature"]) for r in rows)])
    head = (
        "  "
        + what.ljust(width)
        + "".join(f"{h:>11}" for h in ("min", "mean", "max", "std", "missing"))
    )
    out = [head]
    for r in rows:
        cells = "".join(f"{c:>11}" for c in _cells(r))
        out.append("  " + r["feature"].ljust(width) + cells)
    return out


def _cells(r: dict) -> list[str]:
    """A feature row's min, mean, max, std and missing count, as shown."""
    size = max(abs(r["min"] or 0), abs(r["max"] or 0))  # rounding noise of a centred mean: 0
    shown = {k: 0.0 if r[k] is not None and abs(r[k]) < 1e-7 * size else r[k] for k in STATS}
    return [
        *("-" if shown[k] is None else f"{shown[k]:.4g}" for k in STATS),
        str(r["missing"] + r["infinite"]),
    ]


def render_rich(report) -> None:
    """The report drawn with rich for a terminal: the same content as `render`, as tables, the
    warnings in colour."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..runtime.datareport import SHOWN

    console, s = Console(highlight=False), report.summary
    console.print(f"[bold]data {s['data']}[/bold] ({s['source']}): {s['task']}", markup=True)
    console.print("  " + "  ".join(f"{k} {n} rows" for k, n in s["rows"].items()), markup=False)
    for k, info in s["inputs"].items():
        console.print(f"  input {k}: {info['dtype']} {info['shape']}", markup=False)
    for k, info in s["targets"].items():
        console.print(
            f"  target {k}: {info['dtype']} {info['shape']} ({info['task']})", markup=False
        )

    def stats(title: str, rows: list[dict], what: str) -> Table:
        table = Table(title=title, title_justify="left")
        table.add_column(what)
        for h in ("min", "mean", "max", "std", "missing"):
            table.add_column(h, justify="right")
        for r in rows:
            table.add_row(r["feature"], *_cells(r))
        return table

    for k, table in s["features"].items():
        if isinstance(table, dict):
            console.print(f"features {k}: token ids {table['min']}..{table['max']}", markup=False)
            continue
        more = f" ({len(table) - SHOWN} more: --format json)" if len(table) > SHOWN else ""
        console.print(stats(f"features {k} (data units, all rows){more}", table[:SHOWN], "feature"))
    for k, table in s["target_range"].items():
        console.print(stats(f"target range {k} (data units, all rows)", table, "target"))
    for k, counts in s["classes"].items():
        unit = "tokens" if s["targets"][k]["task"] == "sequence" else "rows"
        splits = list(counts)
        classes = Table(title=f"classes {k} ({unit} per split)", title_justify="left")
        classes.add_column("class")
        for p in splits:
            classes.add_column(p, justify="right")
        for c in list(counts[splits[0]]) if splits else []:
            classes.add_row(c, *(str(counts[p][c]) for p in splits))
        console.print(classes)
    for f in report.findings:
        console.print(f"[yellow]warning:[/yellow] {escape(f.message)}", markup=True)
        console.print(f"  hint: {f.hint}", markup=False)
    if not report.findings:
        console.print(
            "[green]no problems found[/green] (missing values, constant features, repeats, "
            "leakage, imbalance)",
            markup=True,
        )


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "data": (cmd_data, ("file", "data", "train", "set", "report", "format")),
}
