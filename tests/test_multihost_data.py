"""Where a multi-host run keeps its data: by rows over the devices (NNCOMPILE_HOST_DATA=shard, the
default), or every row on every device (=all); one host always replicates. (The two-process run
itself: tests/test_multihost_checkpoints.py.)"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from jax.sharding import Mesh

from nncompile.errors import ConfigError
from nncompile.runtime.devices import Placement, held_rows


def placement() -> Placement:
    return Placement(Mesh(np.array(jax.devices()[:1]), ("data",)), False)


def test_one_host_replicates_and_several_split_by_rows_unless_told(monkeypatch):
    monkeypatch.delenv("NNCOMPILE_HOST_DATA", raising=False)
    assert not placement().row_splits
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    assert placement().row_splits
    monkeypatch.setenv("NNCOMPILE_HOST_DATA", "all")
    assert not placement().row_splits


def test_a_bad_host_data_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setenv("NNCOMPILE_HOST_DATA", "half")
    with pytest.raises(ConfigError) as e:
        placement().row_splits  # noqa: B018
    assert str(e.value).startswith(
        "NNCOMPILE_HOST_DATA=half: takes shard (each host its devices' rows of the data, the "
        "default) or all (every device all of it)"
    )


def test_held_rows_leave_out_the_padding():
    x = jax.device_put(np.zeros((8, 3), np.float32))
    assert held_rows(x, 8) == 8
    assert held_rows({"a": x}, 6) == 6  # (8 rows, 2 of them padding)
