"""Golden files per spec and stage: the syntax tree, the shape summary and every emitted program.

A change to any of them shows up as a diff; regenerate with `pytest --update-golden` and review.
A golden folder or file that no spec or train produces any more is stale: a failure, removed by
`pytest --update-golden`.
"""

import ast
import re
import shutil
from pathlib import Path

import pytest

import nncompile
from nncompile.codegen.emit import emit_program
from nncompile.summary import summary
from nncompile.syntax.ast import dump

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.nn"))
GOLDEN = ROOT / "tests" / "golden"


def compare(path: Path, text: str, update: bool) -> None:
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if not update:
            pytest.fail(f"golden file {path.name} was missing and has been written; rerun")
    assert path.read_text() == text, f"{path} differs; review and run pytest --update-golden"


def expected_goldens(spec: Path) -> set[str]:
    """The golden files of one spec: its tree, its shape table and one program per train."""
    trains = nncompile.load_spec(spec).trains
    return {"ast.txt", "shapes.txt"} | {f"program_{name}.py" for name in trains}


def test_every_spec_has_goldens():
    assert SPECS, "no specs found"
    assert {p.name for p in GOLDEN.iterdir() if p.is_dir()} >= {s.stem for s in SPECS}


def test_no_stale_goldens(update_golden):
    """A golden folder without a spec, or a file no stage of its spec writes, fails the suite."""
    specs = {spec.stem: spec for spec in SPECS}
    stale: list[tuple[Path, str]] = []
    for path in sorted(GOLDEN.iterdir()):
        if path.name not in specs:
            why = f"no spec specs/{path.name}.nn" if path.is_dir() else "not in a spec's folder"
            stale.append((path, why))
            continue
        expected = expected_goldens(specs[path.name])
        for file in sorted(path.iterdir()):
            if file.name in expected or file.name == "__pycache__":
                continue
            train = re.fullmatch(r"program_(.+)\.py", file.name)
            if train:
                why = f"specs/{path.name}.nn has no train {train[1]!r}"
            else:
                why = "not a golden file (ast.txt, shapes.txt, program_TRAIN.py)"
            stale.append((file, why))
    if update_golden:
        for path, _ in stale:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        return
    if stale:
        listing = "\n".join(f"  {path.relative_to(ROOT)}: {why}" for path, why in stale)
        pytest.fail(f"stale golden files; remove them or run pytest --update-golden:\n{listing}")


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_syntax_tree(spec, update_golden):
    tree = nncompile.parse(spec.read_text(), path=spec.name)
    compare(GOLDEN / spec.stem / "ast.txt", dump(tree) + "\n", update_golden)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_shape_summary(spec, update_golden):
    compare(GOLDEN / spec.stem / "shapes.txt", summary(nncompile.load_spec(spec)), update_golden)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_emitted_programs(spec, update_golden):
    program = nncompile.load_spec(spec)
    for name in program.trains:
        source = emit_program(program, name)
        ast.parse(source)
        again = emit_program(nncompile.load_spec(spec), name)
        assert again == source, "emission is not deterministic"
        compare(GOLDEN / spec.stem / f"program_{name}.py", source, update_golden)
        long = [
            f"line {i}: {len(line)} characters"
            for i, line in enumerate(source.splitlines(), 1)
            if len(line) > 100
        ]
        assert not long, f"{spec.stem} train {name}: emitted lines over 100 characters: {long}"


def test_a_parameterised_block_is_one_parameterised_class():
    """ResidualBlock(width, rate) used twice with different rates: one class taking both."""
    source = emit_program(nncompile.load_spec(ROOT / "specs" / "residual_mlp.nn"), "main")
    assert re.findall(r"^class (\w+)", source, re.M) == ["ResidualBlock", "WineNet"]
    assert "    def __init__(self, width, rate, *, rngs: nnx.Rngs):" in source
    assert "nnx.Dropout(rate, rngs=rngs)" in source
    assert "self.a = ResidualBlock(width=32, rate=0.1, rngs=rngs)" in source
    assert "self.b = ResidualBlock(width=32, rate=0.2, rngs=rngs)" in source
    # the spec's binding names are the variables: `s = add(x, r)` is `s = x + r`
    assert "        s = x + r  # residual_mlp.nn:21" in source


def test_backend_tuning_stays_out_of_the_model_section():
    source = emit_program(nncompile.load_spec(ROOT / "specs" / "digits_cnn.nn"), "main")
    model_part, tuning = source.split("# ---- backend tuning", 1)
    assert "im2col" not in model_part.replace("tune_for_backend", "")
    assert "def im2col_conv(" in tuning and "def tune_for_backend(model):" in tuning
