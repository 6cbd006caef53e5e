"""Sampling from a trained program (`nncompile sample`, `Program.sample`).

What a sample is depends on the program:

* a GAN: `n` examples from its generator (images when they are 2-D or [H, W, C]); a conditional
  GAN draws the classes asked for, by default the same number of each class in order, one row of
  the grid per class;
* a character or word model (integer token inputs, a distribution over the vocabulary out): text,
  one token at a time from a prompt, each drawn from the model's distribution sharpened or
  flattened by `temperature` (0: always the most likely token);
* a variational autoencoder (a sampling layer, `gaussian_sample`: runtime.latent): `n` draws
  z ~ N(0, I) decoded by the layers after the sample (images when the output is 2-D, [H, W, C] or a
  square number of values), or given latent points (`latent=`), or a `grid` x `grid` grid over a
  2-D latent space's prior (Keras' plot_latent_space);
* any other model with a sequence output (a one-to-many generator such as specs/sine_generator.nn):
  its output sequences for `n` inputs of the data (the test split, else the training split), in the
  data's units.

`write(sample, path)` writes a grid or plot (.png), the array (.npy) or text (.txt).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .latent import (
    LatentSpace,
    SampleError,
    check_latent,
    decode_latent,
    decode_prior,
    grid_points,
)
from .trees import each

SUFFIXES = (".png", ".npy", ".txt")
MAX_SAMPLES = 4096  # examples (GANs, sequences) in one call
MAX_TOKENS = 100_000  # tokens of text in one call


@dataclass
class Sample:
    """What `sample` made: `kind` "images" | "examples" (a GAN), "text", "sequences"."""

    kind: str
    values: Any  # np.ndarray, or str for text
    labels: np.ndarray | None = None  # conditional GAN: the class of each example
    inputs: np.ndarray | None = None  # sequences: the inputs they were generated from
    columns: int | None = None  # images: the grid's width
    title: str | None = None  # images: what the grid shows (a VAE's latent grid)


def sample(
    trainer,
    dataset,
    n: int | None = None,
    *,
    temperature: float = 1.0,
    prompt: str | None = None,
    seed: int = 0,
    labels=None,
    latent=None,
    grid: int | None = None,
    latents: dict[str, LatentSpace],
) -> Sample:
    """Samples of a trained `trainer` (runtime.loop.Trainer or runtime.gan.GanTrainer) whose data is
    `dataset` (runtime.data.Dataset; None when the trainer was given arrays). A VAE decodes the
    given `latent` points, or a `grid` x `grid` grid over its 2-D prior, instead of draws:
    `latents`: the model's sampling layers by path (the api finds them in the spec: registry
    entries with `latent=True`), through which a VAE decodes draws from its prior.
    See the module."""
    if trainer is None:
        raise RuntimeError("call fit() (or load()) first")
    if n is not None and not 1 <= n <= (MAX_TOKENS if _is_text(trainer, dataset) else MAX_SAMPLES):
        raise SampleError(f"-n {n}: sample between 1 and {MAX_SAMPLES} examples or 100000 tokens")
    try:
        valid = 0 <= operator.index(seed) < 2**32  # (an int or a numpy integer, not 1.5 or "3")
    except TypeError:
        valid = False
    if not valid:
        raise SampleError(f"seed {seed!r}: takes a whole number from 0 to {2**32 - 1}")
    if latent is not None or grid is not None:
        return _given(trainer, dataset, n, latent, grid, latents)
    if trainer.config.kind == "gan":
        if prompt is not None:
            raise SampleError("a prompt is for text models; a GAN draws from noise (--seed)")
        return _gan(trainer, n or 64, seed, labels)
    if labels is not None:
        raise SampleError("labels are for conditional GANs (condition=label)")
    if latents:
        if prompt is not None:
            raise SampleError("a prompt is for text models; a VAE decodes draws from N(0, I)")
        return _prior(trainer, dataset, n or 64, seed)
    if _is_text(trainer, dataset):
        return _text(trainer, dataset, n or 200, temperature, prompt, seed)
    if prompt is not None:
        raise SampleError("a prompt is for text models (a text source and token inputs)")
    return _sequences(trainer, dataset, n or 8)


# ---- GANs ----------------------------------------------------------------------------------------
def _gan(trainer, n: int, seed: int, labels) -> Sample:
    if labels is not None and trainer.condition is None:
        raise SampleError("labels are for conditional GANs (condition=label); this GAN has none")
    classes = trainer.classes
    columns = None
    if trainer.condition is not None:
        if labels is None:  # each class in turn, a row of the grid each
            labels, columns = trainer.grid_labels(n), math.ceil(n / classes)
        else:
            labels = np.broadcast_to(np.asarray(labels, np.int64).reshape(-1), (n,)).copy()
            if ((labels < 0) | (labels >= classes)).any():
                raise SampleError(f"labels are class ids 0 to {classes - 1}, got {labels.max()}")
    x = trainer.generate(n, seed=seed, labels=labels)
    shape = tuple(trainer.config.gan.example_shape)
    image = len(shape) in (2, 3) or math.isqrt(math.prod(shape)) ** 2 == math.prod(shape)
    return Sample("images" if image else "examples", x, labels, columns=columns)


# ---- variational autoencoders -------------------------------------------------------------------
def _prior(trainer, dataset, n: int, seed: int) -> Sample:
    return _decoded(decode_prior(trainer, n, seed), dataset)


def _given(trainer, dataset, n, latent, grid, latents: dict[str, LatentSpace]) -> Sample:
    """Given latent points (or a grid of them) decoded: checked against the one sampling layer's
    latent shape before anything runs."""
    if trainer.config.kind == "gan" or not latents:
        from ..registry.layers import LAYERS

        kinds = " or ".join(e.name for e in LAYERS.entries() if e.latent)
        raise SampleError(
            "latent points (--grid) are decoded by a variational autoencoder, a model with a "
            f"{kinds} layer; this model has none",
            "a GAN draws its noise (--seed)" if trainer.config.kind == "gan" else None,
        )
    if latent is not None and grid is not None:
        raise SampleError("give latent points or a grid, not both")
    if n is not None:
        raise SampleError(
            f"-n {n}: the latent points given decide how many examples are decoded",
            "leave -n out (it counts draws from the prior)",
        )
    if len(latents) > 1:
        several = " or ".join(sorted({space.kind for space in latents.values()}))
        raise SampleError(
            f"latent points are decoded through one {several} layer; this model has "
            f"{len(latents)} ({', '.join(latents)})",
            "draw from the priors instead (no --grid, no latent=)",
        )
    [(path, space)] = latents.items()
    layer = space.written(path)
    if grid is not None:
        points, title = grid_points(grid, space.shape, layer)
        return _decoded(decode_latent(trainer, points), dataset, columns=grid, title=title)
    return _decoded(
        decode_latent(trainer, check_latent(latent, space.shape, layer, MAX_SAMPLES)), dataset
    )


def _decoded(out, dataset, columns: int | None = None, title: str | None = None) -> Sample:
    if isinstance(out, dict):
        raise SampleError(
            "sample decodes the draws of a model with one output; this model has several "
            f"({', '.join(out)})",
            "use `nncompile predict`",
        )
    out = np.asarray(out)
    if dataset is not None and dataset.task == "regression":
        out = dataset.inverse_targets(out)
    shape = out.shape[1:]
    image = len(shape) in (2, 3) or math.isqrt(math.prod(shape)) ** 2 == math.prod(shape)
    return Sample("images" if image else "examples", out, columns=columns, title=title)


# ---- text ----------------------------------------------------------------------------------------
def _is_text(trainer, dataset) -> bool:
    x = trainer.splits["train"][0]
    return dataset is not None and dataset.vocab is not None and np.issubdtype(x.dtype, np.integer)


def _text(trainer, dataset, n: int, temperature: float, prompt: str | None, seed: int) -> Sample:
    if not 0 <= temperature <= 100:
        raise SampleError(f"temperature {temperature}: use a value from 0 (greedy) to 100")
    vocab: tuple[str, ...] = dataset.vocab
    word = (trainer.config.data.args or {}).get("level") == "word"
    index = {token: i for i, token in enumerate(vocab)}
    rng = np.random.default_rng(seed)
    window = trainer.splits["train"][0].shape[1]
    if prompt is None:  # the start of a window of the training text
        train = trainer.splits["train"][0]
        prompt_ids = [int(i) for i in train[rng.integers(len(train))][: min(8, window)]]
    else:
        tokens = prompt.split() if word else list(prompt)
        unknown = sorted({t for t in tokens if t not in index})
        what = "words" if word else "characters"
        if not tokens:
            raise SampleError("the prompt is empty", f"give a few {what} to start from")
        if unknown:
            raise SampleError(
                f"the prompt has {what} that are not in the vocabulary: "
                + ", ".join(repr(t) for t in unknown[:5]),
                f"use {what} of the training text" + ("" if word else f": {''.join(vocab)!r}"),
            )
        prompt_ids = [index[t] for t in tokens]
    ids = list(prompt_ids)
    # a distribution per step (a causal many-to-many model): the window holds the context from its
    # start, and the distribution after its last token is read; one per window (many-to-one): the
    # context ends the window
    first = np.asarray(trainer.predict(trainer.splits["train"][0][:1]))
    per_step = first.ndim == 3
    if per_step and first.shape[1] != window:  # (an IndexError before: fuzz_mutate)
        raise SampleError(
            "sample continues text with a next-token model (a distribution per input token, or "
            f"one after the window); this model outputs {list(first.shape[1:])} for "
            f"{window} input tokens",
            "use `nncompile predict` for its predictions (an encoder-decoder: `decode:`)",
        )
    for _ in range(n):
        context = ids[-window:]
        pad = [context[-1 if per_step else 0]] * (window - len(context))
        probs = trainer.predict(np.asarray([context + pad if per_step else pad + context]))
        probs = np.asarray(probs, np.float64)[0]
        ids.append(_draw(probs[len(context) - 1] if per_step else probs, temperature, rng))
    text = (" " if word else "").join(vocab[i] for i in ids)
    return Sample("text", text)


def _draw(probs: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """A token id from `probs` at `temperature` (0: the most likely)."""
    if temperature == 0:
        return int(np.argmax(probs))
    logits = np.log(np.clip(probs, 1e-12, None)) / temperature
    p = np.exp(logits - logits.max())
    return int(rng.choice(len(p), p=p / p.sum()))


# ---- sequences -----------------------------------------------------------------------------------
def _sequences(trainer, dataset, n: int) -> Sample:
    split = "test" if "test" in trainer.splits else "train"
    x = each(lambda a: a[:n], trainer.splits[split][0])  # (a dict: a model with several inputs)
    out = trainer.predict(x)
    if isinstance(out, dict):
        raise SampleError(
            "sample draws the sequences of a model with one output; this model has several "
            f"({', '.join(out)})",
            "use `nncompile predict` (with --output y.npz: one array per output)",
        )
    out = np.asarray(out)
    if out.ndim < 3:
        raise SampleError(
            "sample makes images from GANs, text from character or word models and sequences "
            f"from sequence generators; this model outputs {list(out.shape[1:])} per example",
            "use `nncompile predict` for its predictions",
        )
    if dataset is not None and dataset.task == "regression":
        out = dataset.inverse_targets(out)
    return Sample("sequences", out, inputs=x)


# ---- reading and writing -------------------------------------------------------------------------
def load_latent(path: str | Path) -> np.ndarray:
    """`sample --latent Z.npy`: the latent points to decode (checked against the model later)."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise SampleError(f"--latent {path}: latent points are read from a .npy file")
    if not path.is_file():
        raise SampleError(f"--latent {path}: no such file")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise SampleError(f"--latent {path}: not a numpy array file ({e})") from None


