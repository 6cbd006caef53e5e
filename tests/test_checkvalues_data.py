"""`check` reads data values (semantics.values, registry.datavalues): what loading refused before,
after reading the whole data set, is an error at the data block's source line. Every case is
in-process and tiny (no training); the cases that must pass are specs that load and train."""

from __future__ import annotations

import numpy as np
import pytest

import nncompile
from nncompile.errors import NncompileError
from nncompile.registry import datavalues

R = np.random.default_rng(0)
SPLIT = "split: {train: 0.8, val: 0.2}"


def diagnose(tmp_path, text: str, **arrays) -> list[tuple[int, str, str, str | None]]:
    if arrays:
        np.savez(tmp_path / "d.npz", **arrays)
    (tmp_path / "s.nn").write_text(text, encoding="utf-8")
    found = nncompile.check(tmp_path / "s.nn")
    return [(d.span.line, d.code, d.message, d.hint) for d in found]


def npz_spec(model: str, loss: str = "categorical_crossentropy", data: str = "") -> str:
    return (
        f'data d {{ source: npz("d.npz")  {SPLIT}  {data} }}\n'
        f"model M {{ {model} }}\n"
        f"train {{ model: M  data: d  loss: {loss}  epochs: 1 }}\n"
    )


def csv_file(tmp_path, labels) -> None:
    x = R.normal(size=(len(labels), 2))
    rows = [f"{a:.3f},{b:.3f},{y}" for (a, b), y in zip(x, labels, strict=True)]
    (tmp_path / "d.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n", encoding="utf-8")


def csv_spec(units: int, loss: str = "categorical_crossentropy", data: str = "") -> str:
    act = ", activation=softmax" if "categorical" in loss else ""
    return (
        f'data d {{ source: csv("d.csv", target="label")  {SPLIT}  {data} }}\n'
        f"model M {{ input x: [2]  dense({units}{act}) }}\n"
        f"train {{ model: M  data: d  loss: {loss}  epochs: 1 }}\n"
    )


X = R.normal(size=(60, 4))
CLASSES = (
    "the targets name 5 classes (ids 0..4): end the model with dense(5, activation=softmax) and "
    "use categorical_crossentropy, or keep some of the classes with `classes: [...]`"
)


# --- 1. class ids beyond the output ------------------------------------------------------------
def test_npz_class_ids_beyond_the_outputs_units(tmp_path):
    spec = npz_spec("input x: [4]  dense(3, activation=softmax)")
    assert diagnose(tmp_path, spec, x=X, y=np.arange(60) % 5) == [
        (
            1,
            "E501",
            "data d (d.npz, array 'y'): targets are outside the class ids 0..2 that model M's 3 "
            "softmax unit(s) and categorical_crossentropy tell apart: ids up to 4",
            CLASSES,
        )
    ]


def test_binary_loss_reads_two_classes_from_one_unit(tmp_path):
    spec = npz_spec("input x: [4]  dense(1, activation=sigmoid)", "binary_crossentropy")
    assert diagnose(tmp_path, spec, x=X, y=np.arange(60) % 2) == []
    found = diagnose(tmp_path, spec, x=X, y=np.arange(60) % 3)
    assert [m for _, _, m, _ in found] == [
        "data d (d.npz, array 'y'): targets are outside the class ids 0..1 that model M's 1 "
        "sigmoid unit(s) and binary_crossentropy tell apart: ids up to 2"
    ]


def test_negative_class_ids(tmp_path):
    spec = npz_spec("input x: [4]  dense(3, activation=softmax)")
    assert diagnose(tmp_path, spec, x=X, y=np.arange(60) % 3 - 1) == [
        (
            1,
            "E504",
            "data d (d.npz, array 'y'): class ids start at 0, but the smallest is -1",
            "number the classes 0, 1, 2, ...",
        )
    ]


