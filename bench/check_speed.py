"""Front-end speed: parse + validate + shapes of a 200-statement spec, and `nncompile check` cold
start.

Targets (issue 2): < 50 ms for the 200-statement spec; cold start < 0.3 s wall. Cold start is
reported next to `python -c pass` measured in the same run, since absolute times vary by machine.

    python bench/check_speed.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def big_spec(statements: int = 200) -> str:
    lines = [
        "let width = 64",
        'data d { source: sklearn("digits")  split: {train: 0.8, val: 0.1, test: 0.1} }',
        "model Big {",
        "  input x: [64]",
        "  h0 = dense(width, activation=relu)",
    ]
    previous = "h0"
    for i in range(1, (statements - 2) // 2 + 1):
        lines.append(f"  h{i} = dense(width, activation=relu, init=he_normal)({previous})")
        lines.append(f"  s{i} = add(h{i}, {previous})")
        previous = f"s{i}"
    lines += [
        "  dense(10, activation=softmax)",
        "}",
        "train { model: Big  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-3)",
        "        metrics: [accuracy]  early_stopping: {monitor: val_loss, patience: 3} }",
    ]
    return "\n".join(lines) + "\n"


def time_front_end(text: str, repeats: int) -> list[float]:
    from nncompile.compiler import analyse
    from nncompile.source import Source

    analyse(Source(text, "big.nn"))  # warm: grammar loaded, registries imported
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        program, diagnostics = analyse(Source(text, "big.nn"))
        times.append(time.perf_counter() - start)
        assert program is not None, diagnostics
    return times


def cold(command: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    text = big_spec()
    statements = sum(1 for line in text.splitlines() if line.startswith("  "))
    warm = time_front_end(text, args.repeats)
    spec = Path(__file__).resolve().parents[1] / "specs" / "digits_mlp.nn"
    with tempfile.TemporaryDirectory() as tmp:
        if not spec.exists():
            spec = Path(tmp) / "big.nn"
            spec.write_text(text)
        check = cold(
            [sys.executable, "-m", "nncompile", "check", str(spec)], max(5, args.repeats // 2)
        )
        baseline = cold([sys.executable, "-c", "pass"], max(5, args.repeats // 2))
    med = statistics.median
    print(
        f"front end, {statements}-statement spec: median {med(warm) * 1e3:.1f} ms "
        f"(min {min(warm) * 1e3:.1f}, max {max(warm) * 1e3:.1f}; target < 50 ms)"
    )
    print(
        f"cold start `nncompile check {spec.name}`: median {med(check):.3f} s "
        f"(python -c pass: {med(baseline):.3f} s; target < 0.3 s)"
    )


if __name__ == "__main__":
    main()
