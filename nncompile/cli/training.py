"""Commands that train and use trained runs: train, eval, predict, sweep, export, sample."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import SPEC, compiled_program, fmt_metrics, overrides, spec_program
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
    from ..runtime.progress import Progress

    program = compiled_program(args)
    program.devices = args.devices

    def log(line: str) -> None:  # notes (not with --quiet) and warnings (always)
        if line.startswith("warning: "):
            print(line, file=sys.stderr)
        elif not args.quiet:
            print(f"note: {line}", file=sys.stderr)

    run_dir = Path(args.out) if args.out else Path("runs") / program.name
    several = several_hosts(program, args)  # a multi-host run: process 0 writes the run folder
    if not primary():
        return train_along(program, args, log)
    history = program.fit(
        epochs=args.epochs,
        callbacks=[Progress(quiet=args.quiet or args.format == "json")],
        log=log,
        run_dir=None if several else run_dir,
        resume=args.resume,
    )
    run = program.save(run_dir)
    summary = json.loads((run / "summary.json").read_text())
    if args.format == "json":
        print(json.dumps({"run": str(run), **summary}, indent=2))
    else:
        if summary.get("test"):
            print(f"test: {fmt_metrics(summary['test'])}")
        print(f"run folder: {run}")
    if history.stop is StopReason.INTERRUPTED:
        done = program.trainer.epochs_done
        if done:
            again = " ".join(
                [
                    "nncompile train",
                    args.file,
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


def several_hosts(program, args) -> bool:
    """Whether this is a multi-host run; what such a run cannot do yet is refused by every process
    before anything is trained: checkpoints and resuming (process 0 alone cannot write them yet)."""
    import jax

    from ..errors import NncompileError

    if jax.process_count() == 1:
        return False
    if args.resume:
        raise NncompileError(
            "--resume in a multi-host run: not supported yet",
            "resume on one host (any device count): nncompile train FILE --resume --out DIR",
        )
    if program.run_config.checkpoint is not None:
        raise NncompileError(
            "`checkpoint:` in a multi-host run: not supported yet (the run folder is written at "
            "the end)",
            "remove `checkpoint:` for multi-host runs, or train on one host (any device count)",
        )
    return True


def train_along(program, args, log) -> int:
    """Process 1.. of a multi-host run: trains its part of every batch, writes nothing."""
    import jax

    from ..runtime.history import StopReason

    history = program.fit(epochs=args.epochs, log=log)
    if "test" in program.trainer.splits:  # process 0's save evaluates it: the same collectives
        program.evaluate("test")
    print(
        f"process {jax.process_index()}: trained {len(history.epochs)} epochs (process 0 writes "
        "the run folder)",
        file=sys.stderr,
    )
    return 1 if history.stop is StopReason.NONFINITE else 0


def cmd_eval(args) -> int:
    """metrics of a trained run on a split"""
    program = compiled_program(args)
    program.devices = args.devices
    metrics = program.load(args.run).evaluate(args.split)
    print(
        json.dumps(metrics, indent=2)
        if args.format == "json"
        else f"{args.split}: {fmt_metrics(metrics)}"
    )
    return 0


def cmd_predict(args) -> int:
    """predictions of a trained run for new inputs"""
    from ..runtime.named import read_named_inputs, write_predictions

    program = compiled_program(args)
    program.devices = args.devices
    out = program.load(args.run).predict(read_named_inputs(args.input))
    for line in write_predictions(out, args.output, sys.stdout):
        print(line, file=sys.stderr)
    return 0


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
    program = compiled_program(args).load(args.run)
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
    """samples of a trained run: a GAN's images, text, generated sequences"""
    from ..runtime.sampling import as_csv, check_output, write

    check_output(args.output)  # before anything is loaded
    program = compiled_program(args).load(args.run)
    labels = None if args.label is None else [args.label]
    options = dict(temperature=args.temperature, prompt=args.prompt, seed=args.seed)
    result = program.sample(args.n, labels=labels, **options)
    if args.output:
        print(f"wrote {write(result, args.output)}", file=sys.stderr)
    else:
        print(as_csv(result), end="")
    return 0


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "train": (
        cmd_train,
        (*SPEC, "epochs", "out", "format", "quiet", "resume", "cache", "devices", *HOST_FLAGS),
    ),
    "eval": (cmd_eval, (*SPEC, "run", "split", "format", "cache", "devices")),
    "predict": (cmd_predict, (*SPEC, "run", "input", "predictions", "cache", "devices")),
    "sweep": (cmd_sweep, ("file", "sweep", "set", "epochs", "out", "cache")),
    "export": (cmd_export, (*SPEC, "run", "artifact", "platforms")),
    "sample": (cmd_sample, (*SPEC, "run", *SAMPLE_FLAGS, "source", "cache")),
}
