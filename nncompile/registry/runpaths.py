"""Where a trained run is, read from its folder without the runtime (so that `check` can tell what
`init: checkpoint(run)` names): a run folder's marker (`.nncompile-run`, written last by
runtime.runfolder), a group folder's runs (`runs/<spec>-<train>/<n>/` and `latest`: written by
runtime.runrecord), and the layers whose parameters a run holds (from its checkpoint's metadata)."""

from __future__ import annotations

import json
import os
from pathlib import Path

MARKER = ".nncompile-run"
FORMAT = "nncompile-run"
LATEST = "latest"
TREE = "_METADATA"  # params/: the checkpoint's tree of arrays (orbax), read as JSON
Problem = tuple[str, str | None]


def read_marker(folder: Path) -> dict | None:
    """A run folder's marker (None when it has none, or not a valid one)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("format") == FORMAT else None


def is_complete_run(folder: Path) -> bool:
    """A finished run: its marker says so, or (a run written before markers) its files are there."""
    marker = read_marker(folder)
    if marker is not None:
        return bool(marker.get("complete"))
    return (
        (folder / "params").is_dir()
        and (folder / "summary.json").is_file()
        and (folder / "program.py").is_file()
    )


def numbered(group: Path) -> list[int]:
    """The run numbers in a group folder, ascending."""
    if not group.is_dir():
        return []
    return sorted(int(p.name) for p in group.iterdir() if p.name.isdigit() and p.is_dir())


def is_run(folder: Path) -> bool:
    return (folder / "params").is_dir() or read_marker(folder) is not None


def latest(group: Path) -> Path | None:
    """The run `group/latest` points at (None when it has none)."""
    link = group / LATEST
    if link.is_symlink():
        return group / os.readlink(link)
    if link.is_file():
        name = link.read_text(encoding="utf-8").strip()
        return group / name if name and "/" not in name else None
    return None


def complete(folder: Path) -> bool:
    return folder.is_dir() and is_complete_run(folder)


def resolve_run(path: str | os.PathLike, log=None) -> Path:
    """The run folder `path` names: itself, or for a group folder `<spec>-<train>/` its latest run
    (the newest complete one when the latest is still training or was killed)."""
    p = Path(path)
    if is_run(p) or not p.is_dir():
        return p
    newest = latest(p)
    if newest is not None and complete(newest):
        return newest
    done = [p / str(n) for n in numbered(p) if complete(p / str(n))]
    if done:
        if newest is not None and log is not None:
            log(f"{newest} is not complete (still training, or stopped): using {done[-1]}")
        return done[-1]
    return newest if newest is not None else p


def missing_init_run(run: Path, spec_path: str) -> list[Problem]:
    """The problem (message, hint) when `init: checkpoint(run)` names no trained run; [] if it
    does. The path is relative to the working directory, like `train`'s runs/<spec>-<train> (whose
    latest run it means)."""
    if (resolve_run(run) / "params").is_dir():
        return []
    where = f"{run} ({run.absolute()}; the path is relative to the working directory)"
    return [(f"init: no trained run at {where}", pretrain_hint(run, spec_path))]


def pretrain_hint(run: Path, spec_path: str) -> str:
    """How to make the run `init:` names: the spec next to this one that writes it, if any."""
    stem, _, train = run.name.rpartition("-")
    candidate = Path(spec_path).parent / f"{stem}.nn"
    if stem and candidate.is_file():
        out = "" if run == Path("runs") / run.name else f" --out {run}"
        which = "" if train in ("", "main") else f" --train {train}"
        return f"train the pretrain spec first: `nncompile train {candidate}{which}{out}`"
    return "train the run it names first (`nncompile train SPEC --out RUN`), or fix the path"


def param_layers(run: Path) -> set[str] | None:
    """The top-level names (layers and blocks) a run's parameters hold, from its checkpoint's tree
    metadata; None when that cannot be read (the loader says what is wrong, if anything)."""
    try:
        tree = json.loads((run / "params" / TREE).read_text(encoding="utf-8"))["tree_metadata"]
        names = set()
        for entry in tree.values():
            keys = [str(k["key"]) for k in entry["key_metadata"]]
            if not ("rngs" in keys and keys[-1] in ("key", "count")):  # (RNG state: not loaded)
                names.add(keys[0])
        return names or None
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
