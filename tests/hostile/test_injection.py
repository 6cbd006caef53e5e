"""Issue 10, section 1: no code from text that is not spec text.

File names, folder names, data file names (spec strings) and identifiers go into the emitted program
(docstrings, `# file:line` comments, CONFIG, class/attribute/variable names). Whatever they are,
`check` either rejects the spec with a diagnostic or the program compiles, imports, builds its model
and predicts; nothing in it runs a process, executes other code or writes outside the run folder
(an audit hook, conftest.py, stops and records it). A corpus of known-bad inputs, then a Hypothesis
strategy over all four (1,000 derandomized cases, in-process, no training).
"""

from __future__ import annotations

import builtins
import itertools
import keyword
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import nncompile
from nncompile.api import Program
from nncompile.compiler import analyse, read
from nncompile.expr import RESERVED, SNIPPET_NAMES, safe_name
from nncompile.semantics.names import MODULE_ATTRS, problem

SPEC = """\
data {data} {{ source: csv("{csv}", target="label")  split: {{train: 0.7, val: 0.15, test: 0.15}} }}
model {inner}({param}) {{ input {inp}: [4]  {lay} = dense({param}, activation=relu) }}
model {model} {{
  input {inp}: [3]
  {lay} = dense(4, activation=relu)
  {hid} = {inner}({param}=5)({lay})
  dense(2, activation=softmax)({hid})
}}
train {train} {{ model: {model}  data: {data}  loss: categorical_crossentropy  freeze: [{lay}] }}
"""
POSITIONS = ("model", "inner", "inp", "lay", "hid", "param", "train", "data")
DEFAULTS = dict(zip(POSITIONS, ("Net", "Block", "x", "a", "h", "width", "main", "d"), strict=True))
BINDINGS = ("lay", "hid", "param")  # written as attributes: reserved names are refused (E205)
CSV = "f1,f2,f3,label\n" + "".join(f"{i},{i % 3},{i % 5},{i % 2}\n" for i in range(20))
SPEC_WORDS = {"data", "model", "train", "sweep", "let", "input", "output", "true", "false", "int"}
_ESC = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
_count = itertools.count()


def spec_string(text: str) -> str:
    return "".join(_ESC.get(c, c) for c in text)


def run_case(root: Path, guard, fname="spec.nn", folder="run", csv="d.csv", **names) -> str:
    """Write the spec (named ``fname``, in ``root/<n>/folder``) and its CSV; check, compile, import,
    build and predict under the audit hook. Returns "ok" or "rejected"; fails on anything else."""
    names = {**DEFAULTS, **names}
    here = root / str(next(_count)) / folder
    here.mkdir(parents=True)
    (here / csv).write_text(CSV)
    path = here / fname
    path.write_text(SPEC.format(csv=spec_string(csv), **names))
    cwd = os.getcwd()
    os.chdir(here)  # a relative payload (`touch PWNED`) would land here
    run = names != DEFAULTS  # text alone cannot change the code: importing it proves it inert
    try:
        with guard.armed(root) as seen:
            spec, diagnostics = analyse(read(path))
            errors = [d for d in diagnostics if d.severity == "error"]
            if not errors:
                program = Program(spec)
                if run:
                    model = program.module.make_model(0)
                    out = program.module.predict(model, np.zeros((2, 3), np.float32))
    finally:
        os.chdir(cwd)
    assert not seen, seen
    assert sorted(p.name for p in here.iterdir()) == sorted({fname, csv}), "a file appeared"
    refused = {names[k] for k in BINDINGS if problem(names[k])}
    if errors:
        assert all(d.code != "E000" and "internal error" not in d.message for d in errors), errors
        if set(names.values()) & SPEC_WORDS or len(set(names.values())) < len(names):
            return "rejected"  # `train = dense(4)` is a syntax error; two blocks of one name clash
        if refused:  # reserved names are refused by name, each at its own line
            assert {d.code for d in errors} == {"E205"}, errors
            return "rejected"
        pytest.fail(f"a spec with ordinary names was rejected: {errors}")
    assert not refused, f"{refused} passed check"
    assert not run or out.shape == (2, 2)
    # file names are data: the module docstring says them back exactly (escapes decoded)
    assert f"from {fname}; regenerate" in program.module.__doc__
    assert program.config["data"]["args"]["path"] == csv
    layers = {k for k in program.module.FROZEN}
    assert layers == {names["lay"]}, "freeze: names the attribute the layer is written as"
    assert not run or (hasattr(model, names["lay"]) and hasattr(model, names["hid"]))
    return "ok"


