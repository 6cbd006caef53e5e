"""`nncompile devices`, and `--devices` on train/eval/predict (4 forced CPU devices in a
subprocess: XLA_FLAGS is read when JAX starts)."""

from __future__ import annotations

import json

import numpy as np
from scale.forced import ROOT, run

from nncompile.cli import main


def test_devices_command(capsys):
    assert main(["devices", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["process_count"] == 1 and info["process_index"] == 0
    assert info["device_count"] == len(info["devices"]) >= 1
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"backend {info['backend']}: {info['device_count']} device")


def test_devices_flag_values(capsys):
    try:
        main(["train", "specs/digits_mlp.nn", "--devices", "two"])
    except SystemExit as e:
        assert e.code == 2
    assert "takes auto, cpu, gpu, tpu or a count of devices, got 'two'" in capsys.readouterr().err
    try:
        main(["train", "specs/digits_mlp.nn", "--coordinator", "nohost"])
    except SystemExit as e:
        assert e.code == 2
    assert "takes HOST:PORT, got 'nohost'" in capsys.readouterr().err


def test_coordinator_needs_its_companions(capsys):
    code = main(["train", "specs/digits_mlp.nn", "--coordinator", "127.0.0.1:1"])
    assert code == 1
    assert "--coordinator needs --num-processes and --process-id" in capsys.readouterr().err


# one process with 4 forced devices runs every command in turn (through the CLI's own entry point,
# as `nncompile ...` would) and prints each command's output between markers
COMMANDS = """
import sys
from nncompile.cli import main
for line in sys.stdin.read().splitlines():
    print("=== " + line, flush=True)
    code = main(line.split())
    print("=== exit %d" % code, flush=True)
"""


def test_train_eval_predict_on_four_devices(tmp_path):
    spec = ROOT / "specs" / "digits_mlp.nn"
    np.save(tmp_path / "x.npy", np.zeros((5, 64), np.float32))
    lines = [
        f"train {spec} --devices 4 --epochs 1 --out run --quiet",
        f"eval {spec} --run run --devices 4 --format json",
        f"eval {spec} --run run --devices 1 --format json",
        f"predict {spec} --run run --input x.npy --devices 4",
        f"predict {spec} --run run --input x.npy --devices 1",
    ]
    done = run(["-c", COMMANDS], cwd=tmp_path, input="\n".join(lines))
    outputs = done.stdout.split("=== ")[1:]
    assert [o.splitlines()[-1] for o in outputs[1::2]] == ["exit 0"] * len(lines), done.stderr
    _, four, one, rows4, rows1 = ("\n".join(o.splitlines()[1:]) for o in outputs[0::2])
    a, b = json.loads(four), json.loads(one)
    assert abs(a["loss"] - b["loss"]) < 1e-5 and a["accuracy"] == b["accuracy"]
    rows = {
        n: np.array([[float(v) for v in line.split(",")] for line in out.split()])
        for n, out in (("4", rows4), ("1", rows1))
    }
    assert rows["4"].shape == (5, 10)
    np.testing.assert_allclose(rows["4"], rows["1"], atol=1e-6)
