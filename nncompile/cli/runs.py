"""Commands over trained runs: `runs` (a table of them) and `compare` (curves and settings)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _console():
    from rich.console import Console

    terminal = sys.stdout.isatty()
    return Console(width=None if terminal else 200, highlight=False, soft_wrap=not terminal)


def _num(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _metrics(values: dict, keys: list[str]) -> str:
    return "  ".join(f"{k} {_num(values[k])}" for k in keys if k in values)


def _setting(value) -> str:
    """A setting's value in the diff; "-" where a run does not have it (no such --set)."""
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value)


def _label(row, root: Path | None = None) -> str:
    try:
        name = str(row.path.relative_to(root)) if root else str(row.path)
    except ValueError:
        name = str(row.path)
    sets = ", ".join(f"{k}={v}" for k, v in row.overrides.items())
    return f"{name} ({sets})" if sets else name


def cmd_runs(args) -> int:
    """a table of the trained runs under a folder (default: runs)

    Every complete run folder under DIR (numbered runs, sweep trials, --out folders): spec, train
    block, --set values, epochs, the best epoch's validation metrics, the last epoch's, test
    metrics and training time. --sort KEY: a column (epochs, seconds, created, spec) or a metric:
    val_loss (last epoch), best_val_accuracy, test_accuracy, ...; --reverse for descending."""
    from ..runtime.runindex import find_runs, read_row, sort_rows

    root = Path(args.dir)
    rows = sort_rows([read_row(r) for r in find_runs(root)], args.sort, args.reverse)
    if args.format == "json":
        print(json.dumps([r.as_json() for r in rows], indent=2))
        return 0
    if not rows:
        print(f"no runs under {root}", file=sys.stderr)
        return 0
    from rich.table import Table

    table = Table(title=f"runs under {root}", title_justify="left")
    for name in ("run", "spec", "train", "--set", "epochs", "best", "last epoch", "test", "time"):
        table.add_column(name, justify="right" if name in ("epochs", "time") else "left")
    for r in rows:
        monitor = r.monitor or "val_loss"
        best = (
            f"{monitor} {_num(r.best[monitor])} @{r.best_epoch}"
            if r.best_epoch and monitor in r.best
            else ""
        )
        last = [k for k in r.final if k.startswith("val_")] or [k for k in r.final if k != "lr"]
        table.add_row(
            _label(r, root).split(" (")[0],
            r.spec,
            r.train,
            " ".join(f"{k}={v}" for k, v in r.overrides.items()),
            _num(r.epochs) + (f" ({r.stop})" if r.stop else ""),
            best,
            _metrics(r.final, last),
            _metrics(r.test, list(r.test)),
            f"{r.seconds:.1f}s" if r.seconds is not None else "",
        )
    _console().print(table)
    return 0


def cmd_compare(args) -> int:
    """learning curves of runs in one PNG, and the settings that differ

    RUN: a run folder; a folder of runs (runs/<spec>-<train>, a sweep's folder) stands for every
    run in it. -o writes the curves (one panel per loss/metric; a colour per run, validation solid,
    training dashed, the best epoch dotted); the settings that differ (--set values, the resolved
    configuration, data rows) are printed."""
    from ..runtime.runcompare import plot_compare
    from ..runtime.runindex import differences, expand, read_row

    runs = expand(args.runs)
    rows = [read_row(r) for r in runs]
    labels = [_label(r) for r in rows]
    diff = differences(runs)
    if args.format == "json":
        print(json.dumps({"runs": [str(r) for r in runs], "differences": dict(diff)}, indent=2))
    else:
        from rich.table import Table

        table = Table(title="settings that differ", title_justify="left")
        table.add_column("setting")
        for label in labels:
            table.add_column(label)
        for key, values in diff:
            table.add_row(key, *(_setting(v) for v in values))
        console = _console()
        if diff:
            console.print(table)
        else:
            console.print("the runs have the same settings")
    if args.output:
        print(f"wrote {plot_compare(args.output, rows, labels)}", file=sys.stderr)
    return 0


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "runs": (cmd_runs, ("runs_dir", "sort", "reverse", "format")),
    "compare": (cmd_compare, ("run_list", "curves", "format")),
}
