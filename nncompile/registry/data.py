"""Data sources (with what can be known about them before loading) and augmentations."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from . import Params, Registry, entry

Positive = Annotated[int, Field(ge=1)]


@dataclass(frozen=True)
class SourceInfo:
    """What check-time knows about a source: feature shape, classes, task (None = unknown)."""

    feature_shape: tuple[int, ...] | None
    num_classes: int | None
    task: str | None  # classification | regression | sequence | None
    vocab: int | None = None


class Sklearn(Params):
    name: Literal["digits", "iris", "wine", "breast_cancer", "diabetes"]


# Bundled with scikit-learn: features, classes (None = regression).
SKLEARN = {"digits": (64, 10), "iris": (4, 3), "wine": (13, 3), "breast_cancer": (30, 2), "diabetes": (10, None)}


def sklearn_info(p: Sklearn, base: Path | None) -> SourceInfo:
    features, classes = SKLEARN[p.name]
    return SourceInfo((features,), classes, "classification" if classes else "regression")


class Csv(Params):
    path: Annotated[str, Field(min_length=1)]
    target: Annotated[str, Field(min_length=1)]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    task: Literal["classification", "regression"] | None = None


def csv_info(p: Csv, base: Path | None) -> SourceInfo:
    return SourceInfo(None, None, p.task)


class Npz(Params):
    path: Annotated[str, Field(min_length=1)]
    x: str = "x"
    y: str | None = "y"


class Text(Params):
    path: Annotated[str, Field(min_length=1)]
    level: Literal["char", "word"] = "char"
    max_windows: Positive = 20000


def text_info(p: Text, base: Path | None) -> SourceInfo:
    """The vocabulary size, read from the file when it is there (cheap, no imports)."""
    path = Path(p.path) if base is None else base / p.path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return SourceInfo(None, None, "sequence")
    tokens = set(text) if p.level == "char" else set(text.split())
    return SourceInfo(None, len(tokens), "sequence", len(tokens))


class Synthetic(Params):
    kind: Literal["sine", "sine_params", "xor", "blobs"]
    n: Annotated[int, Field(ge=10)] = 1000
    noise: Annotated[float, Field(ge=0)] = 0.05
    length: Positive = 20
    classes: Annotated[int, Field(ge=2)] = 3
    features: Positive = 2


def synthetic_info(p: Synthetic, base: Path | None) -> SourceInfo:
    return {
        "sine": SourceInfo((1,), None, "regression"),
        "sine_params": SourceInfo((2,), None, "regression"),
        "xor": SourceInfo((2,), 2, "classification"),
        "blobs": SourceInfo((p.features,), p.classes, "classification"),
    }[p.kind]


def no_info(p, base) -> SourceInfo:
    return SourceInfo(None, None, None)


SOURCES = Registry("source", [
    entry("sklearn", Sklearn, ("name",), "a dataset bundled with scikit-learn", info=sklearn_info, files=()),
    entry("csv", Csv, ("path",), "a CSV file with a header row; `target` names the label column",
          info=csv_info, files=("path",)),
    entry("npz", Npz, ("path",), "a NumPy .npz archive (loaded without pickle)", info=no_info, files=("path",)),
    entry("text", Text, ("path",), "a UTF-8 text file as a token stream (characters or words)",
          info=text_info, files=("path",)),
    entry("synthetic", Synthetic, ("kind",), "generated data: sine series, sine_params, xor, blobs",
          info=synthetic_info, files=()),
])


class Flip(Params):
    mode: Literal["horizontal", "vertical", "both"] = "horizontal"


class Shift(Params):
    pixels: Annotated[int, Field(ge=1)] = 1


class Rotate(Params):
    degrees: Annotated[float, Field(gt=0, le=180)] = 10.0


class Noise(Params):
    stddev: Annotated[float, Field(gt=0)] = 0.05


AUGMENTATIONS = Registry("augmentation", [
    entry("random_flip", Flip, ("mode",), "mirror images at random (training batches only)", image=True),
    entry("random_shift", Shift, ("pixels",), "translate images by up to `pixels` at random", image=True),
    entry("random_rotate", Rotate, ("degrees",), "rotate images by up to `degrees` at random", image=True),
    entry("gaussian_noise", Noise, ("stddev",), "add normal noise to the inputs", image=False),
])
