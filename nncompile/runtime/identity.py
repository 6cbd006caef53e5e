"""What a trained run was trained by: the identity of an emitted program, and how two differ.

The parameter shapes of a checkpoint or run folder do not say which program wrote them: another
activation, learning rate or normalisation has the same shapes. `program_identity` reduces an
emitted program's source to what decides its computation: every top-level definition (function,
class, constant) as normalised code (docstrings and comments dropped, so file names and spec
lines do not count) and its CONFIG without the entries that do not change the computation (the
number of epochs, checkpointing, names, backend tuning). `changes` says how two identities differ,
in lines a person can act on.
"""

from __future__ import annotations

import ast
import difflib
import json
from typing import Any

# CONFIG entries that do not change what a trained state means
IGNORED_CONFIG = frozenset(
    {
        "epochs",
        "spec",
        "train",
        "checkpoint",
        "strategy",
        "autotune",
        "cpu_compiler_options",
        "cpu_cores",
        "activation_floats",
    }
)
# top-level definitions that tune for a backend without changing the model
IGNORED_CODE = frozenset({"tune_for_backend"})


def program_identity(source: str) -> dict[str, Any]:
    """{"config": CONFIG less IGNORED_CONFIG, "code": {definition: normalised source}}."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {"config": {}, "code": {"<program>": source}}
    config: dict[str, Any] = {}
    code: dict[str, str] = {}
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.If)) or _is_doc(node):
            continue  # imports, the `if __name__ == "__main__"` block, the module docstring
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name not in IGNORED_CODE:  # (the tree is this call's own: changed in place)
                code[node.name] = ast.unparse(_without_docs(node))
            continue
        targets = _assigned(node)
        if targets == ["CONFIG"] and isinstance(node, ast.Assign):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = {"<CONFIG>": ast.unparse(node.value)}
            value = json.loads(json.dumps(value, default=str))
            config = {k: v for k, v in value.items() if k not in IGNORED_CONFIG}
        else:
            code[" ".join(targets) or f"<statement {i}>"] = ast.unparse(node)
    return {"config": config, "code": code}


def changes(old: dict, new: dict, limit: int = 4, *, code: bool = True) -> list[str]:
    """How identity `new` (this program's) differs from `old` (the run's), one line each; `code`
    False: the CONFIG only (a run from another nncompile version, whose emitted code differs)."""
    out: list[str] = []
    a, b = _flat(old.get("config") or {}), _flat(new.get("config") or {})
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<unset>") != b.get(key, "<unset>"):
            out.append(
                f"CONFIG {key} was {_short(a.get(key, '<unset>'))}, "
                f"is {_short(b.get(key, '<unset>'))}"
            )
    ca, cb = (old.get("code") or {}, new.get("code") or {}) if code else ({}, {})
    for name in sorted(set(ca) | set(cb)):
        if name not in cb:
            out.append(f"{name} is gone")
        elif name not in ca:
            out.append(f"{name} is new")
        elif ca[name] != cb[name]:
            out.append(f"{name} changed: {_first_difference(ca[name], cb[name])}")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def other_program(old: dict, new: dict, spec: str | None = None) -> str | None:
    """What trained the run, when it is plainly another program than this one (another model, or
    a GAN against a supervised model; ``spec``: the file name of its spec): said before the CONFIG
    differences, which are many then."""
    a, b = old.get("config") or {}, new.get("config") or {}
    if a.get("kind") == b.get("kind") and a.get("model") == b.get("model"):
        return None

    def what(config: dict) -> str:
        if config.get("kind") == "gan":
            return "a GAN"
        return f"model {config.get('model')}" if config.get("model") else "another program"

    return f"{what(a)}{f' of {spec}' if spec else ''}, not {what(b)}"


def _first_difference(old: str, new: str) -> str:
    removed = added = None
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("- ") and removed is None:
            removed = line[2:].strip()
        elif line.startswith("+ ") and added is None:
            added = line[2:].strip()
    if removed is not None and added is not None:
        return f"`{_cut(removed)}` is now `{_cut(added)}`"
    if removed is not None:
        return f"`{_cut(removed)}` was removed"
    return f"`{_cut(added or '')}` was added"


def _flat(config: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _short(value: Any) -> str:
    return _cut(json.dumps(value, default=str))


def _cut(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _is_doc(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _assigned(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _without_docs(node: ast.AST) -> ast.AST:
    """`node` without the docstrings of its functions and classes, changed in place (a deep copy
    of the tree cost more than parsing it: ~25 ms of each run folder saved)."""
    for part in ast.walk(node):
        if not isinstance(part, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if part.body and _is_doc(part.body[0]):
            part.body = part.body[1:] or [ast.Pass()]
    return node


def module_identity(module: Any) -> dict[str, Any] | None:
    """The identity of a loaded emitted program (its source from linecache or its file)."""
    import linecache

    filename = getattr(module, "__file__", None)
    if not filename:
        return None
    source = "".join(linecache.getlines(filename))
    if not source:
        try:
            with open(filename, encoding="utf-8") as f:
                source = f.read()
        except OSError:
            return None
    return program_identity(source)
