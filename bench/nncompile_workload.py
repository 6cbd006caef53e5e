"""One benchmark run of nncompile on a reference workload; prints ONE JSON line like the
references.

    python bench/nncompile_workload.py --workload W1 [--variant api|cli] [--epochs N]

The specs are bench/specs/w{1..6}_*.nn (W4: own data, no references). The data are benchcommon's
(the same split and standardisation as the reference programs in ../shared/bench/), fed through
`Program.fit(data=...)`, so only the training code differs (W6, a GAN: every image, no test split;
quality = the last epoch's d_loss and g_loss).

Variants:
  api   `nncompile.compile(spec).fit(data=benchcommon arrays)`                       <- default
  cli   `nncompile train spec` in this process (the spec's own sklearn data; run folder in a temp
        dir): what a user types. Its times include parsing, code generation and data loading.

Timing follows benchcommon: steady-state throughput over epochs 2..N, where an epoch's time is the
interval between consecutive `on_epoch_end` callbacks (so everything the runtime does between two
epochs counts); time to first step (TTFS) = from the start of `fit` to the end of the runtime's
first training call, which is one step when a step callback is attached (as here: the runtime then
runs epochs in chunks, and the first chunk of a trainer is one step); `time_to_first_epoch_s` is
also reported; process start to first step = from the top of this script to the same moment. The
JAX compilation cache follows NNCOMPILE_CACHE / NNCOMPILE_CACHE_DIR (bench/run.py sets them per
run).
"""

import time

T_PROC0 = time.time()

import argparse  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
REFS = Path(os.environ.get("NNCOMPILE_BENCH_REFS", HERE.parents[1] / "shared" / "bench"))
sys.path.insert(0, str(REFS))
import benchcommon as bc  # noqa: E402

SPECS = {
    "W1": "w1_mlp.nn",
    "W2": "w2_cnn.nn",
    "W3": "w3_regression.nn",
    "W4": "w4_cnn28.nn",
    "W5": "w5_lstm.nn",
    "W6": "w6_gan.nn",
}


class Clock:
    """Callback: wall-clock marks at fit start, at the end of the first training call, and at
    every epoch end.

    With a step callback like this one (or the CLI's progress bar) the runtime's first training
    call is one step, as in the per-step reference programs, so `first` marks compilation plus one
    step."""

    def __init__(self):
        self.start = None
        self.ends = []
        self.first = None  # perf_counter at the end of the first training call (step or epoch)
        self.wall_first = None

    def on_fit_start(self, trainer, history):
        self.start = time.perf_counter()

    def _mark_first(self):
        if self.first is None:
            self.first, self.wall_first = time.perf_counter(), time.time()

    def on_step_end(self, trainer, epoch, step, steps):
        self._mark_first()

    def on_epoch_end(self, trainer, epoch, logs):
        self.ends.append(time.perf_counter())
        self._mark_first()

    def epoch_times(self):
        return [b - a for a, b in itertools.pairwise([self.start, *self.ends])]


def _no_ahead():
    from nncompile.runtime import loop

    loop.AHEAD_BELOW_S = 0.0


def _eager_build():
    from flax import nnx

    from nncompile.runtime import loop

    def build(program, seed, updates, epochs):
        model = program.make_model(seed)
        return model, nnx.Optimizer(model, program.make_optimizer(updates, epochs), wrt=nnx.Param)

    loop.build = build


def _copy_each_epoch():
    """What the runtime did before: copy the state every epoch (the rollback point of a donated
    epoch)."""
    from nncompile.runtime import loop

    plain = loop.Trainer._run_epoch

    def run_epoch(self, state, epoch, x, y):
        self._snapshots = self._fns.copy(state)
        return plain(self, state, epoch, x, y)

    loop.Trainer._run_epoch = run_epoch


def _native_conv():
    """nnx.Conv's own lax convolution on CPU too: the plan decides no im2col lowering."""
    from nncompile import plan

    plan.conv_lowering = lambda models: plan.Decision("none", "bench lever native-conv")


def _nnx_carry_order():
    from nncompile.runtime import compiled

    compiled.carry_order = lambda treedef: list(range(treedef.num_leaves))


def _fusion_emitters():
    """XLA:CPU's default (MLIR fusion) emitters for convolutional programs too."""
    from nncompile import plan

    plan.compiler_options = lambda model: plan.Decision({}, "bench lever fusion-emitters")


