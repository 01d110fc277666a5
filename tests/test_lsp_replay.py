"""Half-typed input never crashes the server: the shipped protocols typed keystroke by keystroke.

Each protocol is typed into an empty document through the server's own handlers
(`did_change` with incremental edits, in-process, no transport). After every replayed
keystroke the server must publish a list of diagnostics and answer hover, completion,
symbols and code actions at the cursor. Every line end is replayed, and a seeded sample of
the keystrokes within lines (all of them with PROTOCOLC_LSP_REPLAY=all: ~34,000 compiles,
about ten minutes); then seeded random deletions are applied to the whole text and undone.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from lsprotocol import types as t

from compiler.lsp.server import ProtocolServer

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "protocols").rglob("*.protocol"))
SAMPLE_PER_FILE = 250
DELETIONS_PER_FILE = 30


def stops(text: str, seed: int) -> list[int]:
    """The prefix lengths to replay: every line end plus a seeded sample of keystrokes (or all of them)."""
    if os.environ.get("PROTOCOLC_LSP_REPLAY") == "all":
        return list(range(1, len(text) + 1))
    ends = {i for i, ch in enumerate(text) if ch == "\n"} | {len(text)}
    rng = random.Random(seed)
    sample = set(rng.sample(range(1, len(text) + 1), min(SAMPLE_PER_FILE, len(text))))
    return sorted(ends | sample)


def position(text: str, offset: int) -> t.Position:
    before = text[:offset]
    line = before.count("\n")
    column = len(before) - (before.rfind("\n") + 1)
    return t.Position(line=line, character=len(before[len(before) - column:].encode("utf-16-le")) // 2)


def ask_everything(server: ProtocolServer, uri: str, cursor: t.Position) -> None:
    document = t.TextDocumentIdentifier(uri=uri)
    server.hover(t.HoverParams(text_document=document, position=cursor))
    result = server.completion(t.CompletionParams(text_document=document, position=cursor))
    assert isinstance(result.items, list)
    server.document_symbols(t.DocumentSymbolParams(text_document=document))
    server.definition(t.DefinitionParams(text_document=document, position=cursor))
    server.code_actions(t.CodeActionParams(text_document=document, range=t.Range(start=cursor, end=cursor),
                                           context=t.CodeActionContext(diagnostics=[])))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_typing_every_prefix(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    server = ProtocolServer.standalone()
    uri = f"file:///replay/{path.name}"
    server.did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="protocol", version=0, text="")))
    typed = 0
    for version, stop in enumerate(stops(text, seed=len(text)), start=1):
        at = position(text, typed)
        server.did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[t.TextDocumentContentChangePartial(range=t.Range(start=at, end=at), text=text[typed:stop])]))
        typed = stop
        assert server.documents.get_text_document(uri).source == text[:stop]
        assert isinstance(server.published[uri], list)
        if version % 7 == 0:
            ask_everything(server, uri, position(text, stop))
    assert server.analysis(uri).text == text


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_random_deletions(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    server = ProtocolServer.standalone()
    uri = f"file:///replay/deleted-{path.name}"
    server.did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="protocol", version=0, text=text)))
    rng = random.Random(7)
    version = 0
    for _ in range(DELETIONS_PER_FILE):
        start = rng.randrange(len(text))
        end = min(len(text), start + rng.choice([1, 2, 5, 20, 80]))
        removed = text[start:end]
        first, last = position(text, start), position(text, end)
        version += 1
        server.did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[t.TextDocumentContentChangePartial(range=t.Range(start=first, end=last), text="")]))
        assert isinstance(server.published[uri], list)
        ask_everything(server, uri, first)
        version += 1
        server.did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[t.TextDocumentContentChangePartial(range=t.Range(start=first, end=first), text=removed)]))
    assert server.documents.get_text_document(uri).source == text
