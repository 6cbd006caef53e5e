"""Keras parity: eight models a Keras user writes, each as Keras 3 code (JAX backend,
bench/keras_parity_models.py) and as a `.nn` spec (bench/specs/parity/), trained on the SAME rows
in both and compared: the test metrics and examples/s.

Same rows: the worker compiles the spec and loads its data block (`Program.load_data()`: the split,
the normalisation with train statistics, the reshape); nncompile trains on it with
`Program.fit()`, Keras with `model.fit` on those very arrays (`validation_data` = the val split).
Same epochs, batch size, optimizer (Adam with epsilon 1e-8 on both sides), loss and loss weights.
Different: initial weights and batch order (each framework's own RNG), and Keras keeps the last
partial batch of an epoch where nncompile drops it (`drop_remainder`): each side's examples/s
counts the examples it trained on.

Scores are computed here, from each side's predictions on the test split, by one function per
workload, so both sides are measured by the same code (not by their own metric implementations).

Timing: `fit_s` is the wall time of the fit call (Keras' `model.fit`, nncompile's `Program.fit`:
compilation included); `steady_eps` is the examples of an epoch over the median epoch wall time
after the first epoch (training and validation, as both record them). nncompile's persistent
compilation cache is off (`NNCOMPILE_CACHE=0`), as Keras has none by default. Every (workload,
side) runs in a fresh process; the two sides alternate order per repetition.

    KERAS_BACKEND=jax PYTHONPATH=$PWD /work/benchvenv/bin/python bench/keras_parity.py \
        [--only multi_io,cgan] [--reps 1] [--out bench/results/keras_parity.jsonl]
    python bench/keras_parity.py --table bench/results/keras_parity.jsonl    # the markdown table
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs" / "parity"
WORKLOADS = {  # name -> (spec, train block, what it shows)
    "multi_io": ("multi_io.nn", None, "2 inputs, regression + classification heads, loss weights"),
    "seq2seq": ("seq2seq.nn", None, "LSTM encoder-decoder, teacher forcing, greedy decoding"),
    "conv_autoencoder": ("conv_autoencoder.nn", None, "Conv2D / Conv2DTranspose / UpSampling2D"),
    "transformer": ("transformer.nn", None, "token embedding + positions, pre-norm block"),
    "cgan": ("cgan.nn", "gan", "conditional GAN (Keras: custom JAX train_step)"),
    "regularized_mlp": ("regularized_mlp.nn", None, "L2 + Dropout + EarlyStopping + plateau"),
    # a spec of specs/ (an absolute path: SPECS / path is that path)
    "class_weight": (
        str(HERE.parent / "specs" / "imbalanced_digits.nn"),
        None,
        "imbalanced binary (2.6% positives): class_weight balanced vs fit(class_weight=...)",
    ),
    "vae": (
        str(HERE.parent / "specs" / "digits_vae.nn"),
        None,
        "variational autoencoder: gaussian_sample vs a Sampling layer with add_loss (KL)",
    ),
    "sample_weight": (
        "sample_weight.nn",
        None,
        "regression with per-row inverse-variance weights: npz sample_weight vs "
        "fit(sample_weight=...)",
    ),
}
SIDES = ("keras", "nncompile")


# ---- scores (one definition for both sides) ------------------------------------------------------
def score(name: str, trained, splits: dict) -> dict:
    if name == "cgan":
        return cgan_score(trained.generate, splits)
    x, y = splits["test"]
    out = trained.predict(x)
    if name == "multi_io":
        prog, high = (np.asarray(out[k]).reshape(-1) for k in ("progression", "high"))
        return {
            "progression_mae": float(np.abs(prog - np.reshape(y["progression"], -1)).mean() * 100),
            "high_accuracy": float(((high > 0.5) == (np.reshape(y["high"], -1) == 1)).mean()),
        }
    if name == "seq2seq":
        token = float((np.asarray(out).argmax(-1) == y).mean())
        decoded = trained.decode({"source": x["source"]})
        return {"token_accuracy": token, "greedy_exact": float((decoded == y).all(-1).mean())}
    if name == "sample_weight":  # test errors, plain and weighed by the rows' weights
        err = (np.asarray(out).reshape(-1) - np.reshape(y, -1)) ** 2
        w = splits["weights"]["test"]
        return {"mse": float(err.mean()), "weighted_mse": float((err * w).sum() / w.sum())}
    if name in ("conv_autoencoder", "vae"):
        return {"mse": float(((np.asarray(out) - y) ** 2).mean())}
    if name == "class_weight":  # the rare class 1: its recall and precision
        said, real = np.asarray(out).reshape(-1) > 0.5, np.reshape(y, -1) == 1
        return {
            "accuracy": float((said == real).mean()),
            "recall": float(said[real].mean()),
            "precision": float(real[said].mean()) if said.any() else 0.0,
        }
    return {"accuracy": float((np.asarray(out).argmax(-1) == np.reshape(y, -1)).mean())}


def cgan_score(generate, splits: dict) -> dict:
    """A classifier of real digits (logistic regression on the training images) reads 100
    generated images of each class: the share it gives the class the generator was asked for."""
    from sklearn.linear_model import LogisticRegression

    images, labels = splits["train"]
    judge = LogisticRegression(max_iter=3000).fit(images, labels)
    wanted = np.repeat(np.arange(10), 100)
    made = np.asarray(generate(wanted)).reshape(len(wanted), -1)
    return {
        "class_accuracy": float((judge.predict(made) == wanted).mean()),
        "pixel_mean_gap": float(abs(made.mean() - images.mean())),
    }


# ---- one side in this process --------------------------------------------------------------------
class NncTrained:
    def __init__(self, program):
        self.program = program

    def predict(self, x):
        return self.program.predict(x, raw=False)

    def decode(self, x):
        return self.program.decode(x, raw=False)

    def generate(self, wanted):
        return self.program.sample(len(wanted), labels=wanted).values


def single(y):
    """A one-output model's targets as an array (several inputs make `y` a dict of one)."""
    return next(iter(y.values())) if isinstance(y, dict) and len(y) == 1 else y


