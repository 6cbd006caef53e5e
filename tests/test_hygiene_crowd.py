"""specs/crowd_digits.nn: sample weights from the data source (labels of unequal trust). Trained
with its weights, the model recovers the true digits where a crowd's systematic mistakes outnumber
the expert labels; trained unweighted, it learns the mistakes. Measured on the test split's
expert-labelled rows (weight 1: their labels are the true digits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nncompile

SPEC = Path(__file__).resolve().parents[1] / "specs" / "crowd_digits.nn"


def expert_accuracy(text: str, weights: np.ndarray | None) -> tuple[float, Any]:
    data = SPEC.parent / "data" / "crowd_digits.npz"
    program = nncompile.compile(text=text.replace('"data/crowd_digits.npz"', f'"{data}"'))
    program.fit(verbose=False)
    x, y = program.trainer.splits["test"]
    if weights is None:
        weights = program.dataset.weights["test"]
        test = program.evaluate()  # the labels as given (crowd's included), and by their weights
        assert test["weighted_accuracy"] > test["accuracy"] + 0.15, test  # 0.78, 0.55 (seed 0)
    predicted = np.asarray(program.trainer.predict(x)).argmax(-1)
    expert = weights == 1.0
    return float((predicted == np.asarray(y).reshape(-1))[expert].mean()), weights


@pytest.mark.slow
def test_the_weights_recover_the_true_digits():
    text = SPEC.read_text()
    weighted, weights = expert_accuracy(text, None)
    assert 0.2 < weights.mean() < 0.5  # a quarter of the rows weigh 1, the rest 0.1
    unweighted, _ = expert_accuracy(text.replace(', sample_weight="w"', ""), weights)
    assert weighted >= 0.85, weighted  # measured 0.886 (seed 0)
    assert unweighted <= 0.7, unweighted  # measured 0.625
