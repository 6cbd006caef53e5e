"""The data layer on real data: shapes, splits, normalisation, windows, and every bad input."""

import os
from collections import Counter

import numpy as np
import pytest

from nncompile.errors import DataError
from nncompile.runtime.data import DataSpec, load_dataset

THREE = {"train": 0.7, "val": 0.15, "test": 0.15}
TEXT = "the quick brown fox jumps over the lazy dog. " * 40
SKLEARN = {
    "digits": (64, 10),
    "iris": (4, 3),
    "wine": (13, 3),
    "breast_cancer": (30, 2),
    "diabetes": (10, None),
}


def spec(source="sklearn", args=None, **kw) -> DataSpec:
    return DataSpec(
        kw.pop("name", "d"), source, args if args is not None else {"name": "digits"}, **kw
    )


def error(s: DataSpec) -> DataError:
    with pytest.raises(DataError) as info:
        load_dataset(s)
    assert info.value.message.startswith(f"data '{s.name}'")
    assert info.value.hint
    return info.value


def write(tmp_path, name, content) -> str:
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return str(path)


# --- sklearn, splits, normalisation ------------------------------------------------------------


@pytest.mark.parametrize("name", SKLEARN)
def test_sklearn_shapes_and_dtypes(name):
    features, classes = SKLEARN[name]
    d = load_dataset(spec(args={"name": name}, split=THREE))
    assert list(d.splits) == ["train", "val", "test"]
    assert d.feature_shape == (features,) and d.num_classes == classes
    for x, y in d.splits.values():
        assert x.dtype == np.float32 and x.shape[1:] == (features,) and len(x) == len(y)
        if classes:
            assert y.dtype == np.int32 and y.shape == (len(x),) and y.max() < classes
        else:
            assert y.dtype == np.float32 and y.shape == (len(x), 1)
    assert d.task == ("classification" if classes else "regression")
    assert d.target_shape == (() if classes else (1,))
    assert (
        sum(len(x) for x, _ in d.splits.values())
        == {"digits": 1797, "iris": 150, "wine": 178, "breast_cancer": 569, "diabetes": 442}[name]
    )


def test_stratified_split_keeps_class_proportions():
    d = load_dataset(spec(args={"name": "wine"}, split=THREE))
    total = Counter(np.concatenate([y for _, y in d.splits.values()]).tolist())
    for part, fraction in THREE.items():
        counts = Counter(d.splits[part][1].tolist())
        for cls, n in total.items():
            assert abs(counts[cls] - n * fraction) <= 1


def test_same_seed_same_arrays_other_seed_other_order():
    a, b = load_dataset(spec(seed=3)), load_dataset(spec(seed=3))
    c = load_dataset(spec(seed=4))
    for part in a.splits:
        for u, v in zip(a.splits[part], b.splits[part], strict=True):
            np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.splits["train"][1], c.splits["train"][1])


def test_shuffle_false_is_still_stratified_and_deterministic():
    d = load_dataset(spec(args={"name": "iris"}, shuffle=False))
    assert Counter(d.splits["test"][1].tolist()) == {0: 10, 1: 10, 2: 10}


def test_standard_normalisation_uses_train_statistics_only():
    d = load_dataset(spec(args={"name": "breast_cancer"}))
    train, test = d.splits["train"][0], d.splits["test"][0]
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-3)
    assert not np.allclose(test.mean(0), 0, atol=1e-3)
    assert d.stats["x"]["method"] == "standard" and len(d.stats["x"]["shift"]) == 30


def test_constant_features_do_not_divide_by_zero():
    x = load_dataset(spec()).splits["train"][0]  # digits has always-blank pixels
    assert np.isfinite(x).all()
    std = x.std(0)
    assert np.all((np.abs(std - 1) < 1e-3) | (std == 0))


def test_minmax_is_in_unit_range_on_train():
    d = load_dataset(spec(args={"name": "wine"}, normalize="minmax"))
    train = d.splits["train"][0]
    assert train.min() == 0 and train.max() == pytest.approx(1)
    np.testing.assert_allclose(train.min(0), 0) and np.testing.assert_allclose(
        train.max(0), 1, atol=1e-6
    )


def test_regression_targets_normalised_and_inverted():
    raw = load_dataset(spec(args={"name": "diabetes"}))
    d = load_dataset(spec(args={"name": "diabetes"}, normalize_target="standard"))
    y = d.splits["train"][1]
    assert y.shape[1] == 1 and abs(y.mean()) < 1e-4 and abs(y.std() - 1) < 1e-3
    np.testing.assert_allclose(
        d.inverse_targets(d.splits["test"][1]), raw.splits["test"][1], rtol=1e-5
    )


