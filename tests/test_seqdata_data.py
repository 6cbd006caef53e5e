"""Integer sequences as data: npz token ids and per-step class ids, one-hot rows, windows' stride,
`target: input`, `pad:` masking, the addition source (fast; a train step at most)."""

from pathlib import Path

import numpy as np
import pytest

import nncompile.api as api
from nncompile.errors import DataError
from nncompile.registry.metrics import METRICS, Head
from nncompile.registry.synthetic import ADDITION_CHARS
from nncompile.runtime.data import DataSpec, load_dataset

SEQ_MODEL = """
model M {
  input x: int[7]
  embedding(12, 8)
  lstm(8)
  repeat(4)
  lstm(8, return_sequences=true)
  dense(12, activation=softmax)
}
"""


def write_npz(folder: Path, **arrays) -> Path:
    path = folder / "seq.npz"
    np.savez(path, **arrays)
    return path


def seq_arrays(n: int = 96):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, size=(n, 7))
    return x, np.sort(x[:, :4], axis=1)


def spec_text(train: str = "", data: str = "", model: str = SEQ_MODEL) -> str:
    return (
        f'data d {{ source: npz("seq.npz") {data} }}\n{model}\n'
        f"train {{ model: M data: d loss: categorical_crossentropy epochs: 1 batch_size: 16 "
        f"{train} }}\n"
    )


def compile_in(folder: Path, text: str):
    path = folder / "s.nn"
    path.write_text(text)
    return api.compile(path)


def test_npz_integer_inputs_and_per_step_targets_train(tmp_path):
    x, y = seq_arrays()
    write_npz(tmp_path, x=x, y=y)
    program = compile_in(tmp_path, spec_text("metrics: [accuracy, exact_match]"))
    assert program.run_config.task == "sequence"  # emit agrees with check
    data = program.load_data()
    xt, yt = data.splits["train"]
    assert xt.dtype == np.int32 and np.array_equal(np.unique(xt), np.unique(x))  # not normalised
    assert yt.shape[1:] == (4,) and yt.dtype == np.int32
    history = program.fit()
    assert np.isfinite(history.epochs[-1]["loss"])


def test_npz_float_features_refused_for_token_input_at_check(tmp_path):
    x, y = seq_arrays()
    write_npz(tmp_path, x=x.astype(np.float32), y=y)
    with pytest.raises(Exception) as e:
        compile_in(tmp_path, spec_text())
    assert "data d gives float features, but model M takes int input x" in str(e.value)


def test_one_hot_float_targets_in_npz_are_a_check_error_with_the_fix(tmp_path):
    x, y = seq_arrays()
    write_npz(tmp_path, x=x, y=np.eye(12, dtype=np.float32)[y])
    with pytest.raises(Exception) as e:
        compile_in(tmp_path, spec_text())
    text = str(e.value)
    assert "categorical_crossentropy needs class labels, but data d has real-valued targets" in text
    assert "store their class ids instead (np.savez(..., y=y.argmax(-1)))" in text


def test_arrays_given_to_fit_one_hot_rows_and_float_ids_are_diagnosed(tmp_path):
    x, y = seq_arrays()
    write_npz(tmp_path, x=x, y=y)
    program = compile_in(tmp_path, spec_text())
    with pytest.raises(DataError) as e:
        program.fit(data=(x, np.eye(12, dtype=np.float32)[y]))
    assert str(e.value).startswith(
        "the arrays given to fit() (y): the train split's targets are rows of 12 values per step "
        "(shape [4, 12], one-hot rows?), but categorical_crossentropy reads class ids (shape [4])"
    )
    with pytest.raises(DataError) as e:
        program.fit(data=(x.astype(np.float32), y))
    assert "inputs of dtype float32, but the model reads integer token ids" in str(e.value)


def test_pad_masks_loss_and_accuracy(tmp_path):
    x, y = seq_arrays()
    y = y + 1
    y[:, 2:] = 0  # the last two steps are padding (id 0)
    write_npz(tmp_path, x=x, y=y)
    text = spec_text("metrics: [accuracy]", "pad: 0").replace("dense(12", "dense(13")
    program = compile_in(tmp_path, text)
    masked = "jnp.sum(optax.softmax_cross_entropy(outputs, jax.nn.one_hot(y, outputs.shape[-1])) "
    assert masked + "* (y != 0)) / jnp.maximum(jnp.sum((y != 0)), 1)" in program.source
    program.fit()
    import jax.numpy as jnp

    acc = METRICS["accuracy"].accumulator(Head("sequence", 3, pad=0), METRICS["accuracy"].params())
    outputs = jnp.asarray(np.eye(3)[[[1, 2, 1], [2, 2, 0]]], jnp.float32)  # predicted ids
    labels = jnp.asarray([[1, 1, 0], [2, 0, 0]])  # 3 real steps, 2 right
    assert acc.finalize(acc.update(acc.init(), outputs, labels)) == pytest.approx(2 / 3)
    whole = METRICS["exact_match"].accumulator(Head("sequence", 3, pad=0), None)
    assert whole.finalize(whole.update(whole.init(), outputs, labels)) == pytest.approx(0.5)


def test_pad_with_a_loss_or_metric_that_cannot_mask_is_a_check_error(tmp_path):
    x, y = seq_arrays()
    write_npz(tmp_path, x=x, y=y)
    with pytest.raises(Exception) as e:
        compile_in(tmp_path, spec_text("metrics: [top_k(2)]", "pad: 0"))
    assert "metric top_k does not leave out the padding of data d (`pad: 0`)" in str(e.value)


