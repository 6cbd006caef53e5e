"""Code as data: the expressions lowering produces and emit renders.

Only three things become text: identifiers checked against Python's identifier rules, fixed
templates written in this package, and literals rendered with ``repr``. User text (a spec's
strings and names) can therefore never inject code.
"""

from __future__ import annotations

import builtins
import keyword
import re
import string
from dataclasses import dataclass
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
RESERVED = {
    "jax",
    "jnp",
    "nnx",
    "optax",
    "np",
    "self",
    "rngs",
    "model",
    "optimizer",
    "loss",
    "key",
    "CONFIG",
    "KERNEL_INIT",
    "COMPUTE_DTYPE",
    "squash",
    "outputs",
    "grads",
    "y",
    # the emitted module's own top-level names (training programs, GAN programs, ejected files);
    # tests/hostile/test_injection.py checks that every top-level name of an emitted file is here
    # or a Snippet's name
    *("make_model", "make_models", "make_optimizer", "make_optimizers", "freeze_labels"),
    "freeze_batch_norm",
    *("FROZEN", "loss_fn", "augment", "train_step", "eval_step", "predict", "tune_for_backend"),
    *("sample_noise", "discriminator_loss", "generator_loss", "generate", "Model", "main"),
    *("g_condition", "d_condition"),
    *("CLASS_WEIGHT", "class_weight"),
    *("evaluate", "line", "METRICS", "SEED", "EPOCHS", "BATCH_SIZE", "DROP_REMAINDER"),
    *("THRESHOLD", "MONITOR", "PATIENCE", "MIN_DELTA", "RESTORE", "SPLIT", "OUT", "Path"),
    *("argparse", "csv", "io", "json", "math", "time", "os", "sys", "datasets"),
}
SNIPPET_NAMES: set[str] = set()  # the name of every Snippet defined (filled as they are created)


class Sym(str):
    """An identifier or dotted name, rendered as is."""

    def __new__(cls, text: str) -> Sym:
        if not _IDENT.match(text):
            raise ValueError(f"not an identifier: {text!r}")
        return super().__new__(cls, text)


def safe_name(name: str, avoid: set[str] | frozenset[str] = frozenset()) -> Sym:
    """A spec name as a Python identifier that shadows nothing the emitted code uses (a keyword, a
    builtin, a name the emitted module defines or imports, a snippet, a name in ``avoid``); a name
    starting with ``__`` (mangled inside a class) gets an ``n`` in front."""
    if name.startswith("__"):  # mangled inside a class body
        name = f"n{name}"
    while (
        keyword.iskeyword(name)
        or keyword.issoftkeyword(name)
        or name in RESERVED
        or name in SNIPPET_NAMES
        or name in avoid
        or hasattr(builtins, name)
    ):
        name = f"{name}_"
    return Sym(name)


