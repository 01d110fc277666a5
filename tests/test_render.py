"""Rendering: HTML page (escaping, language, drug tables, locale numbers) and PDF (WeasyPrint)."""

from __future__ import annotations

import importlib.util
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.pipeline import Compiled, compile_text
from compiler.render.html import render_protocol
from compiler.render.pdf import AssetRefused, fetch_asset
from compiler.tables import load

ROOT = Path(__file__).resolve().parent.parent

HEADER = """id: render-test
title: Testprotocol rendering
version: 2.0
status: draft
language: {language}
owner: Dienst medische oncologie
author: A. Auteur
approver: B. Goedkeurder
authored: 2026-01-10
next review: 2028-01-10
scope: Volwassen patiënten
reference: Testbron
change note: Eerste versie

"""

BODY = """# Hormonale therapie {{hormonaal}}
<script>alert(1)</script>
Aromataseremmers:
  only when postmenopausal
  - drug letrozole (Femara) 2,5 mg po daily, tablet
  - drug anastrozole (Arimidex) 1 mg po daily, tablet
decision: PD-L1
  when PD-L1 TPS >= 50% and line = 1:
    drug paclitaxel (Taxol) 80 mg/m2 IV weekly, infusion 60 min
  otherwise:
    Zie §chemo.
note: controle ER/PR/HER2
query: is dit de juiste dosis?
rt 5 x 4 Gy site bot

# Chemotherapie {{chemo}}
regimen EC75
"""


def compiled(language: str = "nl", body: str = BODY) -> Compiled:
    text = HEADER.format(language=language) + body.format()
    return compile_text("render-test.protocol", text.encode("utf-8"))


def html_of(language: str = "nl") -> str:
    return render_protocol(compiled(language), load())


def identity(result: Compiled) -> dict[str, str]:
    protocol = result.protocol
    assert protocol is not None and protocol.meta.version is not None
    return {"id": "render-test", "version": str(protocol.meta.version), "status": "draft",
            "sha256": protocol.sha256, "title": "Testprotocol rendering",
            "language": protocol.meta.language or "nl"}


# ---------------------------------------------------------------- HTML


def test_prose_is_escaped() -> None:
    html = html_of()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_has_language_and_title() -> None:
    html = html_of()
    assert '<html lang="nl"' in html
    assert "<title>Testprotocol rendering" in html
    assert '<html lang="en"' in html_of("en")


def test_drug_table_in_dutch() -> None:
    html = html_of()
    assert '<table class="drugs">' in html
    for heading in ("Geneesmiddel", "Dosis", "Toediening", "Schema", "Opmerkingen"):
        assert f'<th scope="col">{heading}</th>' in html
    assert "2,5 mg" in html
    assert "2.5 mg" not in html
    assert "oraal" in html and "dagelijks" in html
    # both aromatase inhibitors share one table
    section = html.split('id="hormonaal"')[1].split('id="chemo"')[0]
    assert section.count('<table class="drugs">') == 2  # AI table + paclitaxel in the decision branch


def test_drug_table_in_english() -> None:
    html = html_of("en")
    assert '<th scope="col">Drug</th>' in html
    assert "2.5 mg" in html and "oral" in html


def test_tall_man_and_units() -> None:
    html = html_of()
    assert "PACLItaxel" in html
    assert "mg/m²" in html


def test_conditions_branches_and_references() -> None:
    html = html_of()
    assert "Indien PD-L1 TPS ≥ 50 % en lijn 1:" in html
    assert "Anders:" in html
    assert '<a class="xref" href="#chemo">' in html
    assert 'id="chemo"' in html
    assert "Enkel indien postmenopauzaal." in html


def test_notes_queries_rt_and_regimens() -> None:
    html = html_of()
    assert "NOTA" in html
    assert "Open vraag voor de reviewer" in html
    assert "5 × 4 Gy = 20 Gy" in html
    assert "EC75" in html and "Bron:" in html


def test_validation_summary_and_validity_notice() -> None:
    html = html_of()
    assert 'id="validation"' in html
    assert "X006" in html  # the open query is listed
    assert ("Is dit een geprinte versie? Dan is die enkel geldig als ze overeenstemt met de elektronische "
            "versie op het procedureboek — versie 2.0") in html
    assert "CONCEPT" in html  # draft watermark


def test_page_is_self_contained() -> None:
    html = html_of()
    for needle in ("http://", "https://", "<script", "<link", "src=", "@import"):
        assert needle not in html
    assert "url(" not in html  # the watermark is added by the PDF renderer's own stylesheet