def test_reshape_digits_to_images():
    d = load_dataset(spec(reshape=(8, 8, 1)))
    assert d.feature_shape == (8, 8, 1) and d.splits["test"][0].shape[1:] == (8, 8, 1)


def test_wrong_reshape_names_block_shape_and_count():
    e = error(spec(name="digits", reshape=(8, 9, 1)))
    assert "[64]" in e.message and "64 values" in e.message and "[8, 9, 1]" in e.message


def test_one_hot():
    d = load_dataset(spec(args={"name": "iris"}, one_hot=True))
    y = d.splits["train"][1]
    assert y.dtype == np.float32 and y.shape[1:] == (3,) and d.target_shape == (3,)
    np.testing.assert_array_equal(y.sum(1), 1)
    assert error(spec(args={"name": "diabetes"}, one_hot=True)).message.endswith("regression")


def test_classes_relabelled_and_subset_of_train():
    full = load_dataset(spec(classes=(0, 1, 2, 3, 4)))
    d = load_dataset(spec(classes=(4, 3, 2, 1, 0), subset=0.1))
    assert d.num_classes == 5 and set(d.splits["train"][1].tolist()) == {0, 1, 2, 3, 4}
    n = len(full.splits["train"][0])
    assert abs(len(d.splits["train"][0]) - n * 0.1) <= 5
    assert len(d.splits["test"][0]) == len(full.splits["test"][0])
    assert all(c >= 10 for c in Counter(d.splits["train"][1].tolist()).values())
    raw = load_dataset(spec(normalize="none", classes=(4, 3, 2, 1, 0)))
    assert len(raw.splits["train"][0]) + len(raw.splits["test"][0]) == 901  # digits 0-4


def test_missing_class_and_split_errors():
    assert "class 12 does not exist" in error(spec(classes=(1, 12))).message
    assert "'tran'" in error(spec(split={"tran": 0.8, "test": 0.2})).message
    assert "add up to 1" in error(spec(split={"train": 0.8, "test": 0.3})).message
    assert "no 'train'" in error(spec(split={"val": 0.5, "test": 0.5})).message


def test_too_few_examples_per_class_for_the_splits(tmp_path):
    rows = "a,label\n" + "".join(f"{i},{'x' if i < 2 else 'y'}\n" for i in range(30))
    e = error(spec("csv", {"path": write(tmp_path, "t.csv", rows), "target": "label"}, split=THREE))
    assert "class 0 has 2 example(s)" in e.message and "train, val, test" in e.message


# --- csv -------------------------------------------------------------------------------------


def test_csv_happy_path(tmp_path):
    rows = "a;b;kind\n" + "".join(f"{i};{i * 2.5};{'cat' if i % 2 else 'dog'}\n" for i in range(40))
    path = write(tmp_path, "pets.csv", rows)
    d = load_dataset(
        DataSpec(
            "pets",
            "csv",
            {"path": "pets.csv", "target": "kind", "delimiter": ";"},
            base_dir=str(tmp_path),
            split={"train": 1},
        )
    )
    x, y = d.splits["train"]
    assert x.shape == (40, 2) and d.task == "classification" and d.num_classes == 2
    assert d.stats["labels"] == ["cat", "dog"] and Counter(y.tolist()) == {0: 20, 1: 20}
    assert os.path.exists(path)


def test_csv_numeric_targets_classification_or_regression(tmp_path):
    rows = "a,b,t\n" + "".join(f"{i},{i % 7},{i % 3}\n" for i in range(60))
    path = write(tmp_path, "n.csv", rows)
    assert load_dataset(spec("csv", {"path": path, "target": "t"})).num_classes == 3
    d = load_dataset(spec("csv", {"path": path, "target": "t", "task": "regression"}))
    assert d.task == "regression" and d.target_shape == (1,)
    d = load_dataset(spec("csv", {"path": path, "target": "a"}))  # 60 distinct values
    assert d.task == "regression"


@pytest.mark.parametrize(
    "content, expect",
    [
        ("", "is empty"),
        ("a,b,t\n", "no data rows"),
        ("a,b,t\n1,2,0\n1,oops,1\n", "line 3, column 'b': 'oops' is not a number"),
        ("a,b,t\n1,2,0\n1,,1\n", "line 3, column 'b': '' is not a number"),
        ("a,b,t\n1,2,0\n1,2\n", "line 3 has 2 fields"),
        ("a,b,t\n1,2,0\n1,nan,1\n3,inf,0\n", "2 NaN or infinite value(s) in the features of"),
        ("a,b,t\n1,2,0.5\n1,3,nan\n", "target column 't'"),
        (b"a,b,t\n\xff\xfe\x00garbage", "not UTF-8"),
        (b"a,b,t\n1,2\x00,3\n", "binary"),
    ],
)
def test_csv_bad_content(tmp_path, content, expect):
    path = write(tmp_path, "bad.csv", content)
    e = error(spec("csv", {"path": path, "target": "t"}, name="table"))
    assert expect in e.message and "bad.csv" in e.message


