"""Mutated specs (package fuzz, session 24): the example specs and a few feature seeds, changed a
little at a time where the recent features live, for bench/fuzz_mutate.py.

spec_strategy.py grows valid specs from the registries; this module starts from the specs a user
writes (specs/*.nn, and seeds for `pad:`, `windows`, `class_weight`, several inputs and outputs,
recurrent states, attention, sweeps and expressions) and changes one to three things: a number (a
literal, an expression of it, 0, negative, huge), a name (another entry of the same registry, or
another tensor of the spec), a property added to a data or train block from the features' list,
a keyword added to a layer call, a line deleted or duplicated. Each mutant is a text; the driver
checks it, and trains the ones `check` accepts.

Reproducible: ``mutants(seed)`` yields the same texts for the same seed.
"""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nncompile.registry.activations import ACTIVATIONS, INITIALIZERS
from nncompile.registry.layers import LAYERS
from nncompile.registry.losses import LOSSES
from nncompile.registry.metrics import METRICS
from nncompile.registry.optimizers import OPTIMIZERS
from nncompile.registry.schedules import SCHEDULES

ROOT = Path(__file__).resolve().parents[1]

# ---- seeds of the features the generated specs do not draw --------------------------------------
PAD_SEED = """\
let width = 8
data seq { source: npz("data/fuzz_pad.npz", x="src", y="tgt")  pad: 0
           split: {train: 0.5, val: 0.25, test: 0.25} }
model Tagger {
  input src: int[6]
  e = embedding(7, width)(src)
  h = lstm(width, return_sequences=true)(e)
  tgt = dense(5, activation=softmax)(h)
}
train { model: Tagger  data: seq  loss: categorical_crossentropy  metrics: [accuracy, exact_match]
        optimizer: adam(lr=1e-2)  batch_size: 8  epochs: 1 }
"""
WINDOWS_SEED = """\
let steps = 6
data series { source: synthetic("sine", n=80, noise=0.05)
              windows: {length: steps, horizon: 2, stride: 2, targets: last}
              split: {train: 0.6, val: 0.2, test: 0.2}  normalize: standard }
model F { input x: [steps, 1]  gru(8)  dense(1) }
train { model: F  data: series  loss: mse  metrics: [mae]  optimizer: adam(lr=1e-2)
        batch_size: 16  epochs: 1  early_stopping: {monitor: val_loss, patience: 1} }
"""
CLASS_WEIGHT_SEED = """\
data blobs { source: synthetic("blobs", n=60, features=6, classes=3)
             split: {train: 0.7, test: 0.3} }
model C { input x: [6]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: C  data: blobs  loss: categorical_crossentropy  class_weight: {0: 2.0, 2: 0.5}
        metrics: [accuracy, f1]  optimizer: sgd(lr=0.1)  batch_size: 16  epochs: 1 }
"""
STATES_SEED = """\
let w = 6
data d { source: npz("data/fuzz_pad.npz", x=["src", "sh"], y="tgt")  split: {train: 1} }
model S {
  input src: int[6]
  input sh: int[6]
  e = embedding(7, 4)(src)
  enc, h, c = lstm(w, return_sequences=true, return_state=true)(e)
  t = embedding(7, 4)(sh)
  dec = lstm(w, return_sequences=true, initial_state=[h, c])(t)
  a = multi_head_attention(dec, enc, heads=2)
  tgt = dense(5, activation=softmax)(a)
}
train { model: S  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: full  epochs: 1  decode: {input: sh, start: 0} }
"""
SWEEP_SEED = """\
let hidden = 8
let rate = 0.1
let lr = 1e-2
data blobs { source: synthetic("blobs", n=48, features=4, classes=3)
             split: {train: 0.5, val: 0.25, test: 0.25} }
model M { input x: [4]  dense(hidden * 2 // 2, activation=relu)  dropout(rate)
          dense(3, activation=softmax) }
train main { model: M  data: blobs  loss: categorical_crossentropy  optimizer: adam(lr=lr)
             batch_size: 12  epochs: 1 }
sweep { train: main  grid: {lr: [1e-2, 1e-3], hidden: [4, 8]}  objective: minimize(val_loss) }
"""
SEEDS = {
    "pad": PAD_SEED,
    "windows": WINDOWS_SEED,
    "class_weight": CLASS_WEIGHT_SEED,
    "states": STATES_SEED,
    "sweep": SWEEP_SEED,
}