class Expr:
    def render(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Call(Expr):
    fn: str
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    def render(self) -> str:
        parts = [render(a) for a in self.args] + [f"{Sym(k)}={render(v)}" for k, v in self.kwargs]
        return f"{Sym(self.fn)}({', '.join(parts)})"


@dataclass(frozen=True)
class Args(Expr):
    """The arguments of a call without its function, for templates such as
    ``t("optax.inject_hyperparams({fn})({args})", fn=..., args=Args(c))``."""

    of: Call

    def render(self) -> str:
        c = self.of
        return ", ".join(
            [render(a) for a in c.args] + [f"{Sym(k)}={render(v)}" for k, v in c.kwargs]
        )


@dataclass(frozen=True)
class T(Expr):
    """A fixed template from this package: ``T("{x}[:, -1]", x=var)``."""

    template: str
    parts: tuple[tuple[str, Any], ...]

    def render(self) -> str:
        return self.template.format(**{k: render(v) for k, v in self.parts})


def t(template: str, **parts: Any) -> T:
    return T(template, tuple(parts.items()))


def call(fn: str, *args: Any, **kwargs: Any) -> Call:
    return Call(fn, args, tuple((k, v) for k, v in kwargs.items() if v is not _SKIP))


_SKIP = object()


def render(v: Any) -> str:
    if isinstance(v, Expr):
        return v.render()
    if isinstance(v, Sym):
        return str(v)
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return repr(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(render(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{render(k)}: {render(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot render {type(v).__name__}")


def pretty(v: Any, indent: int = 0, width: int = 100, start: int | None = None) -> str:
    """Like render, but dicts and lists that don't fit on a line get one item per line.
    ``indent``: the indentation of the line; ``start``: the column the value starts at."""
    start = indent if start is None else start
    flat = render(v)
    if start + len(flat) < width or not isinstance(v, (dict, list)) or not v:
        return flat
    pad = " " * (indent + 4)
    if isinstance(v, dict):
        items = []
        for k, x in v.items():
            key = f"{pad}{render(k)}: "
            items.append(f"{key}{_item(x, indent + 4, width, len(key))},")
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{_item(x, indent + 4, width)}," for x in v]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def _item(v: Any, indent: int, width: int, start: int | None = None) -> str:
    """An item of a broken list or dict: nested lists and dicts by `pretty`, calls by `layout`."""
    if isinstance(v, (dict, list)):
        return pretty(v, indent, width, start)
    return layout(v, indent, width, start)


@dataclass(frozen=True)
class Snippet:
    """Fixed helper code (a function or class written in this package, no user text) that an
    emitted program includes when one of its entries needs it. ``needs``: snippets it calls,
    emitted before it."""

    name: str
    code: str
    needs: tuple[Snippet, ...] = ()
    backend: bool = False  # backend tuning (how to run fast), written apart from the model code

    def __post_init__(self) -> None:
        SNIPPET_NAMES.add(self.name)


def in_order(snippets: set[Snippet] | list[Snippet]) -> list[Snippet]:
    """The snippets and everything they need, dependencies first, otherwise sorted by name."""
    out: list[Snippet] = []

    def visit(s: Snippet) -> None:
        if s in out:
            return
        for dep in s.needs:
            visit(dep)
        out.append(s)

    for s in sorted(snippets, key=lambda s: s.name):
        visit(s)
    return out


def inert(text: str) -> str:
    """Text from outside this package (a file name, a path) as it may stand inside a comment or a
    docstring of emitted code: control characters, backslashes, quotes and non-ASCII escaped, so it
    can neither end the comment or docstring nor be read as an escape sequence."""
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"').replace("'", "\\'")


def layout(v: Any, indent: int = 0, width: int = 100, start: int | None = None) -> str:
    """``render`` that breaks a call, list or dict over lines when it does not fit in ``width``.
    ``indent``: the indentation of the line the value is on; ``start``: the column it starts at
    (default: ``indent``). A broken call has its arguments on one line indented by four more, or,
    when they do not fit there either, one argument a line."""
    start = indent if start is None else start
    flat = render(v)
    if start + len(flat) <= width:
        return flat
    if isinstance(v, (list, dict)) and v:
        return pretty(v, indent, width, start)
    if isinstance(v, T):
        return _layout_template(v, indent, width, start)
    if not isinstance(v, Call) or not (v.args or v.kwargs):
        return flat
    inner = indent + 4
    parts = [layout(a, inner, width) for a in v.args] + [
        f"{Sym(k)}={layout(x, inner, width, inner + len(k) + 1)}" for k, x in v.kwargs
    ]
    pad = " " * inner
    one_line = ", ".join(parts)
    if "\n" not in one_line and inner + len(one_line) <= width:
        return f"{Sym(v.fn)}(\n{pad}{one_line}\n{' ' * indent})"
    return f"{Sym(v.fn)}(\n" + "".join(f"{pad}{p},\n" for p in parts) + " " * indent + ")"


def _layout_template(v: T, indent: int, width: int, start: int) -> str:
    """A template with its parts laid out in turn, each from the column where it lands."""
    out, column = "", start
    for literal, key, _, _ in string.Formatter().parse(v.template):
        out += literal
        column += len(literal)
        if key is None:
            continue
        text = layout(dict(v.parts)[key], indent, width, column)
        out += text
        column = len(text) - text.rfind("\n") - 1 if "\n" in text else column + len(text)
    return out