def _integer_label_ce():
    """optax's integer-label cross-entropy (a gather, whose gradient is a scatter) instead of
    one-hot rows (without label smoothing, which the workloads do not use)."""
    import dataclasses

    from nncompile.expr import call, t
    from nncompile.registry.losses import LOSSES

    entry = LOSSES["categorical_crossentropy"]
    plain = entry.lower
    assert plain is not None

    def lower(p, c):
        if c.one_hot:
            return plain(p, c)
        loss = call("optax.softmax_cross_entropy_with_integer_labels", c.outputs, c.y)
        return t("{loss}.mean()", loss=loss)

    LOSSES._entries[entry.name] = dataclasses.replace(entry, lower=lower)


def _whole_epoch_calls():
    """Every epoch one call of a scan of known length (no chunked loop, no first single step)."""
    from nncompile.runtime import loop

    loop.CHUNK_MIN_WORK = float("inf")


def _no_fuse():
    """One epoch per call: no fused blocks of tiny epochs (runtime.blocks)."""
    os.environ["NNCOMPILE_FUSE"] = "0"


LEVERS = {
    "no-fuse": _no_fuse,
    "fusion-emitters": _fusion_emitters,
    "integer-label-ce": _integer_label_ce,
    "whole-epoch-calls": _whole_epoch_calls,
    "no-ahead": _no_ahead,
    "eager-build": _eager_build,
    "copy-each-epoch": _copy_each_epoch,
    "native-conv": _native_conv,
    "nnx-carry-order": _nnx_carry_order,
}


