"""The `synthetic` source's generators: seeded sine series, sine_params, xor, blobs and addition,
and their standalone forms (the same generators as code, for `nncompile eject`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from ..expr import Snippet, Sym, call
from . import Params
from .bounds import MAX_EXAMPLES, MAX_WIDTH, Size
from .loading import LoadRequest, Raw, SourceInfo, did_you_mean, fail, supervised
from .standalone import SUPERVISED, EjectRequest, StandaloneLoader

Positive = Size
SINE_PERIOD = 50  # steps per period of the synthetic sine series


class Synthetic(Params):
    kind: Literal["sine", "sine_params", "xor", "blobs", "addition"]
    n: Annotated[int, Field(ge=10, le=MAX_EXAMPLES)] = 1000
    noise: Annotated[float, Field(ge=0)] = 0.05
    length: Positive = 20
    classes: Annotated[int, Field(ge=2, le=MAX_WIDTH)] = 3
    features: Positive = 2


def synthetic_info(p: Synthetic, base: Path | None) -> SourceInfo:
    return {
        "sine": SourceInfo((1,), None, "regression"),
        "sine_params": SourceInfo((2,), None, "regression"),
        "xor": SourceInfo((2,), 2, "classification"),
        "blobs": SourceInfo((p.features,), p.classes, "classification"),
        "addition": SourceInfo((2 * p.features + 1,), VOCAB, "sequence", VOCAB, tokens=True),
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


ADDITION_CHARS = "0123456789+ "  # token id = position: digits are their own ids, then "+", " "
VOCAB = len(ADDITION_CHARS)
MAX_DIGITS = 6


def addition(spec: LoadRequest, n: int, noise: float, rng) -> Raw:
    """Keras' addition problem as token ids: x = "a+b" and y = "a+b"'s sum, each padded with spaces
    on the right, `features` digits per operand (distinct pairs, drawn without replacement)."""
    digits = int(spec.args.get("features") or 2)
    if not 1 <= digits <= MAX_DIGITS or n > 10 ** (2 * digits):
        fail(
            spec,
            f"addition of {digits}-digit numbers: {n} distinct questions"
            if digits <= MAX_DIGITS
            else f"addition with features={digits} digits",
            f"use features: 1..{MAX_DIGITS} digits per operand and n <= 10**(2 * features)",
        )
    x, y = addition_ids(n, digits, rng)
    return Raw(x, y, "sequence", VOCAB, tuple(ADDITION_CHARS))


def addition_ids(n: int, digits: int, rng) -> tuple[np.ndarray, np.ndarray]:
    pairs = rng.choice(10 ** (2 * digits), n, replace=False)
    a, b = pairs // 10**digits, pairs % 10**digits
    pad = lambda s, width: [ADDITION_CHARS.index(c) for c in s.ljust(width)]
    x = np.array([pad(f"{i}+{j}", 2 * digits + 1) for i, j in zip(a, b, strict=True)], np.int32)
    y = np.array([pad(str(i + j), digits + 1) for i, j in zip(a, b, strict=True)], np.int32)
    return x, y


SYNTHETIC = {
    "sine": sine,
    "sine_params": sine_params,
    "xor": xor,
    "blobs": blobs,
    "addition": addition,
}


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


# ---- standalone forms: the same generators as code of an ejected data.py ----------------------
SINE = Snippet(
    "sine",
    '''
def sine(n, noise, seed, window=None):
    """A noisy sine series (period 50 steps, random phase): the series itself when it is cut into
    windows (`window` = (length, horizon)), otherwise (value, next value) pairs."""
    rng = np.random.default_rng([seed, 0])
    steps = n + window[0] + window[1] - 1 if window else n + 1
    t = np.arange(steps)
    phase = rng.uniform(0, 2 * np.pi)
    series = np.sin(2 * np.pi * t / 50 + phase) + noise * rng.standard_normal(steps)
    series = series[:, None]
    if window:
        return supervised(series, series, "regression")
    return supervised(series[:-1], series[1:], "regression")
''',
    (SUPERVISED,),
)

SINE_PARAMS = Snippet(
    "sine_params",
    '''
def sine_params(n, noise, seed, length):
    """x = (frequency, phase), y = sin(frequency * t + phase) + noise for t < length."""
    rng = np.random.default_rng([seed, 0])
    params = np.stack([rng.uniform(0.1, 1.0, n), rng.uniform(0, 2 * np.pi, n)], axis=1)
    y = np.sin(params[:, :1] * np.arange(length) + params[:, 1:])
    y = y + noise * rng.standard_normal((n, length))
    return supervised(params, y[:, :, None], "regression")
''',
    (SUPERVISED,),
)

XOR = Snippet(
    "xor",
    '''
def xor(n, noise, seed):
    """Two noisy bits; the class is their exclusive or."""
    rng = np.random.default_rng([seed, 0])
    bits = rng.integers(0, 2, (n, 2))
    x = bits + noise * rng.standard_normal((n, 2))
    return supervised(x, bits[:, 0] ^ bits[:, 1], "classification")
''',
    (SUPERVISED,),
)

BLOBS = Snippet(
    "blobs",
    '''
def blobs(n, noise, seed, classes, features):
    """Gaussian blobs (unit spread) around random centres, classes balanced."""
    rng = np.random.default_rng([seed, 0])
    centres = rng.normal(0, 5, (classes, features))
    y = rng.permutation(np.arange(n) % classes)
    return supervised(centres[y] + rng.standard_normal((n, features)), y, "classification")
''',
    (SUPERVISED,),
)


ADDITION = Snippet(
    "addition",
    '''
def addition(n, seed, digits):
    """Keras' addition problem as token ids over "0123456789+ ": x = "a+b", y = the sum, padded
    with spaces on the right; distinct pairs of `digits`-digit numbers."""
    rng = np.random.default_rng([seed, 0])
    chars = "0123456789+ "
    pairs = rng.choice(10 ** (2 * digits), n, replace=False)
    a, b = pairs // 10**digits, pairs % 10**digits
    pad = lambda s, width: [chars.index(c) for c in s.ljust(width)]
    x = np.array([pad(f"{i}+{j}", 2 * digits + 1) for i, j in zip(a, b)], np.int32)
    y = np.array([pad(str(i + j), digits + 1) for i, j in zip(a, b)], np.int32)
    return x, y, "sequence"
''',
)


def synthetic_standalone(p: Synthetic, request: EjectRequest) -> StandaloneLoader:
    """A call of the kind's generator; the seed is data.py's SEED (the train block's)."""
    common = {"n": p.n, "noise": p.noise, "seed": Sym("SEED")}
    if p.kind == "sine":
        w = request.windows
        window = (int(w.get("length", 1)), int(w.get("horizon", 1))) if w else None
        return StandaloneLoader(call("sine", **common, window=window), (SINE,))
    if p.kind == "sine_params":
        return StandaloneLoader(call("sine_params", **common, length=p.length), (SINE_PARAMS,))
    if p.kind == "xor":
        return StandaloneLoader(call("xor", **common), (XOR,))
    if p.kind == "addition":
        return StandaloneLoader(call("addition", p.n, Sym("SEED"), p.features), (ADDITION,))
    shape = {"classes": p.classes, "features": p.features}
    return StandaloneLoader(call("blobs", **common, **shape), (BLOBS,))
