"""Code as data: the expressions lowering produces and emit renders.

Only three things become text: identifiers checked against Python's identifier rules, fixed
templates written in this package, and literals rendered with ``repr``. User text (a spec's
strings and names) can therefore never inject code.
"""
from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
RESERVED = {"jax", "jnp", "nnx", "optax", "np", "self", "rngs", "model", "optimizer", "loss", "key",
            "CONFIG", "KERNEL_INIT", "COMPUTE_DTYPE", "squash", "outputs", "grads", "y"}


class Sym(str):
    """An identifier or dotted name, rendered as is."""

    def __new__(cls, text: str) -> "Sym":
        if not _IDENT.match(text):
            raise ValueError(f"not an identifier: {text!r}")
        return super().__new__(cls, text)


def safe_name(name: str) -> Sym:
    """A spec name as a Python identifier that shadows nothing the emitted code uses."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in RESERVED or hasattr(builtins, name):
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


def pretty(v: Any, indent: int = 0, width: int = 100) -> str:
    """Like render, but dicts and lists that don't fit on a line get one item per line."""
    flat = render(v)
    if len(flat) + indent <= width or not isinstance(v, (dict, list)) or not v:
        return flat
    pad = " " * (indent + 4)
    if isinstance(v, dict):
        items = [f"{pad}{render(k)}: {pretty(x, indent + 4, width)}," for k, x in v.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{pretty(x, indent + 4, width)}," for x in v]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"
