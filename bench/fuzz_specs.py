"""Generated specs, trained one step each: the nightly form of tests/test_lang_fuzz_specs.py.

    python bench/fuzz_specs.py --examples 2000 [--mode train|trace] [--seed N] [--out FILE]
                               [--form single|several|gan|decoder]

Draws valid specs from the strategy in tests/spec_strategy.py (the grammar's forms and every
registry entry; one input and output, several, GANs, encoder-decoders), checks each and trains it
one step: ``--mode train`` (the default) runs the real ``Program.fit`` for one epoch of one batch,
then predicts, samples or decodes as the program allows; ``--mode trace`` traces the step without
XLA compilation (what CI runs, hundreds of specs in about a minute). Every spec that ends in an
internal error (not a diagnostic; in train mode also a non-finite loss at the first step or
non-finite predictions) is written to ``--out`` (default bench/results/fuzz_specs_failures.txt)
with its traceback's last line; the exit status is 1 if there was one. Prints how many trained,
how many stopped with a diagnostic (by message) and the time per spec.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import spec_harness  # noqa: E402
import spec_strategy  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--mode", choices=("train", "trace"), default="train")
    parser.add_argument("--seed", type=int, default=None, help="default: a fresh random run")
    parser.add_argument("--form", choices=spec_strategy.FORMS, default=None, help="default: all")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "fuzz_specs_failures.txt")
    args = parser.parse_args(argv)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    failures: list[str] = []
    diagnostics: collections.Counter[str] = collections.Counter()
    counts = collections.Counter()
    start = time.perf_counter()

    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(spec_strategy.specs(args.form))
    def run(text: str) -> None:
        try:
            outcome = spec_harness.run_spec(text, args.mode)
        except spec_harness.InternalError as e:
            counts["internal error"] += 1
            failures.append(str(e))
            print(f"INTERNAL ERROR: {str(e).splitlines()[0]}", flush=True)
            return
        counts["trained" if outcome.trained else "diagnostic"] += 1
        if not outcome.trained:
            diagnostics[outcome.detail[:120]] += 1
        done = sum(counts.values())
        if done % 50 == 0:
            print(f"{done} specs, {dict(counts)}", flush=True)

    if args.seed is not None:  # a reproducible run
        run = seed(args.seed)(run)
    run()
    seconds = time.perf_counter() - start
    total = sum(counts.values())
    print(
        f"{total} specs in {seconds:.0f} s ({seconds / max(total, 1):.2f} s each): {dict(counts)}"
    )
    for message, n in diagnostics.most_common():
        print(f"  {n:4d} x diagnostic: {message}")
    if failures:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n\n=====\n\n".join(failures), encoding="utf-8")
        print(f"{len(failures)} internal errors, written to {args.out}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
