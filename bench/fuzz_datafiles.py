"""Generated data files under small specs: what `check` says of them, and what training then does.

    python bench/fuzz_datafiles.py --examples 500 [--mode trace|train] [--seed N] [--out FILE]

Draws an npz archive (arrays of any dtype numpy stores: floats with NaN, negative or huge integers,
booleans, complex, text, objects; any shape, zero rows, lengths that differ, other names, members
that are no .npy, compressed or cut short, a single .npy, garbage) or a csv file (missing, text or
empty cells, another delimiter, duplicate or missing columns, NUL bytes, non-UTF-8 bytes), and a
small spec reading it (a float or int input of a drawn shape, a classification, binary or
regression head, `one_hot`, `target: input`, `pad`, `classes`, a validation split). Each spec is
checked; one that passes is compiled and trained one step (``--mode trace``: traced, no XLA;
``train``: one real epoch, as bench/fuzz_specs.py). An exception that is no diagnostic (not an
NncompileError) after `check` passed is an internal error, written to ``--out`` (default
bench/results/fuzz_datafiles_failures.txt) with the spec and the files; the exit status is then 1.
Also prints the data errors that loading found after `check` passed (what check could catch).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DTYPES = ["float64", "float32", "float16", "int64", "int32", "uint8", "int8", "bool", "complex64"]
ODD = ["object", "str", "datetime64[s]", "void"]
XNAMES = ['x="notes.txt"', 'x="feature"']


def rare(draw, n: int) -> bool:
    """True about once in n + 1 draws (hypothesis prefers the first of sampled values)."""
    return draw(st.sampled_from([False] * n + [True]))


def array(draw, rows: int, shape: tuple[int, ...], ids: bool) -> np.ndarray:
    usual = ["int64", "int32", "uint8"] if ids else ["float64", "float32"]
    pool = DTYPES + ODD if rare(draw, 3) and rare(draw, 2) else DTYPES if rare(draw, 3) else usual
    kind = draw(st.sampled_from(pool))
    size = (rows, *shape)
    if kind == "object":
        return np.array([None] * max(rows, 1), dtype=object)[:rows].reshape(rows, *([1] * 0))
    if kind == "str":
        return np.full(size, "a")
    if kind == "datetime64[s]":
        return np.zeros(size, dtype=kind)
    if kind == "void":
        return np.zeros(size, dtype="V4")
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    values = rng.integers(0, 4, size) if ids else rng.normal(size=size)
    if rare(draw, 11) and values.size:  # an odd value
        odd = draw(st.sampled_from([np.nan, np.inf, -1, 2**40, 1e30]))
        values = values.astype(np.float64)
        values.flat[0] = odd
    return values.astype(kind) if kind != "complex64" else values.astype(np.complex64)


@st.composite
def npz_files(draw, folder: Path) -> tuple[str, str]:
    """An archive in `folder` and the npz(...) call that reads it."""
    rows = draw(st.sampled_from([12, 12, 12, 12, 1, 2, 0]))
    shape = draw(st.sampled_from([(3,), (3,), (5,), (3, 1), (), (2, 3)]))
    x = array(draw, rows, shape, rare(draw, 4))
    arrays = {draw(st.sampled_from(["x", "x", "features"])): x}
    target = draw(st.sampled_from(["ids", "ids", "values", "steps", "cube", "none"]))
    yrows = draw(st.sampled_from([rows + 1, 1, 0])) if rare(draw, 5) else rows
    if target != "none":
        yshape = {"ids": (), "values": draw(st.sampled_from([(), (1,), (3,)])), "steps": (4,)}
        y = array(draw, yrows, yshape.get(target, (2, 2)), target in ("ids", "steps", "cube"))
        arrays[draw(st.sampled_from(["y", "y", "labels"]))] = y
    path = folder / "d.npz"
    save = np.savez_compressed if draw(st.booleans()) else np.savez
    form = draw(st.sampled_from(["archive"] * 16 + ["extra", "cut", "single", "garbage"]))
    if form == "single":
        with open(path, "wb") as f:
            np.save(f, x, allow_pickle=True)
    elif form == "garbage":
        path.write_bytes(draw(st.binary(max_size=64)))
    else:
        save(path, **arrays)  # type: ignore[arg-type]
        if form == "extra":
            with zipfile.ZipFile(path, "a") as archive:
                archive.writestr("notes.txt", "not an array")
        elif form == "cut":
            data = path.read_bytes()
            path.write_bytes(data[: draw(st.integers(0, len(data)))])
    args = [""]
    odd = rare(draw, 9)
    if "features" in arrays:
        args.append('x="features"' if not odd else draw(st.sampled_from(XNAMES)))
    if "labels" in arrays:
        args.append('y="labels"' if not odd else 'y="label"')
    elif odd:
        args.append('y="notes.txt"')
    kind = "int" if x.dtype.kind in "iu" else ""
    declared = f"{kind}[{', '.join(map(str, x.shape[1:] or (1,)))}]"
    return declared, 'npz("d.npz"' + ", ".join(args) + ")"


@st.composite
def csv_files(draw, folder: Path) -> tuple[str, str]:
    columns = draw(
        st.sampled_from([["a", "b", "c", "label"]] * 4 + [["a", "label"], ["a", "a", "label"]])
    )
    delimiter = draw(st.sampled_from([",", ",", ";"]))
    lines = [delimiter.join(columns)]
    cell = st.sampled_from(["1", "2", "0", "3", "0.5", "", "x", "nan", "-1", "1e9"])
    easy = st.sampled_from(["1", "2", "0", "3"])
    for _ in range(draw(st.sampled_from([12, 12, 12, 1, 0]))):
        values = [draw(cell if rare(draw, 29) else easy) for _ in columns]
        if rare(draw, 30):
            values = values[:-1]
        lines.append(delimiter.join(values))
    data = ("\n".join(lines) + "\n").encode()
    if rare(draw, 15):
        data = data.replace(b"1", draw(st.sampled_from([b"\x00", b"\xff"])), 1)
    (folder / "d.csv").write_bytes(data)
    targets = ['"label"'] * 6 + ['"lab"', '["a", "label"]', '{y: "label"}']
    target = draw(st.sampled_from(targets))
    extra = draw(st.sampled_from(["", "", "", ", tokens=true", ", task=regression"]))
    sep = f', delimiter="{delimiter}"' if delimiter != "," and not rare(draw, 5) else ""
    features = len(columns) - (2 if target.startswith("[") else 1)
    declared = f"{'int' if 'tokens' in extra else ''}[{features}]"
    return declared, f'csv("d.csv", target={target}{extra}{sep})'


WHERE: dict[str, str] = {}  # "folder": where the cases' folders go (default: the temp folder)
HEADS = [
    ("dense(4, activation=softmax)", "categorical_crossentropy", "[accuracy]"),
    ("dense(1, activation=sigmoid)", "binary_crossentropy", "[accuracy]"),
    ("dense(1)", "mse", "[mae]"),
    ("dense(3)", "mse", "[]"),
]


NAMED = """\
data d { source: npz("d.npz", x=["a", "b"], y=["c", "v"])  SPLIT }
model M {
  input a: SHAPE_A
  input b: SHAPE_B
  h = concat(a, b)
  c = dense(3, activation=softmax)(h)
  v = dense(2)(h)
  output c, v
}
train { model: M  data: d  loss: {c: categorical_crossentropy, v: mse}  epochs: 1  batch_size: 4 }
"""


def declaration(a: np.ndarray) -> str:
    """An input declaration for the examples of `a`."""
    return f"{'int' if a.dtype.kind in 'iu' else ''}[{', '.join(map(str, a.shape[1:] or (1,)))}]"


@st.composite
def named_case(draw, folder: Path) -> str:
    """An archive of named arrays (two inputs, class ids and regression targets) and its spec."""
    rows = draw(st.sampled_from([12] * 4 + [1, 0]))
    odd = lambda: draw(st.sampled_from([rows + 1, 1, 0])) if rare(draw, 9) else rows
    arrays = {
        "a": array(draw, odd(), draw(st.sampled_from([(3,)] * 3 + [(2,), ()])), rare(draw, 6)),
        "b": array(draw, odd(), draw(st.sampled_from([(2,)] * 3 + [(2, 2)])), False),
        "c": array(draw, odd(), draw(st.sampled_from([()] * 4 + [(1,), (2,), (2, 2)])), True),
        "v": array(draw, odd(), draw(st.sampled_from([(2,)] * 4 + [(), (3,)])), rare(draw, 6)),
    }
    if rare(draw, 9):
        del arrays[draw(st.sampled_from(sorted(arrays)))]
    np.savez(folder / "d.npz", **arrays)  # type: ignore[arg-type]
    shapes = ["[3]", "[2]", "int[3]", "[2, 2]"]
    a, b = (
        draw(st.sampled_from(shapes))
        if rare(draw, 6) or k not in arrays
        else declaration(arrays[k])
        for k in "ab"
    )
    split = draw(st.sampled_from(["split: {train: 1}", "split: {train: 0.5, val: 0.5}"]))
    return NAMED.replace("SPLIT", split).replace("SHAPE_A", a).replace("SHAPE_B", b)


@st.composite
def cases(draw) -> tuple[Path, str]:
    folder = Path(tempfile.mkdtemp(prefix="nncompile-datafuzz-", dir=WHERE.get("folder")))
    if rare(draw, 3):
        spec = draw(named_case(folder))
        (folder / "s.nn").write_text(spec, encoding="utf-8")
        return folder, spec
    declared, source = draw(st.one_of(npz_files(folder), csv_files(folder)))
    props = [f"source: {source}"]
    props.append(draw(st.sampled_from(["split: {train: 1}", "split: {train: 0.5, val: 0.5}"])))
    props += [
        p
        for p in ("one_hot: true", "target: input", "pad: 0", "classes: [0, 1]", "normalize: none")
        if rare(draw, 11)
    ]
    shapes = ["[3]", "int[3]", "[5]", "[3, 1]", "[1]", "[2]"]
    shape = draw(st.sampled_from(shapes)) if rare(draw, 5) else declared
    head, loss, metrics = draw(st.sampled_from(HEADS))
    body = (
        "flatten()  embedding(5, 4)  flatten()" if "int" in shape else "dense(8, activation=relu)"
    )
    spec = (
        f"data d {{ {'  '.join(props)} }}\n"
        f"model M {{ input x: {shape}  {body}  {head} }}\n"
        f"train {{ model: M  data: d  loss: {loss}  metrics: {metrics}  epochs: 1  "
        "batch_size: 4 }\n"
    )
    (folder / "s.nn").write_text(spec, encoding="utf-8")
    return folder, spec


def run_case(folder: Path, mode: str) -> tuple[str, str]:
    """("check" | "trained" | "data error" | "internal", detail)"""
    import spec_harness

    import nncompile
    from nncompile.errors import NncompileError

    errors = [d for d in nncompile.check(folder / "s.nn") if d.severity == "error"]
    if errors:
        return "check", errors[0].message[:100]
    try:
        program = nncompile.compile(str(folder / "s.nn"))
        detail = (
            spec_harness.train_step(program)
            if mode == "train"
            else spec_harness.trace_step(program)
        )
        return "trained", detail
    except NncompileError as e:
        return "data error", str(e).splitlines()[0][:140]
    except Exception as e:  # (what the fuzzer looks for)
        return "internal", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--mode", choices=("train", "trace"), default="trace")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--out", type=Path, default=HERE / "results" / "fuzz_datafiles_failures.txt"
    )
    parser.add_argument("--folder", help="where to write each case's files (default: the temp dir)")
    args = parser.parse_args(argv)
    if args.folder:
        WHERE["folder"] = args.folder
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    counts: collections.Counter[str] = collections.Counter()
    details: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    failures: list[str] = []
    start = time.perf_counter()

    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases())
    def run(case: tuple[Path, str]) -> None:
        folder, spec = case
        outcome, detail = run_case(folder, args.mode)
        counts[outcome] += 1
        if outcome == "internal":
            files = ", ".join(f"{p.name} ({p.stat().st_size} B)" for p in folder.iterdir())
            failures.append(f"{detail}\n--- spec ({folder}: {files}) ---\n{spec}")
            print(f"INTERNAL ERROR: {detail.splitlines()[0]} [{folder}]", flush=True)
        else:
            details[outcome][detail.split("\n")[0][:100]] += 1
        if sum(counts.values()) % 50 == 0:
            print(f"{sum(counts.values())} cases, {dict(counts)}", flush=True)

    if args.seed is not None:
        run = seed(args.seed)(run)
    run()
    seconds = time.perf_counter() - start
    print(f"{sum(counts.values())} cases in {seconds:.0f} s: {dict(counts)}")
    for outcome in ("data error", "check"):
        for message, n in details[outcome].most_common(25):
            print(f"  {n:4d} x {outcome}: {message}")
    if failures:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n\n".join(failures), encoding="utf-8")
        print(f"{len(failures)} internal errors written to {args.out}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
