"""The latent spaces of a spec's model: its gaussian_sample layers and their latent shapes, which
`Program.sample(latent=..., grid=...)` checks given points against before anything runs."""

from __future__ import annotations

from ..semantics import ir


def latent_shapes(model: ir.Model | None, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """{path of each gaussian_sample layer (`z`, `enc.code` inside a model used as a layer): the
    shape of one example's latent point}, in the model's order."""
    out: dict[str, tuple[int, ...]] = {}
    for node in model.nodes if model is not None else ():
        if node.kind == "gaussian_sample":
            out[prefix + node.name] = tuple(node.shape)
        elif node.submodel is not None:
            out.update(latent_shapes(node.submodel, f"{prefix}{node.name}."))
    return out
