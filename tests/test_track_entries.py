"""One test per tracker entry (registry.tracking): its example trains a run and writes it out;
`check` validates the arguments; `nncompile docs` lists it."""

from pathlib import Path

import pytest

import nncompile
from nncompile.reference import markdown, signature
from nncompile.registry.tracking import TRACKERS

SPEC = """
data d {{ source: sklearn("iris")  split: {{train: 0.6, val: 0.2, test: 0.2}} }}
model M {{ input x: [4]  dense(3, activation=softmax) }}
train {{ model: M  data: d  loss: categorical_crossentropy  batch_size: 16  epochs: 2
        track: [{track}] }}
"""


def use(name: str, example: dict) -> str:
    args = ", ".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in example.items()
    )
    return f"{name}({args})".replace("'", '"') if args else name


@pytest.mark.parametrize("entry", TRACKERS.entries(), ids=lambda e: e.name)
def test_every_tracker_follows_a_run_and_its_run_folder(entry, tmp_path, monkeypatch):
    pytest.importorskip(entry.package)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    entry.params.model_validate(entry.example)
    assert entry.doc and f"`{signature(entry)}`" in markdown("tracker")
    program = nncompile.compile(text=SPEC.format(track=use(entry.name, entry.example)))
    assert [t.name for t in program.train_block.props.track] == [entry.name]
    seen = []
    history = program.fit(run_dir="run")
    trackers = list(program.trackers)  # what this fit started
    assert len(trackers) == 1 and len(history.epochs) == 2
    for hook in ("on_fit_start", "on_epoch_end", "on_fit_end", "failed", "saved"):
        assert callable(getattr(trackers[0], hook)), hook
    trackers[0].saved = lambda path: seen.append(Path(path))  # the run folder, once written
    run = program.save("run")
    assert seen == [run]


@pytest.mark.parametrize("entry", TRACKERS.entries(), ids=lambda e: e.name)
def test_a_wrong_argument_is_a_check_error(entry):
    text = SPEC.format(track=f"{entry.name}(colour=1)")
    (d,) = [d for d in nncompile.check(text=text) if d.severity == "error"]
    assert "colour" in d.message
