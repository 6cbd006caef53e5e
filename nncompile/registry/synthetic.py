"""The `synthetic` source's generators: seeded sine series, sine_params, xor and blobs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from . import Params
from .loading import LoadRequest, Raw, SourceInfo, did_you_mean, fail, supervised

Positive = Annotated[int, Field(ge=1)]
SINE_PERIOD = 50  # steps per period of the synthetic sine series


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


def synthetic_targets(p: Synthetic, windows: Any) -> tuple[int, ...] | None:
    if p.kind == "sine_params":
        return (p.length, 1)
    if p.kind == "sine" and windows is not None:
        return (1,) if windows.targets == "last" else (windows.length, 1)
    return None


def sine(spec: LoadRequest, n: int, noise: float, rng) -> Raw:
    """A noisy sine series of n examples: windows of it, or (value, next value) pairs."""
    w = spec.windows or {}
    steps = n + int(w.get("length", 1)) + int(w.get("horizon", 1)) - 1 if w else n + 1
    t = np.arange(steps)
    series = np.sin(
        2 * np.pi * t / SINE_PERIOD + rng.uniform(0, 2 * np.pi)
    ) + noise * rng.standard_normal(steps)
    series = series[:, None]
    return (
        supervised(series, series, "regression")
        if w
        else supervised(series[:-1], series[1:], "regression")
    )


def sine_params(spec: LoadRequest, n: int, noise: float, rng) -> Raw:
    """One-to-many: x = (frequency, phase), y = sin(frequency * t + phase) for t < length."""
    length = int(spec.args.get("length") or 20)
    params = np.stack([rng.uniform(0.1, 1.0, n), rng.uniform(0, 2 * np.pi, n)], axis=1)
    y = np.sin(params[:, :1] * np.arange(length) + params[:, 1:]) + noise * rng.standard_normal(
        (n, length)
    )
    return supervised(params, y[:, :, None], "regression")


def xor(spec: LoadRequest, n: int, noise: float, rng) -> Raw:
    """Two noisy bits; the class is their exclusive or."""
    bits = rng.integers(0, 2, (n, 2))
    return supervised(
        bits + noise * rng.standard_normal((n, 2)), bits[:, 0] ^ bits[:, 1], "classification"
    )


def blobs(spec: LoadRequest, n: int, noise: float, rng) -> Raw:
    """Gaussian blobs (unit spread) around random centres, classes balanced."""
    k, f = int(spec.args.get("classes") or 3), int(spec.args.get("features") or 2)
    centres = rng.normal(0, 5, (k, f))
    y = rng.permutation(np.arange(n) % k)
    return supervised(centres[y] + rng.standard_normal((n, f)), y, "classification")


SYNTHETIC = {"sine": sine, "sine_params": sine_params, "xor": xor, "blobs": blobs}


def load_synthetic(spec: LoadRequest) -> Raw:
    """Generated data (seeded): see SYNTHETIC for the kinds."""
    kind = spec.args.get("kind")
    if kind not in SYNTHETIC:
        fail(
            spec,
            f"unknown synthetic kind {kind!r}",
            did_you_mean(str(kind), list(SYNTHETIC)) + f"choose one of {', '.join(SYNTHETIC)}",
        )
    n = int(spec.args.get("n") or 1000)
    if n < 1:
        fail(spec, f"synthetic n must be at least 1 (got {n})", "set n: 1000")
    rng = np.random.default_rng([spec.seed, 0])
    return SYNTHETIC[kind](spec, n, float(spec.args.get("noise", 0.05)), rng)