def write_pad_data(folder: Path) -> None:
    """``fuzz_pad.npz``: sequences of ids 1..6 of 2 to 6 steps padded with 0, their tags 1..4 per
    step (0 where padded), and the tags shifted right (a decoder's input)."""
    rng = np.random.default_rng(0)
    n, t = 32, 6
    lengths = rng.integers(2, t + 1, size=n)
    mask = np.arange(t)[None, :] < lengths[:, None]
    src = np.where(mask, rng.integers(1, 7, size=(n, t)), 0)
    tgt = np.where(mask, src % 4 + 1, 0)
    sh = np.concatenate([np.zeros((n, 1), np.int64), tgt[:, :-1]], axis=1)
    np.savez(folder / "fuzz_pad.npz", src=src, tgt=tgt, sh=sh)


def workspace(folder: Path) -> dict[str, str]:
    """Copies specs/data into ``folder``/data (the example specs name it relative to themselves),
    adds the seeds' data, and returns every seed by name, made small (`n=` at most 200, one
    epoch)."""
    shutil.copytree(ROOT / "specs" / "data", folder / "data", dirs_exist_ok=True)
    write_pad_data(folder / "data")
    seeds = {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").glob("*.nn"))}
    seeds.update(SEEDS)
    return {name: small(text) for name, text in seeds.items()}


def small(text: str) -> str:
    text = re.sub(r"\bn=(\d+)", lambda m: f"n={min(int(m.group(1)), 200)}", text)
    text = re.sub(r"\bepochs:\s*\w+", "epochs: 1", text)
    return re.sub(r"\btrials:\s*\d+", "trials: 2", text)


# ---- mutations ----------------------------------------------------------------------------------
NUMBERS = ["0", "1", "2", "-1", "3", "0.5", "1.5", "7", "64", "100000", "1e-9", "1e9", "-0.5"]
KINDS = [
    sorted(LAYERS.names()) if hasattr(LAYERS, "names") else [e.name for e in LAYERS.entries()],
    [e.name for e in LOSSES.entries()],
    [e.name for e in METRICS.entries()],
    list(ACTIVATIONS),
    list(INITIALIZERS),
    [e.name for e in OPTIMIZERS.entries()],
    [e.name for e in SCHEDULES.entries()],
]
DATA_PROPS = [
    "pad: 0",
    "pad: 3",
    "one_hot: true",
    "normalize: minmax",
    "normalize_target: true",
    "shuffle: false",
    "subset: 0.5",
    "classes: [0, 1]",
    "target: input",
    "windows: {length: 4}",
    "windows: {length: 3, horizon: 2, targets: sequence}",
    "windows: {length: 5, stride: 3}",
    "split: {train: 1}",
    "split: {train: 0.9, test: 0.1}",
    "reshape: [2, -1]",
    "augment: [gaussian_noise(0.1)]",
]
TRAIN_PROPS = [
    "class_weight: balanced",
    "class_weight: {0: 0.0}",
    "class_weight: {1: 3, 0: 0.5}",
    "class_weight: {9: 2.0}",
    "loss_weights: {a: 2.0}",
    "metrics: [accuracy, exact_match]",
    "metrics: [mae, top_k(2)]",
    "early_stopping: {monitor: val_loss, patience: 1, restore_best: true}",
    "early_stopping: {monitor: val_accuracy, patience: 1}",
    "decode: {input: src, start: 0}",
    "accumulate: 2",
    "strategy: step",
    "strategy: scan",
    "logical_shards: 2",
    "drop_remainder: false",
    "batch_size: 1",
    "batch_size: 5",
    "precision: bfloat16",
    "clip_norm: 0.5",
    "schedule: [warmup(2), cosine()]",
    "regularize: [l2(1e-3)]",
    "seed: 7",
    "freeze: [e]",
    "unfreeze_after: 1",
    "checkpoint: {every: 1}",
]
KEYWORDS = [
    "return_sequences=true",
    "return_state=true",
    "causal=true",
    "heads=3",
    "initial_state=[h]",
    "dropout=0.5",
    "padding=same",
    "strides=2",
    "activation=softmax",
    "use_bias=false",
    "mask_zero=true",
]
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|\d+(?:\.\d*)?(?:e-?\d+)?|[A-Za-z_]\w*')


def _tokens(text: str, kind: str) -> list[re.Match]:
    out = []
    for m in TOKEN.finditer(text):
        s = m.group()
        if s.startswith(('"', "#")):
            continue
        if (kind == "number") == s[0].isdigit():
            out.append(m)
    return out


def _replace(text: str, m: re.Match, new: str) -> str:
    return text[: m.start()] + new + text[m.end() :]


def mutate_number(rng: random.Random, text: str) -> str:
    found = _tokens(text, "number")
    if not found:
        return text
    m = rng.choice(found)
    old = m.group()
    form = rng.randrange(4)
    if form == 0:
        new = rng.choice(NUMBERS)
    elif form == 1:
        new = f"({old} * {rng.choice(['2', '0', '-1', '0.5'])})"
    elif form == 2:
        new = f"{old} // {rng.choice(['2', '3', '0'])}"
    else:
        new = str(int(float(old)) + rng.choice([-1, 1, 2])) if "e" not in old else old
    return _replace(text, m, new)


def mutate_name(rng: random.Random, text: str) -> str:
    found = _tokens(text, "name")
    if not found:
        return text
    m = rng.choice(found)
    old = m.group()
    kind = next((k for k in KINDS if old in k), None)
    if kind is not None and rng.random() < 0.8:
        return _replace(text, m, rng.choice(kind))
    names = sorted({t.group() for t in found if t.group() != old})
    return _replace(text, m, rng.choice(names)) if names else text


def _block_open(text: str, keyword: str) -> list[int]:
    return [m.end() for m in re.finditer(rf"(?m)^{keyword}\b[^{{\n]*\{{", text)]


def add_property(rng: random.Random, text: str) -> str:
    keyword, props = rng.choice([("data", DATA_PROPS), ("train", TRAIN_PROPS)])
    opens = _block_open(text, keyword)
    if not opens:
        return text
    at = rng.choice(opens)
    prop = rng.choice(props)
    key = prop.split(":")[0]
    block_end = text.find("\n}", at)
    body = text[at : block_end if block_end > 0 else len(text)]
    existing = re.search(rf"\b{key}:\s*(\{{[^}}]*\}}|\[[^\]]*\]|[^\s]+)", body)
    if existing is not None:  # a property written once: change its value
        start = at + existing.start()
        return text[:start] + prop + text[at + existing.end() :]
    return text[:at] + f"  {prop}\n" + text[at:]


def add_keyword(rng: random.Random, text: str) -> str:
    calls = list(re.finditer(r"\b([a-z_0-9]+)\(([^()\n]*)\)", text))
    calls = [c for c in calls if c.group(1) in KINDS[0]]
    if not calls:
        return text
    c = rng.choice(calls)
    args = c.group(2).strip()
    extra = rng.choice(KEYWORDS)
    new = f"{c.group(1)}({args + ', ' if args else ''}{extra})"
    return text[: c.start()] + new + text[c.end() :]


def edit_line(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    code = [i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")]
    if not code:
        return text
    i = rng.choice(code)
    if rng.random() < 0.5:
        del lines[i]
    else:
        lines.insert(i, lines[i])
    return "\n".join(lines)


MUTATIONS = {
    "number": (mutate_number, 4),
    "name": (mutate_name, 3),
    "property": (add_property, 4),
    "keyword": (add_keyword, 2),
    "line": (edit_line, 1),
}


def mutate(rng: random.Random, text: str) -> tuple[str, list[str]]:
    """One to three mutations of ``text``, and their kinds."""
    names = list(MUTATIONS)
    weights = [MUTATIONS[n][1] for n in names]
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.choices(names, weights)[0]
        text = MUTATIONS[kind][0](rng, text)
        done.append(kind)
    return text, done


def mutants(seeds: dict[str, str], seed: int) -> Iterator[tuple[str, str, list[str]]]:
    """(seed name, mutated text, mutation kinds), endlessly, reproducibly."""
    rng = random.Random(seed)
    names = sorted(seeds)
    while True:
        name = rng.choice(names)
        text, kinds = mutate(rng, seeds[name])
        yield name, text, kinds
