"""Commands for editors and pictures: lsp (the language server), graph (a model as SVG/PNG) and
schema (the JSON Schema of a validated program)."""

from __future__ import annotations

import json
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


def cmd_schema(args) -> int:
    """print the JSON Schema of a validated program (or FILE's program as JSON)

    Without FILE: the JSON Schema (draft 2020-12) of a validated program, generated from the
    block and registry models. With FILE: that spec's validated program as JSON, an instance of
    the schema (resolved values, shapes and parameter counts)."""
    from ..programschema import program_json, schema

    if args.file is None:
        print(json.dumps(schema(), indent=2))
    else:
        print(json.dumps(program_json(spec_program(args)), indent=2))
    return 0


COMMANDS = {  # name: (handler, its flags); the handler's docstring is the command's help
    "lsp": (cmd_lsp, ()),
    "graph": (cmd_graph, ("file", "set", "model", "picture")),
    "schema": (cmd_schema, ("maybe_file", "set")),
}
