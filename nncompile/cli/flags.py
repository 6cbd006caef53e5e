"""The `nncompile` command's argument helpers: flag declarations, their checks and help texts
(the flags themselves are declared once in cli.common.FLAGS; `sample`'s here)."""

from __future__ import annotations

import argparse

from ..registry.bounds import MAX_EPOCHS

FORMAT_HELP = "json: for programs (check: diagnostics: path, line, column, code, message, hint)"
CACHE_HELP = "no persistent compilation cache (~/.cache/nncompile/jax; or NNCOMPILE_CACHE=0)"
TRACK_HELP = "also track the run with: tensorboard, mlflow (besides the spec's `track:`)"
RESUME_HELP = "continue from the run folder's newest checkpoint, to where a whole run would end"


def epochs(text: str) -> int:
    """--epochs N: a whole number >= 1 (0 or less would overwrite a run with untrained state)."""
    return count(text, MAX_EPOCHS, " epochs")


def flag(*names: str, **options) -> tuple[tuple[str, ...], dict]:
    return names, options


def temperature(text: str) -> float:
    """--temperature T: a number from 0 (always the most likely token) to 100."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"takes 0 (greedy) to 100, got {value}")
    return value


def count(text: str, most: int | None = None, unit: str = "") -> int:
    """-n N: a whole number >= 1 (and at most `most`)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number >= 1, got {n}")
    if most is not None and n > most:
        raise argparse.ArgumentTypeError(f"takes at most {most}{unit}, got {n}")
    return n


def seed(text: str) -> int:
    """--seed S: a whole number from 0 to 2**32 - 1 (numpy's and JAX's seeds; a negative one was
    an internal error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"takes 0 to {2**32 - 1}, got {value}")
    return value


SAMPLE_FLAGS = {
    "n": flag("-n", type=count, metavar="N", help="examples (GAN 64, sequences 8) or tokens (200)"),
    "temperature": flag(
        "--temperature",
        type=temperature,
        default=1.0,
        metavar="T",
        help="text: < 1 sharper, > 1 more varied, 0 the most likely token",
    ),
    "prompt": flag(
        "--prompt", metavar="TEXT", help="text: what to continue (default: training text)"
    ),
    "seed": flag("--seed", type=seed, default=0, help="the random draws (noise, tokens)"),
    "label": flag("--label", type=int, metavar="K", help="conditional GAN: only class K"),
    "grid": flag(
        "--grid",
        type=count,
        metavar="N",
        help="VAE with a 2-D latent: decode N x N points over the prior's central 90%%",
    ),
    "latent": flag("--latent", metavar="Z.npy", help="VAE: decode these latent points [n, ...]"),
}
