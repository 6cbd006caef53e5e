"""Issue 10, section 4: resource limits before allocation.

Before: `dense(10**12)` passed `check` and failed in XLA as "internal error ... a bug"; text
windows, `one_hot` and `synthetic(n=...)` tried to allocate tens of GiB; `epochs: 10**21` ran. Now:
bounds in the schemas (E300 at `check`), the plan's memory estimate checked against the free memory
before the data or the model is allocated (a ResourceError carrying the estimate), the data
loader's windows and one-hot vectors checked against the host's free memory before they are built,
and XLA's RESOURCE_EXHAUSTED reported as a resource error with the estimate, never as a bug.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import nncompile
import nncompile.api
from nncompile.cli import main
from nncompile.compiler import analyse
from nncompile.errors import NncompileError, ResourceError
from nncompile.memory import Memory
from nncompile.plan import describe, plan_for
from nncompile.registry.optimizers import OPTIMIZERS
from nncompile.source import Source

MODEL = "model M {{ input x: {width}  {layers} }}"
DATA = "data D {{ source: {source}  split: {{train: 0.5, val: 0.5}} {extra} }}"
TRAIN = "train {{ model: M  data: D  loss: categorical_crossentropy  {extra} }}"


def spec(
    *,
    width: str = "[2]",
    layers: str = "dense(3, activation=softmax)",
    source: str = "synthetic(kind=blobs, n=40)",
    data: str = "",
    train: str = "epochs: 1",
) -> str:
    return "\n".join(
        [
            DATA.format(source=source, extra=data),
            MODEL.format(width=width, layers=layers),
            TRAIN.format(extra=train),
        ]
    )


def errors(text: str) -> list:
    _, diagnostics = analyse(Source(text, "limits.nn"))
    return [d for d in diagnostics if d.severity == "error"]


# ---- bounds in the schemas: `check` rejects absurd sizes with a diagnostic -----------------------
HUGE = [
    ("dense units", spec(layers="dense(1000000000000)  dense(3, activation=softmax)")),
    ("conv filters", spec(width="[8, 8, 1]", layers="conv2d(10**10, 3)  flatten()  dense(3)")),
    ("embedding vocab", spec(width="int[4]", layers="embedding(10**9, 8)  flatten()  dense(3)")),
    ("embedding dim", spec(width="int[4]", layers="embedding(10, 10**9)  flatten()  dense(3)")),
    ("lstm units", spec(width="[4, 2]", layers="lstm(10**8)  dense(3)")),
    ("synthetic n", spec(source="synthetic(kind=blobs, n=100000000000)")),
    ("synthetic features", spec(source="synthetic(kind=blobs, features=10**9)")),
    ("synthetic classes", spec(source="synthetic(kind=blobs, classes=10**9)")),
    ("text max_windows", spec(source='text("t.txt", max_windows=10**12)')),
    ("windows length", spec(data="windows: {length: 10**9}")),
    ("reshape", spec(data="reshape: [10**9, 10**9]")),
    ("epochs", spec(train="epochs: 10000000")),
    ("batch_size", spec(train="batch_size: 10**12")),
]


@pytest.mark.parametrize("case,text", HUGE, ids=[c for c, _ in HUGE])
def test_absurd_sizes_are_diagnostics_at_check(case, text):
    text = text.replace("10**12", str(10**12)).replace("10**10", str(10**10))
    text = text.replace("10**9", str(10**9)).replace("10**8", str(10**8))
    found = errors(text)
    bounds = [d for d in found if d.code == "E300" and "less than or equal to" in d.message]
    assert bounds, f"{case}: no bound diagnostic in {[d.message for d in found]}"


def test_epochs_past_any_integer_range_are_an_error_at_check():
    assert errors(spec(train="epochs: 1000000000000000000000"))


def test_one_past_the_bound_is_an_error_and_the_bound_itself_is_not():
    assert errors(spec(source="synthetic(kind=blobs, n=10000001)"))
    assert not errors(spec(source="synthetic(kind=blobs, n=10000000)", train="epochs: 1000000"))


# ---- the plan's memory decision ------------------------------------------------------------------
def program_of(text: str, tmp_path, name: str = "m.nn"):
    path = tmp_path / name
    path.write_text(text)
    return nncompile.compile(path)


def test_plan_estimates_parameters_optimizer_activations_and_data(tmp_path):
    text = spec(layers="dense(3, activation=softmax)", train="epochs: 1  batch_size: 8")
    program, _ = analyse(Source(text, str(tmp_path / "m.nn")))
    assert program is not None
    memory = plan_for(program).memory.value
    assert isinstance(memory, Memory)
    assert memory.parameters == (2 * 3 + 3) * 4  # float32
    assert memory.optimizer == 2 * memory.parameters  # adam: two moments
    assert memory.gradients == memory.parameters
    assert memory.batch == 8
    assert memory.data == 40 * (2 + 1) * 4  # 40 examples: two features and a class id
    assert memory.total == sum(
        [memory.parameters, memory.optimizer, memory.gradients, memory.activations, memory.data]
    )
    sgd = plan_for(analyse(Source(text.replace("epochs: 1", "optimizer: sgd(lr=0.1)"), "x"))[0])
    assert sgd.memory.value.optimizer == 0  # plain SGD keeps no state
    printed = describe(program)
    assert "memory:" in printed and "optimizer state" in printed


def test_a_model_too_large_for_memory_is_refused_before_allocation(tmp_path):
    # every size within its bound, but 2**20 x 2**20 weights: 4 TiB of parameters
    text = spec(layers="dense(1048576)  dense(1048576)  dense(3, activation=softmax)")
    program = program_of(text, tmp_path)
    with pytest.raises(ResourceError) as e:
        program.fit()
    message = str(e.value)
    assert "needs about" in message and "TiB" in message and "parameters 4.0 TiB" in message
    assert "free" in message and "nncompile plan" in message
    assert program.dataset is None and program.trainer is None  # nothing loaded or built


def test_generated_data_too_large_is_refused_before_it_is_generated(tmp_path):
    text = spec(
        width="[1048576]",
        source="synthetic(kind=blobs, n=10000000, features=1048576)",
        layers="dense(3, activation=softmax)",
    )
    program = program_of(text, tmp_path)
    with pytest.raises(ResourceError, match=r"data 38\.1 TiB"):
        program.fit()
    assert program.dataset is None


def test_cli_train_reports_the_estimate_not_an_internal_error(tmp_path, capsys):
    path = tmp_path / "big.nn"
    path.write_text(spec(layers="dense(1048576)  dense(1048576)  dense(3, activation=softmax)"))
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "needs about" in err and "internal error" not in err and "Traceback" not in err


def small_host(monkeypatch, free_bytes: int) -> None:
    real = os.sysconf
    pages = {"SC_AVPHYS_PAGES": free_bytes // 4096, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(os, "sysconf", lambda name: pages.get(name) or real(name))


def test_text_windows_are_checked_before_they_are_built(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    (tmp_path / "t.txt").write_text("".join(rng.choice(list("abcdefghij"), 200_000)))
    text = (
        'data D { source: text("t.txt", max_windows=50000)  normalize: none\n'
        "         windows: {length: 150000, targets: sequence} }\n"
        "model M { input x: int[150000]  embedding(10, 2)  dense(10, activation=softmax) }\n"
        "train { model: M  data: D  loss: categorical_crossentropy  epochs: 1 }\n"
    )
    program = program_of(text, tmp_path)
    small_host(monkeypatch, 1 << 30)
    with pytest.raises(ResourceError, match=r"50000 windows of length 150000 need \d+\.\d GiB"):
        program.load_data()


def test_one_hot_is_checked_before_it_is_built(tmp_path, monkeypatch):
    rows = ["a,label"] + [f"{i / 2000},{i % 1000}" for i in range(2000)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    text = spec(
        width="[1]",
        source='csv("d.csv", target="label", task=classification)',
        data="one_hot: true",
        layers="dense(1000, activation=softmax)",
    )
    program = program_of(text, tmp_path)
    small_host(monkeypatch, 1 << 20)  # 1 MiB free; one-hot vectors need 2000 x 1000 x 4 bytes
    with pytest.raises(ResourceError, match="one_hot of 2000 class ids over 1000 classes"):
        program.load_data()


# ---- out of memory inside XLA: a resource error with the estimate --------------------------------
XLA_OOM = "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 17179869184 bytes."


def test_xla_out_of_memory_is_a_resource_error_with_the_estimate(tmp_path, monkeypatch):
    program = program_of(spec(), tmp_path)

    def exhausted(*args, **kwargs):
        raise RuntimeError(XLA_OOM)  # what jaxlib's XlaRuntimeError says

    monkeypatch.setattr(type(program), "trainer_for", exhausted)
    with pytest.raises(ResourceError) as e:
        program.fit()
    assert "ran out of memory" in str(e.value) and "the estimate was about" in str(e.value)


def test_cli_maps_any_out_of_memory_to_a_resource_error(tmp_path, monkeypatch, capsys):
    path = tmp_path / "m.nn"
    path.write_text(spec())

    def exhausted(self, *args, **kwargs):
        raise RuntimeError(XLA_OOM)

    monkeypatch.setattr(nncompile.api.Program, "fit", exhausted)
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "out of memory" in err and "internal error" not in err and "bug" not in err


# ---- epochs: bounded on the command line and in the API ------------------------------------------
def test_absurd_epochs_are_refused(tmp_path, capsys):
    path = tmp_path / "m.nn"  # its data file is missing: refused before the data is read
    path.write_text(spec(source='csv("missing.csv", target="y")'))
    with pytest.raises(SystemExit) as e:
        main(["train", str(path), "--epochs", str(10**21)])
    assert e.value.code == 2 and "at most 1000000 epochs" in capsys.readouterr().err
    with pytest.raises(NncompileError, match="1 to 1000000 epochs"):
        nncompile.compile(path).fit(epochs=10**21)


# ---- every optimizer's state size is what optax keeps (the estimate's optimizer part) ------------
@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("example", [False, True], ids=["defaults", "example"])
def test_optimizer_slots_match_optax(name, example):
    import jax
    import jax.numpy as jnp
    import optax

    entry = OPTIMIZERS[name]
    args = {"lr": 0.01, **(dict(entry.example) if example else {})}
    p = entry.params(**args)
    keywords = {
        k: v
        for k, v in entry.keywords(p).items()
        if k not in entry.library_defaults or entry.library_defaults[k] != v
    }
    fn = getattr(optax, entry.fn.removeprefix("optax."))
    state = fn(0.01, **keywords).init(jnp.zeros(1000))
    floats = sum(x.size for x in jax.tree.leaves(state) if x.size >= 1000)
    assert floats == entry.slots(p) * 1000, (name, args, floats)


def test_a_tilde_path_without_a_home_directory_stays_a_name(monkeypatch, tmp_path):
    """Found by the injection strategy: `csv("~")` with no home directory to expand to raised
    RuntimeError ("internal error") instead of reading `~` as a file name."""
    import os

    from nncompile.registry.loading import data_path

    monkeypatch.setattr(os.path, "expanduser", lambda p: p)  # what pathlib sees without a home
    assert data_path("~/rows.csv", tmp_path) == tmp_path / "~" / "rows.csv"