def test_class_ids_per_step_and_padding(tmp_path):
    """A class id per step against the classes per step; `pad:` (an id beyond them) is masked."""
    model = "input x: [6, 2]  lstm(8, return_sequences=true)  dense(4, activation=softmax)"
    x, y = R.normal(size=(60, 6, 2)), np.arange(360).reshape(60, 6) % 4
    assert diagnose(tmp_path, npz_spec(model), x=x, y=y) == []
    (found,) = diagnose(tmp_path, npz_spec(model), x=x, y=y + 1)
    assert found[2].startswith("data d (d.npz, array 'y'): targets are outside the class ids 0..3")
    y[:, -1] = 9  # padding
    spec = npz_spec(model, "categorical_crossentropy", "pad: 9")
    assert diagnose(tmp_path, spec, x=x, y=y) == []


def test_one_hot_from_ids_needs_as_many_units_as_classes(tmp_path):
    spec = npz_spec("input x: [4]  dense(3, activation=softmax)", data="one_hot: true")
    assert diagnose(tmp_path, spec, x=X, y=np.arange(60) % 4) == [
        (
            1,
            "E501",
            "data d (d.npz, array 'y'): with `one_hot: true` the targets are rows of 4 classes, "
            "but model M ends with 3 unit(s)",
            "end the model with 4 units, one per class",
        )
    ]


def test_named_target_arrays(tmp_path):
    model = (
        "input x: [4]  h = dense(8)(x)  label = dense(2, activation=softmax)(h)  "
        "value = dense(1)(h)  output label, value"
    )
    text = npz_spec(model, "{label: categorical_crossentropy, value: mse}")
    text = text.replace('npz("d.npz")', 'npz("d.npz", x="x", y=["label", "value"])')
    found = diagnose(tmp_path, text, x=X, label=np.arange(60) % 3, value=R.normal(size=60))
    assert [m for _, _, m, _ in found] == [
        "data d (d.npz, array 'label'): targets are outside the class ids 0..1 that model M's 2 "
        "softmax unit(s) and categorical_crossentropy tell apart: ids up to 2"
    ]


@pytest.mark.parametrize("data", ["subset: 0.5", "classes: [0, 1, 2]"])
def test_examples_left_out_or_renumbered_are_not_judged(tmp_path, data):
    spec = npz_spec("input x: [4]  dense(3, activation=softmax)", data=data)
    assert diagnose(tmp_path, spec, x=X, y=np.arange(60) % 5) == []


def test_csv_class_labels_beyond_the_output(tmp_path):
    csv_file(tmp_path, ["cat", "dog", "bird"] * 20)
    assert diagnose(tmp_path, csv_spec(2)) == [
        (
            1,
            "E501",
            "data d (d.csv, column 'label'): targets are outside the class ids 0..1 that model "
            "M's 2 softmax unit(s) and categorical_crossentropy tell apart: 'dog'",
            CLASSES.replace("5 classes (ids 0..4)", "3 classes (ids 0..2)").replace(
                "dense(5", "dense(3"
            ),
        )
    ]
    assert diagnose(tmp_path, csv_spec(3)) == []


# --- 2. token ids beyond the vocabulary ----------------------------------------------------------
EMBED = "input x: int[6]  embedding(20, 8)  flatten()  dense(2, activation=softmax)"


def test_token_ids_beyond_the_embedding(tmp_path):
    y = np.arange(60) % 2
    tokens = R.integers(0, 50, size=(60, 6))
    assert diagnose(tmp_path, npz_spec(EMBED), x=tokens, y=y) == [
        (
            1,
            "E500",
            "data d (d.npz, array 'x'): token ids outside 0..19 (from 0 to 49), but "
            "embedding(20, ...) (embedding_1) reads ids 0..19",
            "give it 50 ids, embedding(50, ...), or renumber the tokens",
        )
    ]
    assert diagnose(tmp_path, npz_spec(EMBED), x=tokens % 20, y=y) == []
    found = diagnose(tmp_path, npz_spec(EMBED), x=tokens - 1, y=y)
    assert [m for _, _, m, _ in found] == [
        "data d (d.npz, array 'x'): token ids start at 0, but the smallest is -1"
    ]


