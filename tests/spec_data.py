"""The data blocks of generated specs (spec_strategy.py): one or more per task and per source
entry, and their variations."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from nncompile.compiler import analyse
from nncompile.registry.augmentations import AUGMENTATIONS
from nncompile.registry.sources import SOURCES
from nncompile.source import Source


# ---- data ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSetup:
    """A data block and what its model must take and give."""

    block: str  # `data d { ... }`
    shape: tuple[int, ...]  # a model input's shape
    tokens: bool  # int token ids
    task: str  # classification | binary | regression | sequence
    classes: int = 0
    target: tuple[int, ...] = ()  # regression / sequence targets per example


_FOLDER: Path | None = None


def example_folder() -> Path:
    """A folder with every source's example files (written once per process)."""
    global _FOLDER
    if _FOLDER is None:
        _FOLDER = Path(tempfile.mkdtemp(prefix="nncompile-fuzz-"))
        for entry in SOURCES.entries():
            if entry.example_files is not None:
                entry.example_files(_FOLDER)
    return _FOLDER


def args_text(example: dict[str, Any]) -> str:
    return ", ".join(f"{k}={value_text(v)}" for k, v in example.items())


def value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    return repr(v)


def data_setups() -> list[DataSetup]:
    """Data blocks of each kind; each source entry's example as one more (its shape from `check`,
    or, for a file source whose shape is known only when loaded, from the loaded arrays)."""
    split = "split: {train: 1}"
    out = [
        DataSetup(
            f'data d {{ source: synthetic("blobs", n=24, features=8, classes=3)  {split} }}',
            (8,),
            False,
            "classification",
            3,
        ),
        DataSetup(
            'data d { source: synthetic("blobs", n=24, features=16, classes=4)  reshape: [4, 4, 1]'
            f"  {split} }}",
            (4, 4, 1),
            False,
            "classification",
            4,
        ),
        DataSetup(
            'data d { source: synthetic("blobs", n=24, features=12, classes=3)  reshape: [6, 2]'
            f"  {split} }}",
            (6, 2),
            False,
            "classification",
            3,
        ),
        DataSetup(
            f'data d {{ source: synthetic("xor", n=20)  {split} }}', (2,), False, "binary", 2
        ),
        DataSetup(
            f'data d {{ source: synthetic("sine", n=20)  {split} }}',
            (1,),
            False,
            "regression",
            0,
            (1,),
        ),
        DataSetup(
            f'data d {{ source: synthetic("sine", n=20)  windows: {{length: 6}}  {split} }}',
            (6, 1),
            False,
            "regression",
            0,
            (1,),
        ),
        DataSetup(
            'data d { source: synthetic("sine", n=20)  windows: {length: 5, targets: sequence}'
            f"  {split} }}",
            (5, 1),
            False,
            "sequence",
            0,
            (5, 1),
        ),
        DataSetup(
            f'data d {{ source: synthetic("sine_params", n=20, length=4)  {split} }}',
            (2,),
            False,
            "sequence",
            0,
            (4, 1),
        ),
        DataSetup(
            'data d { source: sklearn("iris")  split: {train: 0.2, test: 0.8} }',
            (4,),
            False,
            "classification",
            3,
        ),
    ]
    folder = example_folder()
    out += [
        DataSetup(
            f'data d {{ source: csv("{folder}/example.csv", target="y")  {split} }}',
            (2,),
            False,
            "binary",
            2,
        ),
        DataSetup(
            f'data d {{ source: npz("{folder}/example.npz")  {split} }}', (3,), False, "binary", 2
        ),
        DataSetup(
            f'data d {{ source: text("{folder}/example.txt")  windows: {{length: 6}}  {split} }}',
            (6,),
            True,
            "classification",
            _vocab(folder / "example.txt"),
        ),
    ]
    known = {re.search(r"source: (\w+)\(", s.block).group(1) for s in out}  # type: ignore[union-attr]
    for entry in SOURCES.entries():  # a source added since: its example, shape from check
        if entry.name in known:
            continue
        setup = _from_example(entry)
        if setup is not None:
            out.append(setup)
    return out


def _vocab(path: Path) -> int:
    return len(set(path.read_text(encoding="utf-8")))


def _from_example(entry) -> DataSetup | None:
    block = (
        f"data d {{ source: {entry.name}({args_text(dict(entry.example))})  split: {{train: 1}} }}"
    )
    program, _ = analyse(Source(block, str(example_folder() / "probe.nn")))
    if program is None:
        return None
    info = program.data["d"].info
    if info.feature_shape is None:
        return None
    task = info.task or "regression"
    classes = info.num_classes or 0
    if task == "classification" and classes == 2:
        task = "binary"
    return DataSetup(block, tuple(info.feature_shape), bool(info.vocab), task, classes, (1,))


@st.composite
def data_variant(draw, setup: DataSetup) -> str:
    """The setup's data block with other splits (validation and test: evaluation runs too), a
    normalisation, an augmentation for images; each kept when check accepts it."""
    block = setup.block
    if "split: {train: 1}" in block and draw(st.booleans()):
        block = block.replace("split: {train: 1}", "split: {train: 0.5, val: 0.25, test: 0.25}")
    if not setup.tokens and draw(st.booleans()):
        block = block.replace(" }", f"  normalize: {draw(st.sampled_from(['minmax', 'none']))} }}")
    if len(setup.shape) == 3 and draw(st.booleans()):
        augmentation = entry_text(draw(st.sampled_from(AUGMENTATIONS.entries())))
        block = block.replace(" }", f"  augment: [{augmentation}] }}")
    return block


def entry_text(entry) -> str:
    example = dict(getattr(entry, "example", None) or {})
    return f"{entry.name}({args_text(example)})" if example else entry.name
