"""The language server (`nncompile lsp`): what an editor asks of a spec, answered from the same
front end as `check` and from the registries.

The features are plain functions of an analysed document (`document.Analysis`) returning
lsprotocol types; `server.py` alone wires them to pygls (the `lsp` extra), so that everything
else is testable without a running server.
"""
