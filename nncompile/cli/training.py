"""Commands that train and use trained runs: train, eval, predict, sweep, export, sample."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import NncompileError
from . import startgc
from .common import (
    RUN_SPEC,
    compiled_program,
    fmt_metrics,
    overrides,
    run_program,
    spec_program,
    units_line,
)
from .devices import HOST_FLAGS
from .flags import SAMPLE_FLAGS


def cmd_train(args) -> int:
    """compile and train a spec; writes a run folder"""
    from ..runtime.checkpoint_files import sigterm_as_interrupt, terminated

    with sigterm_as_interrupt():  # SIGTERM stops training like Ctrl-C, at a safe point
        try:
            code = train(args)
        except KeyboardInterrupt:
            if not terminated():
                raise
            print("terminated", file=sys.stderr)
            return 143
    return 143 if code == 130 and terminated() else code


def train(args) -> int:
    from ..runtime.devices import primary
    from ..runtime.history import StopReason
    from ..runtime.hosts import gather_state
    from ..runtime.progress import Progress
    from ..runtime.runrecord import forget_failed

    def log(line: str) -> None:  # notes (not with --quiet) and warnings (always)
        if line.startswith("warning: "):
            print(line, file=sys.stderr)
        elif not args.quiet:
            print(f"note: {line}", file=sys.stderr)

    import jax

    # one process: primary without starting JAX, so fit can still claim cores (runtime.cores)
    if jax.distributed.is_initialized() and not primary():  # process 1.. of a multi-host run:
        # trains its part, writes no run folder
        program = peer_program(args, log)
        program.devices = args.devices
        startgc.release()  # compiled: the collector runs again, past the start-up's objects
        return train_along(program, args, log)
    program, run_dir = train_target(args, log)
    program.devices = args.devices
    startgc.release()
    try:  # (a multi-host run: process 0 writes the run folder, every process its checkpoints)
        history = program.fit(
            epochs=args.epochs,
            callbacks=[Progress(quiet=args.quiet or args.format == "json")],
            log=log,
            run_dir=run_dir,
            resume=args.resume,
            track=args.track or (),
            verbose=False,  # (its own Progress, quiet or not)
        )
        gather_state(program.trainer)  # a multi-host run: the state whole here (runtime.hosts)
        run = program.save(run_dir)
    except BaseException:
        forget_failed(run_dir)  # a numbered run that kept nothing
        raise
    summary = json.loads((run / "summary.json").read_text())
    if args.format == "json":
        print(json.dumps({"run": str(run), **summary}, indent=2))
    else:
        if summary.get("test"):
            print(f"test: {fmt_metrics(summary['test'])}")
        if summary.get("units"):
            print(units_line(summary["units"]))
        if summary.get("fit"):
            from ..runtime.verdict import describe

            print("\n".join(describe(summary["fit"])))
        print(f"run folder: {run}")
    if history.stop is StopReason.INTERRUPTED:
        done = program.trainer.epochs_done
        if done:
            again = " ".join(
                [
                    "nncompile train",
                    *([args.file] if args.file else []),
                    *(["--train", args.train] if args.train else []),
                    *[f"--set {s}" for s in args.set or []],
                    "--resume",
                    "--out",
                    str(run_dir),
                ]
            )
            print(
                f"interrupted: saved a checkpoint of epoch {done} in {run / 'checkpoints'}\n"
                f"  resume with: {again}",
                file=sys.stderr,
            )
        else:
            print(
                f"interrupted: kept the parameters of the last completed epoch in {run}",
                file=sys.stderr,
            )
        return 130
    if history.stop is StopReason.NONFINITE:
        print(f"training stopped: {history.reason}", file=sys.stderr)
        return 1
    return 0


def train_target(args, log):
    """The program `train` trains and its run folder: a new numbered run of the spec, the latest
    one with --resume, or --out DIR (a run of another spec there is refused without --force);
    `train --resume --out RUN` without FILE continues RUN with its own recorded spec."""
    from ..runs import rebuild
    from ..runtime.runrecord import new_run_dir, resume_dir, resume_target

    if args.file is None:
        if not (args.resume and args.out):
            raise SystemExit("nncompile train: give the spec FILE (or --resume --out RUN)")
        run_dir = resume_target(Path(args.out))
        if args.set or args.train:
            raise SystemExit("nncompile train: --set and --train need the spec FILE")
        return rebuild(run_dir, log)[0], run_dir
    program = compiled_program(args)
    if args.out is None:
        group = program.group()
        return program, resume_dir(group) if args.resume else new_run_dir(group)
    run_dir = Path(args.out)
    if args.resume:
        return program, resume_target(run_dir)
    if not args.force:
        check_same_spec(run_dir, program)
    return program, run_dir


def check_same_spec(run_dir: Path, program) -> None:
    """Refuse to replace a run of another spec or train block (`--force` allows it)."""
    from ..runtime.runrecord import read_record

    record = read_record(run_dir) if run_dir.is_dir() else None
    if record is None:
        return
    theirs = (record["spec"]["name"], record["train"])
    ours = (Path(program.spec.source.path).stem, program.train_block.name)
    if theirs != ours:
        raise NncompileError(
            f"{run_dir} holds a run of {theirs[0]}.nn (train {theirs[1]}), not of "
            f"{ours[0]}.nn (train {ours[1]}): it would be replaced",
            "give --out another folder (or leave --out out: each train gets a new numbered "
            "run), or add --force to replace it",
        )


def peer_program(args, log):
    """Process 1.. of a multi-host run: the program of FILE, or with `--resume --out RUN` and no
    FILE, the run's recorded one (the run folder is on a file system every process sees)."""
    if args.file is not None:
        return compiled_program(args)
    if not (args.resume and args.out):
        raise SystemExit("nncompile train: give the spec FILE (or --resume --out RUN)")
    from ..runs import rebuild
    from ..runtime.runrecord import resume_target

    return rebuild(resume_target(Path(args.out)), log)[0]


