"""Augmentations: random transformations of a training batch, each a helper function of the emitted
program (its Snippet) called as `x = fn(key, x, ...)` in `augment`. `image_only` ones read examples
as images [height, width, channels]; `check` refuses them on other data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from ..expr import Expr, Snippet, call
from . import Entry, Params, Registry


@dataclass(frozen=True, kw_only=True)
class Augmentation(Entry):
    """`lower(p, key, x)`: the transformed batch, from a PRNG key and the batch (expressions)."""

    image_only: bool
    lower: Callable[[Any, Any, Any], Expr]
    snippets: tuple[Snippet, ...] = ()
    example: Mapping[str, Any] = field(default_factory=dict)


class Flip(Params):
    mode: Literal["horizontal", "vertical", "both"] = "horizontal"


class Shift(Params):
    pixels: Annotated[int, Field(ge=1)] = 1


class Rotate(Params):
    degrees: Annotated[float, Field(gt=0, le=180)] = 10.0


class Noise(Params):
    stddev: Annotated[float, Field(gt=0)] = 0.05


RANDOM_FLIP = Snippet(
    "random_flip",
    '''
def random_flip(key, x, horizontal, vertical):
    """Mirror each image with probability 1/2 along the chosen axes."""
    kh, kv = jax.random.split(key)
    if horizontal:
        x = jnp.where(jax.random.bernoulli(kh, 0.5, (x.shape[0], 1, 1, 1)), x[:, :, ::-1], x)
    if vertical:
        x = jnp.where(jax.random.bernoulli(kv, 0.5, (x.shape[0], 1, 1, 1)), x[:, ::-1], x)
    return x
''',
)

RANDOM_SHIFT = Snippet(
    "random_shift",
    '''
def random_shift(key, x, pixels):
    """Translate each image by up to `pixels` in each direction, filling with zeros."""
    h, w = x.shape[1], x.shape[2]
    padded = jnp.pad(x, ((0, 0), (pixels, pixels), (pixels, pixels), (0, 0)))
    offsets = jax.random.randint(key, (x.shape[0], 2), 0, 2 * pixels + 1)
    crop = lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, img.shape[-1]))
    return jax.vmap(crop)(padded, offsets)
''',
)

RANDOM_ROTATE = Snippet(
    "random_rotate",
    '''
def random_rotate(key, x, degrees):
    """Rotate each image about its centre by an angle drawn from [-degrees, degrees]."""
    h, w = x.shape[1], x.shape[2]
    angles = jax.random.uniform(key, (x.shape[0],), minval=-degrees, maxval=degrees) * jnp.pi / 180
    rows = jnp.arange(h) - (h - 1) / 2
    cols = jnp.arange(w) - (w - 1) / 2
    rows, cols = jnp.meshgrid(rows, cols, indexing="ij")

    def rotate(img, a):
        src_r = jnp.cos(a) * rows - jnp.sin(a) * cols + (h - 1) / 2
        src_c = jnp.sin(a) * rows + jnp.cos(a) * cols + (w - 1) / 2
        sample = lambda c: jax.scipy.ndimage.map_coordinates(c, [src_r, src_c], 1, mode="constant")
        return jax.vmap(sample, in_axes=-1, out_axes=-1)(img)
    return jax.vmap(rotate)(x, angles)
''',
)

GAUSSIAN_NOISE = Snippet(
    "gaussian_noise",
    '''
def gaussian_noise(key, x, stddev):
    """Add normal noise with the given standard deviation."""
    return x + stddev * jax.random.normal(key, x.shape, x.dtype)
''',
)


def flip(p: Flip, key: Any, x: Any) -> Expr:
    return call(
        "random_flip",
        key,
        x,
        horizontal=p.mode in ("horizontal", "both"),
        vertical=p.mode in ("vertical", "both"),
    )


AUGMENTATIONS = Registry(
    "augmentation",
    [
        Augmentation(
            "random_flip",
            Flip,
            ("mode",),
            "mirror images at random (training batches only)",
            image_only=True,
            lower=flip,
            snippets=(RANDOM_FLIP,),
            example={"mode": "both"},
        ),
        Augmentation(
            "random_shift",
            Shift,
            ("pixels",),
            "translate images by up to `pixels` at random",
            image_only=True,
            lower=lambda p, key, x: call("random_shift", key, x, pixels=p.pixels),
            snippets=(RANDOM_SHIFT,),
            example={"pixels": 2},
        ),
        Augmentation(
            "random_rotate",
            Rotate,
            ("degrees",),
            "rotate images by up to `degrees` at random",
            image_only=True,
            lower=lambda p, key, x: call("random_rotate", key, x, degrees=p.degrees),
            snippets=(RANDOM_ROTATE,),
            example={"degrees": 15.0},
        ),
        Augmentation(
            "gaussian_noise",
            Noise,
            ("stddev",),
            "add normal noise to the inputs",
            image_only=False,
            lower=lambda p, key, x: call("gaussian_noise", key, x, stddev=p.stddev),
            snippets=(GAUSSIAN_NOISE,),
            example={"stddev": 0.1},
        ),
    ],
)
