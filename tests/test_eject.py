"""`nncompile eject`: the ejected folder loads the same data as the runtime and, run in a fresh venv
without nncompile, trains to the same test metrics as `nncompile train`."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import nncompile
from nncompile.codegen.eject import eject
from nncompile.compiler import analyse, read
from nncompile.errors import NncompileError

ROOT = Path(__file__).absolute().parent.parent
SPECS = ROOT / "specs"


def ejected(spec: Path, out: Path, train: str | None = None) -> Path:
    program, diagnostics = analyse(read(str(spec)))
    assert program is not None, diagnostics
    eject(program, train, out)
    return out


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_same_splits(spec: Path, folder: Path, train: str | None = None) -> None:
    expected = nncompile.compile(spec, train=train).load_data().splits
    got = load_module(folder / "data.py", f"ejected_data_{abs(hash(folder))}").load()
    assert list(got) == list(expected)
    for name, (x, y) in expected.items():
        assert got[name][0].dtype == x.dtype and got[name][1].dtype == y.dtype
        np.testing.assert_array_equal(got[name][0], x)
        np.testing.assert_array_equal(got[name][1], y)


@pytest.mark.parametrize(
    "name",
    [
        "digits_mlp",
        "digits_cnn",
        "sine_forecast",
        "char_rnn",
        "perceptron",
        "simple_ann_regression",
        "residual_mlp",
    ],
)
def test_data_py_gives_the_runtime_splits(name, tmp_path):
    assert_same_splits(SPECS / f"{name}.nn", ejected(SPECS / f"{name}.nn", tmp_path / name))


ODD = "we\"ird 'name\\"  # a file name with both quotes and a backslash: must stay a literal


@pytest.mark.parametrize("kind", ["csv", "npz"])
def test_data_files_are_copied_and_named_by_literals(kind, tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3)), np.arange(60) % 3
    (tmp_path / "spec").mkdir()
    if kind == "csv":
        rows = ["a,b,c,label"] + [
            ",".join(f"{v:.6f}" for v in r) + f",{c}" for r, c in zip(x, y, strict=True)
        ]
        (tmp_path / "spec" / f"{ODD}.csv").write_text("\n".join(rows) + "\n")
        source = 'csv("we\\"ird \'name\\\\.csv", target="label")'
    else:
        np.savez(tmp_path / "spec" / f"{ODD}.npz", x=x.astype(np.float32), y=y)
        source = 'npz("we\\"ird \'name\\\\.npz")'
    spec = tmp_path / "spec" / "odd.nn"
    spec.write_text(f"""data d {{
  source: {source}
  split: {{train: 0.6, val: 0.2, test: 0.2}}
  normalize: standard
}}
model M {{
  input x: [3]
  dense(3, activation=softmax)
}}
train {{ model: M  data: d  loss: categorical_crossentropy  metrics: [accuracy, recall] }}
""")
    folder = ejected(spec, tmp_path / "out")
    assert (folder / "data" / f"{ODD}.{kind}").is_file()
    assert_same_splits(spec, folder)


def test_every_source_has_a_standalone_loader_that_loads_the_same(tmp_path):
    """Each source entry's example, loaded by the runtime and by its standalone form's code."""
    from types import SimpleNamespace

    from nncompile.expr import in_order, render
    from nncompile.registry.sources import SOURCES
    from nncompile.registry.standalone import EjectRequest

    for entry in SOURCES.entries():
        assert entry.standalone is not None, (
            f"source {entry.name} has no standalone form (Source.standalone): it cannot be ejected"
        )
        if entry.example_files is not None:
            entry.example_files(tmp_path)
        p = entry.params.model_validate(entry.example)
        args = p.model_dump(mode="json")
        windows = (
            {"length": 4, "horizon": 1, "targets": "sequence"} if entry.name == "text" else None
        )
        request = SimpleNamespace(
            name="d", source=entry.name, args=args, windows=windows, seed=5, base_dir=str(tmp_path)
        )
        raw = entry.load(request)
        loader = entry.standalone(p, EjectRequest(windows, tmp_path))
        namespace = {"np": np, "SEED": 5, "DATA": tmp_path}
        exec("\n".join(["import csv, io", "from pathlib import Path", *loader.imports]), namespace)
        for snippet in in_order(list(loader.snippets)):
            exec(snippet.code, namespace)
        x, y, got_task = eval(render(loader.call), namespace)
        assert got_task == raw.task, entry.name
        np.testing.assert_array_equal(x, raw.x)
        np.testing.assert_array_equal(y, raw.y)
        assert x.dtype == raw.x.dtype and y.dtype == raw.y.dtype, entry.name


def test_every_metric_has_a_standalone_form_that_computes_the_same():
    """Each metric entry's standalone form (numpy, for train.py), with its default and example
    arguments, on the data its `reference` takes: the same value."""
    from nncompile.expr import in_order, render
    from nncompile.registry.metrics import METRICS

    rng = np.random.default_rng(0)
    for entry in METRICS.entries():
        assert entry.standalone is not None, (
            f"metric {entry.name} has no standalone form (Metric.standalone): it cannot be ejected"
        )
        if entry.task == "classification":
            outputs, y = rng.normal(size=(97, 5)), rng.integers(0, 5, 97)
        else:
            outputs, y = rng.normal(size=(97, 1)), rng.normal(size=(97, 1))
        for arguments in ({}, dict(entry.example)):
            p = entry.params.model_validate(arguments)
            code = entry.standalone(p)
            namespace = {"np": np, "THRESHOLD": 0.0, "OUTPUT_ACTIVATION": None, "TARGET_SCALE": 1.0}
            for snippet in in_order(list(code.snippets)):
                exec(snippet.code, namespace)
            got = eval(render(code.fn), namespace)(outputs, y)
            assert isinstance(got, float), entry.name
            assert got == pytest.approx(entry.reference(p, outputs, y), rel=1e-9), (
                entry.name,
                arguments,
            )


def test_a_metric_without_a_standalone_form_is_refused(tmp_path, monkeypatch):
    from dataclasses import replace

    from nncompile.registry.metrics import METRICS

    monkeypatch.setitem(METRICS._entries, "mae", replace(METRICS["mae"], standalone=None))
    spec = tmp_path / "m.nn"
    spec.write_text("""data d {
  source: synthetic("sine", n=100)
  split: {train: 0.8, test: 0.2}
}
model M {
  input x: [1]
  dense(1)
}
train { model: M  data: d  loss: mse  metrics: [mae] }
""")
    with pytest.raises(NncompileError, match="metric 'mae' has no standalone form") as e:
        ejected(spec, tmp_path / "out")
    assert e.value.hint == "remove it from `metrics` to eject, or train with `nncompile train`"
    assert not (tmp_path / "out").exists()


STEPS = {  # data blocks using the other sources and pipeline steps, with the model they need
    "blobs": (
        'synthetic("blobs", n=300, classes=4, features=3)',
        "classes: [3, 1]\n  subset: 0.5\n  one_hot: true",
        "input x: [3]\n  dense(2)",
        "mse",
    ),
    "xor": (
        'synthetic("xor", n=200)',
        "shuffle: false\n  normalize: minmax",
        "input x: [2]\n  dense(2)",
        "categorical_crossentropy",
    ),
    "sine_params": (
        'synthetic("sine_params", n=200, length=7)',
        "normalize_target: standard",
        "input x: [2]\n  dense(7)\n  reshape([7, 1])",
        "mse",
    ),
    "sine_pairs": (
        'synthetic("sine", n=300, noise=0.1)',
        "normalize_target: standard",
        "input x: [1]\n  dense(1)",
        "mse",
    ),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_data_py_reproduces_every_step(name, tmp_path):
    source, extra, model, loss = STEPS[name]
    spec = tmp_path / f"{name}.nn"
    spec.write_text(f"""data d {{
  source: {source}
  split: {{train: 0.6, val: 0.2, test: 0.2}}
  {extra}
}}
model M {{
  {model}
}}
train {{ model: M  data: d  loss: {loss}  seed: 3 }}
""")
    assert_same_splits(spec, ejected(spec, tmp_path / "out"))


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn", "sine_forecast"])
def test_ejected_files(name, tmp_path):
    folder = ejected(SPECS / f"{name}.nn", tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "data.py",
        "model.py",
        "train.py",
    ]
    for file in ("model.py", "data.py", "train.py"):
        tree = ast.parse((folder / file).read_text())
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in imported if m.split(".")[0] == "nncompile"], file
    for file in ("data.py", "train.py", "README.md"):
        long = [line for line in (folder / file).read_text().splitlines() if len(line) > 100]
        assert not long, f"{file}: {long}"
    model = (folder / "model.py").read_text()
    assert "__main__" not in model
    doc = ast.get_docstring(ast.parse(model))
    assert "`nncompile eject` wrote this copy" in doc and "train.py" in doc, doc
    assert "runtime" not in doc and "Run as a script" not in doc, doc
    assert ("scikit-learn" in (folder / "README.md").read_text()) == name.startswith("digits")


def test_cli_ejects_a_chosen_train_block(tmp_path, capsys):
    from nncompile.cli import main

    assert (
        main(["eject", str(SPECS / "gradient_descent.nn"), "--train", "adam", "-o", str(tmp_path)])
        == 0
    )
    assert "train.py" in capsys.readouterr().err
    assert "`train adam`" in (tmp_path / "train.py").read_text()
    assert_same_splits(SPECS / "gradient_descent.nn", tmp_path, "adam")


def test_gan_programs_are_refused(tmp_path):
    with pytest.raises(NncompileError, match="GAN"):
        ejected(SPECS / "digits_gan.nn", tmp_path)


# ---- the acceptance test: a fresh venv without nncompile -----------------------------------------
EPOCHS = {"digits_mlp": 8, "digits_cnn": 3, "sine_forecast": 6}


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A new venv that sees this environment's packages (jax, flax, optax, numpy, scikit-learn), but
    not nncompile: its site-packages links every entry of ours except nncompile's."""
    venv = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    deps = venv / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if (
            "nncompile" not in entry.name
            and not entry.name.startswith("__editable__")
            and entry.suffix != ".pth"
        ):
            (deps / entry.name).symlink_to(entry)
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "deps.pth").write_text(f"{deps}\n")
    probe = subprocess.run(
        [python, "-c", "import nncompile"],
        cwd=venv,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "No module named 'nncompile'" in probe.stderr, probe.stderr
    return python


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def printed_test_metrics(output: str) -> dict[str, float]:
    line = next(line for line in output.splitlines() if line.startswith("test: "))
    pairs = re.findall(r"(\S+) (-?[\d.]+(?:e[-+]?\d+)?|nan|inf)", line[len("test: ") :])
    return {k: float(v) for k, v in pairs}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EPOCHS))
def test_ejected_program_trains_like_nncompile_without_it(name, bare_python, tmp_path):
    spec = SPECS / f"{name}.nn"
    folder = ejected(spec, tmp_path / "ejected")
    work = tmp_path / "elsewhere"
    work.mkdir()
    run = subprocess.run(
        [bare_python, str(folder / "train.py"), "--epochs", str(EPOCHS[name])],
        cwd=work,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = printed_test_metrics(run.stdout)

    program = nncompile.compile(spec)
    program.fit(epochs=EPOCHS[name])
    want = program.evaluate("test")
    assert list(got) == list(want), (got, want)
    for key, value in want.items():
        if key in ("accuracy", "top_3"):
            assert abs(got[key] - value) <= 0.005, (key, got[key], value)
        else:  # printed with 4 decimals: 0.5% relative, or the rounding
            assert abs(got[key] - value) <= max(0.005 * abs(value), 6e-5), (key, got[key], value)
