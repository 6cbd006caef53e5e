"""Sample weights for a Program (Keras' `fit(sample_weight=...)`): the program emitted to weigh
examples when fit() is given weights the data does not name, and the training split's weights the
Trainer takes (runtime.sampleweight)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..codegen.emit import emit_program
from ..codegen.load import load_module
from ..errors import NncompileError

if TYPE_CHECKING:
    from ..runtime.data import Dataset


class SampleWeights:
    """The Program's sample-weight methods (mixed into api.Program)."""

    spec: Any
    train_block: Any
    dataset: Dataset | None
    _from_data: bool
    given_weights: dict | None = None  # each split's weights given to the last fit()
    if TYPE_CHECKING:  # what Program defines

        @property
        def is_gan(self) -> bool: ...

        def load_data(self, sample_weight: Any = None) -> Any: ...

    def _emit(self, sample_weight: bool) -> None:
        """The program's source and live module; `sample_weight`: compiled to weigh examples with
        weights given to fit() (the data names none; run.json records it for nncompile.load)."""
        self.weighs_given = sample_weight
        name = self.train_block.name
        self.source = emit_program(self.spec, name, sample_weight=sample_weight)
        self.module = load_module(self.source, f"{Path(self.spec.source.path).name}:{name}")

    def _given_weights(self, data: Any, sample_weight: Any) -> None:
        """fit(sample_weight=...): a program compiled to weigh examples, and for the spec's data
        source (data None), its dataset loaded again with a weight per row of the source. Keeps
        each split's weights in `given_weights` (None without), for the run's data fingerprint."""
        self.given_weights = None
        if sample_weight is None:
            return
        if self.is_gan:
            raise NncompileError(
                "sample_weight weighs the loss of a supervised model; a GAN has none",
                "leave out sample_weight",
            )
        from ..runtime.sampleweight import takes_weights

        if not takes_weights(self.module):
            self._emit(True)
        if data is None:
            if isinstance(sample_weight, Mapping):
                raise NncompileError(
                    "sample_weight for the spec's data is one weight per row of its source, split "
                    "with the rows; a dict of splits' weights goes with fit(data={...})",
                    "pass an array of the source's rows",
                )
            self.load_data(sample_weight)
            self.given_weights = self.dataset.weights if self.dataset is not None else None
        elif isinstance(sample_weight, Mapping):
            self.given_weights = dict(sample_weight)
        else:
            self.given_weights = {"train": sample_weight}

    def _train_weights(self, given: Any) -> Any:
        """The Trainer's `sample_weight`: the weights given for the train split of fit()'s data,
        else each split's of the spec's data (its source's `sample_weight`, or fit()'s), else
        None."""
        if given is not None or not self._from_data or self.dataset is None:
            return given
        return self.dataset.weights