def test_pdf_stylesheet_draws_the_watermark_for_every_status_but_approved() -> None:
    from compiler.render.pdf import _watermark_css

    assert "watermark/CONCEPT.svg" in _watermark_css({"status": "draft", "language": "nl"})
    assert "watermark/RETIRED.svg" in _watermark_css({"status": "retired", "language": "en"})
    assert _watermark_css({"status": "approved", "language": "nl"}) == ""


def test_watermark_is_outlines_not_text() -> None:
    from compiler.render.pdf import fetch_asset

    svg, media_type = fetch_asset("protocolc-asset:watermark/CONCEPT.svg")
    assert media_type == "image/svg+xml"
    assert b"<path" in svg and b"<text" not in svg and b"CONCEPT" not in svg
    with pytest.raises(ValueError):
        fetch_asset("protocolc-asset:watermark/lower.svg")


# ---------------------------------------------------------------- URL fetcher


@pytest.mark.parametrize("url", ["http://example.org/x.css", "https://example.org/font.ttf", "file:///etc/passwd",
                                 "protocolc-asset:../../pipeline.py", "protocolc-asset:fonts/../../html.py",
                                 "data:text/css,body{}", "ftp://example.org/x", "/etc/passwd"])
def test_fetcher_refuses_everything_but_assets(url: str) -> None:
    with pytest.raises(AssetRefused):
        fetch_asset(url)


def test_fetcher_serves_a_packaged_asset() -> None:
    data, media_type = fetch_asset("protocolc-asset:fonts/DejaVuSans.ttf")
    assert media_type == "font/ttf"
    assert data[:4] in (b"\x00\x01\x00\x00", b"true")


# ---------------------------------------------------------------- PDF

HAS_WEASYPRINT = importlib.util.find_spec("weasyprint") is not None


def pdf_text(pdf: bytes) -> str:
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    if not HAS_WEASYPRINT:
        pytest.skip("weasyprint is not installed")
    from compiler.render.pdf import html_to_pdf

    result = compiled()
    return html_to_pdf(render_protocol(result, load()), identity(result))


def test_pdf_carries_title_version_pages_and_notice(pdf_bytes: bytes) -> None:
    assert pdf_bytes.startswith(b"%PDF-")
    text = " ".join(pdf_text(pdf_bytes).split())
    assert "Testprotocol rendering" in text
    assert "Versie 2.0" in text
    assert "1/" in text
    assert "Is dit een geprinte versie?" in text
    assert "versie 2.0" in text
    assert "CONCEPT" in text


def test_pdf_metadata_identity(pdf_bytes: bytes) -> None:
    pypdf = pytest.importorskip("pypdf")
    info = pypdf.PdfReader(io.BytesIO(pdf_bytes)).metadata
    assert info is not None
    assert info.title == "Testprotocol rendering"
    assert "protocolc:id=render-test;version=2.0;status=draft;sha256=" in str(info.get("/Keywords"))
    assert "/CreationDate" not in info and "/ModDate" not in info


def test_pdf_is_reproducible(pdf_bytes: bytes) -> None:
    from compiler.render.pdf import html_to_pdf

    result = compiled()
    assert html_to_pdf(render_protocol(result, load()), identity(result)) == pdf_bytes


def test_pdf_fonts_are_packaged(pdf_bytes: bytes) -> None:
    pypdf = pytest.importorskip("pypdf")
    fonts: set[str] = set()
    for page in pypdf.PdfReader(io.BytesIO(pdf_bytes)).pages:
        resources = page.get("/Resources")
        if resources is None:
            continue
        for font in resources.get_object().get("/Font", {}).values():
            fonts.add(str(font.get_object().get("/BaseFont")))
    assert fonts
    assert all("Protocolc-Sans" in name for name in fonts), fonts


# the printer drops what the page marks for the screen only; every such part is one print hides
PRINT_HIDES = {"flowchart": "figure.flowchart { display: none; }", "timeline": "figure.timeline { display: none; }",
               "screen-only": ".screen-only { display: none; }", "findings": "table.findings { display: none; }"}
PRINT_BODY = BODY + """# Anti-HER2 {{her2}}
- drug trastuzumab (Herceptin) 8 mg/kg IV then 6 mg/kg IV every 3 weeks for 1 year, infusion first 90 min then 30 min
"""


