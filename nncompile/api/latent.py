"""The latent spaces of a spec's model: its sampling layers (registry entries with `latent=True`:
gaussian_sample) and their latent shapes, which `Program.sample(latent=..., grid=...)` checks given
points against before anything runs, and through which a VAE decodes draws from its prior."""

from __future__ import annotations

from ..registry.layers import LAYERS
from ..runtime.latent import LatentSpace
from ..semantics import ir


def latent_spaces(model: ir.Model | None) -> dict[str, LatentSpace]:
    """{path of each sampling layer (`z`, `enc.code` inside a model used as a layer): its kind and
    the shape of one example's latent point}, in the model's order."""
    paths = model.layer_paths() if model is not None else []
    return {
        path: LatentSpace(node.kind, tuple(node.shape))
        for path, node in paths
        if (entry := LAYERS.get(node.kind)) is not None and entry.latent
    }