def warm_up(root: Path) -> None:
    """One unguarded run first: the parser writes its grammar cache, JAX starts."""
    (root / "warm").mkdir()
    (root / "warm" / "d.csv").write_text(CSV)
    (root / "warm" / "s.nn").write_text(SPEC.format(csv="d.csv", **DEFAULTS))
    program = nncompile.compile(root / "warm" / "s.nn")
    program.module.predict(program.module.make_model(0), np.zeros((2, 3), np.float32))


@pytest.fixture(scope="module")
def root():
    with tempfile.TemporaryDirectory(prefix="nncompile-hostile-") as d:
        warm_up(Path(d))
        yield Path(d)


ISSUE_PAYLOAD = 'a"""; __import__(\'os\').system(\'touch PWNED\'); """b.nn'
HOSTILE_TEXT = [
    ISSUE_PAYLOAD,
    "a'''; __import__('os').system('touch PWNED'); '''b.nn",
    "x\n__import__('os').system('touch PWNED')\n#.nn",
    "x\r__import__('os').system('touch PWNED')\r#.nn",
    "x\r\n__import__('os').system('touch PWNED') #.nn",
    'end\\"""+__import__("os").system("touch PWNED")+"""\\.nn',
    "trailing\\",
    "back\\slash\\n\\x41\\u0041\\N{BULLET}.nn",
    '"""',
    "'",
    '"',
    "{__import__}{0}%s%n.nn",
    "$(touch PWNED)`touch PWNED`;touch PWNED|.nn",
    "\x0c\x0b\x1b[31mred\x1b[0m\x07.nn",
    "\u2028\u2029\x85.nn",  # line breaks for str.splitlines, not for Python's tokenizer
    "é中文🙂.nn",
    "# comment.nn",
    "x" * 200 + ".nn",
    "a" * 60 + '\\"\\"\\"' + "b" * 60 + ".nn",  # a break of the wrapped docstring title here
]


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
def test_hostile_file_folder_and_data_names_stay_data(root, guard, text):
    name = text if text.endswith(".nn") else text + ".nn"
    assert run_case(root, guard, fname=name) == "ok"
    assert run_case(root, guard, folder=text) == "ok"
    assert run_case(root, guard, csv=text + ".csv") == "ok"


def test_the_issue_payload_neither_runs_nor_lands_in_the_source(root, guard):
    assert run_case(root, guard, fname=ISSUE_PAYLOAD) == "ok"
    program = nncompile.compile(next(root.glob(f"*/run/{ISSUE_PAYLOAD}")))
    assert "__import__('os')" not in program.source  # only its escaped form is


COLLIDING = sorted(
    RESERVED
    | SNIPPET_NAMES
    | MODULE_ATTRS
    | set(keyword.kwlist)
    | set(keyword.softkwlist)
    | {"print", "len", "object", "type", "super", "exec", "eval", "compile", "open"}
    | {"_object__state", "__init__", "__class__", "__dict__", "__name__", "__call__", "_", "__"}
    | {"_x", "__x", "Block_2", "Net_2", "Model", "KERNEL_INIT"}
)
# one of each kind, compiled and run in every position (safe_name covers the rest, tested below)
SAMPLE = ["make_model", "predict", "loss_fn", "augment", "train_step", "eval_step", "FROZEN"]
SAMPLE += ["kernel_penalty", "tune_for_backend", "CONFIG", "squash", "im2col_conv", "nnx", "self"]
SAMPLE += ["rngs", "train", "eval", "sow", "class", "lambda", "match", "print", "object"]
SAMPLE += ["_object__state", "__init__", "__class__", "__name__", "_x", "Block_2", "Model", "Net"]


