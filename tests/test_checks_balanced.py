"""`class_weight: balanced` is written once (registry.balanced): the runtime calls the functions,
an ejected train.py holds their source, read with inspect; the ejected code runs with numpy alone
and gives the runtime's weights."""

from __future__ import annotations

import numpy as np
import pytest

from nncompile.codegen.eject_train import BALANCED
from nncompile.errors import ConfigError
from nncompile.registry import balanced as rule
from nncompile.runtime.classweight import balanced

Y = np.array([0] * 11 + [1] * 2 + [3] * 5)
CASES = [Y, np.eye(5, dtype=np.float32)[Y], np.array([[0.0], [1.0], [0.0], [0.0]])]


def ejected():
    scope = {"np": np}  # what train.py imports: numpy, no nncompile module
    exec(BALANCED.code, scope)
    return scope["balanced_class_weight"]


@pytest.mark.parametrize("y", CASES, ids=["ids", "one-hot rows", "binary floats"])
def test_the_ejected_rule_is_the_runtimes(y):
    assert ejected()(y) == balanced(y) == rule.balanced_class_weight(y)


def test_the_ejected_code_is_the_functions_source_and_imports_nothing():
    for name in ("one_hot_rows", "target_class_ids", "balanced_class_weight"):
        assert f"\ndef {name}(y: np.ndarray)" in BALANCED.code
    assert "import" not in BALANCED.code and "nncompile" not in BALANCED.code
    assert balanced(Y) == pytest.approx((18 / 33, 18 / 6, 1.0, 18 / 15))


def test_the_runtime_still_refuses_targets_without_class_ids():
    with pytest.raises(ConfigError, match="needs class ids 0, 1"):
        balanced(np.array([-1, 0, 1]))
