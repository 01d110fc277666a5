"""End to end: a real LSP client (pytest-lsp) talks to `protocolc lsp` over stdio."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parent.parent
EMMAUS = ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "compiler", "lsp"]))
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    params = t.InitializeParams(capabilities=client_capabilities("visual-studio-code"), root_uri=ROOT.as_uri(),
                                initialization_options={"debounceMs": 50})
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


async def next_publish(client: LanguageClient, uri: str, version: int) -> list[t.Diagnostic]:
    """Wait for the publish of a given document version (the notification carries the version)."""
    for _ in range(20):
        params = await asyncio.wait_for(client.wait_for_notification(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=30)
        if params.uri == uri and params.version == version:
            return list(params.diagnostics)
    raise AssertionError(f"no diagnostics published for version {version}")


def check_output() -> list[tuple[str, int]]:
    completed = subprocess.run([sys.executable, "-m", "compiler", "check", "--format", "json", "--no-cache", str(EMMAUS)],
                               capture_output=True, text=True, cwd=ROOT, check=False)
    data = json.loads(completed.stdout)
    files = data["files"] if isinstance(data, dict) and "files" in data else data
    found: list[tuple[str, int]] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if "code" in value and "line" in value and "severity" in value:
                found.append((str(value["code"]), int(value["line"])))
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(files)
    return found


@pytest.mark.asyncio(loop_scope="function")
async def test_emmaus_over_stdio(client: LanguageClient) -> None:
    uri = EMMAUS.as_uri()
    text = EMMAUS.read_text(encoding="utf-8")
    lines = text.split("\n")
    client.text_document_did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="protocol", version=1, text=text)))
    published = await next_publish(client, uri, 1)

    # the same findings as `protocolc check`: codes and lines
    assert sorted((str(d.code), d.range.start.line + 1) for d in published) == sorted(check_output())

    # letrozole 25 mg: the dose error at that line in the next publish
    line = next(i for i, s in enumerate(lines) if "drug letrozole" in s)
    column = lines[line].index("2,5")
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[t.TextDocumentContentChangePartial(
            range=t.Range(start=t.Position(line=line, character=column), end=t.Position(line=line, character=column + 3)),
            text="25")]))
    published = await next_publish(client, uri, 2)
    errors = [d for d in published if d.code == "D002"]
    assert [d.range.start.line for d in errors] == [line]
    assert errors[0].severity == t.DiagnosticSeverity.Error and "25 mg" in errors[0].message

    # hover on a drug: its dose range and source
    hover = await client.text_document_hover_async(t.HoverParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=t.Position(line=line, character=lines[line].index("letrozole") + 2)))
    assert hover is not None and isinstance(hover.contents, t.MarkupContent)
    assert "2,5 mg" in hover.contents.value and "Source: Femara" in hover.contents.value

    # completion after a drug name: its units, then its routes
    anastrozole = next(i for i, s in enumerate(lines) if "drug anastrozole" in s)
    prefix = lines[anastrozole].split("drug anastrozole")[0] + "drug anastrozole (Arimidex) 1 "
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[t.TextDocumentContentChangePartial(
            range=t.Range(start=t.Position(line=anastrozole, character=0),
                          end=t.Position(line=anastrozole, character=len(lines[anastrozole]))), text=prefix)]))
    units = await client.text_document_completion_async(t.CompletionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=t.Position(line=anastrozole, character=len(prefix))))
    assert isinstance(units, t.CompletionList) and "mg" in [i.label for i in units.items]
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=4),
        content_changes=[t.TextDocumentContentChangePartial(
            range=t.Range(start=t.Position(line=anastrozole, character=len(prefix)),
                          end=t.Position(line=anastrozole, character=len(prefix))), text="mg ")]))
    routes = await client.text_document_completion_async(t.CompletionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=t.Position(line=anastrozole, character=len(prefix) + 3)))
    assert isinstance(routes, t.CompletionList) and [i.label for i in routes.items] == ["po"]


@pytest.mark.asyncio(loop_scope="function")
async def test_apply_a_safe_fix(client: LanguageClient) -> None:
    uri = (ROOT / "brand-only.protocol").as_uri()
    text = EMMAUS.read_text(encoding="utf-8").replace("drug letrozole (Femara) 2,5 mg", "drug Femara 2,5 mg")
    client.text_document_did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="protocol", version=1, text=text)))
    published = await next_publish(client, uri, 1)
    brand = next(d for d in published if d.code == "F002")
    actions = await client.text_document_code_action_async(t.CodeActionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), range=brand.range,
        context=t.CodeActionContext(diagnostics=[brand], only=[t.CodeActionKind.QuickFix])))
    assert actions
    fix = next(a for a in actions if isinstance(a, t.CodeAction) and a.is_preferred)
    assert fix.edit is not None and fix.edit.changes is not None
    edit = fix.edit.changes[uri][0]
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[t.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)]))
    published = await next_publish(client, uri, 2)
    assert not [d for d in published if d.code == "F002"]
    lines = text.split("\n")
    fixed_line = lines[edit.range.start.line][:edit.range.start.character] + edit.new_text
    assert "letrozole" in fixed_line
