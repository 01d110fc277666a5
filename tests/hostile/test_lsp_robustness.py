"""The language server under hostile requests (issue 12, item 8).

Positions out of range, documents the client never opened and a compiler failure are
answered (clamped, empty, an error diagnostic), never with a traceback or silence.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from lsprotocol import types as t

from compiler.lsp import server as lsp_server
from compiler.lsp.server import ProtocolServer, clamp_positions
from tests.hostile import HEADER
from tests.hostile.lsp_wire import ROOT, Wire

HOSTILE = HEADER + "# S {s}\ndrug letrozole 2,5 mg po days 1-999999999, 9999999999999999999999 cycles\n" \
    "decision: x\n  when " + "not " * 1000 + "HER2+:\n    Tekst.\n"
URI = "file:///tmp/hostile.protocol"


def opened(text: str = HOSTILE) -> ProtocolServer:
    server = ProtocolServer.standalone()
    server.did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=URI, language_id="protocol", version=1, text=text)))
    return server


def every_request(server: ProtocolServer, uri: str, position: t.Position) -> list[object]:
    document = t.TextDocumentIdentifier(uri=uri)
    rng = t.Range(start=position, end=position)
    return [
        server.hover(t.HoverParams(text_document=document, position=position)),
        server.completion(t.CompletionParams(text_document=document, position=position)),
        server.definition(t.DefinitionParams(text_document=document, position=position)),
        server.references(t.ReferenceParams(text_document=document, position=position,
                                            context=t.ReferenceContext(include_declaration=True))),
        server.document_symbols(t.DocumentSymbolParams(text_document=document)),
        server.code_actions(t.CodeActionParams(text_document=document, range=rng,
                                               context=t.CodeActionContext(diagnostics=[]))),
        server.formatting(t.DocumentFormattingParams(text_document=document,
                                                     options=t.FormattingOptions(tab_size=2, insert_spaces=True))),
    ]


def test_hostile_document_is_published_with_its_limits() -> None:
    server = opened()
    codes = {str(d.code) for d in server.published[URI]}
    assert {"P017", "P019", "P020"} <= codes


@pytest.mark.parametrize("line, character", [(0, 0), (13, 5), (2**31 - 1, 2**31 - 1), (10**6, 0), (0, 10**9)])
def test_any_position_is_answered(line: int, character: int) -> None:
    server = opened()
    every_request(server, URI, t.Position(line=line, character=character))


def test_negative_positions_are_clamped() -> None:
    params = {"textDocument": {"uri": URI}, "position": {"line": -4, "character": -1},
              "range": {"start": {"line": 2**40, "character": -2}, "end": {"line": 1, "character": 2**35}}}
    clamp_positions(params)
    assert params["position"] == {"line": 0, "character": 0}
    assert params["range"] == {"start": {"line": 2**31 - 1, "character": 0}, "end": {"line": 1, "character": 2**31 - 1}}


@pytest.mark.parametrize("uri", [ROOT.joinpath("protocols", "borst", "emmaus-gemetastaseerd-borstcarcinoom.protocol")
                                 .as_uri(), "file:///nonexistent/never.protocol", "untitled:Untitled-1"])
def test_unopened_documents_get_empty_answers(uri: str) -> None:
    server = opened()
    answers = every_request(server, uri, t.Position(line=0, character=0))
    assert all(a is None or a == [] or (isinstance(a, t.CompletionList) and not a.items) for a in answers)


def test_a_compiler_failure_is_published_as_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(lsp_server, "analyse", broken)
    server = opened("id: x\n")
    published = server.published[URI]
    assert len(published) == 1
    assert published[0].severity == t.DiagnosticSeverity.Error
    assert "boom" in published[0].message and "internal error" in published[0].message


@pytest.fixture
def wire() -> Iterator[Wire]:
    client = Wire()
    timer = threading.Timer(120, client.process.kill)  # a hung server fails the test instead of hanging it
    timer.start()
    try:
        client.start()
        yield client
    finally:
        timer.cancel()
        client.stop()


def test_raw_messages_with_bad_positions_are_answered(wire: Wire) -> None:
    wire.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "protocol", "version": 1,
                                                          "text": HOSTILE}})
    assert any(d["code"] == "P020" for d in wire.published(URI))
    for position in ({"line": -1, "character": -5}, {"line": 10**12, "character": 10**12}):
        response = wire.request("textDocument/hover", {"textDocument": {"uri": URI}, "position": position})
        assert "error" not in response
    response = wire.request("textDocument/definition", {"textDocument": {"uri": "file:///nowhere/x.protocol"},
                                                        "position": {"line": 0, "character": 0}})
    assert response.get("result") in (None, [])
    response = wire.request("textDocument/hover", {"textDocument": {"uri": URI}})  # no position at all
    assert response["error"]["code"] == -32602
    assert "Traceback" not in str(response)
    wire.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": -3, "character": -1}, "end": {"line": 10**6, "character": 5}}, "text": "x"}]})
    response = wire.request("textDocument/documentSymbol", {"textDocument": {"uri": URI}})
    assert "error" not in response
