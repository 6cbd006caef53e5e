"""An interrupted run resumed with `--resume` goes on in the same TensorBoard run and MLflow run."""

import pytest
from interrupts import StopAt

import nncompile

pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

SPEC = """
data d {{ source: sklearn("iris")  split: {{train: 0.6, val: 0.2, test: 0.2}} }}
model M {{ input x: [4]  dense(8, activation=relu)  dense(3, activation=softmax) }}
train {{ model: M  data: d  loss: categorical_crossentropy  optimizer: adam(lr=1e-2)
        batch_size: 16  epochs: 4  checkpoint: {{every: 1}}
        track: [tensorboard, mlflow(uri="{uri}", experiment="resume")] }}
"""


def test_a_resumed_run_continues_its_event_files_and_its_mlflow_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    text = SPEC.format(uri=uri)
    first = nncompile.compile(text=text)
    history = first.fit(run_dir="run", callbacks=[StopAt(2)], verbose=False)
    assert history.interrupted and len(history.epochs) == 2
    first.save("run")  # what `nncompile train` does when interrupted
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("resume").experiment_id
    (run,) = client.search_runs([experiment])
    assert run.info.status == "KILLED"

    again = nncompile.compile(text=text)
    history = again.fit(run_dir="run", resume=True, verbose=False)
    assert len(history.epochs) == 4
    again.save("run")
    (run,) = client.search_runs([experiment])  # the same run, not a second one
    assert run.info.status == "FINISHED"
    logged = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in logged] == [1, 2, 3, 4]
    assert [m.value for m in logged] == pytest.approx(history.series("loss"), rel=1e-6)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [s.step for s in events.Scalars("loss")] == [1, 2, 3, 4]
