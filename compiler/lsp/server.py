"""The pygls language server: text sync, debounced diagnostics, and the editor requests.

`ProtocolServer` keeps one `Analysis` per open document version and answers every
request from it. Diagnostics are published 150 ms after the last change (the debounce,
`debounceMs`) plus the compile, and immediately on open and save. The compile runs in a
worker thread (requests are answered meanwhile), at most one per document at a time:
changes that arrive while it runs make its result obsolete — it is never published — and
are compiled together, as the newest text, as soon as it ends (never a queue of stale
runs). A document's last few texts are remembered with their analyses (an undo, or a
deletion of what was just typed, is answered without a compile: compiling is a function
of the text, the day and the packaged tables). `ProtocolServer.standalone()` makes a
server without a transport whose handlers can be called directly (tests, the benchmark):
changes are applied to its own workspace and diagnostics are "published" into
`published`, at once (no debounce unless `debounce_seconds` is set and an event loop runs).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.workspace import TextDocument, Workspace

from compiler import __version__, startup
from compiler.lsp import actions, completion, hover, navigation
from compiler.lsp.analysis import Analysis, analyse, path_of
from compiler.lsp.diagnostics import DEFAULT_RULES_BASE, all_to_lsp
from compiler.lsp.positions import UTF16, UTF32, Positions
from compiler.tables import Tables, load

logger = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.15
# Earlier texts of a document remembered with their analyses (besides the current one): enough
# for an undo of a few keystrokes; each holds a compiled model, so not more.
REMEMBERED_TEXTS = 4

KINDS = {
    "drug": types.CompletionItemKind.Value, "brand": types.CompletionItemKind.Reference,
    "unit": types.CompletionItemKind.Unit, "route": types.CompletionItemKind.EnumMember,
    "frequency": types.CompletionItemKind.Event, "dose": types.CompletionItemKind.Snippet,
    "regimen": types.CompletionItemKind.Module, "reference": types.CompletionItemKind.Reference,
    "field": types.CompletionItemKind.Field, "value": types.CompletionItemKind.EnumMember,
    "variable": types.CompletionItemKind.Variable, "flag": types.CompletionItemKind.Constant,
    "operator": types.CompletionItemKind.Operator, "code": types.CompletionItemKind.Constant,
    "keyword": types.CompletionItemKind.Keyword,
}
SYMBOL_KINDS = {
    "section": types.SymbolKind.Namespace, "drug": types.SymbolKind.Field, "regimen": types.SymbolKind.Class,
    "decision": types.SymbolKind.Enum, "fractionation": types.SymbolKind.Event,
}


class ProtocolLanguageServerProtocol(LanguageServerProtocol):
    """pygls' protocol, preferring UTF-32 positions (the compiler's own columns) when the client offers them."""

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        """Move UTF-32 to the front of the client's encodings, then initialise as usual."""
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            offered = list(general.position_encodings)
            if types.PositionEncodingKind.Utf32 in offered:
                offered.remove(types.PositionEncodingKind.Utf32)
                general.position_encodings = [types.PositionEncodingKind.Utf32, *offered]
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        return result

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Read a message, clamping positions into range; answer a request that still cannot be read.

        A negative or huge `line`/`character` fails lsprotocol's validation, and pygls
        then drops the request without an answer, so the client waits for ever.
        """
        if "jsonrpc" in data and isinstance(data.get("params"), (dict, list)):
            clamp_positions(data["params"])
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "id" in data and "method" in data:
                self._send_response(data["id"], error=error.to_response_error())
            raise


class ProtocolServer(LanguageServer):
    """The protocolc language server."""

    def __init__(self) -> None:
        super().__init__("protocolc", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=ProtocolLanguageServerProtocol)
        self.analyses: dict[str, Analysis] = {}
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.rules_base = DEFAULT_RULES_BASE
        self.debounce_seconds = DEBOUNCE_SECONDS
        self._standalone: Workspace | None = None
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._compiling = threading.Lock()
        # per document: texts compiled earlier (text → the day it was compiled for, its analysis)
        self._remembered: dict[str, OrderedDict[str, tuple[datetime.date, Analysis]]] = {}
        self._days: dict[str, datetime.date] = {}  # the day each current analysis was compiled for
        self._running: set[str] = set()  # documents with a compile in a worker thread
        self._again: set[str] = set()  # documents changed while that compile ran

    @classmethod
    def standalone(cls, encoding: str = UTF16) -> ProtocolServer:
        """A server without a transport: handlers are called directly, diagnostics land in `published`."""
        server = cls()
        server._standalone = Workspace(None, types.TextDocumentSyncKind.Incremental, [], encoding)
        server.debounce_seconds = 0
        return server

    # ------------------------------------------------------------ documents

    @property
    def documents(self) -> Workspace:
        """The open documents (pygls' workspace, or the standalone one)."""
        return self._standalone if self._standalone is not None else self.workspace

    @property
    def tables(self) -> Tables:
        """The packaged data tables (loaded once per process)."""
        return load()

    def encoding(self) -> str:
        """The negotiated position encoding."""
        return str(self.documents.position_encoding or UTF16)

    def analysis(self, uri: str) -> Analysis:
        """The analysis of a document's current text (compiled now when the text changed)."""
        document = self.documents.get_text_document(uri)
        return self._analyse(uri, document.source, document.version)

    def _analyse(self, uri: str, text: str, version: int | None) -> Analysis:
        """The analysis of a text, compiled at most once: compiles (worker thread or not) take turns.

        A text the document had a moment ago (an undo) gets its remembered analysis back, as
        compiled for the same day, with the current version.
        """
        with self._compiling:
            cached = self.analyses.get(uri)
            if cached is not None and cached.text == text:
                return cached
            today = datetime.date.today()
            remembered = self._remembered.setdefault(uri, OrderedDict())
            if cached is not None:
                remembered[cached.text] = (self._days.get(uri, today), cached)
                remembered.move_to_end(cached.text)
                while len(remembered) > REMEMBERED_TEXTS:
                    remembered.popitem(last=False)
            earlier = remembered.pop(text, None)
            if earlier is not None and earlier[0] == today:
                result = replace(earlier[1], version=version)
            else:
                result = analyse(uri, text, version, today)
            self.analyses[uri] = result
            self._days[uri] = today
            return result

    def opened(self, uri: str) -> Analysis | None:
        """The analysis of an open document; None for a document the client has not opened.

        pygls would read an unopened document from disk (or fail with a traceback sent to
        the client); requests about one get an empty answer instead.
        """
        if unquote(uri) not in self.documents.text_documents:
            return None
        return self.analysis(uri)

    def positions(self, analysis: Analysis) -> Positions:
        """Position conversion for a document in the negotiated encoding."""
        return Positions(analysis.lines, self.encoding())

    def publish(self, uri: str) -> list[types.Diagnostic]:
        """Compile and publish a document's diagnostics."""
        self._pending.pop(uri, None)
        if unquote(uri) not in self.documents.text_documents:
            return []
        version: int | None = None
        try:
            analysis = self.analysis(uri)
            version = analysis.version
            diagnostics = all_to_lsp(analysis.diagnostics, uri, self.positions(analysis), self.rules_base)
        except Exception as error:
            # A compiler bug must not leave the document looking clean: say so on line 1.
            logger.exception("protocolc could not check %s", uri)
            diagnostics = [internal_error(error)]
        self.published[uri] = diagnostics
        if self._standalone is None:
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))
        return diagnostics

    def schedule(self, uri: str) -> None:
        """Publish after the debounce interval; a later change restarts the wait."""
        previous = self._pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop (in-process use): no debounce
            loop = None
        if loop is None or self.debounce_seconds <= 0:
            self.publish(uri)
            return
        self._pending[uri] = loop.call_later(self.debounce_seconds, self._compile_then_publish, uri, loop)

    def _compile_then_publish(self, uri: str, loop: asyncio.AbstractEventLoop) -> None:
        """After the debounce: compile in a worker thread, so that requests are answered meanwhile,
        and publish when done, unless the text changed again.

        One compile per document at a time: while one runs, a change only marks the document,
        and the newest text is compiled when the running compile ends (its own result, for an
        older text, is dropped). Runs for texts nobody will see are never queued behind it.
        """
        self._pending.pop(uri, None)
        if unquote(uri) not in self.documents.text_documents:
            return
        if uri in self._running:
            self._again.add(uri)
            return
        document = self.documents.get_text_document(uri)
        text, version = document.source, document.version
        self._running.add(uri)
        future = loop.run_in_executor(None, self._analyse, uri, text, version)

        def done(finished: asyncio.Future[Analysis]) -> None:
            self._running.discard(uri)
            again = uri in self._again
            self._again.discard(uri)
            if finished.cancelled() or unquote(uri) not in self.documents.text_documents:
                return
            if finished.exception() is not None:
                logger.error("compiling %s failed", uri, exc_info=finished.exception())
            if self.documents.get_text_document(uri).source == text:
                self.publish(uri)  # after a failure: compiles again and publishes the internal error
                return
            if again and uri not in self._pending:  # the text changed while it ran: compile the newest now
                self._compile_then_publish(uri, loop)

        future.add_done_callback(done)

    # ------------------------------------------------------------ handlers

    def initialize(self, params: types.InitializeParams) -> None:
        """Read the initialisation options: `rulesBaseUrl`, `debounceMs`."""
        options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        base = options.get("rulesBaseUrl")
        if isinstance(base, str) and base:
            self.rules_base = base
        elif params.root_uri:
            rules = Path(path_of(params.root_uri)) / "output" / "rules"
            if rules.is_dir():
                self.rules_base = rules.as_uri() + "/"
        debounce = options.get("debounceMs")
        if isinstance(debounce, (int, float)) and debounce >= 0:
            self.debounce_seconds = debounce / 1000

    def did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        """Compile and publish at once."""
        if self._standalone is not None:
            self._standalone.put_text_document(params.text_document)
        self.publish(params.text_document.uri)

    def did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        """Publish after the debounce (the text itself is updated by pygls, incrementally)."""
        if self._standalone is not None:
            for change in params.content_changes:
                self._standalone.update_text_document(params.text_document, change)
        self.schedule(params.text_document.uri)

    def did_save(self, params: types.DidSaveTextDocumentParams) -> None:
        """Publish at once."""
        self.publish(params.text_document.uri)

    def did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        """Forget the document and clear its diagnostics."""
        uri = params.text_document.uri
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.analyses.pop(uri, None)
        self._remembered.pop(uri, None)
        self._days.pop(uri, None)
        self._again.discard(uri)
        self.published.pop(uri, None)
        if self._standalone is not None:
            self._standalone.remove_text_document(uri)
        else:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def _at(self, document: types.TextDocumentIdentifier,
            position: types.Position) -> tuple[Analysis, Positions, int, int] | None:
        analysis = self.opened(document.uri)
        if analysis is None:
            return None
        positions = self.positions(analysis)
        line, column = positions.cursor(position)
        return analysis, positions, line, column

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        """Drug, regimen, fractionation or rule code under the cursor."""
        at = self._at(params.text_document, params.position)
        if at is None:
            return None
        analysis, positions, line, column = at
        found = hover.hover(analysis, self.tables, line, column)
        if found is None:
            return None
        markdown, rng = found
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
                           range=positions.range(*rng))

    def completion(self, params: types.CompletionParams) -> types.CompletionList:
        """Proposals for the text being typed."""
        at = self._at(params.text_document, params.position)
        if at is None:
            return types.CompletionList(is_incomplete=False, items=[])
        analysis, positions, line, column = at
        items = []
        for proposal in completion.complete(analysis, self.tables, line, column):
            edit = types.TextEdit(range=positions.range(line, proposal.start, line, proposal.end), new_text=proposal.insert)
            documentation = (types.MarkupContent(kind=types.MarkupKind.Markdown, value=proposal.documentation)
                             if proposal.documentation else None)
            items.append(types.CompletionItem(
                label=proposal.label, kind=KINDS.get(proposal.kind, types.CompletionItemKind.Text),
                detail=proposal.detail or None, documentation=documentation, text_edit=edit,
                filter_text=proposal.filter_text, sort_text=proposal.sort or None))
        return types.CompletionList(is_incomplete=False, items=items)

    def definition(self, params: types.DefinitionParams) -> list[types.Location]:
        """Where a `§id` or a regimen is defined."""
        at = self._at(params.text_document, params.position)
        if at is None:
            return []
        analysis, positions, line, column = at
        out = []
        for target in navigation.definition(analysis, self.tables, line, column):
            if target.path is None:
                out.append(types.Location(uri=params.text_document.uri, range=positions.range(*target.range)))
            else:
                out.append(types.Location(uri=target.path.as_uri(),
                                          range=types.Range(start=types.Position(line=target.range[0], character=target.range[1]),
                                                            end=types.Position(line=target.range[2], character=target.range[3]))))
        return out

    def references(self, params: types.ReferenceParams) -> list[types.Location]:
        """Every use of a section id or regimen in the document."""
        at = self._at(params.text_document, params.position)
        if at is None:
            return []
        analysis, positions, line, column = at
        found = navigation.references(analysis, line, column, params.context.include_declaration)
        return [types.Location(uri=params.text_document.uri, range=positions.range(*r)) for r in found]

    def document_symbols(self, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        """The outline of sections."""
        analysis = self.opened(params.text_document.uri)
        if analysis is None:
            return []
        positions = self.positions(analysis)

        def convert(symbol: navigation.Symbol) -> types.DocumentSymbol:
            return types.DocumentSymbol(name=symbol.name or "(untitled)", detail=symbol.detail or None,
                                        kind=SYMBOL_KINDS.get(symbol.kind, types.SymbolKind.Object),
                                        range=positions.range(*symbol.range),
                                        selection_range=positions.range(*symbol.selection),
                                        children=[convert(c) for c in symbol.children] or None)

        return [convert(s) for s in navigation.symbols(analysis)]

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        """Quick fixes: safe ones preferred, dose and schedule suggestions never."""
        analysis = self.opened(params.text_document.uri)
        if analysis is None:
            return []
        positions = self.positions(analysis)
        wanted = positions.cursor(params.range.start) + positions.cursor(params.range.end)
        uri = params.text_document.uri
        lsp_diagnostics = {(d.range.start.line, d.range.start.character, str(d.code)): d
                           for d in self.published.get(uri, [])}
        out = []
        only = params.context.only
        for action in actions.code_actions(analysis, wanted):
            kind = types.CodeActionKind.QuickFix if action.kind == "quickfix" else types.CodeActionKind.SourceFixAll
            if only and not any(kind.value.startswith(k) for k in only):
                continue
            edits = [types.TextEdit(range=positions.range(*e.range), new_text=e.new_text) for e in action.edits]
            related = []
            for d in action.diagnostics:
                rng = positions.span_range(d.span)
                match = lsp_diagnostics.get((rng.start.line, rng.start.character, d.code))
                if match is not None:
                    related.append(match)
            out.append(types.CodeAction(title=action.title, kind=kind, diagnostics=related or None,
                                        is_preferred=action.preferred or None,
                                        edit=types.WorkspaceEdit(changes={uri: edits})))
        return out

    def formatting(self, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        """The formatter's canonical layout as one edit (none when there is no formatter or nothing changes)."""
        analysis = self.opened(params.text_document.uri)
        if analysis is None:
            return []
        positions = self.positions(analysis)
        edits = actions.format_edits(analysis)
        return [types.TextEdit(range=positions.range(*e.range), new_text=e.new_text) for e in edits]


def internal_error(error: Exception) -> types.Diagnostic:
    """The diagnostic published when the compiler itself fails on a document."""
    message = f"protocolc could not check this document (internal error: {type(error).__name__}: {error})"
    return types.Diagnostic(
        range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=1)),
        message=message[:500], severity=types.DiagnosticSeverity.Error, code="internal-error", source="protocolc")


