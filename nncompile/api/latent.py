"""The latent spaces of a spec's model: its gaussian_sample layers and their latent shapes, which
`Program.sample(latent=..., grid=...)` checks given points against before anything runs."""

from __future__ import annotations

from ..semantics import ir


def latent_shapes(model: ir.Model | None) -> dict[str, tuple[int, ...]]:
    """{path of each gaussian_sample layer (`z`, `enc.code` inside a model used as a layer): the
    shape of one example's latent point}, in the model's order."""
    paths = model.layer_paths() if model is not None else []
    return {path: tuple(node.shape) for path, node in paths if node.kind == "gaussian_sample"}
