"""Metrics against numpy/scikit-learn references, accumulated in uneven chunks inside jit."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as skm

from nncompile.runtime import metrics as M

RNG = np.random.default_rng(0)
CHUNKS = (0, 37, 180, 211, 300)  # uneven batches: the accumulator must add up across them


def run(metric: M.Metric, outputs: np.ndarray, y: np.ndarray) -> float:
    update = jax.jit(metric.update)
    acc = metric.init()
    for a, b in itertools.pairwise(CHUNKS):
        acc = update(acc, jnp.asarray(outputs[a:b]), jnp.asarray(y[a:b]))
    return metric.finalize(jax.device_get(acc))


def multiclass(c=5, n=300):
    logits = RNG.normal(size=(n, c)).astype(np.float32)
    return logits, RNG.integers(0, c, size=n).astype(np.int32)


@pytest.mark.parametrize(
    "name, reference",
    [
        ("accuracy", skm.accuracy_score),
        ("precision", lambda t, p: skm.precision_score(t, p, average="macro", zero_division=0)),
        ("recall", lambda t, p: skm.recall_score(t, p, average="macro", zero_division=0)),
        ("f1", lambda t, p: skm.f1_score(t, p, average="macro", zero_division=0)),
    ],
)
def test_multiclass_against_sklearn(name, reference):
    logits, y = multiclass()
    got = run(M.metric(name, M.Head("classification", 5)), logits, y)
    assert got == pytest.approx(reference(y, logits.argmax(-1)), abs=1e-6)


def test_macro_averages_over_classes_that_occur():
    """A class absent from labels and predictions does not pull the macro mean down (as sklearn)."""
    logits, y = multiclass(c=6)
    logits[:, 5] = -100.0  # class 5 is never predicted
    y = np.where(y == 5, 0, y)  # ... nor present
    for name, ref in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        got = run(M.metric(name, M.Head("classification", 6)), logits, y)
        assert got == pytest.approx(
            ref(y, logits.argmax(-1), average="macro", zero_division=0), abs=1e-6
        )


@pytest.mark.parametrize(
    "name, reference",
    [
        ("accuracy", skm.accuracy_score),
        ("precision", lambda t, p: skm.precision_score(t, p, zero_division=0)),
        ("recall", lambda t, p: skm.recall_score(t, p, zero_division=0)),
        ("f1", lambda t, p: skm.f1_score(t, p, zero_division=0)),
    ],
)
@pytest.mark.parametrize("float_labels", [False, True])
def test_binary_sigmoid_against_sklearn(name, reference, float_labels):
    logits = RNG.normal(size=(300, 1)).astype(np.float32)
    y = RNG.integers(0, 2, size=300)
    labels = y.astype(np.float32)[:, None] if float_labels else y.astype(np.int32)
    got = run(M.metric(name, M.Head("classification", 1, logits=True)), logits, labels)
    assert got == pytest.approx(reference(y, (logits[:, 0] > 0).astype(int)), abs=1e-6)


def test_binary_probabilities_use_threshold_half():
    probs = RNG.uniform(size=(300, 1)).astype(np.float32)
    y = RNG.integers(0, 2, size=300).astype(np.int32)
    got = run(M.metric("accuracy", M.Head("classification", 1, logits=False)), probs, y)
    assert got == pytest.approx(skm.accuracy_score(y, probs[:, 0] > 0.5))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_against_sklearn(k):
    logits, y = multiclass(c=7)
    got = run(M.metric("top_k", M.Head("classification", 7), k=k), logits, y)
    assert got == pytest.approx(skm.top_k_accuracy_score(y, logits, k=k, labels=range(7)), abs=1e-6)
    assert M.metric("top_k", M.Head("classification", 7), k=k).key == f"top_{k}"


def test_one_hot_labels_and_sequences():
    logits, y = multiclass()
    one_hot = np.eye(5, dtype=np.float32)[y]
    assert run(M.metric("accuracy", M.Head("classification", 5)), logits, one_hot) == pytest.approx(
        skm.accuracy_score(y, logits.argmax(-1))
    )
    seq_logits = RNG.normal(size=(300, 4, 5)).astype(np.float32)  # (batch, time, classes)
    seq_y = RNG.integers(0, 5, size=(300, 4)).astype(np.int32)
    assert run(M.metric("accuracy", M.Head("sequence", 5)), seq_logits, seq_y) == pytest.approx(
        np.mean(seq_logits.argmax(-1) == seq_y)
    )


@pytest.mark.parametrize(
    "name, reference",
    [
        ("mae", skm.mean_absolute_error),
        ("mse", skm.mean_squared_error),
        ("rmse", lambda t, p: np.sqrt(skm.mean_squared_error(t, p))),
    ],
)
@pytest.mark.parametrize("target_shape", [(300,), (300, 1)])
def test_regression_against_sklearn(name, reference, target_shape):
    predictions = RNG.normal(size=(300, 1)).astype(np.float32)
    y = RNG.normal(size=target_shape).astype(np.float32)
    got = run(M.metric(name, M.Head("regression", 1)), predictions, y)
    assert got == pytest.approx(reference(y.reshape(-1), predictions[:, 0]), rel=1e-5)


def test_build_and_directions():
    built = M.build(
        [{"name": "accuracy"}, {"name": "top_k", "k": 2}, {"name": "mae"}],
        M.Head("classification", 4),
    )
    assert [m.key for m in built] == ["accuracy", "top_2", "mae"]
    assert [
        M.better(k)
        for k in ("val_loss", "loss", "val_mae", "rmse", "val_accuracy", "f1", "val_top_2")
    ] == ["min", "min", "min", "min", "max", "max", "max"]
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        M.build([{"name": "auc"}], M.Head("classification", 4))


def test_accumulators_pack_into_one_vector_and_back():
    from nncompile.runtime.metrics import pack, unpack

    acc = {
        "loss": np.float32(1.5),
        "count": np.int32(7),
        "first_bad": np.int32(-1),
        "metrics": [
            {"tp": np.array([1, 2, 3], np.int32)},
            {"sum": np.float32(np.nan), "count": np.int32(2)},
        ],
    }
    vector = np.asarray(jax.jit(pack)(acc))
    assert vector.dtype == np.int32 and vector.shape == (8,)
    back = unpack(vector, acc)
    assert jax.tree.structure(back) == jax.tree.structure(acc)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(acc), strict=True):
        assert a.dtype == b.dtype and a.shape == np.shape(b)
        np.testing.assert_array_equal(a, b)  # bit for bit, NaN included


@pytest.mark.parametrize("name", sorted(M.METRICS))
def test_accumulators_are_int32_or_float32(name):
    """What `pack` relies on, for every metric."""
    head = (
        M.Head("regression", 1)
        if M.METRICS[name].task == "regression"
        else M.Head("classification", 4)
    )
    leaves = jax.tree.leaves(M.metric(name, head).init())
    assert leaves and all(a.dtype in (np.int32, np.float32) for a in leaves)