def test_csv_nan_location_is_reported(tmp_path):
    path = write(tmp_path, "n.csv", "a,b,t\n1,2,0\n1,nan,1\n")
    assert "line 3, column 'b'" in error(spec("csv", {"path": path, "target": "t"})).message


def test_csv_missing_target_column_lists_columns(tmp_path):
    path = write(tmp_path, "c.csv", "width,height,label\n1,2,0\n")
    e = error(spec("csv", {"path": path, "target": "lable"}))
    assert "width, height, label" in e.message and "did you mean 'label'" in e.hint


def test_missing_file_and_folder(tmp_path):
    e = error(spec("csv", {"path": "nope.csv", "target": "t"}, base_dir=str(tmp_path)))
    assert "nope.csv does not exist" in e.message
    assert (
        "is a folder" in error(spec("text", {"path": str(tmp_path)}, windows={"length": 3})).message
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, "locked.csv", "a,t\n1,0\n")
    os.chmod(path, 0)
    try:
        assert "permission denied" in error(spec("csv", {"path": path, "target": "t"})).message
    finally:
        os.chmod(path, 0o600)


def test_permission_error_is_a_data_error(tmp_path, monkeypatch):
    path = write(tmp_path, "t.txt", TEXT)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pathlib.Path.read_text", refuse)
    e = error(spec("text", {"path": path}, windows={"length": 3}))
    assert "cannot read" in e.message and "t.txt: permission denied" in e.message


# --- npz -------------------------------------------------------------------------------------


def test_npz_classification_and_unsupervised(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, inputs=rng.normal(size=(50, 3, 2)), y=np.arange(50) % 2)
    d = load_dataset(spec("npz", {"path": str(path), "x": "inputs", "y": "y"}))
    assert d.feature_shape == (3, 2) and d.num_classes == 2 and d.stats["x"]["shift"][0][0] != 0
    np.savez(path, x=rng.normal(size=(50, 4)))
    d = load_dataset(spec("npz", {"path": str(path), "x": "x", "y": None}))
    assert d.task == "unsupervised" and d.splits["train"][1] is None and d.target_shape == ()