UINTEGER_MAX = 2**31 - 1


def clamp_positions(params: dict[str, Any] | list[Any]) -> None:
    """Clamp every `{"line": …, "character": …}` in a message's params to LSP's uinteger range."""
    stack: list[Any] = [params]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("line"), int) and isinstance(value.get("character"), int):
                for key in ("line", "character"):
                    value[key] = max(0, min(value[key], UINTEGER_MAX))
            stack.extend(v for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend(v for v in value if isinstance(v, (dict, list)))


def create_server() -> ProtocolServer:
    """A server with every feature registered."""
    server = ProtocolServer()
    register(server)
    return server


def _handler(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A plain function around a bound method (pygls marks its handlers with attributes)."""

    def handler(params: Any) -> Any:
        return method(params)

    handler.__name__ = getattr(method, "__name__", "handler")
    handler.__doc__ = method.__doc__
    return handler


def register(server: ProtocolServer) -> None:
    """Register the handlers of a server with pygls."""
    features: list[tuple[str, Callable[[Any], Any], Any]] = [
        (types.INITIALIZE, server.initialize, None),
        (types.TEXT_DOCUMENT_DID_OPEN, server.did_open, None),
        (types.TEXT_DOCUMENT_DID_CHANGE, server.did_change, None),
        (types.TEXT_DOCUMENT_DID_SAVE, server.did_save, None),
        (types.TEXT_DOCUMENT_DID_CLOSE, server.did_close, None),
        (types.TEXT_DOCUMENT_HOVER, server.hover, None),
        (types.TEXT_DOCUMENT_COMPLETION, server.completion, types.CompletionOptions(trigger_characters=[" ", "§", "(", ":"])),
        (types.TEXT_DOCUMENT_DEFINITION, server.definition, None),
        (types.TEXT_DOCUMENT_REFERENCES, server.references, None),
        (types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, server.document_symbols, None),
        (types.TEXT_DOCUMENT_CODE_ACTION, server.code_actions, types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll])),
        (types.TEXT_DOCUMENT_FORMATTING, server.formatting, None),
    ]
    for method, function, options in features:
        server.feature(method, options)(_handler(function))


def serve_stdio() -> None:
    """Run the server over stdin/stdout until the client exits."""
    startup.worker()  # it compiles sheet after sheet until it exits (goal 7 of issue 17: no pauses every few edits)
    create_server().start_io()


__all__ = ["UTF16", "UTF32", "ProtocolServer", "TextDocument", "create_server", "serve_stdio"]