def test_token_ids_of_a_compressed_archive_read_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(datavalues, "CHUNK", 64)  # many chunks: the range spans them all
    tokens = R.integers(0, 20, size=(60, 6))
    tokens[57, 3] = 31
    np.savez_compressed(tmp_path / "d.npz", x=tokens, y=np.arange(60) % 2)
    found = diagnose(tmp_path, npz_spec(EMBED))
    assert [m for _, _, m, _ in found] == [
        "data d (d.npz, array 'x'): token ids outside 0..19 (from 0 to 31), but "
        "embedding(20, ...) (embedding_1) reads ids 0..19"
    ]


# --- 3. csv targets and the loss's task -----------------------------------------------------
REAL_HINT = (
    "use mse, mae or huber for real-valued targets; if the values are class labels, set "
    "`task: classification` on the source"
)


def test_csv_real_targets_for_a_classification_loss(tmp_path):
    csv_file(tmp_path, [0.5, 1.25, 2.0] * 20)
    assert diagnose(tmp_path, csv_spec(3)) == [
        (
            1,
            "E501",
            "data d (d.csv, column 'label'): categorical_crossentropy needs class labels, but "
            "the targets are real-valued (e.g. 0.5, 1.25, 0.5)",
            REAL_HINT,
        )
    ]
    assert (
        diagnose(tmp_path, csv_spec(3, data="").replace('"label"', '"label", task=classification'))
        == []
    )


def test_csv_many_distinct_integers_are_real_values(tmp_path):
    csv_file(tmp_path, list(range(30)) * 2)
    (found,) = diagnose(tmp_path, csv_spec(30))
    assert found[2] == (
        "data d (d.csv, column 'label'): categorical_crossentropy needs class labels, but the "
        "targets are real-valued (30 distinct integers; class labels are text or at most 20 "
        "distinct integers)"
    )


def test_csv_one_hot_of_real_values(tmp_path):
    csv_file(tmp_path, [0.5, 1.25, 2.0] * 20)
    assert diagnose(tmp_path, csv_spec(3, "mse", "one_hot: true")) == [
        (
            1,
            "E300",
            "data d has `one_hot`, but its targets (d.csv, column 'label') are real-valued (e.g. "
            "0.5, 1.25, 0.5), not class labels",
            "remove `one_hot`, or set `task: classification` on the source if the values are "
            "class labels",
        )
    ]


def test_csv_class_labels_for_a_regression_loss(tmp_path):
    csv_file(tmp_path, [0, 1, 2] * 20)
    assert diagnose(tmp_path, csv_spec(1, "mse")) == [
        (
            1,
            "E501",
            "data d (d.csv, column 'label'): mse is a regression loss, but the targets are class "
            "labels (0, 1, 2)",
            "use categorical_crossentropy (or binary_crossentropy); if the numbers are real "
            "targets, set `task: regression` on the source",
        )
    ]
    forced = csv_spec(1, "mse").replace('"label"', '"label", task=regression')
    assert diagnose(tmp_path, forced) == []


# --- what check leaves to loading -----------------------------------------------------------
def test_files_over_the_limit_are_left_to_loading(tmp_path, monkeypatch):
    """A file over the size limit is not read: loading still refuses its values."""
    spec = npz_spec("input x: [4]  dense(3, activation=softmax)")
    monkeypatch.setattr(datavalues, "VALUE_BYTES", 100)
    assert diagnose(tmp_path, spec, x=X, y=np.arange(60) % 5) == []
    program = nncompile.compile(tmp_path / "s.nn")
    with pytest.raises(NncompileError, match=r"outside the class ids 0\.\.2"):
        program.fit(epochs=1)


def test_a_changed_file_is_read_again(tmp_path):
    """Facts are kept per file state (path, size, modification time): a new file is read."""
    spec = npz_spec("input x: [4]  dense(3, activation=softmax)")
    assert diagnose(tmp_path, spec, x=X, y=np.arange(60) % 3) == []
    assert len(diagnose(tmp_path, spec, x=X, y=(np.arange(60) % 5).astype(np.int32))) == 1
    assert diagnose(tmp_path, spec, x=X, y=(np.arange(60) % 3).astype(np.int16)) == []