def worker(name: str, side: str, seed: int) -> dict:
    import nncompile

    spec, train, _ = WORKLOADS[name]
    t0 = time.perf_counter()
    text = (SPECS / spec).read_text()  # the train block's seed (the split's and the weights')
    text = re.sub(r"\bseed:(\s*)0\b", lambda m: f"seed:{m.group(1)}{seed}", text)
    program = nncompile.compile(text=text, path=str(SPECS / spec), train=train)
    dataset = program.load_data()
    splits: dict = {k: (x, single(y)) for k, (x, y) in dataset.splits.items()}
    if dataset.weights is not None:  # the data's sample weights, per split (both sides)
        splits["weights"] = dataset.weights
    load_s = time.perf_counter() - t0
    extra: dict = {}
    if side == "nncompile":
        t0 = time.perf_counter()
        history = program.fit(verbose=False)
        fit_s = time.perf_counter() - t0
        trained = NncTrained(program)
        seconds = [float(e["seconds"]) for e in history.epochs]
        examples, epochs = history.examples_per_epoch, len(history.epochs)
        last = history.epochs[-1]
        extra = {k: float(v) for k, v in last.items() if k in ("lr", "d_loss", "g_loss")}
        if history.best_epoch is not None:
            extra["best_epoch"] = history.best_epoch
        if name == "vae":  # the test KL term, as the Keras side computes it (nats per example)
            extra["kl"] = float(program.evaluate("test")["kl_loss"])
    else:
        import keras_parity_models as K

        t0 = time.perf_counter()
        trained = K.BUILDERS[name](splits, seed)
        fit_s = time.perf_counter() - t0
        seconds, examples, epochs = (
            trained.epoch_seconds,
            trained.examples_per_epoch,
            trained.epochs,
        )
        extra = trained.extra
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    return {
        "workload": name,
        "side": side,
        "seed": seed,
        "epochs": epochs,
        "examples_per_epoch": int(examples),
        "fit_s": round(fit_s, 3),
        "first_epoch_s": round(seconds[0], 3),
        "steady_eps": round(examples / steady, 1),
        "mean_eps": round(examples * (len(seconds) - 1) / max(sum(seconds[1:]), 1e-9), 1),
        "load_s": round(load_s, 3),
        **{k: round(v, 5) for k, v in score(name, trained, splits).items()},
        **extra,
        "epoch_s": [round(v, 3) for v in seconds],
    }