def test_npz_refuses_pickled_object_arrays(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    e = error(spec("npz", {"path": str(path)}))
    assert "unpickle" in e.message and "'x'" in e.message


@pytest.mark.parametrize(
    "arrays, args, expect",
    [
        ({"x": np.zeros((4, 2))}, {"y": "labels"}, "no array 'labels'; it holds x"),
        ({"inputs": np.zeros((4, 2)), "y": np.zeros(4)}, {}, "no array 'x'"),
        ({"x": np.zeros((4, 2)), "y": np.zeros(5, dtype=int)}, {}, "x has 4 examples but y has 5"),
        (
            {"x": np.array([[0.0, np.nan], [np.inf, 1]]), "y": np.zeros(2)},
            {},
            "2 NaN or infinite value(s) in the features",
        ),
        (
            {"x": np.zeros((2, 2)), "y": np.array([0.0, np.nan])},
            {},
            "NaN or infinite value(s) in the targets",
        ),
        ({"x": np.array([["a", "b"]])}, {}, "not numbers"),
    ],
)
def test_npz_bad_arrays(tmp_path, arrays, args, expect):
    path = tmp_path / "a.npz"
    np.savez(path, **arrays)
    assert expect in error(spec("npz", {"path": str(path), **args})).message


def test_npz_not_an_archive(tmp_path):
    assert (
        "not a readable .npz"
        in error(spec("npz", {"path": write(tmp_path, "g.npz", os.urandom(64))})).message
    )
    np.save(tmp_path / "one.npy", np.zeros(3))
    assert "single array" in error(spec("npz", {"path": str(tmp_path / "one.npy")})).message


# --- text ------------------------------------------------------------------------------------


def test_text_char_windows_and_next_token_alignment(tmp_path):
    path = write(tmp_path, "t.txt", TEXT)
    d = load_dataset(
        spec("text", {"path": path}, windows={"length": 16}, split={"train": 0.9, "val": 0.1})
    )
    x, y = d.splits["train"]
    assert d.task == "sequence" and x.dtype == np.int32 and y.dtype == np.int32
    assert x.shape[1:] == (16,) and y.shape == x.shape and d.feature_shape == (16,)
    assert d.vocab == tuple(sorted(set(TEXT))) and d.num_classes == len(d.vocab)
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    assert "".join(d.vocab[i] for i in x[0]) == TEXT[:16]
    assert len(x) + len(d.splits["val"][0]) == len(TEXT) - 16


def test_text_last_targets_words_and_window_cap(tmp_path):
    path = write(tmp_path, "t.txt", TEXT)
    d = load_dataset(
        spec(
            "text",
            {"path": path, "level": "word", "max_windows": 50},
            windows={"length": 4, "targets": "last"},
            one_hot=True,
        )
    )
    x, y = d.splits["train"]
    assert len(d.vocab) == 8 and x.shape == (40, 4) and y.shape == (40, 8)
    words = TEXT.split()
    assert [d.vocab[i] for i in x[0]] == words[:4] and d.vocab[y[0].argmax()] == words[4]


def test_text_errors(tmp_path):
    short = write(tmp_path, "s.txt", "abc")
    e = error(spec("text", {"path": short}, windows={"length": 3}))
    assert "3 tokens, too few for one window" in e.message and "s.txt" in e.message
    assert "needs `windows" in error(spec("text", {"path": short})).message
    assert (
        "not UTF-8"
        in error(
            spec("text", {"path": write(tmp_path, "b.txt", b"\xc3\x28" * 9)}, windows={"length": 2})
        ).message
    )


# --- synthetic -------------------------------------------------------------------------------


def test_sine_windows_last_is_the_value_after_the_window():
    w = {"length": 12, "horizon": 3, "targets": "last"}
    d = load_dataset(
        spec("synthetic", {"kind": "sine", "n": 300, "noise": 0.0}, windows=w, normalize="none")
    )
    x, y = d.splits["train"]
    assert x.shape == (240, 12, 1) and y.shape == (240, 1) and d.task == "regression"
    np.testing.assert_array_equal(y[:-3, 0], x[3:, -1, 0])  # windows are contiguous, stride 1
    assert len(d.splits["test"][0]) == 60


def test_sine_windows_sequence_is_shifted_by_horizon():
    w = {"length": 10, "horizon": 2, "targets": "sequence"}
    d = load_dataset(spec("synthetic", {"kind": "sine", "n": 100}, windows=w, seed=5))
    x, y = d.splits["test"]
    assert x.shape == (20, 10, 1) and y.shape == (20, 10, 1) and d.target_shape == (10, 1)
    raw = load_dataset(
        spec("synthetic", {"kind": "sine", "n": 100}, windows=w, seed=5, normalize="none")
    )
    x_raw, y_raw = raw.splits["test"]
    np.testing.assert_array_equal(y_raw[:, :-2], x_raw[:, 2:])
    np.testing.assert_array_equal(y, y_raw)  # targets are not normalised unless asked
    np.testing.assert_allclose(d.transform_inputs(x_raw), x, atol=1e-6)


def test_sine_params_xor_blobs():
    d = load_dataset(
        spec(
            "synthetic",
            {"kind": "sine_params", "n": 200, "length": 15, "noise": 0},
            normalize="none",
        )
    )
    x, y = d.splits["train"]
    assert x.shape == (160, 2) and y.shape == (160, 15, 1) and d.target_shape == (15, 1)
    np.testing.assert_allclose(y[:, :, 0], np.sin(x[:, :1] * np.arange(15) + x[:, 1:]), atol=1e-5)
    d = load_dataset(spec("synthetic", {"kind": "xor", "n": 200}))
    assert d.num_classes == 2 and d.feature_shape == (2,)
    d = load_dataset(spec("synthetic", {"kind": "blobs", "n": 90, "classes": 4, "features": 5}))
    assert d.num_classes == 4 and d.feature_shape == (5,)


def test_unknown_names():
    e = error(spec(args={"name": "digit"}))
    assert "'digit'" in e.message and "did you mean 'digits'" in e.hint and "diabetes" in e.hint
    e = error(spec("synthetic", {"kind": "sin"}))
    assert "unknown synthetic kind 'sin'" in e.message and "sine_params" in e.hint


# --- predict ---------------------------------------------------------------------------------


def test_transform_inputs_matches_stored_test_features():
    raw = load_dataset(spec(normalize="none", seed=7))
    d = load_dataset(spec(seed=7, reshape=(8, 8, 1)))
    x_raw = raw.splits["test"][0]
    np.testing.assert_allclose(d.transform_inputs(x_raw), d.splits["test"][0], atol=1e-6)
    np.testing.assert_allclose(
        d.transform_inputs(x_raw.reshape(-1, 8, 8, 1)), d.splits["test"][0], atol=1e-6
    )
    with pytest.raises(DataError, match="do not match"):
        d.transform_inputs(np.zeros((2, 63)))
