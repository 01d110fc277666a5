"""Simultaneous integrated boosts and organ-at-risk constraints (issue 14 item 5, rt14).

Golden-style model, page (RT line, RT table, constraint lines) and FHIR output of one sample
(tests/goldens/lang-b/rt-sib.*; `pytest --update-goldens` when a change is intended), the SIB
arithmetic and the rule that a sourced limit is applied only to its own fractionation.
"""

from __future__ import annotations

import json
import re
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
HEAD = """id: rt-sib-sample
title: Radiotherapie met SIB en dosisbeperkingen
version: 1.0
status: draft
language: nl
owner: Dienst radiotherapie
author: Ziekenhuisapotheek
next review: 2028-11-23
scope: Voorbeeld voor de tests
reference: protocolc test suite

"""
SAMPLE = HEAD + """# Radiotherapie {radiotherapie}
Borst met simultaan geïntegreerde boost:
rt 25 x 2 Gy (borst) = 50 Gy, SIB 25 x 2,4 Gy = 60 Gy (tumorbed), site borst, VMAT, links
  constraint hart Dmean < 4 Gy
  constraint long V20 < 30%
Long, concomitant met chemotherapie:
rt 30 x 2 Gy = 60 Gy site long, 5 x/week
  constraint long V20 < 35%
  constraint long Dmean < 20 Gy
  constraint oesofagus Dmean < 34 Gy
  constraint myelum Dmax < 45 Gy
"""


def _compiled(text: str = SAMPLE) -> Compiled:
    result = compile_text("rt-sib-sample.protocol", text.encode())
    assert result.protocol is not None
    return result


def _lines(protocol: m.Protocol) -> list[m.Fractionation]:
    return [i for i in protocol.all_items() if isinstance(i, m.Fractionation)]


def _codes(text: str) -> list[str]:
    return [d.code for d in _compiled(text).diagnostics if d.severity.value != "info"]


def test_sample_is_clean_and_r003_gives_the_sib_values() -> None:
    result = _compiled()
    assert [d.code for d in result.diagnostics if d.severity.value != "info"] == []
    first = next(d.message for d in result.diagnostics if d.code == "R003")
    assert "SIB (tumorbed) 25 × 2.4 Gy = 60 Gy: BED 101.1 Gy, EQD2 64.4 Gy (α/β 3.5 Gy" in first, first


def test_model_golden(update_goldens: bool) -> None:
    breast, lung = _lines(_compiled().protocol)  # type: ignore[arg-type]
    assert [(s.fractions.text, s.dose_per_fraction.text) for s in breast.sib] == [("25", "2,4")]
    assert breast.sib[0].total is not None and breast.sib[0].total.value == 60
    assert breast.sib[0].volume is not None and breast.sib[0].volume.value == "tumorbed"
    oar = [c for c in lung.children if isinstance(c, m.OarConstraint)]
    assert [(c.organ.value, c.metric.value, c.op, c.value.text, c.unit) for c in oar] == [
        ("long", "V20", "<", "35", "%"), ("long", "Dmean", "<", "20", "Gy"),
        ("oesofagus", "Dmean", "<", "34", "Gy"), ("myelum", "Dmax", "<", "45", "Gy")]
    assert oar[0].dose_level is not None and oar[0].dose_level.value == 20
    text = json.dumps([m.to_json(x) for x in (breast, lung)], indent=1, ensure_ascii=False) + "\n"
    check_golden(GOLDENS / "rt-sib.model.json", text, update_goldens)


def test_sib_values_are_exact() -> None:
    breast, _ = _lines(_compiled().protocol)  # type: ignore[arg-type]
    [(_, values)] = radiobiology.sib_values(breast, load())
    ab = Fraction(7, 2)
    assert values.eqd2 == radiobiology.eqd2(Fraction(25), Fraction(24, 10), ab) and values.total == 60


def test_page_golden(update_goldens: bool) -> None:
    html = render_protocol(_compiled(), load())
    table = re.search(r'<figure class="picture rt-overview".*?</figure>', html, re.S)
    assert table is not None
    fragment = table.group(0)
    assert '<td>SIB, tumorbed, borst, VMAT</td><td class="val">3,5</td><td class="val">101,1</td>' in fragment
    lines = re.findall(r'<p class="rt">.*?</p>|<span class="oar">.*?</span>', html)
    assert "25 × 2 Gy (borst) = 50 Gy, SIB 25 × 2,4 Gy = 60 Gy (tumorbed), op borst" in lines[0]
    assert '<span class="oar">Dosisbeperking: long V20 &lt; 35%</span>' in lines
    check_golden(GOLDENS / "rt-sib.page.html", fragment + "\n" + "\n".join(lines) + "\n", update_goldens)