def train_along(program, args, log) -> int:
    """Process 1.. of a multi-host run: trains its part of every batch and takes part in the
    checkpoints (saving and restoring are collective); process 0 writes the run folder."""
    import jax

    from ..runtime.history import StopReason
    from ..runtime.hosts import gather_state
    from ..runtime.trees import rows as count_rows

    history = program.fit(epochs=args.epochs, log=log, verbose=False, resume=args.resume)
    gather_state(program.trainer)  # (with process 0, before it writes)
    if "test" in program.trainer.splits:  # process 0's save evaluates it: the same collectives
        program.evaluate("test")
    trainer, rows = program.trainer, ""
    if hasattr(trainer, "rows_here"):  # (a GAN's trainer does not say)
        total = count_rows(trainer.splits["train"][0])
        rows = f" on {trainer.rows_here()} of the {total} training rows"
    print(
        f"process {jax.process_index()}: trained {len(history.epochs)} epochs{rows} "
        "(process 0 writes the run folder)",
        file=sys.stderr,
    )
    return 1 if history.stop is StopReason.NONFINITE else 0


def cmd_eval(args) -> int:
    """metrics of a trained run on a split"""
    program = run_program(args)
    metrics = program.evaluate(args.split)
    if args.format == "json":
        print(json.dumps(metrics, indent=2))
    else:
        print(f"{args.split}: {fmt_metrics(metrics)}")
        if found := program.units(metrics):
            print(units_line(found))
    return 0


def cmd_predict(args) -> int:
    """predictions of a trained run for new inputs"""
    from ..runtime.inputfiles import check_output, read_named_inputs
    from ..runtime.named import write_predictions

    check_output(args.output)  # before anything is loaded
    program = run_program(args)
    out = program.predict(read_named_inputs(args.input, *feature_columns(program)))
    for line in write_predictions(out, args.output, sys.stdout):
        print(line, file=sys.stderr)
    if program.units():  # normalize_target: say that the numbers are not the scaled ones
        print("units: predictions in the targets' units (de-normalised)", file=sys.stderr)
    return 0