def check_output(path: str | Path | None) -> None:
    """Before anything is loaded: a known suffix, in a folder that exists."""
    if path is None:
        return
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise SampleError(
            f"cannot write samples to {path}: unknown file type {path.suffix or '(none)'}",
            "use .png, .npy or .txt",
        )
    if not path.parent.is_dir():
        raise SampleError(f"cannot write {path}: no folder {path.parent}")


def write(result: Sample, path: str | Path) -> Path:
    """The sample as a .png (image grid, sequence plot), .npy (array) or .txt (text, CSV rows)."""
    path = Path(path)
    check_output(path)
    suffix = path.suffix.lower()
    if result.kind == "text":
        if suffix != ".txt":
            raise SampleError(f"text is written to a .txt file, not {suffix}")
        path.write_text(result.values + "\n", encoding="utf-8")
    elif suffix == ".npy":
        np.save(path, result.values)
    elif suffix == ".txt":
        path.write_text(as_csv(result))
    elif result.kind == "images":
        image_grid(path, result.values, columns=result.columns, title=_title(result))
    elif result.kind == "sequences":
        plot_sequences(path, result.values)
    else:
        raise SampleError(f"{result.kind} are written to .npy or .txt, not .png")
    return path


def as_csv(result: Sample) -> str:
    """Text, or one CSV row per example (a conditional GAN's class first)."""
    if result.kind == "text":
        return result.values + "\n"
    rows = np.asarray(result.values).reshape(len(result.values), -1)
    if result.labels is not None:
        rows = np.column_stack([result.labels, rows])
    return "\n".join(",".join(f"{v:.6g}" for v in row) for row in rows) + "\n"