def own_workload(program) -> dict:
    """A workload without reference programs (W4): the spec's own data, split and batching."""
    splits = program.load_data().splits
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    batch = int(program.module.CONFIG["batch_size"])
    return {
        "task": "cls",
        "batch": batch,
        "epochs": int(program.module.CONFIG["epochs"]),
        "steps_per_epoch": len(x_train) // batch,
        "x_train": x_train,
        "y_train": y_train,
        "x_test": x_test,
        "y_test": y_test,
        "y_mean": 0.0,
        "y_std": 1.0,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="W1", choices=sorted(SPECS))
    ap.add_argument("--variant", default="api", choices=["api", "api-step", "cli"])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument(
        "--strategy", choices=["scan", "step"], default=None, help="override CONFIG['strategy']"
    )
    ap.add_argument(
        "--lever",
        action="append",
        default=[],
        choices=sorted(LEVERS),
        help="undo one optimisation, to measure what it buys (bench/levers.py)",
    )
    args = ap.parse_args()
    for name in args.lever:
        LEVERS[name]()
    spec = HERE / "specs" / SPECS[args.workload]
    clock = Clock()
    if args.workload == "W5":  # the spec's npz (generated, not committed)
        sys.path.insert(0, str(HERE))
        import w5_data

        w5_data.ensure()

    if args.variant == "cli":
        from nncompile import api, cli

        plain = api.Program.trainer_for

        def trainer_for(self, splits, *, callbacks=(), **kwargs):
            # observe (and with --strategy, set the strategy the trainer is built with)
            if args.strategy:
                self.module.CONFIG["strategy"] = args.strategy
            return plain(self, splits, callbacks=[*callbacks, clock], **kwargs)

        api.Program.trainer_for = trainer_for
        with tempfile.TemporaryDirectory() as out:
            argv = ["train", str(spec), "--quiet", "--out", out]
            if args.epochs:
                argv += ["--epochs", str(args.epochs)]
            import contextlib
            import io

            sys.argv = ["nncompile", *argv]  # main() without argv: as the command runs
            with contextlib.redirect_stdout(io.StringIO()):
                rc = cli.main()
            if rc != 0:
                raise SystemExit(f"nncompile train exited {rc}")
            import json

            summary = json.loads((Path(out) / "summary.json").read_text())
        # for the batch and task; quality comes from the run's own test split
        w = (
            bc.load_workload(args.workload)
            if args.workload in bc.WORKLOADS
            else {"task": "cls", "batch": None}
        )
        times = clock.epoch_times()
        w["steps_per_epoch"] = summary["steps_per_epoch"]
        w["examples_per_epoch"] = summary["examples_per_epoch"]
        w["batch"] = w["batch"] or summary["examples_per_epoch"] // max(
            summary["steps_per_epoch"], 1
        )
        test = summary.get("test", {})
        res_extra = {"cli_test": test, "strategy": summary.get("strategy")}
        # emit() wants predictions; report the run's own test metrics instead
        pred = None
        final_loss = float("nan")
    else:
        import nncompile.api as api

        program = api.compile(spec)
        if args.variant == "api-step":
            args.strategy = "step"
        w = (
            bc.load_workload(args.workload)
            if args.workload in bc.WORKLOADS
            else own_workload(program)
        )
        if w["task"] == "gan":  # every image is training data; no test split
            data = {"train": (w["x_train"], None)}
        else:
            data = {"train": (w["x_train"], w["y_train"]), "test": (w["x_test"], w["y_test"])}
        if args.strategy:  # a measurement knob, not the default path
            program.module.CONFIG["strategy"] = args.strategy
        history = program.fit(
            data, epochs=args.epochs or w["epochs"], callbacks=[clock], log=lambda line: None
        )
        trainer = program.trainer
        times = clock.epoch_times()
        if w["task"] == "gan":
            # as ../shared/bench/f_nncompile.py: the seconds the trainer logs per epoch (start to
            # its host sync), without the sample grid drawn (and compiled) after the last epoch
            clock_times = times
            times = [e["seconds"] for e in history.epochs]
        w["examples_per_epoch"] = history.examples_per_epoch
        w["steps_per_epoch_actual"] = history.steps_per_epoch
        last = history.epochs[-1]
        if w["task"] == "gan":
            pred, final_loss = None, (last["d_loss"], last["g_loss"])
        else:
            pred, final_loss = trainer.predict(w["x_test"]), last["loss"]
        res_extra = {
            "clock_epoch_times_s": [round(t, 6) for t in clock_times]
            if w["task"] == "gan"
            else None,
            "strategy": trainer.strategy,
            "tuning": getattr(trainer, "tuning", None),  # runtime.autotune's choice, if any
            "compile_count": getattr(trainer, "compile_count", None),
            "traces": dict(trainer.traces),
        }

    epochs = len(times)
    ttfs = clock.first - clock.start
    res_extra["time_to_first_epoch_s"] = times[0]
    extra = {
        "cache": os.environ.get("NNCOMPILE_CACHE", "1"),
        "levers_undone": args.lever,
        **res_extra,
    }
    if args.variant == "cli":
        import json

        res = {
            "impl": "nncompile",
            "variant": args.variant,
            "workload": args.workload,
            "epochs": epochs,
            "batch": w["batch"],
            "steps_per_epoch": w["steps_per_epoch"],
            "time_to_first_step_s": ttfs,
            "process_start_to_first_step_s": clock.wall_first - T_PROC0,
            "final_train_loss": final_loss,
            "flops_per_example": bc.flops_per_example(args.workload)
            if args.workload in bc.WORKLOADS
            else None,
        }
        res.update(bc.summarize(w, times))
        test = extra.pop("cli_test")
        if w["task"] == "gan":
            final = summary.get("final") or {}
            res["final_d_loss"], res["final_g_loss"] = final.get("d_loss"), final.get("g_loss")
        elif w["task"] == "reg" and "loss" in test:  # mse loss on the spec's own standardised split
            res["test_mse_std"] = test["loss"]
            res["test_mse"] = test["loss"] * w["y_std"] ** 2
        res["peak_rss_mib"] = bc.peak_rss_mib()
        res["total_wall_s"] = time.time() - T_PROC0
        res["epoch_times_s"] = [round(t, 6) for t in times]
        res["threads"] = bc.thread_info()
        res["versions"] = bc.versions()
        res.update(extra)
        print(json.dumps(res), flush=True)
        return
    if args.workload not in bc.WORKLOADS:  # no reference FLOP count: benchcommon's emit() needs one
        import json

        res = {
            "impl": "nncompile",
            "variant": args.variant,
            "workload": args.workload,
            "epochs": epochs,
            "batch": w["batch"],
            "steps_per_epoch": w["steps_per_epoch"],
            "time_to_first_step_s": ttfs,
            "process_start_to_first_step_s": clock.wall_first - T_PROC0,
            "final_train_loss": final_loss,
            **bc.summarize(w, times),
            **bc.metrics(w, pred),
            "peak_rss_mib": bc.peak_rss_mib(),
            "total_wall_s": time.time() - T_PROC0,
            "epoch_times_s": [round(t, 6) for t in times],
            "threads": bc.thread_info(),
            "versions": bc.versions(),
            **extra,
        }
        print(json.dumps(res), flush=True)
        return
    bc.emit(
        "nncompile",
        args.variant,
        args.workload,
        w,
        epochs,
        T_PROC0,
        ttfs,
        clock.wall_first,
        times,
        pred,
        final_loss,
        extra,
    )


if __name__ == "__main__":
    main()
