"""What a run folder records to rebuild its program, and where runs go.

    run.json     {"format": "nncompile-run-record", "spec": {"path", "name", "text"}, "train",
                  "overrides" (the `--set` values), "versions" (nncompile, jax, flax, optax, orbax,
                  numpy, python), "data" (a fingerprint of the arrays trained on), "params"
                  (SHA-256 of every file of params/), "created"}
    spec.nn      the spec text as it was read (the overrides are in run.json)

Numbered runs: `train` without `--out` writes `runs/<spec>-<train>/<n>/` (n = 1, 2, ... never
reused) and points `runs/<spec>-<train>/latest` at it (a relative symlink; a file holding the name
where symlinks cannot be made). `resolve_run` turns a group folder into its newest complete run,
so `--run runs/<spec>-<train>` and `init: checkpoint("runs/<spec>-<train>")` keep working.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NncompileError
from ..registry.runpaths import LATEST as LATEST
from ..registry.runpaths import complete as complete
from ..registry.runpaths import is_run as is_run
from ..registry.runpaths import latest as latest
from ..registry.runpaths import numbered as numbered
from ..registry.runpaths import resolve_run as resolve_run
from .safefiles import atomic_write

RECORD = "run.json"
SPEC_TEXT = "spec.nn"
FORMAT = "nncompile-run-record"


class RunRecordError(NncompileError):
    """A run folder's record is missing or unreadable, or names no usable run."""


# ---- the record ----------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    """The versions of what computes a run (missing packages are left out)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    # once per process: importlib.metadata scans the installed packages' folders at every call
    # (~10 ms, 16 times in a sweep of 16 trials)
    from importlib import metadata

    from ..version import __version__

    out = {"nncompile": __version__, "python": platform.python_version()}
    for name in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def data_fingerprint(
    splits: dict, weights: dict | None = None, given: dict | None = None
) -> dict[str, Any]:
    """SHA-256 of the arrays trained on (every split's inputs and targets: dtype, shape, bytes; and
    the data's sample weights, when it names them) and each split's rows: the same data gives the
    same digest, whatever file it came from. `given`: each split's weights given to
    `Program.fit(sample_weight=...)`, digested apart (`sample_weight`: loading the data again does
    not give them back, so the data's own digest stays comparable)."""
    out = _digest(splits, weights)
    if given:
        out["sample_weight"] = weights_digest(given)
    return out


