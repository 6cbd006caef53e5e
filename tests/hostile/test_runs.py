"""Issue 10, section 3: never lose or destroy a run.

Each of these lost or destroyed something before (commit 6e9ba8a): `--out` on a folder that is not
a run deleted its params/ and checkpoints/; a failed or interrupted final save left a folder mixing
two runs (the old params/ deleted first); two `train`s wrote one folder at once; a file as `--out`
was found only after training; SIGTERM lost the run; temporary files followed planted symlinks;
`--resume` and `eval --run` took another program with the same parameter shapes; `--epochs 0`
overwrote a trained run with untrained parameters. The kill test kills re-runs during their final
save (SIGKILL, and SIGINT) and checks that the folder holds the complete old or the complete new
run every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from interrupts import StopAt

import nncompile
from nncompile.cli import main
from nncompile.errors import NncompileError
from nncompile.runtime import outputs
from nncompile.runtime.checkpoint_files import CheckpointError, steps
from nncompile.runtime.digest import sha256
from nncompile.runtime.runfolder import FILES
from nncompile.runtime.transfer import read_params

NNCOMPILE = [sys.executable, "-m", "nncompile"]
ROOT = Path(__file__).resolve().parents[2]
SPEC = """
data d {
  source: sklearn("digits")
  split: {train: 0.7, val: 0.15, test: 0.15}
  normalize: NORMALIZE
}
model M {
  input x: [64]
  dense(16, activation=ACTIVATION)
  dense(10, activation=softmax)
}
train {
  model: M  data: d  loss: categorical_crossentropy
  optimizer: adam(lr=LR)
  batch_size: 64  epochs: EPOCHS
  CHECKPOINT
  metrics: [accuracy]
  seed: 3
}
"""


def spec(folder: Path, name="tiny", *, epochs=1, activation="relu", lr="1e-3", checkpoint=""):
    return _spec(folder, name, epochs, activation, lr, checkpoint, "standard")


def _spec(folder, name, epochs, activation, lr, checkpoint, normalize) -> Path:
    text = SPEC
    for key, value in (("EPOCHS", epochs), ("ACTIVATION", activation), ("LR", lr)):
        text = text.replace(key, str(value))
    text = text.replace("CHECKPOINT", checkpoint).replace("NORMALIZE", normalize)
    path = folder / f"{name}.nn"
    path.write_text(text)
    return path


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def tree(folder: Path) -> dict[str, str]:
    """Every path under `folder` (hidden ones too) with the SHA-256 of the files."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else ""
        for p in sorted(folder.rglob("*"))
    }


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""


def trained(path: Path, run: Path, **fit):
    program = nncompile.compile(path)
    program.fit(run_dir=run, **fit)
    program.save(run)
    return program


def complete_run(run: Path) -> int:
    """The epochs of the complete run in `run` (assertion errors when it is not complete)."""
    assert all((run / name).exists() for name in (*FILES, "data.json")), sorted(os.listdir(run))
    summary = json.loads((run / "summary.json").read_text())
    epochs = summary["epochs_run"]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == epochs
    assert json.loads((run / ".nncompile-run").read_text())["complete"]
    return epochs


