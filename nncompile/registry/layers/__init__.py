"""Layers: one typed entry (``Layer``) per name, holding its argument model, docs, shape rule,
parameter count, lowering to Flax NNX and the facts the plan reads (merge, token ids, convolution).

The entries live by family in the modules of this package; adding a layer is adding one ``Layer``
to the ``ENTRIES`` of one of them (docs/extending.md).
"""

from __future__ import annotations

from .. import Registry
from . import attention, capsules, conv, dense, merge, resample, sampling, sequence, shaping
from .base import Example, Layer, LossTerm
from .conv import COL2IM, IM2COL
from .convgrad import CANONICAL

LAYERS: Registry[Layer] = Registry(
    "layer",
    [
        *dense.ENTRIES,
        *conv.ENTRIES,
        *shaping.ENTRIES,
        *resample.ENTRIES,
        *sequence.ENTRIES,
        *merge.ENTRIES,
        *sampling.ENTRIES,
        *capsules.ENTRIES,
        *attention.ENTRIES,
    ],
)

__all__ = ["CANONICAL", "COL2IM", "IM2COL", "LAYERS", "Example", "Layer", "LossTerm"]