METRICS_HINT = (
    "accuracy/exact_match/top_k/precision/recall/f1 need class labels; mae/mse/rmse need "
    "real-valued targets"
)


def test_csv_metrics_of_the_other_task(tmp_path):
    csv_file(tmp_path, [0.5, 1.25, 2.0] * 20)
    spec = csv_spec(1, "mse").replace("epochs: 1", "metrics: [mae, accuracy]  epochs: 1")
    assert diagnose(tmp_path, spec) == [
        (
            3,
            "E501",
            "data d (d.csv, column 'label'): metric accuracy is for classification, but the "
            "targets are real-valued (e.g. 0.5, 1.25, 0.5)",
            METRICS_HINT,
        )
    ]
    csv_file(tmp_path, ["cat", "dog", "bird"] * 20)
    spec = csv_spec(3).replace("epochs: 1", "metrics: [accuracy, mae]  epochs: 1")
    assert [m for _, _, m, _ in diagnose(tmp_path, spec)] == [
        "data d (d.csv, column 'label'): metric mae is for regression, but the targets are "
        "class labels ('bird', 'cat', 'dog')"
    ]


def test_the_editor_shows_them_and_reads_a_file_once(tmp_path, monkeypatch):
    """The language server runs the same checks on each edit; an unchanged file is not read
    again."""
    pytest.importorskip("lsprotocol")
    from nncompile.lsp.document import analyse_text, diagnostics

    np.savez(tmp_path / "d.npz", x=X, y=np.arange(60) % 5)
    reads = []
    read = datavalues._read_ids
    monkeypatch.setattr(datavalues, "_read_ids", lambda *a: reads.append(a) or read(*a))
    doc = None
    for units in (3, 4, 3):  # (edits)
        text = npz_spec(f"input x: [4]  dense({units}, activation=softmax)")
        doc = analyse_text(text, str(tmp_path / "s.nn"), doc)
    (found,) = diagnostics(doc)
    assert found.code == "E501" and found.range.start.line == 0
    assert "tell apart: ids up to 4" in found.message
    assert sorted(key for _, key in reads) == ["x", "y"]  # (each array once)


TEXT_SPEC = """data t {
  source: text("t.txt", level=char)
  split: {train: 0.8, val: 0.2}
  windows: {length: 4, targets: sequence}
}
model M { input x: int[4]  embedding(EMBED, 4)  dense(VOCAB, activation=softmax) }
train { model: M  data: t  loss: categorical_crossentropy  epochs: 1 }
"""


@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_a_texts_vocabulary_beyond_the_embedding(tmp_path, bom):
    """A text's distinct characters (a byte-order mark is none: loading drops it) are its ids."""
    (tmp_path / "t.txt").write_text(bom + "abcabd abcd " * 20, encoding="utf-8")  # 5 characters
    spec = TEXT_SPEC.replace("VOCAB", "5")
    assert diagnose(tmp_path, spec.replace("EMBED", "5")) == []
    assert diagnose(tmp_path, spec.replace("EMBED", "4")) == [
        (
            2,
            "E500",
            "data t gives token ids 0..4 (5 distinct tokens), but embedding(4, ...) (embedding_1) "
            "reads ids 0..3",
            "give it 5 ids: embedding(5, ...)",
        )
    ]


def test_one_hot_rows_regressed_need_as_many_units_as_classes(tmp_path):
    spec = npz_spec("input x: [4]  dense(1)", "mse", data="one_hot: true")
    (found,) = diagnose(tmp_path, spec, x=X, y=np.arange(60) % 3)
    assert found[2] == (
        "data d (d.npz, array 'y'): with `one_hot: true` the targets are rows of 3 classes, but "
        "model M ends with 1 unit(s)"
    )
