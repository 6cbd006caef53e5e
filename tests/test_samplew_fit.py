"""Sample weights (Keras' fit(sample_weight=...)): the emitted weighted loss (Keras' reduction:
sum(w * loss) / batch size), weights carried through split/shuffle/batching with the targets, zero
weights equal to leaving the rows out, fit(sample_weight=...) of the Python API, unweighted
evaluation."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import nncompile
from nncompile.errors import NncompileError

NO_DATA = """
model M { input x: [4]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: M  loss: categorical_crossentropy  optimizer: sgd(lr=0.1)  batch_size: BATCH
        epochs: EPOCHS  shuffle: false }
"""


def arrays(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, rng.integers(0, 3, n)


def no_data(batch: str = "full", epochs: int = 3) -> str:
    text = NO_DATA.replace("BATCH", batch).replace("EPOCHS", str(epochs))
    return text.replace("  shuffle: false", "")


def params(program) -> list[np.ndarray]:
    from flax import nnx

    return [np.asarray(a) for a in jax.tree.leaves(nnx.state(program.trainer.model, nnx.Param))]


def test_the_weighted_loss_is_keras_sum_over_batch_size():
    """loss_fn(..., sample_weight=w) = sum(w * loss) / batch size; arrays given to fit() for
    evaluation come without weights: evaluated unweighted."""
    program = nncompile.compile(text=no_data())
    x, y = arrays(6)
    w = np.array([0.0, 1.0, 2.0, 0.5, 3.0, 1.0], np.float32)
    program.fit(data={"train": (x, y)}, sample_weight=w, epochs=1)
    module = program.module
    assert "def loss_fn(model, x, y, sample_weight=None):" in program.source
    assert "def train_step(model, optimizer, x, y, key, sample_weight=None):" in program.source
    model = module.make_model(0)
    weighted, logits = module.loss_fn(model, x, y, sample_weight=w)
    plain, _ = module.eval_step(model, x, y)
    assert float(module.eval_step(model, x, y, sample_weight=w)[0]) == pytest.approx(
        float(weighted)
    )
    assert program.evaluate(data=(x, y))["loss"] == pytest.approx(
        float(program.module.eval_step(program.trainer.model, x, y)[0]), rel=1e-5
    )
    logits = np.asarray(logits, np.float64)
    per = -(logits - np.log(np.exp(logits).sum(-1, keepdims=True)))[np.arange(6), y]
    assert float(weighted) == pytest.approx((per * w).sum() / 6, rel=1e-5)
    assert float(plain) == pytest.approx(per.mean(), rel=1e-5)


def test_zero_weights_train_as_if_the_rows_were_left_out():
    """Full batch: weights 0 on some rows and n/kept on the others give the mean loss over the kept
    rows, so SGD trains to the same parameters as on the kept rows alone."""
    x, y = arrays(40)
    keep = np.arange(40) % 4 != 0
    w = np.where(keep, 40 / keep.sum(), 0.0)
    weighted = nncompile.compile(text=no_data(epochs=5))
    weighted.fit(data={"train": (x, y)}, sample_weight=w)
    dropped = nncompile.compile(text=no_data(epochs=5))
    dropped.fit(data={"train": (x[keep], y[keep])})
    for a, b in zip(params(weighted), params(dropped), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    # and the weights changed something: unweighted training ends elsewhere
    plain = nncompile.compile(text=no_data(epochs=5))
    plain.fit(data={"train": (x, y)})
    assert not np.allclose(params(plain)[0], params(weighted)[0], atol=1e-4)


def test_minibatches_carry_each_rows_weight():
    """Shuffled batches of 8 with a remainder: every row's weight travels with it (a weight of 0
    on the rows of class 2 leaves the class unlearned, whatever batch they fall in)."""
    x, y = arrays(60, seed=3)
    x[:, 0] += 3.0 * (y == 2)  # class 2 is easy to tell apart
    w = (y != 2).astype(np.float32)
    text = no_data("8", 20).replace("sgd(lr=0.1)", "adam(lr=0.05)")
    program = nncompile.compile(text=text)
    history = program.fit(data={"train": (x, y)}, sample_weight=w)
    p = np.asarray(program.predict(x))
    plain = nncompile.compile(text=text)
    plain.fit(data={"train": (x, y)})
    q = np.asarray(plain.predict(x))
    assert p[y == 2, 2].mean() < 0.2 < 0.8 < q[y == 2, 2].mean()
    assert np.isfinite(history.epochs[-1]["loss"])


NPZ_SPEC = """
data d {
  source: npz("PATH", sample_weight="w")
  split: {train: 0.5, val: 0.25, test: 0.25}
}
model M { input x: [4]  dense(8, activation=relu)  dense(3, activation=softmax) }
train { model: M  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: 8  epochs: 2 }
"""


def test_npz_weights_are_split_with_the_targets(tmp_path):
    x, y = arrays(48, seed=1)
    w = np.arange(48, dtype=np.float32)  # the weight of row i is i: which rows a split took
    np.savez(tmp_path / "d.npz", x=x, y=y, w=w)
    text = NPZ_SPEC.replace("PATH", str(tmp_path / "d.npz"))
    assert nncompile.check(text=text) == []
    program = nncompile.compile(text=text)
    assert program.config["data"]["args"]["sample_weight"] == "w"
    dataset = program.load_data()
    assert dataset.weights is not None
    for name, (xs, _) in dataset.splits.items():
        rows = dataset.weights[name].astype(int)
        np.testing.assert_allclose(dataset.transform_inputs(x[rows]), xs, rtol=1e-5, atol=1e-6)
    history = program.fit()
    assert {"loss", "val_loss"} <= set(history.epochs[-1])
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(program.trainer.sample_weights[name], dataset.weights[name])
    # the val and test losses weigh each example as the data says (Keras' validation_split)
    x_test, y_test = dataset.splits["test"]
    p = np.asarray(program.predict(x_test, raw=False), np.float64)
    per = -np.log(p[np.arange(len(y_test)), y_test])
    w_test = dataset.weights["test"]
    assert program.evaluate("test")["loss"] == pytest.approx((per * w_test).mean(), rel=1e-4)


def test_csv_weights_column_is_no_feature(tmp_path):
    rows = ["a,b,c,d,w,y"] + [f"{i},{i % 3},{i % 5},{i % 7},{i % 2},{i % 3}" for i in range(30)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    text = NPZ_SPEC.replace(
        'npz("PATH", sample_weight="w")', 'csv("PATH", target="y", sample_weight="w")'
    )
    text = text.replace("PATH", str(tmp_path / "d.csv"))
    assert nncompile.check(text=text) == []  # 4 features: the weights column is not one
    program = nncompile.compile(text=text)
    dataset = program.load_data()
    assert dataset.feature_shape == (4,)
    assert set(np.unique(np.concatenate(list(dataset.weights.values())))) == {0.0, 1.0}


def test_fit_weights_of_the_spec_source_are_per_source_row_and_recorded(tmp_path):
    x, y = arrays(48, seed=2)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    text = NPZ_SPEC.replace(', sample_weight="w"', "").replace("PATH", str(tmp_path / "d.npz"))
    program = nncompile.compile(text=text)
    assert "sample_weight" not in program.source
    w = np.arange(48, dtype=np.float32)
    program.fit(sample_weight=w, run_dir=tmp_path / "run")
    assert "sample_weight=None" in program.source  # compiled again to weigh examples
    train_rows = program.trainer.sample_weights["train"].astype(int)
    assert len(train_rows) == 24 and len(set(train_rows)) == 24
    assert json.loads((tmp_path / "run" / "run.json").read_text())["sample_weight"] is True
    saved = program.save(tmp_path / "saved", curves=False)
    assert json.loads((saved / "run.json").read_text())["sample_weight"] is True
    loaded = nncompile.load(saved)  # rebuilt weighted: the program that trained it
    assert "sample_weight=None" in loaded.source
    x_test = program.dataset.splits["test"][0]
    np.testing.assert_allclose(
        loaded.predict(x_test, raw=False), program.predict(x_test, raw=False), rtol=1e-6
    )


def test_weights_of_one_train_as_no_weights():
    x, y = arrays(40, seed=5)
    text = no_data("8", 2)
    weighted = nncompile.compile(text=text)
    weighted.fit(data={"train": (x, y)}, sample_weight=np.ones(40))
    plain = nncompile.compile(text=text)
    plain.fit(data={"train": (x, y)})
    for a, b in zip(params(weighted), params(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


TWO_OUT = """
model Two {
  input a: [5]
  input b: [3]
  h = dense(8, activation=relu)(a)
  c = concat(h, b)
  label = dense(2, activation=softmax)(c)
  value = dense(1)(c)
  output label, value
}
data d {
  source: npz("PATH", x=["a", "b"], y=["label", "value"], sample_weight="w")
  split: {train: 0.75, val: 0.25}
}
train { model: Two data: d loss: {label: categorical_crossentropy, value: mse}
        loss_weights: {value: 0.5} epochs: 2 batch_size: 16 optimizer: adam(lr=1e-2) }
