"""The package's shape (issue 9): what ruff, mypy and import-linter do not check.

- no private name imported from another module (`from .loop import _call`): ruff's PLC2701 skips
  imports inside one package, and SLF001 only sees attribute access (`trainer._state_of`);
- every module of the package sits in a layer of the import-linter contract (pyproject.toml), so
  that a new module cannot escape it;
- no module much over 400 lines.
"""

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nncompile"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 450


def name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", MODULES, ids=name)
def test_no_private_imports_across_modules(path):
    private = [
        f"{path.relative_to(ROOT)}:{node.lineno}: from {'.' * node.level}{node.module or ''} "
        f"import {alias.name}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module != "__future__"
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not private, "private names imported from another module:\n" + "\n".join(private)


@pytest.mark.parametrize("path", MODULES, ids=name)
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES})"


def test_every_module_is_in_a_layer():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    named = {
        part.strip().strip("()") for layer in layers for part in layer.replace("|", ":").split(":")
    }
    loose = [
        name(path)
        for path in MODULES
        if name(path) not in ("nncompile", "nncompile.__main__")
        and not any(name(path) == n or name(path).startswith(n + ".") for n in named)
    ]
    assert not loose, f"modules in no layer of pyproject's import contract: {loose}"