def test_fhir_golden(update_goldens: bool) -> None:
    from fhir.resources.bundle import Bundle

    bundle = export_protocol(_compiled().protocol, load()).bundle  # type: ignore[arg-type]
    Bundle.parse_obj(json.loads(json.dumps(bundle)))
    plan = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "PlanDefinition")
    text = json.dumps(plan["action"], indent=1, ensure_ascii=False)
    assert '"textEquivalent": "SIB 25 × 2,4 Gy = 60 Gy (tumorbed)"' in text
    assert "Dosisbeperking: long V20 < 35%; long Dmean < 20 Gy; oesofagus Dmean < 34 Gy; myelum Dmax < 45 Gy" in text
    check_golden(GOLDENS / "rt-sib.fhir.json", text + "\n", update_goldens)


def test_fhir_json_schema() -> None:
    from tests.test_fhir import schema_errors

    bundle = export_protocol(_compiled().protocol, load()).bundle  # type: ignore[arg-type]
    assert not [error for entry in bundle["entry"] for error in schema_errors(entry["resource"])]


def test_a_limit_is_applied_only_to_its_fractionation() -> None:
    # QUANTEC/RTOG 0617 lung V20 holds for 1,8-2 Gy fractions: looser there is R009, under 5 x 5,2 Gy R012 (info)
    conventional = HEAD + "# RT {rt}\nrt 30 x 2 Gy = 60 Gy site long\n  constraint long V20 < 40%\n"
    five = HEAD + "# RT {rt}\nrt 5 x 5,2 Gy = 26 Gy site borst\n  constraint long V20 < 40%\n"
    assert _codes(conventional) == ["R009"]
    assert _codes(five) == []
    assert "R012" in [d.code for d in _compiled(five).diagnostics]


def test_cord_dmax_is_converted_at_the_hytec_alpha_beta() -> None:
    # 30 Gy in 5 fractions to the cord: EQD2 = 30 x (6 + 2) / 4 = 60 Gy > 50 Gy (QUANTEC, 2 Gy fractions)
    text = HEAD + "# RT {rt}\nrt 5 x 5,2 Gy = 26 Gy site borst\n  constraint myelum Dmax < 30 Gy\n"
    found = [d for d in _compiled(text).diagnostics if d.code == "R009"]
    assert len(found) == 1 and "EQD2 60 Gy" in found[0].message


def test_sib_arithmetic() -> None:
    assert _codes(HEAD + "# RT {rt}\nrt 25 x 2 Gy = 50 Gy, SIB 25 x 2,4 Gy = 62 Gy (tumorbed), site borst\n") == [
        "R001"]
    assert _codes(HEAD + "# RT {rt}\nrt 25 x 2 Gy = 50 Gy, SIB 20 x 2,4 Gy = 48 Gy (tumorbed), site borst\n") == [
        "R011"]


def test_formatter_keeps_sib_and_constraints() -> None:
    from compiler.fmt import format_text

    messy = SAMPLE.replace("constraint long V20 < 35%", "constraint   long V20<35 %")
    first = format_text("x.protocol", messy.encode())
    assert "  constraint long V20 < 35%" in first.text
    assert "SIB 25 x 2,4 Gy = 60 Gy (tumorbed), site borst" in first.text
    assert not format_text("x.protocol", first.text.encode()).changed


def test_hover_shows_the_sib() -> None:
    from compiler.lsp.hover import fractionation_markdown

    breast, _ = _lines(_compiled().protocol)  # type: ignore[arg-type]
    text = fractionation_markdown(breast, load())
    assert text is not None and "SIB (tumorbed): 25 × 2.4 Gy = 60 Gy: BED 101.1 Gy" in text


def test_validation_report_lists_the_sib() -> None:
    protocol = _compiled().protocol
    assert protocol is not None
    values = list(radiobiology.fractionation_values(protocol, load()))
    assert [(v.fractions, v.dose_per_fraction) for v in values][:2] == [(25, 2), (25, Fraction(12, 5))]