def test_safe_name_renames_every_colliding_name():
    for name in COLLIDING:
        sym = safe_name(name)
        if name in ("Block_2", "Net_2") or name in MODULE_ATTRS or name[:1] == "_" != name[1:2]:
            continue  # nothing to avoid: a class or local may be `_x` or `train` (a layer: E205)
        assert sym not in COLLIDING and not sym.startswith("__") and sym.isidentifier(), name
        assert not keyword.iskeyword(sym) and not hasattr(builtins, sym), name


@pytest.mark.parametrize("position", POSITIONS)
def test_colliding_names_are_renamed_or_refused(root, guard, position):
    outcomes = {}
    for name in SAMPLE:
        if name in DEFAULTS.values() or (keyword.iskeyword(name) and position not in BINDINGS):
            continue  # keywords in a grammar position are syntax errors, reported as such
        outcomes[name] = run_case(root, guard, **{position: name})
    refused = {n for n, o in outcomes.items() if o == "rejected"}
    expected = {n for n in outcomes if problem(n)} if position in BINDINGS else set()
    assert expected <= refused <= expected | SPEC_WORDS


def test_module_attrs_cover_the_installed_flax():
    from flax import nnx

    assert {n for n in dir(nnx.Module) if not n.startswith("_")} <= MODULE_ATTRS


def test_every_top_level_name_of_an_emitted_program_is_reserved():
    """A spec name equal to one of them is renamed (a new helper must be added to RESERVED)."""
    import ast

    specs = Path(__file__).resolve().parents[2] / "specs"
    for spec in ("digits_cnn", "capsnet", "digits_gan", "transfer_finetune", "char_rnn"):
        source = nncompile.compile(specs / f"{spec}.nn").source
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = {node.name}
            elif isinstance(node, ast.Assign):
                names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = {(a.asname or a.name).split(".")[0] for a in node.names}
            else:
                continue
            if isinstance(node, ast.ClassDef) and node.bases:  # the model classes themselves
                continue
            assert names <= RESERVED | SNIPPET_NAMES | set(dir(builtins)), (spec, names)


IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
NAMES = st.one_of(IDENT, st.sampled_from(COLLIDING))
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00")
TEXT = st.one_of(
    st.text(CHARS, min_size=1, max_size=40),
    st.lists(
        st.sampled_from(['"', "'", "\\", "\n", "\r", "{", "}", "#", "a", "é"]), min_size=1
    ).map("".join),
    st.sampled_from(HOSTILE_TEXT),
).filter(lambda s: s not in (".", "..") and len(s.encode()) < 200)


@pytest.mark.slow  # about 15 s; 35 s on a busy machine
@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    fname=TEXT,
    folder=TEXT,
    csv=TEXT.filter(lambda s: "\r" not in s),
    names=st.one_of(
        st.just(DEFAULTS),
        st.lists(NAMES, min_size=len(POSITIONS), max_size=len(POSITIONS), unique=True).map(
            lambda drawn: dict(zip(POSITIONS, drawn, strict=True))
        ),
    ),
)
def test_hypothesis_names_paths_identifiers_and_strings(root, guard, fname, folder, csv, names):
    names = {k: v for k, v in names.items() if not keyword.iskeyword(v) or k in BINDINGS}
    outcome = run_case(root, guard, fname=fname + ".nn", folder=folder, csv=csv + ".csv", **names)
    event(f"{outcome}, {'spec names drawn' if names != DEFAULTS else 'default names'}")