def _title(result: Sample) -> str | None:
    if result.title is not None:
        return result.title
    if result.labels is None or result.columns is None:
        return None
    return f"one row per class (0 to {int(result.labels.max())})"


def as_images(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Generated examples as 2-D grey or [H, W, 3] colour images."""
    if len(shape) == 3:
        return x[..., 0] if shape[-1] == 1 else np.clip(x, 0, 1)
    side = math.isqrt(int(np.prod(shape)))
    if side * side == int(np.prod(shape)):
        return x.reshape(len(x), side, side)
    return x.reshape(len(x), 1, -1)


def image_grid(
    path: Path, images: np.ndarray, *, columns: int | None = None, title: str | None = None
) -> None:
    """A grid of images (columns: default about square) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = np.asarray(images)
    if images.ndim == 2 or (images.ndim == 4 and images.shape[-1] == 1):
        images = as_images(images, images.shape[1:])
    n = len(images)
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(cols * 0.6, rows * 0.6 + (0.3 if title else 0)))
    FigureCanvasAgg(fig)
    for i, img in enumerate(images):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=8)
    fig.savefig(path, dpi=80)


def plot_sequences(path: Path, sequences: np.ndarray) -> None:
    """Each sequence (first feature) as a line, up to 16 small plots."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = sequences[:16]
    cols = min(4, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(cols * 2.4, rows * 1.6))
    FigureCanvasAgg(fig)
    for i, seq in enumerate(shown):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.plot(np.asarray(seq).reshape(len(seq), -1)[:, 0], lw=1)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
