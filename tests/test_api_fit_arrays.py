"""`fit(data=arrays)` on a spec without a data block; progress and epoch times from Python."""

import io
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

import nncompile
from nncompile.cli import main
from nncompile.errors import NncompileError
from nncompile.runtime import progress

NO_DATA = """
model M { input x: [4]  dense(16, activation=relu)  dense(3, activation=softmax) }
train { model: M  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)  batch_size: 16
        epochs: 4  metrics: [accuracy]  early_stopping: {patience: 3} }
"""


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return {
        "train": (x[:100], y[:100]),
        "val": (x[100:125], y[100:125]),
        "test": (x[125:], y[125:]),
    }


def test_a_spec_without_data_trains_on_the_arrays_given(iris):
    assert nncompile.check(text=NO_DATA) == []
    program = nncompile.compile(text=NO_DATA)
    assert program.config["data"] is None and program.config["task"] == "classification"
    history = program.fit(data=iris)
    assert len(history.epochs) == 4 and "val_accuracy" in history.epochs[0]
    assert history.epochs[-1]["loss"] < history.epochs[0]["loss"]
    metrics = program.evaluate()
    assert set(metrics) == {"loss", "accuracy"}
    probabilities = program.predict(iris["test"][0])
    assert probabilities.shape == (25, 3)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert np.mean(probabilities.argmax(1) == iris["test"][1]) == pytest.approx(metrics["accuracy"])


def test_a_pair_of_arrays_is_the_train_split(iris):
    program = nncompile.compile(text=NO_DATA)
    history = program.fit(data=iris["train"], epochs=2)
    assert len(history.epochs) == 2 and "val_loss" not in history.epochs[0]


def test_arrays_that_do_not_fit_the_model_are_diagnostics(iris):
    x, y = iris["train"]
    program = nncompile.compile(text=NO_DATA)
    with pytest.raises(NncompileError) as e:
        program.fit(data=(x[:, :3], y))
    assert str(e.value) == (
        "the arrays given to fit(): the train split has examples of shape [3], but the model "
        "takes [4]\n  hint: reshape the arrays (x.reshape(-1, 4)) or change the model's input"
    )
    with pytest.raises(NncompileError) as e:
        program.fit(data=(x, np.full(len(y), 7)))
    assert str(e.value).startswith(
        "the arrays given to fit() (y): 100 target(s) of the train split are outside the class "
        "ids 0..2 that model M's 3 softmax unit(s) and categorical_crossentropy tell apart: 7"
    )
    with pytest.raises(NncompileError) as e:
        program.fit(data=(x, y + 0.5))
    assert "that are not class ids (e.g. 0.5, 1.5, 2.5)" in str(e.value)
    assert program.trainer is None  # refused before a model was built


def test_fit_without_arrays_says_what_to_do():
    program = nncompile.compile(text=NO_DATA, path="nodata.nn")
    with pytest.raises(NncompileError) as e:
        program.fit()
    assert str(e.value) == (
        "train main of nodata.nn names no data block, so it trains on arrays given from Python\n"
        '  hint: call program.fit(data={"train": (x, y), "val": ..., "test": ...}) (or fit((x, '
        "y))), or add `data: NAME` and a `data NAME { source: ... }` block to train it with "
        "`nncompile train`"
    )


def test_the_command_line_refuses_before_making_a_run_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("nodata.nn").write_text(NO_DATA)
    assert main(["train", "nodata.nn"]) == 1
    assert "names no data block" in capsys.readouterr().err
    assert not Path("runs").exists()
    assert main(["summary", "nodata.nn"]) == 0
    assert "train main: model M on the arrays given to fit()" in capsys.readouterr().out


def test_adversarial_training_needs_data():
    text = """
model G { input z: [4]  dense(8) }
model D { input x: [8]  dense(1, activation=sigmoid) }
train { objective: gan(generator=G, discriminator=D, noise=normal([4]))  loss: binary_crossentropy }
"""
    (d,) = [d for d in nncompile.check(text=text) if d.severity == "error"]
    assert "adversarial training needs `data:` (the real examples)" in d.message


