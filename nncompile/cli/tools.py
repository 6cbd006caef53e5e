"""Commands for editors and pictures: lsp (the language server), graph (a model as SVG/PNG) and
schema (the JSON Schema of a validated program)."""

from __future__ import annotations

import json
import sys

from ..errors import NncompileError


def cmd_lsp(args) -> int:
    """run the language server over stdio (for editors)

    Serve diagnostics, hover, completion, go-to-definition, references, rename, the outline and
    formatting to an editor over stdin/stdout (LSP). Needs the `lsp` extra (pygls)."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        raise NncompileError(
            "`nncompile lsp` needs pygls, which is not installed",
            "pip install 'nncompile[lsp]'",
        ) from None
    from ..lsp.server import serve

    serve()
    return 0


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "lsp": (cmd_lsp, ()),
}
