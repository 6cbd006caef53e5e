"""Transfer learning pays off: digits 5-9 from 10% of their training data, with and without the
features learned on digits 0-4.

For each seed: train specs/transfer_pretrain.nn (digits 0-4), then specs/transfer_finetune.nn
(`train main`: load `Features` from that run, frozen for the first epochs, then fine-tuned) and the
same model from random weights (`train scratch`, same recipe). Prints the test accuracy of each and
the means over the seeds. The seed sets the data split, the 10% subset, the initialisation and the
batch order (the same for the two fine-tune variants of one seed).

    python bench/transfer.py [--seeds 0 1 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"


def run(spec: Path, train: str, seed: int, save: Path | None = None) -> dict:
    import nncompile

    program = nncompile.compile(spec, train=train)
    program.config["seed"] = seed  # the CONFIG the data split and the Trainer read
    start = time.perf_counter()
    history = program.fit(log=lambda line: None)
    if save is not None:
        program.save(save)
    test = program.evaluate("test")
    return {
        "accuracy": test["accuracy"],
        "loss": test["loss"],
        "epochs": len(history.epochs),
        "train_examples": len(program.trainer.splits["train"][0]),
        "seconds": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(
            tmp
        )  # `init: checkpoint("runs/transfer_pretrain-main")` is relative to the working directory
        try:
            for seed in args.seeds:
                pre = run(
                    SPECS / "transfer_pretrain.nn",
                    "main",
                    seed,
                    save=Path("runs/transfer_pretrain-main"),
                )
                fine = run(SPECS / "transfer_finetune.nn", "main", seed)
                scratch = run(SPECS / "transfer_finetune.nn", "scratch", seed)
                results.append(
                    {"seed": seed, "pretrain": pre, "transfer": fine, "scratch": scratch}
                )
                print(
                    f"seed {seed}: pretrain (digits 0-4) {pre['accuracy']:.4f}   digits 5-9 from "
                    f"{fine['train_examples']} examples: transfer {fine['accuracy']:.4f}  scratch "
                    f"{scratch['accuracy']:.4f}",
                    flush=True,
                )
        finally:
            os.chdir(cwd)
    mean = {
        k: statistics.mean(r[k]["accuracy"] for r in results)
        for k in ("pretrain", "transfer", "scratch")
    }
    print(
        f"mean test accuracy over seeds {args.seeds}: transfer {mean['transfer']:.4f}  "
        f"scratch {mean['scratch']:.4f}  (pretrain on 0-4: {mean['pretrain']:.4f})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "mean": mean}, indent=2) + "\n")
    return 0 if mean["transfer"] > mean["scratch"] else 1


if __name__ == "__main__":
    sys.exit(main())
