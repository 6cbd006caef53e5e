"""`nncompile lsp`: the language server over stdio (pygls 2.x; the `lsp` extra).

Documents are re-checked with the same front end as `check`: at once when opened or saved, and
``DEBOUNCE`` seconds after the last change while typing (a newer change cancels the pending
check). Requests (hover, completion, ...) always answer for the text the editor holds: when the
last analysis is of an older text, the document is analysed again first (a few milliseconds).
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from ..version import __version__
from . import complete, navigate
from .document import Analysis, analyse_text, diagnostics
from .hover import hover

DEBOUNCE = 0.15  # seconds of quiet after a keystroke before the document is checked


class SpecServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("nncompile", __version__)
        self.analyses: dict[str, Analysis] = {}
        self.pending: dict[str, asyncio.Task] = {}

    def analysis(self, uri: str) -> Analysis:
        """The analysis of the document's current text."""
        doc = self.workspace.get_text_document(uri)
        known = self.analyses.get(uri)
        if known is None or known.source.text != doc.source:
            path = to_fs_path(uri) or uri
            known = self.analyses[uri] = analyse_text(doc.source, path, known)
        return known

    def publish(self, uri: str) -> None:
        doc = self.workspace.get_text_document(uri)
        found = self.analysis(uri)
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics(found), version=doc.version
            )
        )

    def check_later(self, uri: str) -> None:
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()

        async def later() -> None:
            await asyncio.sleep(DEBOUNCE)
            self.pending.pop(uri, None)
            self.publish(uri)

        self.pending[uri] = asyncio.get_running_loop().create_task(later())


server = SpecServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: SpecServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: SpecServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.check_later(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: SpecServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: SpecServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.analyses.pop(uri, None)
    task = ls.pending.pop(uri, None)
    if task is not None:
        task.cancel()
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def on_hover(ls: SpecServer, params: lsp.HoverParams) -> lsp.Hover | None:
    return hover(ls.analysis(params.text_document.uri), params.position)


@server.feature(
    lsp.TEXT_DOCUMENT_COMPLETION,
    lsp.CompletionOptions(trigger_characters=["(", "=", ":", ",", "[", "{"]),
)
def on_completion(ls: SpecServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    found = ls.analysis(params.text_document.uri)
    before = found.source.text[: found.offset(params.position)]
    return lsp.CompletionList(is_incomplete=False, items=complete.completions(found, before))


@server.feature(
    lsp.TEXT_DOCUMENT_SIGNATURE_HELP, lsp.SignatureHelpOptions(trigger_characters=["(", ","])
)
def on_signature(ls: SpecServer, params: lsp.SignatureHelpParams) -> lsp.SignatureHelp | None:
    found = ls.analysis(params.text_document.uri)
    return complete.signature_help(found.source.text[: found.offset(params.position)])


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def on_definition(ls: SpecServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    uri = params.text_document.uri
    return navigate.definition(ls.analysis(uri), uri, params.position)


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
def on_references(ls: SpecServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    uri = params.text_document.uri
    return navigate.references(
        ls.analysis(uri), uri, params.position, params.context.include_declaration
    )


@server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
def on_prepare_rename(ls: SpecServer, params: lsp.PrepareRenameParams) -> lsp.Range | None:
    return navigate.prepare_rename(ls.analysis(params.text_document.uri), params.position)


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
def on_rename(ls: SpecServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    uri = params.text_document.uri
    return navigate.rename(ls.analysis(uri), uri, params.position, params.new_name)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def on_symbols(ls: SpecServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    return navigate.outline(ls.analysis(params.text_document.uri))


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def on_formatting(
    ls: SpecServer, params: lsp.DocumentFormattingParams
) -> list[lsp.TextEdit] | None:
    return navigate.formatting(ls.analysis(params.text_document.uri))


def serve() -> None:
    """Serve one editor over stdin/stdout until it says exit."""
    logging.basicConfig(level=logging.WARNING)  # pygls logs to stderr, the editor's log
    server.start_io()