def weights_digest(given: dict) -> str:
    """SHA-256 of each split's sample weights (as float32)."""
    h = hashlib.sha256()
    for name in sorted(given):
        a = np.ascontiguousarray(np.asarray(given[name], np.float32))
        h.update(f"{name}/w:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def data_change(written: dict | None, now: dict) -> str | None:
    """How the data fingerprint `now` differs from the one a run recorded (`written`), in words;
    None when it does not, or the run recorded none."""
    if not written or not written.get("sha256"):
        return None
    if written["sha256"] != now["sha256"]:
        rows = written.get("rows")
        if rows == now["rows"]:
            return "the same rows, other values"
        return f"rows then {_rows(rows)}, now {_rows(now['rows'])}"
    if written.get("sample_weight") != now.get("sample_weight"):
        was, new = written.get("sample_weight"), now.get("sample_weight")
        if was is None:
            return "trained without sample weights given to fit(), now with some"
        return (
            "other sample weights given to fit()"
            if new
            else ("trained with sample weights given to fit(), now without")
        )
    return None


def _rows(rows: dict | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (rows or {}).items()) or "unknown"


def _digest(splits: dict, weights: dict | None) -> dict[str, Any]:
    h = hashlib.sha256()
    rows: dict[str, int | None] = {}
    for name in sorted(splits):
        x, y = splits[name]
        rows[name] = None
        w = None if weights is None else weights.get(name)
        for part, value in (("x", x), ("y", y), ("w", w)):
            for key, array in _arrays(value):
                a = np.ascontiguousarray(np.asarray(array))
                if rows[name] is None and a.ndim:
                    rows[name] = int(a.shape[0])
                h.update(f"{name}/{part}/{key}:{a.dtype.str}:{a.shape}".encode())
                h.update(a.tobytes())
    return {"sha256": h.hexdigest(), "rows": rows}


def _arrays(value) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):
        return sorted((str(k), v) for k, v in value.items())
    return [("", value)]


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def write_record(
    run: Path,
    *,
    spec_path: str,
    spec_text: str,
    train: str,
    overrides: dict[str, str],
    data: dict | None,
    sample_weight: bool = False,
) -> dict:
    """Write spec.nn and run.json into the run folder `run` (after params/ is written).
    `sample_weight`: the program was compiled for weights given to fit() (rebuilt so)."""
    record = {
        "format": FORMAT,
        "version": 1,
        "spec": {
            "path": str(Path(spec_path).absolute()) if not spec_path.startswith("<") else spec_path,
            "name": Path(spec_path).stem,
        },
        "train": train,
        "overrides": dict(overrides),
        "versions": versions(),
        "data": data,
        "params": file_digests(run / "params") if (run / "params").is_dir() else {},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if sample_weight:
        record["sample_weight"] = True
    atomic_write(run / SPEC_TEXT, spec_text)
    atomic_write(run / RECORD, json.dumps(record, indent=1) + "\n")
    return record


def read_record(run: Path) -> dict | None:
    """A run folder's run.json with its spec text (None for a run written without one)."""
    try:
        record = json.loads((run / RECORD).read_text(encoding="utf-8"))
        text = (run / SPEC_TEXT).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise RunRecordError(
            f"{run / RECORD} is unreadable ({type(e).__name__})",
            "give the spec FILE (and its --set values) that trained the run",
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise RunRecordError(f"{run / RECORD} is not an nncompile run record")
    record["spec"]["text"] = text
    return record


def verify_params(run: Path, record: dict | None) -> None:
    """Refuse params/ files that changed since the run was written (before Orbax reads any)."""
    want = (record or {}).get("params") or {}
    if not want:
        return
    have = file_digests(run / "params")
    bad = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if bad:
        what = ", ".join(f"params/{b}" for b in bad[:3]) + (" ..." if len(bad) > 3 else "")
        raise RunRecordError(
            f"{run} is damaged: {len(bad)} file(s) of its parameters changed or went missing "
            f"since it was written ({what})",
            "train the run again (or restore the folder from a copy)",
        )


# ---- where runs go -------------------------------------------------------------------------------
def new_run_dir(group: Path) -> Path:
    """A new numbered run folder in `group` (made here, so two trains never share one), `latest`
    pointed at it."""
    if is_run(group):
        raise RunRecordError(
            f"{group} holds a run written by an earlier nncompile (one run per folder); new runs "
            f"go to numbered folders inside {group}",
            f"move it away (e.g. `mv {group} {group}-old`), or give --out a folder",
        )
    group.mkdir(parents=True, exist_ok=True)
    n = (numbered(group) or [0])[-1] + 1
    while True:
        try:
            (group / str(n)).mkdir()
            break
        except FileExistsError:
            n += 1
    set_latest(group, str(n))
    return group / str(n)


def set_latest(group: Path, name: str) -> None:
    """`group/latest` -> name: a relative symlink swapped in by rename, else a file."""
    link = group / LATEST
    tmp = group / f".{LATEST}.{os.getpid()}.tmp"
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(name, tmp)
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        with contextlib.suppress(IsADirectoryError):
            if link.is_symlink():
                link.unlink()
        atomic_write(link, name + "\n")


def resume_target(path: Path) -> Path:
    """The run `--resume --out PATH` continues: PATH, or a group folder's latest run."""
    newest = None if is_run(path) or not path.is_dir() else latest(path)
    return newest if newest is not None else path


def resume_dir(group: Path) -> Path:
    """The run `--resume` continues when no --out is given: the group's latest."""
    newest = latest(group) if group.is_dir() else None
    if newest is None or not newest.is_dir():
        raise RunRecordError(
            f"no run to resume in {group}",
            "train without --resume first, or name the run with --out DIR",
        )
    return newest


def forget_failed(run: Path) -> None:
    """Remove a numbered run folder whose training failed before anything was kept (nothing but
    the marker in it), and point `latest` back at the newest run left."""
    from .runfolder import PRELIMINARY

    if not run.name.isdigit() or not run.is_dir() or set(os.listdir(run)) - PRELIMINARY:
        return
    with contextlib.suppress(OSError):
        for name in os.listdir(run):
            (run / name).unlink()
        run.rmdir()
    group = run.parent
    left = numbered(group)
    if left:
        set_latest(group, str(left[-1]))
        return
    with contextlib.suppress(OSError):  # nothing left: the group and an empty runs/ go too
        (group / LATEST).unlink()
        group.rmdir()
        group.parent.rmdir()