def feature_columns(program) -> tuple[list[str] | None, list[str]]:
    """The feature and target columns of the run's csv data (a header of `predict`'s CSV input is
    matched against them); (None, []) for other data, several inputs, or a file no longer there."""
    from ..runtime.datareport import feature_names

    try:
        spec = program.data_spec()
        if spec.source != "csv" or program.train_block.several:
            return None, []
        target = spec.args.get("target")
        targets = [target] if isinstance(target, str) else list(target or [])
        return feature_names(spec), [str(t) for t in targets]
    except (NncompileError, OSError, AttributeError, TypeError):
        return None, []


def cmd_sweep(args) -> int:
    """search `let` values: run a sweep block's trials"""
    from ..search import sweep

    result = sweep(
        spec_program(args),
        args.sweep,
        sets=overrides(args.set),
        out=args.out,
        epochs=args.epochs,
        report=lambda line: print(line, file=sys.stderr),
    )
    best = result.best
    if best is None or best.objective is None:
        print("no trial finished", file=sys.stderr)
        return 1
    values = ", ".join(f"{k}={v}" for k, v in best.values.items())
    print(
        f"best: trial {best.number} ({values}) {result.metric} {best.objective:.5g}\n"
        f"results: {result.out / 'trials.csv'}"
    )
    return 0


def cmd_export(args) -> int:
    """a trained run as a StableHLO inference function (jax.export)

    Serialize the trained model (normalisation, model, output activation; parameters baked in; any
    batch size) with jax.export. Reload it with jax alone."""
    from ..runtime.export import check_output, check_platforms

    platforms = check_platforms(args.platforms.split(","))  # before loading anything
    check_output(args.output)
    program = run_program(args)
    info = program.export(args.output, list(platforms))
    shape = ", ".join(map(str, info["input"]["shape"]))
    load = f"jax.export.deserialize(bytearray(open({str(args.output)!r}, 'rb').read())).call(x)"
    print(
        f"wrote {args.output} ({info['bytes']} bytes; input {info['input']['dtype']}[{shape}], "
        f"parameters baked in; platforms {', '.join(platforms)})\n  load with jax alone: {load}",
        file=sys.stderr,
    )
    return 0


def cmd_sample(args) -> int:
    """samples of a trained run: a GAN's images, text, generated sequences, a VAE's decodings"""
    from ..runtime.sampling import as_csv, check_output, load_latent, write

    check_output(args.output)  # before anything is loaded
    latent = None if args.latent is None else load_latent(args.latent)
    program = run_program(args)
    labels = None if args.label is None else [args.label]
    options = dict(temperature=args.temperature, prompt=args.prompt, seed=args.seed)
    options.update(grid=args.grid, latent=latent)
    result = program.sample(args.n, labels=labels, **options)
    if args.output:
        print(f"wrote {write(result, args.output)}", file=sys.stderr)
    else:
        print(as_csv(result), end="")
    return 0


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "train": (
        cmd_train,
        (
            *RUN_SPEC,
            *("epochs", "out", "force", "format", "quiet", "resume", "track", "cache", "devices"),
            "autotune",
            *HOST_FLAGS,
        ),
    ),
    "eval": (cmd_eval, (*RUN_SPEC, "run", "split", "format", "cache", "devices")),
    "predict": (cmd_predict, (*RUN_SPEC, "run", "input", "predictions", "cache", "devices")),
    "sweep": (cmd_sweep, ("file", "sweep", "set", "epochs", "out", "cache", "autotune")),
    "export": (cmd_export, (*RUN_SPEC, "run", "artifact", "platforms")),
    "sample": (cmd_sample, (*RUN_SPEC, "run", *SAMPLE_FLAGS, "source", "cache")),
}