"""


def test_several_outputs_share_each_examples_weight(tmp_path):
    """One weight per example weighs every output's loss (Keras: one sample_weight array for a
    model with several outputs applies to each)."""
    r = np.random.default_rng(0)
    a, b = r.normal(size=(40, 5)).astype("f4"), r.normal(size=(40, 3)).astype("f4")
    label, value = (a[:, 0] > 0).astype("i4"), a[:, 1:2].astype("f4")
    w = r.uniform(0, 2, 40).astype("f4")
    np.savez(tmp_path / "d.npz", a=a, b=b, label=label, value=value, w=w)
    text = TWO_OUT.replace("PATH", str(tmp_path / "d.npz"))
    assert nncompile.check(text=text) == []
    program = nncompile.compile(text=text)
    assert "def output_losses(outputs, y, sample_weight=None):" in program.source
    history = program.fit()
    last = history.epochs[-1]
    # the outputs' losses are weighted as the loss is: they still add up to it
    assert last["loss"] == pytest.approx(last["label_loss"] + 0.5 * last["value_loss"], rel=1e-4)
    assert last["val_loss"] == pytest.approx(
        last["val_label_loss"] + 0.5 * last["val_value_loss"], rel=1e-4
    )
    module, model = program.module, program.module.make_model(0)
    x, y = {"a": a, "b": b}, {"label": label, "value": value}
    weighted, outputs = module.loss_fn(model, x, y, sample_weight=w)
    p = np.asarray(outputs["label"], np.float64)
    ce = -(p - np.log(np.exp(p).sum(-1, keepdims=True)))[np.arange(40), label]
    se = ((np.asarray(outputs["value"], np.float64) - value) ** 2)[:, 0]
    assert float(weighted) == pytest.approx((ce * w).mean() + 0.5 * (se * w).mean(), rel=1e-5)


@pytest.mark.slow  # two fits with logical shards (compilation): over the fast tier's 3 s
def test_logical_shards_pass_each_shards_weights():
    """The sharded step (runtime.shards) calls loss_fn per shard, with the shard's weights."""
    x, y = arrays(40, seed=4)
    w = np.where(y == 0, 3.0, 0.2).astype(np.float32)
    losses = []
    for extra in ("", "  logical_shards: 2"):
        text = no_data("10", 1).replace("epochs: 1", f"epochs: 1\n{extra}")
        history = nncompile.compile(text=text).fit(data={"train": (x, y)}, sample_weight=w)
        losses.append(history.epochs[0]["loss"])
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    plain = nncompile.compile(text=no_data("10", 1)).fit(data={"train": (x, y)})
    assert plain.epochs[0]["loss"] != pytest.approx(losses[0], rel=0.02)


