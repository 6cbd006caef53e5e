"""Logical shards (runtime/shards.py) in one process on one device: the fixed summation order, the
evaluation chunks, what a resumed run decides from its checkpoint, which models are sharded, and
that L shards on one device train what the plain program trains (the mean of the shard means is the
batch mean). The bitwise resumes across device counts: tests/test_bitwise_resume.py."""

from __future__ import annotations

from types import SimpleNamespace

import jax
import numpy as np
import pytest

import nncompile
from nncompile.errors import ConfigError
from nncompile.runtime import shards
from nncompile.runtime.compiled import chunks
from nncompile.runtime.loop import Trainer

MLP = """
data d { source: sklearn("digits")  split: {train: 0.8, val: 0.2} }
model M {
  input x: [64]
  dense(16, activation=relu)
  NORM
  dense(10, activation=softmax)
}
train { model: M  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: 32  epochs: 1  metrics: [accuracy]  seed: 0 }
"""


def program(norm: str = "dropout(0.0)"):
    return nncompile.compile(text=MLP.replace("NORM", norm), path="m.nn")


def test_the_sum_over_shards_is_a_balanced_tree_in_shard_order():
    a = np.array([1e8, 1.0, -1e8, 1.0], np.float32)
    # (1e8 + 1) + (-1e8 + 1) rounds both pairs to +-1e8: 0; a left fold gives 1
    assert float(shards.tree_sum(jax.numpy.asarray(a))) == 0.0
    assert float(((a[0] + a[1]) + a[2]) + a[3]) == 1.0
    b = np.array([1.0, 2.0, 3.0], np.float32)
    assert float(shards.tree_sum(jax.numpy.asarray(b))) == 6.0
    assert float(shards.tree_mean(jax.numpy.asarray(b))) == 2.0


def test_evaluation_chunks_are_cut_into_whole_shards_then_the_rest():
    assert chunks(270, 8192, 4) == [slice(0, 268), slice(268, 270)]
    assert chunks(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert chunks(10, 6, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert chunks(2, 8192, 4) == [slice(0, 2)]  # no whole shard: all rows evaluated whole
    assert chunks(0, 8192, 4) == []


def placement(count: int):
    return SimpleNamespace(count=count)


def test_a_resumed_run_keeps_its_checkpoints_shards_where_the_devices_divide_them():
    logged: list[str] = []
    meta = {"shards": 4, "devices": 4}
    for devices in (1, 2, 4):
        where = None if devices == 1 else placement(devices)
        assert shards.resumed(meta, where, logged.append) == 4  # type: ignore[arg-type]
    assert logged == []
    assert shards.resumed(meta, placement(3), logged.append) == 1  # type: ignore[arg-type]
    assert logged == [
        "resuming on 3 devices a checkpoint written on 4: its 4 logical shards do not split over 3 "
        "devices (a divisor of 4 would); the run continues within float tolerance, not bitwise"
    ]
    logged.clear()
    # a checkpoint of summed-by-XLA gradients (L = 1) on another count; the same count says nothing
    assert shards.resumed({"devices": 4}, None, logged.append) == 1
    assert logged == [
        "resuming on 1 device a checkpoint written on 4: its gradients were summed by XLA across "
        "devices (a model with batch statistics, or a checkpoint of an older version: "
        "docs/scaling.md); the run continues within float tolerance, not bitwise"
    ]
    logged.clear()
    assert shards.resumed({}, placement(4), logged.append) == 1  # type: ignore[arg-type]
    assert shards.resumed({"shards": 1, "devices": 1}, None, logged.append) == 1
    assert logged == []


def test_models_with_batch_statistics_are_not_sharded():
    plain = program().module.make_model(0)
    batch_norm = program("batch_norm()").module.make_model(0)
    assert shards.shardable(plain) and not shards.shardable(batch_norm)
    assert shards.initial(placement(4), plain, 4) == 4  # type: ignore[arg-type]
    assert shards.initial(placement(4), plain, None) == 1  # type: ignore[arg-type]
    assert shards.initial(None, plain, 4) == 4
    with pytest.raises(ConfigError) as e:
        shards.initial(placement(4), batch_norm, 4)  # type: ignore[arg-type]
    assert str(e.value).startswith(
        "`logical_shards: 4`: the model keeps batch statistics (e.g. BatchNorm), which couple"
    )
    with pytest.raises(ConfigError) as e:
        shards.initial(placement(4), plain, 6)  # type: ignore[arg-type]
    assert str(e.value).startswith("`logical_shards: 6` does not split over 4 devices")


@pytest.fixture(scope="module")
def trained():
    p = program()
    splits = p.splits()
    config = {"epochs": 2, "early_stopping": None, "drop_remainder": False}
    runs = {}
    for count in (1, 4):
        trainer = Trainer(p.module, splits, config=config, log=lambda line: None)
        trainer._fns = trainer._fns.rebuild(count)  # as a resumed run of a 4-shard checkpoint
        trainer._epochs = type(trainer._epochs)(trainer._fns)
        runs[count] = (trainer, trainer.fit())
    return runs


@pytest.mark.slow  # two trainers compiled (the 1-device resume path is also in test_bitwise_resume)
def test_four_shards_on_one_device_train_what_the_plain_program_trains(trained):
    (plain, h1), (sharded, h4) = trained[1], trained[4]
    assert sharded.checkpoint_meta() == {"shards": 4, "devices": 1}
    assert plain.checkpoint_meta() == {"shards": 1, "devices": 1}
    a = jax.tree.leaves(plain.state()["model"])
    b = jax.tree.leaves(sharded.state()["model"])
    pairs = [(np.asarray(x), np.asarray(y)) for x, y in zip(a, b, strict=True)]
    assert max(float(np.abs(x - y).max()) for x, y in pairs) < 1e-5
    assert not all(np.array_equal(x, y) for x, y in pairs)  # another summation order
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert h4.epochs[-1][key] == pytest.approx(h1.epochs[-1][key], rel=1e-5)
    # 1437 training rows in batches of 32: a remainder of 29 rows, which 4 shards do not divide
    assert h4.epochs[-1]["loss"] < h4.epochs[0]["loss"]