def test_the_printer_leaves_out_only_what_print_hides() -> None:
    from compiler.render.pdf import printable

    html = render_protocol(compiled(body=PRINT_BODY), load())
    parts = re.findall(r"<!--screen-->(.*?)<!--/screen-->", html, re.DOTALL)
    css = (ROOT / "compiler" / "render" / "assets" / "protocol.css").read_text(encoding="utf-8")
    hidden = set()
    for part in parts:
        assert "<!--screen-->" not in part, "screen-only parts never nest"
        opening = re.match(r'<(figure|table) class="([^"]*)"', part)
        assert opening is not None and part.endswith(f"</{opening.group(1)}>"), part[:80]
        kind = next(name for name in PRINT_HIDES if name in opening.group(2).split())
        assert PRINT_HIDES[kind] in css
        hidden.add(kind)
    assert hidden == set(PRINT_HIDES)  # the sheet has one of each
    expected = html
    for part in parts:
        expected = expected.replace(f"<!--screen-->{part}<!--/screen-->", "", 1)
    assert printable(html) == expected and "screen-->" not in expected


def test_leaving_the_screen_only_parts_out_prints_the_same_pdf() -> None:
    from compiler.render.pdf import html_to_pdf

    result = compiled(body=PRINT_BODY)
    html = render_protocol(result, load())
    whole = html.replace("<!--screen-->", "<!-- -->").replace("<!--/screen-->", "<!-- -->")
    assert whole != html and html_to_pdf(html, identity(result)) == html_to_pdf(whole, identity(result))


# ---------------------------------------------------------------- import cost


def test_compile_does_not_import_weasyprint(tmp_path: Path) -> None:
    source = tmp_path / "x.protocol"
    source.write_text(HEADER.format(language="nl") + BODY.format(), encoding="utf-8")
    code = ("import compiler.pipeline, sys; from pathlib import Path; "
            f"compiler.pipeline.compile_file(Path({str(source)!r})); "
            "import compiler.render.pdf, compiler.render.html; print('weasyprint' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_dose_banding_decision_is_one_table() -> None:
    body = """# Ondersteunend {{steun}}
decision: dosis volgens creatinineklaring
  when CrCl > 60:
    drug zoledronic acid 4 mg IV
  when CrCl >= 50 and CrCl <= 60:
    drug zoledronic acid 3,5 mg IV
  when CrCl < 30:
    Niet aanbevolen.
"""
    html = render_protocol(compiled(body=body), load())
    assert 'class="drugs decision-table"' in html
    assert "CrCl ≥ 50 en CrCl ≤ 60" in html
    assert "3,5 mg" in html and "Niet aanbevolen." in html


def test_who_approves_is_worded_by_the_register_status() -> None:
    import datetime
    from dataclasses import replace

    from compiler import model as m
    from compiler.render.view import build_view

    result = compiled()
    assert result.protocol is not None
    draft = dict(build_view(result.protocol, result.diagnostics, load()).control)
    assert draft.get("Te keuren door") == "B. Goedkeurder" and "Goedgekeurd door" not in draft
    meta = replace(result.protocol.meta, status=m.Status.APPROVED, approved=datetime.date(2026, 11, 23))
    approved = dict(build_view(replace(result.protocol, meta=meta), result.diagnostics, load()).control)
    assert approved.get("Goedgekeurd door") == "B. Goedkeurder" and approved.get("Goedgekeurd op") == "23-11-2026"
    assert "Te keuren door" not in approved
    # approved without a date is not yet what the register records
    undated = replace(result.protocol.meta, status=m.Status.APPROVED, approved=None)
    assert "Te keuren door" in dict(build_view(replace(result.protocol, meta=undated), result.diagnostics, load()).control)


def test_loading_dose_of_a_library_regimen_is_in_the_dose_column() -> None:
    from compiler.render.view import DrugTable, RegimenBlock, build_view

    body = "# Schema\nregimen docetaxel-trastuzumab-pertuzumab\n"
    result = compiled(body=body)
    assert result.protocol is not None
    view = build_view(result.protocol, result.diagnostics, load())
    regimen = next(b for s in view.sections for b in s.blocks if isinstance(b, RegimenBlock))
    rows = {row.name: row for _, table in regimen.tables if isinstance(table, DrugTable) for row in table.rows}
    assert rows["pertuzumab"].doses == ["840 mg (oplaaddosis)", "420 mg"]
    assert rows["trastuzumab"].doses == ["8 mg/kg (oplaaddosis)", "6 mg/kg"]
    assert not any("oplaaddosis" in note for row in rows.values() for note in row.notes)