def test_the_verdicts_constant_guess_is_weighted_too():
    """The fit verdict compares the (weighted) training loss with the best constant's weighted loss:
    weights of 3 triple both (the unweighted guess would call a fine fit underfitting)."""
    from nncompile.runtime.verdict import baseline_loss

    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 1))
    ids = rng.integers(0, 3, 50)
    for loss, y in (("mse", v), ("mae", v), ("categorical_crossentropy", ids)):
        plain = baseline_loss(loss, y)
        assert baseline_loss(loss, y, sample_weight=np.full(50, 3.0)) == pytest.approx(3 * plain)
    # zero weights leave rows out of the constant: the mean of the others, scaled by n_kept / n
    w = (np.arange(50) < 20).astype(float)
    assert baseline_loss("mse", v, sample_weight=w) == pytest.approx(v[:20].var() * 20 / 50)
    assert baseline_loss("mae", v, sample_weight=w) == pytest.approx(
        np.abs(v[:20] - np.median(v[:20])).sum() / 50, rel=0.05
    )


def test_class_and_sample_weights_multiply():
    from nncompile.api import Program

    text = NO_DATA.replace("BATCH", "full").replace("EPOCHS", "1")
    spec = nncompile.compile(text=text.replace("shuffle: false", "class_weight: {2: 4.0}")).spec
    program = Program(spec, sample_weight=True)  # as fit(sample_weight=...) compiles it
    assert "def loss_fn(model, x, y, class_weight=None, sample_weight=None):" in program.source
    module = program.module
    model = module.make_model(0)
    x, y = arrays(6)
    w = np.array([1.0, 0.0, 2.0, 0.5, 3.0, 1.0], np.float32)
    both, logits = module.loss_fn(model, x, y, module.CLASS_WEIGHT, sample_weight=w)
    logits = np.asarray(logits, np.float64)
    per = -(logits - np.log(np.exp(logits).sum(-1, keepdims=True)))[np.arange(6), y]
    by_class = np.where(y == 2, 4.0, 1.0)
    assert float(both) == pytest.approx((per * w * by_class).mean(), rel=1e-5)