# ---- progress and epoch times --------------------------------------------------------------------
def test_verbose_prints_a_line_per_epoch_and_the_default_is_quiet_off_a_terminal(iris, capsys):
    program = nncompile.compile(text=NO_DATA)
    program.fit(data=iris, epochs=2, verbose=True)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert lines[0].endswith("s (with compilation)") and "val_accuracy" in lines[0]
    program.fit(data=iris, epochs=1)  # stderr is not a terminal here: no progress by default
    program.fit(data=iris, epochs=1, verbose=False)
    assert capsys.readouterr().err == ""


def test_the_eta_leaves_compilation_out(monkeypatch):
    clock = iter([10.0, 11.0, 12.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    eta = progress.Eta(total=100)
    assert eta.update(10) == ""  # the first result: compilation ends here (it took 10 s)
    assert eta.update(20) == "ETA 0:08"  # 10 steps per second since: 80 steps left
    assert eta.update(60) == "ETA 0:02"  # 50 steps in 2 s: 40 steps left


def test_a_live_display_says_compiling_before_the_first_result(iris):
    stream = io.StringIO()
    program = nncompile.compile(text=NO_DATA)
    program.fit(data=iris, epochs=3, callbacks=[progress.Progress(stream, tty=True)])
    shown = stream.getvalue()
    assert "compiling..." in shown
    assert "epoch 1/3  loss" in shown and "epoch 3/3  loss" in shown
    first_eta = shown.find("ETA")
    assert first_eta == -1 or first_eta > shown.find("epoch 1/3  loss")


class Clock:
    def __init__(self):
        self.ends: list[float] = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.ends.append(time.perf_counter())


def test_epoch_seconds_are_wall_time_between_results(iris):
    program = nncompile.compile(text=NO_DATA.replace("early_stopping: {patience: 3}", ""))
    clock = Clock()
    history = program.fit(data=iris, epochs=6, callbacks=[clock])
    seconds = history.series("seconds")
    assert sum(seconds) == pytest.approx(history.seconds, abs=0.05)
    gaps = np.diff(clock.ends)
    np.testing.assert_allclose(gaps, seconds[1:], atol=0.05)


REGRESSION = """
model R { input x: [4]  dense(8, activation=relu)  dense(1) }
train { model: R  loss: mse  metrics: [%s]  batch_size: 16  epochs: 2 }
"""


def test_arrays_are_read_as_the_loss_says(iris):
    (d,) = nncompile.check(text=REGRESSION % "accuracy")  # known before any array is given
    assert d.code == "E501" and d.message.startswith("metric accuracy is for classification")
    x, y = iris["train"]
    program = nncompile.compile(text=REGRESSION % "mae")
    with pytest.raises(NncompileError) as e:
        program.fit(data=(x, np.stack([y, y], 1).astype(np.float32)))
    assert str(e.value) == (
        "the arrays given to fit(): the train split has targets of shape [2] per example, but "
        "model R outputs [1]\n  hint: give 1 target value(s) per example, or end the model with "
        "dense(2)"
    )
    history = program.fit(data=(x, y.astype(np.float32)))  # a vector for one unit is fine
    assert np.isfinite(history.epochs[-1]["mae"])


def test_splits_that_the_runtime_would_trip_on_are_diagnostics(iris):
    x, y = iris["train"]
    program = nncompile.compile(text=NO_DATA)
    with pytest.raises(NncompileError) as e:
        program.fit(data={"val": (x, y)})
    assert str(e.value) == (
        "the arrays given to fit(): no 'train' split (given: val)\n"
        '  hint: give {"train": (x, y), "val": ..., "test": ...} or a pair (x, y)'
    )
    with pytest.raises(NncompileError, match="the test split has no examples"):
        program.fit(data={"train": (x, y), "test": (x[:0], y[:0])})
    binary = NO_DATA.replace("dense(3, activation=softmax)", "dense(2, activation=softmax)")
    history = nncompile.compile(text=binary).fit(data=(x, y == 1), epochs=1)  # booleans: ids
    assert np.isfinite(history.epochs[0]["loss"])
