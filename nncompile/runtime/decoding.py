"""Program.decode: greedy decoding of a trained sequence model with the program's own `decode`
(emitted for a train block with `decode: {input: ..., start: ...}`; see codegen/decoding.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import NncompileError
from .fit_checks import check_inputs
from .trees import as_arrays, each, rows


class Decoding:
    """The `decode` method of api.Program (kept here: api.py holds the rest of Program)."""

    trainer: Any
    dataset: Any
    train_block: Any

    def _need_trainer(self) -> None: ...

    def decode(self, x: Any, *, raw: bool = True, batch: int = 1024) -> np.ndarray:
        """Token ids [n, steps] decoded greedily for the decoder's input of `decode:` (the start
        token first, then each step's most likely token fed back). `x`: the model's other inputs
        (a dict by name; the decoder's own input may be left out), or for a model with one input
        an int array [n, steps] whose values are not read. ``raw``: apply the training
        normalisation to float inputs first, as `predict` does."""
        self._need_trainer()
        program, spec = self.trainer.program, self.train_block
        if not hasattr(program, "decode") or spec.props.decode is None:
            raise NncompileError(
                f"`train {spec.name}` has no `decode:` property",
                "add `decode: {input: <the decoder's input>, start: <start token id>}`",
            )
        feed = next(t for t in spec.model.inputs if t.name == spec.props.decode.input)
        x = as_arrays(x)
        if isinstance(x, Mapping) and feed.name not in x and x:
            x = {**x, feed.name: np.zeros((rows(x), *feed.shape), np.int32)}
        each(lambda a: check_inputs(a, "the inputs given to decode()"), x)
        if raw and self.dataset is not None:
            x = self.dataset.transform_inputs(x)
        return greedy(program, self.trainer.model, x, batch)


def greedy(program: Any, model: Any, x: Any, batch: int) -> np.ndarray:
    """`program.decode` in eval mode (dropout off, BatchNorm statistics), jitted, in chunks."""
    import jax
    from flax import nnx

    copy = nnx.merge(*nnx.split(model))
    copy.eval()
    graphdef, state = nnx.split(copy)
    run = jax.jit(lambda s, xs: program.decode(nnx.merge(graphdef, s), xs))
    n = rows(x)
    parts = []
    for start in range(0, max(n, 1), batch):
        chunk = each(lambda a, s=start: a[s : s + batch], x)  # type: ignore[misc]
        parts.append(np.asarray(run(state, chunk)))
    return np.concatenate(parts)[:n]