def test_a_gan_takes_no_sample_weights():
    from tests.gan_specs import tiny_gan

    program = nncompile.compile(
        text=tiny_gan(
            "train { objective: gan(generator=G, discriminator=D, noise=normal([8]))\n"
            "  data: d  loss: non_saturating  batch_size: 16  epochs: 1 }"
        )
    )
    with pytest.raises(NncompileError) as e:
        program.fit(sample_weight=np.ones(10))
    assert e.value.message == "sample_weight weighs the loss of a supervised model; a GAN has none"


def test_given_splits_take_their_weights_as_a_dict():
    """fit(data={...}, sample_weight={"train": w, "val": wv}): Keras' validation_data=(x, y, w)."""
    x, y = arrays(40, seed=6)
    w, wv = np.ones(30), np.r_[np.zeros(5), np.ones(5)]
    program = nncompile.compile(text=no_data("10", 1))
    data = {"train": (x[:30], y[:30]), "val": (x[30:], y[30:])}
    history = program.fit(data=data, sample_weight={"train": w, "val": wv})
    p = np.asarray(program.predict(x[30:]), np.float64)
    per = -np.log(p[np.arange(10), y[30:]])
    assert history.epochs[-1]["val_loss"] == pytest.approx((per * wv).mean(), rel=1e-4)


def test_the_data_fingerprint_covers_the_sources_weights(tmp_path):
    """A run records the digest of its data with the weights the source names: other weights in
    the same file make `nncompile.load` warn that the data differs."""
    from nncompile.runtime.runrecord import data_fingerprint

    x, y = arrays(48, seed=7)
    np.savez(tmp_path / "d.npz", x=x, y=y, w=np.ones(48, np.float32))
    text = NPZ_SPEC.replace("PATH", str(tmp_path / "d.npz"))
    program = nncompile.compile(text=text)
    splits = program.splits()
    weights = program.source_weights()
    assert weights is not None and set(weights) == {"train", "val", "test"}
    plain, weighed = data_fingerprint(splits), data_fingerprint(splits, weights)
    assert plain["rows"] == weighed["rows"] and plain["sha256"] != weighed["sha256"]
    other = {k: w * 2 for k, w in weights.items()}
    assert data_fingerprint(splits, other)["sha256"] != weighed["sha256"]
