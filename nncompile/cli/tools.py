"""Commands for editors and pictures: lsp (the language server), graph (a model as SVG/PNG) and
schema (the JSON Schema of a validated program)."""

from __future__ import annotations

import sys

from ..errors import NncompileError
from .common import spec_program


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


def cmd_graph(args) -> int:
    """draw each model: layers, shapes, parameters, data flow (SVG or PNG)

    A node per layer with its output shape and parameter count, edges for the data flow (skip
    connections too), blocks used as layers drawn as groups. `-o model.svg` or `-o model.png`."""
    from ..graph import select, write

    program = spec_program(args)
    models = select(program, args.model)
    write(models, args.output)
    print(f"wrote {args.output} ({', '.join(m.name for m in models)})", file=sys.stderr)
    return 0


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "lsp": (cmd_lsp, ()),
    "graph": (cmd_graph, ("file", "set", "model", "picture")),
}