# ---- the driver: fresh processes, interleaved ----------------------------------------------------
def run_one(name: str, side: str, seed: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "jax", "NNCOMPILE_CACHE": "0"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), str(HERE)) if p)
    cmd = [sys.executable, str(Path(__file__)), "--worker", name, "--side", side]
    done = subprocess.run([*cmd, "--seed", str(seed)], env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"workload": name, "side": side, "error": done.stderr.strip()[-2000:]}
    return json.loads(lines[-1])


def per_seed(rows: list[dict], key: str) -> str:
    return " / ".join(f"{r[key]:.4g}" for r in rows)


def table(rows: list[dict]) -> str:
    """Per (workload, side): each seed's scores and epochs (`a / b`: seed 0 / seed 1 ...; one value
    per seed, the runs of a seed give the same scores), the median fit time and steady examples/s
    over every run, and the ratio of the medians."""
    out = [
        "| workload | side | runs | epochs | scores (test; per seed) | fit s | steady examples/s "
        "| steady ratio nn/keras |",
        "|---|---|---|---|---|---|---|---|",
    ]
    skip = {"workload", "side", "epochs", "examples_per_epoch", "fit_s", "first_epoch_s",
            "steady_eps", "mean_eps", "load_s", "error", "rep", "epoch_s", "seed"}  # fmt: skip
    for name in WORKLOADS:
        found = {}
        for side in SIDES:
            got = [
                r for r in rows if r["workload"] == name and r["side"] == side and "error" not in r
            ]
            if got:
                found[side] = got
        for side, got in found.items():
            seeds = sorted({r.get("seed", 0) for r in got})
            first = [next(r for r in got if r.get("seed", 0) == s) for s in seeds]
            keys = [k for k in first[0] if k not in skip and isinstance(first[0][k], (int, float))]
            scores = ", ".join(f"{k} {per_seed(first, k)}" for k in keys)
            steady = statistics.median(r["steady_eps"] for r in got)
            ratio = ""
            if side == "nncompile" and "keras" in found:
                base = statistics.median(r["steady_eps"] for r in found["keras"])
                ratio = f"{steady / base:.2f}x"
            out.append(
                f"| {name} | {side} | {len(got)} | {per_seed(first, 'epochs')} | {scores} "
                f"| {statistics.median(r['fit_s'] for r in got):.1f} | {steady:.0f} | {ratio} |"
            )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated workloads (default: all)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results" / "keras_parity.jsonl"))
    ap.add_argument("--table", metavar="JSONL", help="print the markdown table of a results file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.side, args.seed)), flush=True)
        return
    if args.table:
        rows = [json.loads(line) for line in Path(args.table).read_text().splitlines() if line]
        print(table(rows))
        return
    names = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workload(s) {unknown}; known: {', '.join(WORKLOADS)}")
    rows = []
    with open(args.out, "a") as out:
        for rep in range(args.reps):
            for name in names:
                order = SIDES if rep % 2 == 0 else SIDES[::-1]
                for side in order:
                    row = {**run_one(name, side, args.seed), "rep": rep}
                    print(json.dumps(row), flush=True)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()
