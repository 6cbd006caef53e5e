"""Golden files per spec and stage: the syntax tree, the shape summary and every emitted program.

A change to any of them shows up as a diff; regenerate with `pytest --update-golden` and review.
"""
import ast
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


def test_every_spec_has_goldens():
    assert SPECS, "no specs found"
    assert {p.name for p in GOLDEN.iterdir() if p.is_dir()} >= {s.stem for s in SPECS}


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
        assert emit_program(nncompile.load_spec(spec), name) == source, "emission is not deterministic"
        compare(GOLDEN / spec.stem / f"program_{name}.py", source, update_golden)
