"""Language-server speed on check_speed's 200-statement spec: what one keystroke costs.

A keystroke changes one number in the middle of the model; the server then re-runs the front end
(parse + validate + shapes, exactly `check`), rebuilds its name index and converts the
diagnostics (`lsp.document.analyse_text` + `diagnostics`). Also timed: completion inside a call
and hover on a layer, on the same document. Target (issue 13): re-checked under 50 ms.

Both wall time and this process's CPU time are printed: on a shared machine the wall time
includes waiting for a core, the CPU time is the work itself.

    python bench/lsp_speed.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_speed import big_spec
from lsprotocol import types as lsp

from nncompile.lsp.complete import completions
from nncompile.lsp.document import analyse_text, diagnostics
from nncompile.lsp.hover import hover


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``fn(i)``."""
    wall, cpu = [], []
    for i in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn(i)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    text = big_spec(200)
    state = {"doc": analyse_text(text, "big.nn")}
    marker = "h50 = dense(width"

    def keystroke(i: int) -> None:
        edited = text.replace(marker, f"h50 = dense({64 + i % 7}", 1)
        state["doc"] = analyse_text(edited, "big.nn", state["doc"])
        diagnostics(state["doc"])

    def whole(i: int) -> None:  # the same without the previous tree: a whole parse each time
        edited = text.replace(marker, f"h50 = dense({64 + i % 7}", 1)
        diagnostics(analyse_text(edited, "big.nn"))

    rows = []
    for _ in range(2):  # interleaved, twice: the machine's load drifts
        rows.append(("re-check after a keystroke", *timed(keystroke, args.repeats)))
        rows.append(("  the same, whole parse", *timed(whole, args.repeats)))
    doc = analyse_text(text, "big.nn")
    before = text[: text.index(marker) + len("h50 = dense(")]
    rows.append(("completion in dense(", *timed(lambda i: completions(doc, before), args.repeats)))
    line = text[: text.index(marker)].count("\n")
    at = lsp.Position(line=line, character=8)
    rows.append(("hover on dense", *timed(lambda i: hover(doc, at), args.repeats)))
    statements = text.count("\n")
    print(f"{statements}-line spec, {args.repeats} repeats, medians")
    for name, wall, cpu in rows:
        print(f"  {name:28s} wall {wall:6.1f} ms   cpu {cpu:6.1f} ms")


if __name__ == "__main__":
    main()
