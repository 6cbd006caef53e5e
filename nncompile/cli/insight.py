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
    else:
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
        lines += _table(table)
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


def _table(rows: list[dict]) -> list[str]:
    width = max([7, *(len(r["feature"]) for r in rows)])
    head = (
        "  "
        + "feature".ljust(width)
        + "".join(f"{h:>11}" for h in ("min", "mean", "max", "std", "missing"))
    )
    out = [head]
    for r in rows:
        size = max(abs(r["min"] or 0), abs(r["max"] or 0))  # rounding noise of a centred mean: 0
        shown = {k: 0.0 if r[k] is not None and abs(r[k]) < 1e-7 * size else r[k] for k in STATS}
        cells = "".join(f"{'-' if shown[k] is None else f'{shown[k]:.4g}':>11}" for k in STATS)
        bad = r["missing"] + r["infinite"]
        out.append("  " + r["feature"].ljust(width) + cells + f"{bad:>11}")
    return out


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "data": (cmd_data, ("file", "data", "train", "set", "report", "format")),
}
