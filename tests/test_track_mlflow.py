"""`track: mlflow`: runs read back with MLflow's own client; trackers' diagnostics."""

import json
from pathlib import Path

import pytest
from tiny_specs import IRIS_TRACKED as SPEC

import nncompile
from nncompile.cli import main
from nncompile.errors import NncompileError
from nncompile.registry import tracking


def test_train_logs_params_metrics_and_the_run_folder(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    Path("spec.nn").write_text(
        SPEC.format(track=f'track: [mlflow(uri="{uri}", experiment="iris")]')
    )
    assert main(["train", "spec.nn", "--set", "width=12", "--quiet"]) == 0
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("iris").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "spec-main"
    params = run.data.params
    assert params["let.width"] == "12"  # the --set value
    assert params["optimizer"] == "adam(lr=0.01)"
    assert params["batch_size"] == "16" and params["epochs"] == "3"
    lines = Path("runs/spec-main/1/metrics.jsonl").read_text().splitlines()
    history = [json.loads(line) for line in lines]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        logged = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in logged] == [1, 2, 3]
        assert [m.value for m in logged] == pytest.approx([h[key] for h in history], rel=1e-6)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"summary.json", "metrics.csv", "program.py", "params", "curves.png"} <= artifacts
    assert "checkpoints" not in artifacts


def test_default_store_is_mlflows_own_in_the_working_folder(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    program = nncompile.compile(text=SPEC.format(track=""))
    program.fit(epochs=1, track=["mlflow"])
    assert Path("mlflow.db").is_file()
    client = MlflowClient(tracking_uri="sqlite:///mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("<string>").experiment_id])
    assert run.data.metrics["loss"] == pytest.approx(program.history.epochs[-1]["loss"])


def test_unknown_tracker_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("spec.nn").write_text(SPEC.format(track=""))
    assert main(["train", "spec.nn", "--track", "tensorbord"]) == 1
    err = capsys.readouterr().err
    assert err == "nncompile: unknown tracker 'tensorbord'\n  hint: did you mean 'tensorboard'?\n"
    assert not Path("runs").exists()  # refused before anything was trained or written


def test_unknown_tracker_in_a_spec_is_a_check_error(tmp_path, capsys):
    path = tmp_path / "spec.nn"
    path.write_text(SPEC.format(track="track: [mlfow]"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "unknown tracker 'mlfow'" in err and "did you mean 'mlflow'?" in err


def test_a_missing_package_names_the_extra(tmp_path, monkeypatch):
    # (compiled first: the parser, built on a process's first spec, imports lark's grammars)
    program = nncompile.compile(text=SPEC.format(track="track: [tensorboard]"))
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(NncompileError) as e:
        program.fit(epochs=1)
    assert str(e.value) == (
        "track: tensorboard needs the 'tensorboard' package, which is not installed\n"
        "  hint: pip install 'nncompile[track]' (or leave the tracker out: training does not "
        "need it)"
    )
    assert program.trainer is None  # refused before the model was built


def test_an_unusable_store_is_one_message(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    Path("file.txt").write_text("not a folder")
    Path("spec.nn").write_text(
        SPEC.format(track='track: [mlflow(uri="sqlite:///file.txt/sub/store.db")]')
    )
    assert main(["train", "spec.nn", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nncompile: track: mlflow cannot start a run at sqlite:///file.txt/")
    assert "hint: check the tracking URI" in err
    assert "Traceback" not in err
    assert not Path("runs/spec-main/1").exists()  # the run folder made for it is gone again
