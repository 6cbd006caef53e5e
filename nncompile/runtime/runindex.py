"""The runs under a folder, as rows: what `nncompile runs` lists and `nncompile compare` reads.

A run is a complete run folder (runtime.runfolder.is_complete_run) anywhere under the folder given
(numbered runs `runs/<spec>-<train>/<n>`, sweep trials `runs/<spec>-<sweep>/trial_<k>`, folders
named with --out); hidden folders (a re-run in progress) and the `latest` pointers are skipped.
Each row reads the run's run.json, spec.json, summary.json and metrics.jsonl; a run written before
run.json has no overrides and its spec from spec.json.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NncompileError
from .runfolder import is_complete_run
from .runrecord import LATEST, read_record

# CONFIG entries that tune for the machine: not settings a person chose
BACKEND_ONLY = frozenset({"activation_floats", "cpu_compiler_options", "cpu_cores"})


@dataclass
class RunRow:
    path: Path
    spec: str
    train: str
    overrides: dict[str, str]
    epochs: int | None
    best_epoch: int | None
    monitor: str | None
    best: dict[str, float] = field(default_factory=dict)  # the metrics of the best epoch
    final: dict[str, float] = field(default_factory=dict)  # the metrics of the last epoch
    test: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    created: str | None = None
    stop: str | None = None

    def value(self, key: str) -> Any:
        """A sortable value: a column (spec, epochs, seconds, created, ...), `test_<metric>`,
        `best_<metric>` or a metric of the last epoch (`val_loss`, `accuracy`, ...)."""
        if key in ("path", "spec", "train", "epochs", "best_epoch", "seconds", "created"):
            v = getattr(self, key)
            return str(v) if key == "path" else v
        for prefix, table in (("test_", self.test), ("best_", self.best)):
            if key.startswith(prefix) and key[len(prefix) :] in table:
                return table[key[len(prefix) :]]
        return self.final.get(key)

    def as_json(self) -> dict:
        return {
            "run": str(self.path),
            "spec": self.spec,
            "train": self.train,
            "overrides": self.overrides,
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "monitor": self.monitor,
            "best": self.best,
            "final": self.final,
            "test": self.test,
            "seconds": self.seconds,
            "created": self.created,
            "stop": self.stop,
        }


def find_runs(root: str | os.PathLike) -> list[Path]:
    """Every complete run folder under `root` (or `root` itself), sorted by path (numbers as
    numbers)."""
    root = Path(root)
    if not root.is_dir():
        raise NncompileError(f"no folder {root}", "give `runs` the folder `train` writes to")
    found = []
    for folder, dirs, _ in os.walk(root):
        here = Path(folder)
        if is_complete_run(here):
            found.append(here)
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != LATEST]
    return sorted(found, key=_natural)


def _natural(path: Path) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts]


def expand(paths: list[str]) -> list[Path]:
    """Runs named on the command line: a group folder (`runs/<spec>-<train>`) stands for each of
    its runs, a folder of runs (a sweep's) for the runs in it."""
    out: list[Path] = []
    for name in paths:
        p = Path(name)
        inside = find_runs(p) if p.is_dir() and not is_complete_run(p) else []
        if is_complete_run(p):
            out.append(p)
        elif inside:
            out += inside
        else:
            raise NncompileError(f"{name} is not a run folder", "give folders `train` wrote")
    return out


def read_row(run: Path) -> RunRow:
    """One run's row (missing files leave their columns empty)."""
    summary = _json(run / "summary.json") or {}
    spec_json = _json(run / "spec.json") or {}
    try:
        record = read_record(run) or {}
    except NncompileError:
        record = {}
    spec = (record.get("spec") or {}).get("name") or Path(str(spec_json.get("spec", "?"))).stem
    epochs = _epochs(run / "metrics.jsonl")
    best_epoch = summary.get("best_epoch")
    best = next((e for e in epochs if e.get("epoch") == best_epoch), {})
    return RunRow(
        path=run,
        spec=spec,
        train=str(record.get("train") or spec_json.get("train") or "?"),
        overrides=dict(record.get("overrides") or {}),
        epochs=summary.get("epochs_run"),
        best_epoch=best_epoch,
        monitor=summary.get("monitor"),
        best=_metrics(best),
        final=_metrics(summary.get("final") or (epochs[-1] if epochs else {})),
        test=_metrics(summary.get("test") or {}),
        seconds=summary.get("seconds"),
        created=record.get("created"),
        stop=summary.get("stop"),
    )


def sort_rows(rows: list[RunRow], key: str | None, reverse: bool = False) -> list[RunRow]:
    """Rows by `key` (RunRow.value); rows without it last, whatever the direction."""
    if key is None:
        return rows
    known = {k for r in rows for k in _keys(r)}
    if rows and key not in known:
        raise NncompileError(
            f"cannot sort by '{key}': no run has it",
            "sort by one of " + ", ".join(sorted(known)),
        )
    have = [r for r in rows if _sortable(r.value(key))]
    missing = [r for r in rows if not _sortable(r.value(key))]
    return sorted(have, key=lambda r: r.value(key), reverse=reverse) + missing


def _keys(row: RunRow) -> list[str]:
    return [
        "path",
        "spec",
        "train",
        "epochs",
        "best_epoch",
        "seconds",
        "created",
        *row.final,
        *(f"test_{k}" for k in row.test),
        *(f"best_{k}" for k in row.best),
    ]


def _sortable(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def settings(run: Path) -> dict[str, Any]:
    """A run's settings, flat (`overrides.hidden`, `config.optimizer.args.lr`, ...): what
    `compare` diffs."""
    out: dict[str, Any] = {}
    try:
        record = read_record(run) or {}
    except NncompileError:
        record = {}
    out["spec"] = (record.get("spec") or {}).get("path")
    for k, v in (record.get("overrides") or {}).items():
        out[f"--set {k}"] = v
    spec_json = _json(run / "spec.json") or {}
    config = spec_json.get("config") or {}
    _flatten({k: v for k, v in config.items() if k not in BACKEND_ONLY}, "", out)
    data = record.get("data") or {}
    for k, v in (data.get("rows") or {}).items():
        out[f"data rows {k}"] = v
    if isinstance(data.get("sha256"), str):  # other values or weights (runtime.runrecord)
        out["data sha256"] = data["sha256"][:12]
        if isinstance(data.get("sample_weight"), str):
            out["sample weights sha256"] = data["sample_weight"][:12]
    return out


def differences(runs: list[Path]) -> list[tuple[str, list[Any]]]:
    """The settings that differ between runs: (key, value per run); absent: None."""
    each = [settings(r) for r in runs]
    keys: list[str] = []
    for s in each:
        keys += [k for k in s if k not in keys]
    return [
        (k, [s.get(k) for s in each])
        for k in keys
        if len({json.dumps(s.get(k), sort_keys=True) for s in each}) > 1
    ]


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value


def _metrics(epoch: dict) -> dict[str, float]:
    return {
        k: v
        for k, v in epoch.items()
        if k not in ("epoch", "seconds") and isinstance(v, (int, float))
    }


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _epochs(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def epochs_of(run: Path) -> list[dict]:
    """A run's history (metrics.jsonl), one dict per epoch."""
    return _epochs(run / "metrics.jsonl")