def test_windows_stride_keeps_every_kth_window():
    base = dict(
        name="d",
        source="synthetic",
        args={"kind": "sine", "n": 100},
        split={"train": 1},
        normalize="none",
    )
    one = load_dataset(DataSpec(**base, windows={"length": 10, "horizon": 1}))
    five = load_dataset(DataSpec(**base, windows={"length": 10, "horizon": 1, "stride": 5}))
    x1, x5 = one.splits["train"][0], five.splits["train"][0]
    assert len(x5) == (len(x1) + 4) // 5
    assert np.allclose(x5[1], x1[5])


def test_target_input_reconstructs_the_prepared_inputs():
    spec = DataSpec(
        name="d", source="sklearn", args={"name": "iris"}, normalize="minmax", target="input"
    )
    data = load_dataset(spec)
    for x, y in data.splits.values():
        assert np.array_equal(x, y) and x.max() <= 1.0 + 1e-6
    assert data.task == "regression" and data.stats["y"] is None


def test_target_input_output_shape_is_checked(tmp_path):
    text = (
        'data d { source: sklearn("iris") target: input }\n'
        "model A { input x: [4]\n dense(2)\n dense(3) }\n"
        "train { model: A data: d loss: mse }\n"
    )
    with pytest.raises(Exception) as e:
        compile_in(tmp_path, text)
    assert "model A outputs [3], but data d has targets of shape [4]" in str(e.value)


def test_addition_source_writes_questions_and_answers():
    data = load_dataset(
        DataSpec(name="d", source="synthetic", args={"kind": "addition", "n": 50, "features": 2})
    )
    x, y = data.splits["train"]
    assert x.shape[1:] == (5,) and y.shape[1:] == (3,) and data.task == "sequence"
    for q, a in zip(x, y, strict=True):
        question = "".join(ADDITION_CHARS[i] for i in q).strip()
        left, right = question.split("+")
        assert int("".join(ADDITION_CHARS[i] for i in a)) == int(left) + int(right)


def test_denoising_autoencoder_noises_training_inputs_only(tmp_path):
    text = (
        'data d { source: sklearn("iris") normalize: minmax target: input '
        "augment: [gaussian_noise(0.2)] }\n"
        "model A { input x: [4]\n dense(8, activation=relu)\n dense(2)\n dense(4) }\n"
        "train { model: A data: d loss: mse epochs: 3 batch_size: 16 }\n"
    )
    program = compile_in(tmp_path, text)
    assert "    x = augment(key, x)\n" in program.source  # y, the clean inputs, is left alone
    program.fit()
    x, y = program.dataset.splits["train"]
    assert np.array_equal(x, y)
    assert np.isfinite(program.evaluate()["loss"])


def test_per_step_ids_must_match_the_output_steps(tmp_path):
    x, y = seq_arrays()
    write_npz(tmp_path, x=x, y=y)
    program = compile_in(tmp_path, spec_text())  # the model outputs [4, 12]
    write_npz(tmp_path, x=x, y=y[:, :3])  # (written before, `check` reads it: test_npzcheck_*)
    with pytest.raises(DataError) as e:
        program.fit()
    assert e.value.message == (
        "data 'd' (" + str(tmp_path / "seq.npz") + ", array 'y'): the train split has class ids "
        "of shape [3] per example, but model M outputs [4, 12]: one id per output step, shape [4]"
    )
    assert e.value.hint.startswith("give the model as many output steps as the targets")


def write_csv(folder: Path, answers: str = "digits") -> Path:
    """Token ids in columns t0..t3, and per-step targets a0, a1 (ids, or characters)."""
    rows = ["t0,t1,t2,t3,a0,a1"]
    for i in range(40):
        t = [(i * k) % 7 for k in (1, 2, 3, 5)]
        a = [t[0] + t[1], t[2]] if answers == "digits" else ["xyz"[t[0] % 3], "pq"[t[2] % 2]]
        rows.append(",".join(map(str, t + a)))
    path = folder / "seq.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_csv_token_columns_and_per_step_targets(tmp_path):
    write_csv(tmp_path)
    args = {"path": "seq.csv", "target": ["a0", "a1"], "tokens": True}
    with_ids = DataSpec(name="d", source="csv", args=args, base_dir=str(tmp_path))
    data = load_dataset(with_ids)
    x, y = data.splits["train"]
    assert x.dtype == np.int32 and x.shape[1:] == (4,) and x.max() <= 6  # ids, not normalised
    assert y.dtype == np.int32 and y.shape[1:] == (2,) and data.task == "sequence"
    assert np.all(y[:, 0] == x[:, 0] + x[:, 1])  # integer targets are the ids themselves


def test_csv_text_targets_per_step_share_one_vocabulary(tmp_path):
    write_csv(tmp_path, answers="chars")
    args = {"path": "seq.csv", "target": ["a0", "a1"], "tokens": True}
    data = load_dataset(DataSpec(name="d", source="csv", args=args, base_dir=str(tmp_path)))
    assert data.stats["labels"] == ["p", "q", "x", "y", "z"] and data.num_classes == 5


def test_csv_tokens_refuse_fractions(tmp_path):
    (tmp_path / "f.csv").write_text("a,b,y\n1,2.5,0\n3,4,1\n")
    args = {"path": "f.csv", "target": "y", "tokens": True}
    with pytest.raises(DataError) as e:
        load_dataset(DataSpec(name="d", source="csv", args=args, base_dir=str(tmp_path)))
    assert e.value.message == (
        f"data 'd': {tmp_path / 'f.csv'}: column 'b' of data row 1 holds 2.5, not a token id"
    )
