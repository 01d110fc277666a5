"""The language server's features, in-process (no transport): diagnostics, hover, completion, navigation, fixes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as t

from compiler.lsp.positions import UTF8, UTF16, UTF32, Positions
from compiler.lsp.server import ProtocolServer
from compiler.pipeline import compile_text
from compiler.source import Span

ROOT = Path(__file__).resolve().parent.parent
EMMAUS = ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol"


def open_text(text: str, uri: str = "file:///tmp/test.protocol", encoding: str = UTF16) -> tuple[ProtocolServer, str]:
    server = ProtocolServer.standalone(encoding)
    server.did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="protocol", version=1, text=text)))
    return server, uri


def change(server: ProtocolServer, uri: str, version: int, line: int, col: int, end_line: int, end_col: int,
           new: str) -> list[t.Diagnostic]:
    server.did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[t.TextDocumentContentChangePartial(
            range=t.Range(start=at(line, col), end=at(end_line, end_col)),
            text=new)]))
    return server.published[uri]


OPTIONS = t.FormattingOptions(tab_size=2, insert_spaces=True)


def at(line: int, character: int) -> t.Position:
    return t.Position(line=line, character=character)


def doc(uri: str) -> t.TextDocumentIdentifier:
    return t.TextDocumentIdentifier(uri=uri)


@pytest.fixture(scope="module")
def emmaus() -> tuple[ProtocolServer, str, list[str]]:
    text = EMMAUS.read_text(encoding="utf-8")
    server, uri = open_text(text, EMMAUS.as_uri())
    return server, uri, text.split("\n")


def test_diagnostics_match_the_compiler(emmaus: tuple[ProtocolServer, str, list[str]]) -> None:
    server, uri, _ = emmaus
    compiled = compile_text(str(EMMAUS), EMMAUS.read_bytes())
    published = server.published[uri]
    assert [(d.code, d.range.start.line + 1) for d in published] == [(d.code, d.span.line) for d in compiled.diagnostics]
    for lsp, ours in zip(published, compiled.diagnostics, strict=True):
        assert lsp.message.startswith(ours.message)
        assert ours.hint in lsp.message
        assert lsp.source == "protocolc"
        assert lsp.code_description is not None and ours.code in lsp.code_description.href


def test_severities_related_and_acknowledged() -> None:
    text = (EMMAUS.read_text(encoding="utf-8").replace(
        "drug letrozole (Femara) 2,5 mg po daily, tablet",
        "drug letrozole (Femara) 25 mg po daily, tablet\n      allow D002 \"studieprotocol X\""))
    server, uri = open_text(text)
    d002 = [d for d in server.published[uri] if d.code == "D002"]
    assert d002 and d002[0].severity == t.DiagnosticSeverity.Hint and "acknowledged: studieprotocol X" in d002[0].message
    related = [d for d in compile_text("x", text.encode()).diagnostics if d.related]
    if related:
        assert any(d.related_information for d in server.published[uri])


def test_edit_into_error_and_back(emmaus: tuple[ProtocolServer, str, list[str]]) -> None:
    server, uri, lines = emmaus
    line = next(i for i, text in enumerate(lines) if "drug letrozole" in text)
    col = lines[line].index("2,5")
    after = change(server, uri, 2, line, col, line, col + 3, "25")
    assert [d.severity for d in after if d.code == "D002" and d.range.start.line == line] == [t.DiagnosticSeverity.Error]
    back = change(server, uri, 3, line, col, line, col + 2, "2,5")
    assert not [d for d in back if d.code == "D002"]


@pytest.mark.parametrize("encoding", [UTF8, UTF16, UTF32])
def test_positions_in_every_encoding(encoding: str) -> None:
    line = "  - drug 𝔵 oöphorectomie letrozole"
    positions = Positions([line], encoding)
    column = line.index("letrozole")
    rng = positions.span_range(Span("x", 1, column + 1, 1, column + 10))
    units = {UTF8: len(line[:column].encode("utf-8")), UTF16: len(line[:column].encode("utf-16-le")) // 2,
             UTF32: column}[encoding]
    assert rng.start.character == units
    assert positions.cursor(rng.start) == (0, column)


def test_utf16_ranges_after_astral_characters() -> None:
    text = EMMAUS.read_text(encoding="utf-8").replace("- drug letrozole (Femara) 2,5 mg", "- 𝔵 drug letrozole (Femara) 2,5 mg")
    text = text.replace("- 𝔵 drug letrozole (Femara) 2,5 mg", "- drug letrozole (Femara) 25 mg 𝔵")
    lines = text.split("\n")
    line = next(i for i, s in enumerate(lines) if "drug letrozole" in s)
    server, uri = open_text(text)
    hover = server.hover(t.HoverParams(text_document=doc(uri), position=at(line, lines[line].index("letrozole") + 1)))
    assert hover is not None and "Femara" in str(hover.contents)


def test_hover_drug(emmaus: tuple[ProtocolServer, str, list[str]]) -> None:
    server, uri, lines = emmaus
    line = next(i for i, text in enumerate(lines) if "drug anastrozole" in text)
    hover = server.hover(t.HoverParams(text_document=doc(uri), position=at(line, lines[line].index("anastrozole") + 3)))
    assert hover is not None and isinstance(hover.contents, t.MarkupContent)
    value = hover.contents.value
    assert "anastrozole" in value and "aromatase inhibitor" in value and "1 mg" in value and "Source:" in value


def test_hover_look_alike_regimen_fractionation_and_rule() -> None:
    text = EMMAUS.read_text(encoding="utf-8")
    server, uri = open_text(text)
    lines = text.split("\n")
    regimen = next(i for i, s in enumerate(lines) if "regimen EC75" in s)
    hover = server.hover(t.HoverParams(text_document=doc(uri), position=at(regimen, lines[regimen].index("EC75") + 1)))
    assert hover is not None and "epirubicin 75 mg/m²" in str(hover.contents) and "Source:" in str(hover.contents)
    rt = next(i for i, s in enumerate(lines) if "rt 5 x 4 Gy" in s)
    hover = server.hover(t.HoverParams(text_document=doc(uri), position=at(rt, lines[rt].index("rt") + 1)))
    assert hover is not None and "BED" in str(hover.contents) and "EQD2" in str(hover.contents) and "20 Gy" in str(hover.contents)
    server, uri = open_text(text.replace("drug letrozole (Femara) 2,5 mg po daily, tablet",
                                         "drug letrozole (Femara) 25 mg po daily, tablet\n      allow D002 \"studie\""))
    lines = server.analysis(uri).lines
    allow = next(i for i, s in enumerate(lines) if "allow D002" in s)
    hover = server.hover(t.HoverParams(text_document=doc(uri), position=at(allow, lines[allow].index("D002") + 1)))
    assert hover is not None and "D002" in str(hover.contents)
    carbo = "drug carboplatin AUC 5 IV every 3 weeks, 6 cycles, infusion 30 min"
    server, uri = open_text(text.replace("drug letrozole (Femara) 2,5 mg po daily, tablet", carbo))
    lines = server.analysis(uri).lines
    line = next(i for i, s in enumerate(lines) if carbo in s)
    hover = server.hover(t.HoverParams(text_document=doc(uri), position=at(line, lines[line].index("carboplatin"))))
    assert hover is not None and "CISplatin" in str(hover.contents)


def labels(server: ProtocolServer, uri: str, line: int, character: int) -> list[str]:
    result = server.completion(t.CompletionParams(text_document=doc(uri), position=at(line, character)))
    return [item.label for item in result.items]


@pytest.mark.parametrize(("typed", "expected", "absent"), [
    ("    - drug letr", ["letrozole", "Femara → letrozole"], []),
    ("    - drug letrozole 2,5 ", ["mg"], ["mg/m2", "AUC"]),
    ("    - drug letrozole (Femara) 2,5 mg ", ["po"], ["IV"]),
    ("    - drug trastuzumab 6 mg/kg ", ["IV"], ["po"]),
    ("    - drug letrozole 2,5 mg po ", ["daily", "every 3 weeks"], []),
    ("    - regimen EC", ["EC75", "paclitaxel weekly"], ["Taxol weekly"]),
    ("  only when HER2 = ", ["positive", "low"], []),
    ("  only when ", ["PD-L1 TPS", "HER2+"], []),
    ("    allow D0", ["D002"], []),
])
def test_completion(typed: str, expected: list[str], absent: list[str]) -> None:
    text = EMMAUS.read_text(encoding="utf-8")
    lines = text.split("\n")
    line = next(i for i, s in enumerate(lines) if "drug letrozole" in s)
    lines[line] = typed
    server, uri = open_text("\n".join(lines))
    found = labels(server, uri, line, len(typed))
    assert set(expected) <= set(found), found
    assert not set(absent) & set(found)


def test_completion_section_ids_and_metadata(emmaus: tuple[ProtocolServer, str, list[str]]) -> None:
    text = EMMAUS.read_text(encoding="utf-8")
    server, uri = open_text(text.replace("zie §hormonale-therapie.", "zie §hor"))
    lines = server.analysis(uri).lines
    line = next(i for i, s in enumerate(lines) if "zie §hor" in s)
    assert "hormonale-therapie" in labels(server, uri, line, lines[line].index("§hor") + 4)
    server, uri = open_text("id: x\nti\n")
    found = labels(server, uri, 1, 2)
    assert "title" in found and "id" not in found
    server, uri = open_text("id: x\nstatus: \n")
    assert "draft" in labels(server, uri, 1, 8)


def test_definition_references_and_symbols(emmaus: tuple[ProtocolServer, str, list[str]]) -> None:
    server, uri, lines = emmaus
    ref = next(i for i, s in enumerate(lines) if "§receptor-positief-her2-negatief" in s)
    position = at(ref, lines[ref].index("§receptor") + 3)
    target = next(i for i, s in enumerate(lines) if s.startswith("## Receptor positief"))
    locations = server.definition(t.DefinitionParams(text_document=doc(uri), position=position))
    assert [loc.range.start.line for loc in locations] == [target]
    found = server.references(t.ReferenceParams(text_document=doc(uri), position=position,
                                                context=t.ReferenceContext(include_declaration=True)))
    assert target in [loc.range.start.line for loc in found] and ref in [loc.range.start.line for loc in found]
    regimen = next(i for i, s in enumerate(lines) if "regimen EC75" in s)
    locations = server.definition(t.DefinitionParams(text_document=doc(uri), position=at(regimen, lines[regimen].index("EC75") + 1)))
    assert locations and locations[0].uri.endswith("regimens.yaml")
    symbols = server.document_symbols(t.DocumentSymbolParams(text_document=doc(uri)))
    assert [s.name for s in symbols][:2] == ["1 Therapeutische doelstellingen", "2 Hormonale therapie"]
    chemo = next(s for s in symbols if "Chemotherapie" in s.name)
    assert any("Triple negatief" in c.name for c in chemo.children or [])


def test_code_actions_safe_preferred_unsafe_never() -> None:
    text = EMMAUS.read_text(encoding="utf-8").replace("drug letrozole (Femara) 2,5 mg", "drug Femara 2,5 mg")
    server, uri = open_text(text)
    everything = t.Range(start=at(0, 0), end=at(len(text.split("\n")), 0))
    actions = server.code_actions(t.CodeActionParams(text_document=doc(uri), range=everything,
                                                     context=t.CodeActionContext(diagnostics=[])))
    preferred = [a for a in actions if a.is_preferred]
    unsafe = [a for a in actions if a.title.startswith("Review:")]
    assert preferred and unsafe and not any(a.is_preferred for a in unsafe)
    assert any(a.kind == t.CodeActionKind.SourceFixAll for a in actions)
    fix = next(a for a in preferred if a.diagnostics and a.diagnostics[0].code == "F002")
    assert fix.edit is not None and fix.edit.changes is not None
    edit = fix.edit.changes[uri][0]
    lines = text.split("\n")
    start, end = edit.range.start, edit.range.end
    applied = lines[start.line][:start.character] + edit.new_text + lines[end.line][end.character:]
    assert "letrozole" in applied


def test_formatting_without_or_with_a_formatter(emmaus: tuple[ProtocolServer, str, list[str]]) -> None:
    server, uri, _ = emmaus
    edits = server.formatting(t.DocumentFormattingParams(text_document=doc(uri), options=OPTIONS))
    assert isinstance(edits, list)


def test_formatting_uses_the_formatter() -> None:
    from compiler.lsp import actions

    if not actions.formatter_available():
        pytest.skip("compiler/fmt.py is not there yet")
    text = EMMAUS.read_text(encoding="utf-8").replace("drug letrozole (Femara) 2,5 mg po daily", "DRUG letrozole (Femara) 2,5 mg po daily")
    server, uri = open_text(text)
    edits = server.formatting(t.DocumentFormattingParams(text_document=doc(uri), options=OPTIONS))
    expected = actions.formatted_text("x.protocol", text)
    if expected is None or expected == text:
        assert edits == []
    else:
        assert len(edits) == 1 and edits[0].new_text == expected


def test_changes_are_debounced() -> None:
    import asyncio

    text = EMMAUS.read_text(encoding="utf-8")
    server, uri = open_text(text)
    server.debounce_seconds = 0.05
    published = count_publishes(server)

    async def burst() -> None:
        for version in range(2, 7):
            change(server, uri, version, 0, 0, 0, 0, "")
        assert published == []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not published and loop.time() < deadline:  # the compile runs in a worker thread
            await asyncio.sleep(0.01)

    asyncio.run(burst())
    assert published == [6]


def test_hover_text_for_every_drug_and_regimen() -> None:
    from compiler.lsp.hover import drug_markdown, regimen_markdown
    from compiler.tables import load

    tables = load()
    for drug_id in tables.drugs:
        for language in ("nl", "en"):
            assert tables.drug_name(drug_id, "en") in drug_markdown(drug_id, tables, language)
    for regimen_id in tables.regimens:
        assert "regimen" in regimen_markdown(regimen_id, tables, "nl")


def test_a_register_made_by_another_process_is_seen_by_the_next_analysis(tmp_path: Path) -> None:
    # `protocolc check` runs in a fresh process and finds a book's release register each time;
    # the language server, which lives on, must not keep answering "no register" for that folder
    from compiler.lsp.analysis import analyse
    from compiler.versions.root import REGISTER_NAME, find_root_of_name

    sheet = tmp_path / "p.protocol"
    text = "id: x\ntitle: X\n"
    analyse(sheet.as_uri(), text)
    assert find_root_of_name(str(sheet)) is None
    (tmp_path / REGISTER_NAME).write_text("", encoding="utf-8")  # released meanwhile, by another process
    analyse(sheet.as_uri(), text)
    assert find_root_of_name(str(sheet)) == tmp_path


def count_publishes(server: ProtocolServer) -> list[int | None]:
    """The document versions the server publishes diagnostics for, in order, from now on."""
    published: list[int | None] = []
    original = server.publish

    def counting(target: str) -> list[t.Diagnostic]:
        published.append(server.documents.get_text_document(target).version)
        return original(target)

    server.publish = counting  # type: ignore[method-assign]
    return published
