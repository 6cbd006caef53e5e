"""Trained runs from Python and the CLI: a Program rebuilt from a run folder alone.

`load(run)` reads the spec text, the `--set` values and the train block a run recorded
(runtime.runrecord), compiles them again and restores the trained parameters: `predict`,
`evaluate`, `export`, `sample`, and `fit(run_dir=run, resume=True)` to continue. With a spec FILE
as well (`program_for_run(run, file=...)`), the FILE is compiled instead and must build the
program that trained the run (else the difference is shown and it is refused).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from .api import Program, compile
from .compiler import analyse
from .diagnostics import CompileError
from .errors import NncompileError
from .runtime.runrecord import data_change, data_fingerprint, read_record, resolve_run
from .source import Source

Log = Callable[[str], None]


def _quiet(line: str) -> None:
    pass


def rebuild(run_dir: str | os.PathLike, log: Log | None = None) -> tuple[Program, Path, dict]:
    """The Program that trained `run_dir` (not loaded), the run folder and its record."""
    run = resolve_run(run_dir, log)
    if not run.is_dir():
        raise NncompileError(f"no run folder at {run_dir}", "give --run a folder `train` wrote")
    record = read_record(run)
    if record is None:
        raise NncompileError(
            f"{run} does not record its spec (written before nncompile kept run.json)",
            "give the spec FILE (and the --set values) that trained it",
        )
    spec = record["spec"]
    source = Source(spec["text"], spec["path"])
    analysed, diagnostics = analyse(source, record.get("overrides") or {})
    if analysed is None:
        raise CompileError(diagnostics, source)
    weighted = bool(record.get("sample_weight"))  # compiled for fit(sample_weight=...)
    program = Program(
        analysed, record["train"], sets=record.get("overrides"), sample_weight=weighted
    )
    return program, run, record


def load(
    run_dir: str | os.PathLike, *, log: Log | None = None, devices: str | int | None = None
) -> Program:
    """A trained run folder as a Program with its trained parameters (its spec, `--set` values and
    train block as recorded in the run); ``runs/<spec>-<train>`` means its latest run. ``devices``:
    where it runs (like `--devices`; default: the train block's `devices:`)."""
    program, run, record = rebuild(run_dir, log)
    program.devices = devices
    program.load(run)
    check_data(program, run, record, log or _quiet)
    return program


def program_for_run(
    run_dir: str | os.PathLike,
    file: str | None = None,
    *,
    train: str | None = None,
    sets: Mapping[str, str] | None = None,
    log: Log | None = None,
    devices: str | int | None = None,
) -> Program:
    """What `eval`, `predict`, `export` and `sample` use: the run's own program, or FILE's (which
    must be the one that trained it)."""
    if file is None:
        if sets or train:
            raise NncompileError(
                "--set and --train need the spec FILE; without it the run's own are used",
                "leave them out, or give the spec FILE too",
            )
        return load(run_dir, log=log, devices=devices)
    program = compile(file, train=train, sets=sets)
    program.devices = devices
    program.load(Path(run_dir))
    run = resolve_run(run_dir)
    check_data(program, run, read_record(run), log or _quiet)
    return program


def check_data(program: Program, run: Path, record: dict | None, log: Log) -> None:
    """Warn when the data loaded now is not the data the run was trained on."""
    written = ((record or {}).get("data") or {}).get("sha256")
    splits = getattr(program.trainer, "splits", None)
    if not written or not isinstance(splits, dict) or program.dataset is None:
        return
    now = data_fingerprint(splits, program.source_weights())
    # weights given to fit() do not come back with the data: the data's own digest is compared
    how = data_change({**(record or {})["data"], "sample_weight": None}, now)
    if how is not None:
        log(
            f"warning: the data loaded now differs from the data {run} was trained on ({how}): "
            "its metrics are not comparable with the run's"
        )
