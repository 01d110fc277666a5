"""Radiotherapy courses (issue 14 item 5): parts joined by `+`, boost and target volume,
technique and laterality words, per-part and cumulative BED/EQD2 at the site's α/β.
Golden-style model, page (RT table) and FHIR output of one sample (tests/goldens/lang-b/
rt-courses.*; `pytest --update-goldens` when a change is intended), and the arithmetic.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from fractions import Fraction

from compiler import model as m
from compiler import radiobiology
from compiler.fhir import export_protocol
from compiler.pipeline import Compiled, compile_text
from compiler.render.html import render_protocol
from compiler.tables import load
from tests.conftest import ROOT
from tests.goldens_io import check_golden

GOLDENS = ROOT / "tests" / "goldens" / "lang-b"
SAMPLE = """id: rt-courses-sample
title: Radiotherapie borst en prostaat
version: 1.0
status: draft
language: nl
owner: Dienst radiotherapie
author: Ziekenhuisapotheek
next review: 2028-11-23
scope: Voorbeeld voor de tests
reference: protocolc test suite

# Radiotherapie {radiotherapie}
Borstsparend, met boost:
  - rt 25 x 2 Gy (borst) + 8 x 2 Gy boost (tumorbed) = 66 Gy site borst, VMAT, links
Prostaat:
  - rt 25 x 1,8 Gy + 19 x 2 Gy = 83 Gy site prostaat, IMRT
  - rt 20 x 3 Gy = 60 Gy site prostaat, IMRT
"""


def _compiled() -> Compiled:
    result = compile_text("rt-courses-sample.protocol", SAMPLE.encode())
    assert result.protocol is not None
    return result


def _golden(name: str, text: str, update: bool) -> None:
    check_golden(GOLDENS / name, text, update)


def _lines(protocol: m.Protocol) -> list[m.Fractionation]:
    return [i for i in protocol.all_items() if isinstance(i, m.Fractionation)]


def test_no_errors_and_findings() -> None:
    result = _compiled()
    assert [d.code for d in result.diagnostics if d.severity.value != "info"] == []
    infos = [d.message for d in result.diagnostics if d.code == "R003"]
    assert infos[0].startswith("part 1: BED 78,6 Gy".replace(",", ".")), infos[0]
    assert "course 66 Gy" in infos[0] and "α/β 3.5 Gy" in infos[0]
    assert "α/β 1.8 Gy, prostate tumour" in infos[1]


def test_model_golden(update_goldens: bool) -> None:
    breast, prostate, single = _lines(_compiled().protocol)  # type: ignore[arg-type]
    assert [(p.fractions.text, p.dose_per_fraction.text, p.boost) for p in breast.parts] == [
        ("25", "2", False), ("8", "2", True)]
    assert breast.parts[1].volume is not None and breast.parts[1].volume.value == "tumorbed"
    assert breast.technique is not None and breast.technique.value == "VMAT"
    assert breast.laterality is not None and breast.laterality.value == "links"
    assert breast.fractions is None and breast.total is not None and breast.total.value == 66
    assert single.parts == () and single.fractions is not None
    text = json.dumps([m.to_json(x) for x in (breast, prostate, single)], indent=1, ensure_ascii=False) + "\n"
    _golden("rt-courses.model.json", text, update_goldens)


def test_cumulative_values_are_exact_sums() -> None:
    _, prostate, _ = _lines(_compiled().protocol)  # type: ignore[arg-type]
    values = radiobiology.course_values(prostate, load())
    assert values is not None
    ab = Fraction(18, 10)
    expected = radiobiology.eqd2(Fraction(25), Fraction(18, 10), ab) + radiobiology.eqd2(Fraction(19), Fraction(2), ab)
    assert values.eqd2 == expected and values.total == 83


def test_page_golden(update_goldens: bool) -> None:
    html = render_protocol(_compiled(), load())
    table = re.search(r'<figure class="picture rt-overview".*?</figure>', html, re.S)
    assert table is not None
    fragment = table.group(0)
    assert '<td>boost, tumorbed, borst, VMAT</td><td class="val">3,5</td>' in fragment
    assert '<th scope="row">kuur</th><td>83 Gy</td><td>prostaat, IMRT</td><td class="val">1,8</td>' in fragment
    lines = re.findall(r"<li>[^<]* Gy[^<]*</li>", html)
    assert len(lines) == 3
    assert "25 × 2 Gy (borst) + 8 × 2 Gy boost (tumorbed) = 66 Gy" in html and "links" in html
    _golden("rt-courses.page.html", fragment + "\n" + "\n".join(lines) + "\n", update_goldens)


def test_fhir_golden(update_goldens: bool) -> None:
    from fhir.resources.bundle import Bundle

    result = _compiled()
    assert result.protocol is not None
    bundle = export_protocol(result.protocol, load()).bundle
    Bundle.parse_obj(json.loads(json.dumps(bundle)))
    plan = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "PlanDefinition")
    text = json.dumps(plan["action"], indent=1, ensure_ascii=False)
    assert "25 × 2 Gy (borst) + 8 × 2 Gy boost (tumorbed) = 66 Gy, op borst, techniek VMAT, links" in text
    _golden("rt-courses.fhir.json", text + "\n", update_goldens)


def test_formatter_keeps_courses() -> None:
    from compiler.fmt import format_text

    messy = SAMPLE.replace("25 x 1,8 Gy + 19 x 2 Gy", "25 x 1,8 Gy+19 x 2 Gy").replace("BOOST", "boost")
    first = format_text("x.protocol", messy.encode())
    assert "rt 25 x 1,8 Gy + 19 x 2 Gy = 83 Gy site prostaat, IMRT" in first.text
    assert not format_text("x.protocol", first.text.encode()).changed


def test_rt_table_uses_the_alpha_beta_of_r003() -> None:
    # the table's first pair is the α/β R003 reports for the site (breast 3,5; bone 10)
    html = render_protocol(compile_text("x.protocol", (SAMPLE.split("# Radiotherapie")[0] + (
        "# RT {rt}\nrt 5 x 4 Gy = 20 Gy site bot\nrt 15 x 2,67 Gy = 40 Gy site borst\n")).encode()), load())
    assert '<td>bot</td><td class="val">10</td><td class="val">28</td>' in html
    assert '<td>borst</td><td class="val">3,5</td><td class="val">70,6</td><td class="val">44,9</td>' in html
    assert Decimal("44.9") == Decimal(radiobiology.shown(radiobiology.eqd2(Fraction(15), Fraction(267, 100),
                                                                           Fraction(7, 2))))


def test_fhir_json_schema() -> None:
    from tests.test_fhir import schema_errors

    result = _compiled()
    assert result.protocol is not None
    bundle = export_protocol(result.protocol, load()).bundle
    assert not [error for entry in bundle["entry"] for error in schema_errors(entry["resource"])]


def test_hover_shows_parts_and_course() -> None:
    from compiler.lsp.hover import fractionation_markdown

    _, prostate, _ = _lines(_compiled().protocol)  # type: ignore[arg-type]
    text = fractionation_markdown(prostate, load())
    assert text is not None and text.startswith("**course 83 Gy") and "part 2: 19 × 2 Gy = 38 Gy" in text