# ---- folders that are not runs, files, read-only folders -----------------------------------------
def test_a_folder_that_is_not_a_run_is_refused_and_left_untouched(tmp_path, capsys):
    path = spec(tmp_path)
    mine = tmp_path / "mine"
    for name in ("params/weights.txt", "checkpoints/keep.txt", "notes.txt"):
        (mine / name).parent.mkdir(parents=True, exist_ok=True)
        (mine / name).write_text("not nncompile's")
    before = tree(mine)
    assert main(["train", str(path), "--out", str(mine), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "is not empty and is not an nncompile run folder" in err and "nothing was changed" in err
    assert "Traceback" not in err
    with pytest.raises(NncompileError, match="not an nncompile run folder"):
        nncompile.compile(path).fit(run_dir=mine)  # nor by the API
    assert tree(mine) == before


def test_out_naming_a_file_is_refused_before_training(tmp_path):
    path = spec(tmp_path)
    file = tmp_path / "results.txt"
    file.write_text("keep me")
    epochs = []

    class Count:
        def on_epoch_end(self, trainer, epoch, logs):
            epochs.append(epoch)

    with pytest.raises(NncompileError, match="is a file, not a folder"):
        nncompile.compile(path).fit(run_dir=file, callbacks=[Count()])
    assert epochs == [] and file.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only folders")
def test_a_read_only_folder_is_refused_before_training(tmp_path):
    path = spec(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(NncompileError, match="cannot write in"):
            nncompile.compile(path).fit(run_dir=locked / "run")
    finally:
        locked.chmod(0o755)


def test_epochs_below_one_are_refused(tmp_path, capsys):
    path = spec(tmp_path)
    for value in ("0", "-5", "two"):
        with pytest.raises(SystemExit) as e:
            main(["train", str(path), "--epochs", value])
        assert e.value.code == 2
        assert "argument --epochs: takes a whole number >= 1" in capsys.readouterr().err
    with pytest.raises(NncompileError, match="epochs must be at least 1, got 0"):
        nncompile.compile(path).fit(epochs=0)


# ---- the final save ------------------------------------------------------------------------------
def test_a_failed_final_save_keeps_the_old_run_and_rescues_the_new_one(
    tmp_path, monkeypatch, capsys
):
    path = spec(tmp_path)
    run = tmp_path / "run"
    trained(path, run)
    (run / "notes.txt").write_text("mine")
    before = tree(run)
    real = outputs.save_params

    def disk_full(where, trainer):
        if "nncompile-rescued" not in str(where):
            raise OSError(28, "No space left on device")
        real(where, trainer)

    monkeypatch.setattr(outputs, "save_params", disk_full)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    program = nncompile.compile(path)
    program.fit(run_dir=run, epochs=2)
    with pytest.raises(NncompileError) as e:
        program.save(run)
    assert "No space left on device" in str(e.value) and "saved to" in str(e.value)
    assert tree(run) == before, "the old run changed"
    rescued = Path(str(e.value).split("saved to ")[1].split(" instead")[0])
    assert rescued.is_relative_to(tmp_path / "home") and complete_run(rescued) == 2
    assert nncompile.compile(path).load(rescued).evaluate()["accuracy"] > 0.1
    monkeypatch.setattr(outputs, "save_params", real)
    trained(path, run, epochs=2)  # and the folder can be trained into again
    assert complete_run(run) == 2 and (run / "notes.txt").read_text() == "mine"


def test_ctrl_c_during_the_final_save_finishes_it_first(tmp_path, monkeypatch):
    path = spec(tmp_path)
    run = tmp_path / "run"
    trained(path, run)
    real = outputs.save_params

    def interrupted(where, trainer):
        real(where, trainer)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of writing the run folder

    monkeypatch.setattr(outputs, "save_params", interrupted)
    program = nncompile.compile(path)
    program.fit(run_dir=run, epochs=2)
    with pytest.raises(KeyboardInterrupt):
        program.save(run)
    assert complete_run(run) == 2, "the run folder mixes two runs"


def test_planted_symlinks_are_never_followed(tmp_path):
    path = spec(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    program = trained(path, run)
    for name in ("summary.json", "metrics.csv", "curves.png", "data.json", "spec.json"):
        (run / f"{name}.tmp").symlink_to(victim)
    program.save(run)  # a re-run into the same folder
    assert victim.read_text() == "precious"
    unfinished = tmp_path / "unfinished"  # and a run folder written in place
    again = nncompile.compile(path)
    again.fit(run_dir=unfinished)
    unfinished.mkdir(exist_ok=True)
    (unfinished / "summary.json.tmp").symlink_to(victim)
    again.save(unfinished)
    assert victim.read_text() == "precious"
    assert complete_run(run) == 1 and complete_run(unfinished) == 1


def test_a_re_run_leaves_the_old_run_alone_until_it_is_complete_and_resumes_exactly(tmp_path):
    every = "checkpoint: {every: 1, keep: 2}"
    path = spec(tmp_path, epochs=4, checkpoint=every)
    reference = nncompile.compile(path)
    reference.fit()
    run = tmp_path / "run"
    trained(path, run, epochs=2)
    before = tree(run)
    killed = nncompile.compile(path)  # a re-run stopped after epoch 3, its process then killed
    assert killed.fit(run_dir=run, callbacks=[StopAt(3)]).interrupted
    assert tree(run) == before, "the re-run changed the old run before it was complete"
    del killed  # (its process is gone: the lock with it)
    again = nncompile.compile(path)
    again.fit(run_dir=run, resume=True)  # continues the killed re-run's checkpoints
    again.save(run)
    assert complete_run(run) == 4 and steps(run / "checkpoints") == [3, 4]
    assert sha256(read_params(run)) == sha256(reference.trainer.state()["model"])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".run")) == []


# ---- a different program with the same parameter shapes ------------------------------------------
CHANGES = {
    "activation": ({"activation": "tanh"}, "tanh(self.dense_1(x))"),
    "learning rate": ({"lr": "1e-2"}, "learning_rate = 0.01"),
    "normalisation": ({"normalize": "minmax"}, "data.normalize"),
}


def changed_spec(tmp_path: Path, change: dict, checkpoint: str = "") -> Path:
    values = {"epochs": 2, "activation": "relu", "lr": "1e-3", "normalize": "standard"}
    values.update(change)
    return _spec(
        tmp_path, "changed", values["epochs"], values["activation"], values["lr"], checkpoint,
        values["normalize"],
    )  # fmt: skip


@pytest.mark.parametrize("what", CHANGES)
def test_resume_and_eval_refuse_another_program_with_the_same_shapes(tmp_path, what):
    change, said = CHANGES[what]
    every = "checkpoint: {every: 1, keep: 1}"
    path = spec(tmp_path, epochs=2, checkpoint=every)
    run = tmp_path / "run"
    trained(path, run)
    before = tree(run)
    other = changed_spec(tmp_path, change, every)
    with pytest.raises(CheckpointError, match="different program") as e:
        nncompile.compile(other).fit(run_dir=run, resume=True)
    assert said in str(e.value), str(e.value)
    with pytest.raises(NncompileError, match="different program") as e:
        nncompile.compile(other).load(run)
    assert said in str(e.value), str(e.value)
    assert tree(run) == before
    nncompile.compile(path).load(run).evaluate()  # the program that trained it still works


# ---- two processes, SIGTERM ----------------------------------------------------------------------
def test_a_second_train_is_refused_and_sigterm_checkpoints_and_exits_143(tmp_path):
    path = spec(tmp_path, epochs=20000)
    run = tmp_path / "run"
    p = subprocess.Popen(
        [*NNCOMPILE, "train", str(path), "--out", str(run)],
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    lines = []
    for line in p.stderr or ():  # one plain progress line per epoch (not a terminal)
        lines.append(line)
        if line.startswith("epoch 3/"):
            break
    try:
        with pytest.raises(NncompileError, match=f"in use by PID {p.pid}"):
            nncompile.compile(path).fit(run_dir=run)
    finally:
        p.send_signal(signal.SIGTERM)
    rest = (p.stderr.read() if p.stderr else "") + "".join(lines)
    assert p.wait(timeout=60) == 143, rest
    done = steps(run / "checkpoints")
    assert len(done) == 1 and done[0] >= 3 and "--resume" in rest, rest
    assert complete_run(run) == done[0]


# ---- the swap ------------------------------------------------------------------------------------
MARKER = '{"format": "nncompile-run", "version": 1, "complete": true}'


def test_a_kill_between_two_renames_is_repaired(tmp_path, monkeypatch):
    """Where RENAME_EXCHANGE is missing the swap is two renames; a kill between them leaves the
    run folder missing, and the next open puts the complete run back."""
    from nncompile.runtime import runfolder

    run, new = tmp_path / "run", tmp_path / ".run.nncompile-next"
    for folder in (run, new):
        folder.mkdir()
        (folder / "summary.json").write_text(folder.name)
        (folder / ".nncompile-run").write_text(MARKER)
    os.rename(run, runfolder.sibling(run, "old"))  # killed here
    runfolder.repair(run)
    assert (run / "summary.json").read_text() == new.name
    monkeypatch.setattr(runfolder, "exchange", lambda a, b: False)
    new.mkdir()
    (new / ".nncompile-run").write_text(MARKER)
    runfolder.swap_into_place(new, run)
    assert sorted(os.listdir(tmp_path)) == ["run"]


# ---- the kill test -------------------------------------------------------------------------------
@pytest.mark.slow
def test_kills_during_the_final_save_leave_the_old_or_the_new_run(tmp_path):
    """Re-runs of a run folder, each killed at a random moment of its final save: SIGKILL (10
    processes) and SIGINT (10 saves in this process). Afterwards the folder holds the complete old
    run or the complete new one (bitwise its parameters), and `nncompile eval` works."""
    start = time.perf_counter()
    path = spec(tmp_path)
    want = {}
    programs = {}
    for epochs in (1, 2):
        programs[epochs] = program = nncompile.compile(path)
        program.fit(epochs=epochs)
        want[epochs] = sha256(program.trainer.state()["model"])
    run = tmp_path / "run"
    nxt = tmp_path / ".run.nncompile-next"  # where a re-run writes
    rng = random.Random(10)

    def holds(run: Path, allowed: tuple[int, int]) -> int:
        epochs = complete_run(run)
        assert epochs in allowed and sha256(read_params(run)) == want[epochs]
        return epochs

    # SIGKILL: `nncompile train` processes
    began = time.perf_counter()
    p = subprocess.Popen([*NNCOMPILE, "train", str(path), "--out", str(run), "--quiet"], env=env())
    while p.poll() is None and not (run / "program.py").exists():
        time.sleep(0.001)
    saving = time.perf_counter()
    assert p.wait() == 0 and holds(run, (1, 1)) == 1
    per_run, save = time.perf_counter() - began, time.perf_counter() - saving
    now, outcomes = 1, {"old": 0, "new": 0}
    for _ in range(10):
        epochs = 3 - now
        cmd = [*NNCOMPILE, "train", str(path), "--out", str(run), "--quiet", "--epochs"]
        p = subprocess.Popen([*cmd, str(epochs)], stdout=subprocess.DEVNULL, env=env())
        deadline = time.perf_counter() + 4 * per_run + 30
        while p.poll() is None and not (nxt / "program.py").exists():
            assert time.perf_counter() < deadline, "the re-run never reached its final save"
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 1.2 * save))  # from its first file to its exit
        p.kill()
        p.wait()
        found = holds(run, (now, epochs))
        outcomes["old" if found == now else "new"] += 1
        now = found
    assert outcomes["old"] >= 1, f"no kill landed before the new run was in place: {outcomes}"

    # SIGINT: Ctrl-C at random moments of a save in this process
    interrupts = {"old": 0, "new": 0}
    for _ in range(10):
        program = programs[3 - now]
        timer = threading.Timer(rng.uniform(0.0, 0.6), os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            program.save(run)
            timer.join()
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass
        finally:
            timer.cancel()
        timer.join()
        found = holds(run, (now, 3 - now))
        interrupts["old" if found == now else "new"] += 1
        now = found
    r = subprocess.run(
        [*NNCOMPILE, "eval", str(path), "--run", str(run)],
        capture_output=True,
        text=True,
        env=env(),
    )
    assert r.returncode == 0 and "accuracy" in r.stdout, r.stderr
    print(
        f"kill test: SIGKILL {outcomes} (a save takes {save:.2f} s), SIGINT {interrupts}, "
        f"{time.perf_counter() - start:.1f} s"
    )
