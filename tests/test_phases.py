"""Regimen phases (issue 14 item 4): `phase …:` / `followed by phase …:` under an inline
regimen. Golden-style model, page and FHIR output of one sample (tests/goldens/lang-b/
phases.*; `pytest --update-goldens` when a change is intended), plus the semantics:
phases are sequential in the arms, each line takes its phase's cycle.
"""

from __future__ import annotations

import json
import re

from compiler import arms as a
from compiler import model as m
from compiler.fhir import export_protocol
from compiler.pipeline import Compiled, compile_text
from compiler.render.html import render_protocol
from compiler.tables import load
from tests.conftest import ROOT
from tests.goldens_io import check_golden
from tests.test_fhir import actions

GOLDENS = ROOT / "tests" / "goldens" / "lang-b"
SAMPLE = """id: phases-sample
title: AC gevolgd door paclitaxel-trastuzumab
version: 1.0
status: draft
language: nl
owner: Dienst medische oncologie
author: Ziekenhuisapotheek
next review: 2028-11-23
scope: Voorbeeld voor de tests
reference: protocolc test suite

# Adjuvant {adjuvant}
note: anti-emetica en premedicatie (dexamethason) volgens lokaal schema; LVEF voor de start en elke 3 maanden.
regimen "AC-paclitaxel-trastuzumab" max 1 year
  phase AC: cycle 21 days, 4 cycles
    drug doxorubicin 60 mg/m2 IV day 1, infusion 15 min
    drug cyclophosphamide 600 mg/m2 IV day 1, infusion 30 min
  followed by phase "paclitaxel + trastuzumab": cycle 21 days, 4 cycles
    drug paclitaxel 80 mg/m2 IV days 1, 8, 15, infusion 60 min
    drug trastuzumab 8 mg/kg IV then 6 mg/kg IV every 3 weeks, infusion first 90 min then 30 min
"""


def _compiled() -> Compiled:
    result = compile_text("phases-sample.protocol", SAMPLE.encode())
    assert result.protocol is not None
    return result


def _golden(name: str, text: str, update: bool) -> None:
    check_golden(GOLDENS / name, text, update)


def _regimen(protocol: m.Protocol) -> m.RegimenLine:
    return next(i for i in protocol.all_items() if isinstance(i, m.RegimenLine))


def test_sample_checks_clean() -> None:
    result = _compiled()
    assert [(d.code, d.span.line, d.message) for d in result.diagnostics] == []


def test_model_golden(update_goldens: bool) -> None:
    regimen = _regimen(_compiled().protocol)  # type: ignore[arg-type]
    phases = [c for c in regimen.children if isinstance(c, m.PhaseLine)]
    assert [(p.name.value, p.followed, p.cycles) for p in phases] == [
        ("AC", False, 4), ("paclitaxel + trastuzumab", True, 4)]
    _golden("phases.model.json", json.dumps(m.to_json(regimen), indent=1, ensure_ascii=False) + "\n", update_goldens)


def test_phases_are_sequential_and_lines_take_their_phase() -> None:
    protocol = _compiled().protocol
    assert protocol is not None
    lay = a.layout(protocol, load())
    by_drug = {mb.drug_id: mb for mb in lay.members}
    doxorubicin, trastuzumab, paclitaxel = by_drug["doxorubicin"], by_drug["trastuzumab"], by_drug["paclitaxel"]
    assert not lay.together(doxorubicin.node, trastuzumab.node)
    assert lay.together(paclitaxel.node, trastuzumab.node)
    view = lay.enclosing_regimen(paclitaxel.node)
    assert view is not None and view.cycles == 4 and view.cycle_length is not None and view.cycle_length.value == 21


def test_page_golden(update_goldens: bool) -> None:
    html = render_protocol(_compiled(), load())
    start = html.index('<div class="regimen')
    fragment = html[start:html.index("</section>", start)]
    fragment = re.sub(r"\n\s*\n", "\n", fragment) + "\n"
    assert "Fase AC: cyclus 21 dagen, 4 cycli" in fragment
    assert "Gevolgd door fase paclitaxel + trastuzumab: cyclus 21 dagen, 4 cycli" in fragment
    assert fragment.count('class="calendar days-21"') == 2  # one calendar per phase
    _golden("phases.page.html", fragment, update_goldens)


def test_fhir_golden_validates_and_round_trips(update_goldens: bool) -> None:
    from fhir.resources.bundle import Bundle

    result = _compiled()
    assert result.protocol is not None
    bundle = export_protocol(result.protocol, load()).bundle
    Bundle.parse_obj(json.loads(json.dumps(bundle)))
    plan = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "PlanDefinition")
    regimen = next(x for x in actions(plan) if x.get("title") == "AC-paclitaxel-trastuzumab")
    phases = regimen["action"]
    assert [p["title"] for p in phases] == ["AC", "paclitaxel + trastuzumab"]
    assert phases[1]["relatedAction"] == [{"actionId": phases[0]["id"], "relationship": "after-end"}]
    for phase in phases:
        cycle = phase["action"][0]
        assert cycle["timingTiming"]["repeat"] == {"duration": 21, "durationUnit": "d", "count": 4}
    assert regimen["timingDuration"]["value"] == 1
    activities = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ActivityDefinition"]
    doxorubicin = next(x for x in activities if x["title"] == "doxorubicine")
    assert doxorubicin["dosage"][0]["timing"]["repeat"]["count"] == 4
    _golden("phases.fhir.json", json.dumps({"regimen": regimen, "dosage": [x["dosage"] for x in activities]},
                                           indent=1, ensure_ascii=False) + "\n", update_goldens)


def test_fhir_json_schema() -> None:
    from tests.test_fhir import schema_errors

    result = _compiled()
    assert result.protocol is not None
    bundle = export_protocol(result.protocol, load()).bundle
    assert not [error for entry in bundle["entry"] for error in schema_errors(entry["resource"])]


def test_formatter_round_trips_phases() -> None:
    from compiler.fmt import format_text

    messy = SAMPLE.replace("  followed by phase", "  Followed  By Phase").replace("phase AC:", "PHASE AC :")
    first = format_text("x.protocol", messy.encode())
    assert "  followed by phase \"paclitaxel + trastuzumab\": cycle 21 days, 4 cycles" in first.text
    assert not format_text("x.protocol", first.text.encode()).changed


def test_version_diff_reports_phase_and_administration_changes() -> None:
    from compiler.versions.diff import diff_protocols

    old = _compiled().protocol
    changed = SAMPLE.replace('"paclitaxel + trastuzumab": cycle 21 days, 4 cycles',
                             '"paclitaxel + trastuzumab": cycle 21 days, 3 cycles').replace(
        "infusion 15 min", "infusion 15 min, in 100 mL sodium chloride 0,9 %")
    new = compile_text("phases-sample.protocol", changed.encode()).protocol
    assert old is not None and new is not None
    texts = [c.text for c in diff_protocols(old, new, load())]
    assert any("fase paclitaxel + trastuzumab" in t and "4 → 3" in t for t in texts), texts
    assert any("in 100 mL natriumchloride 0,9 %" in t for t in texts), texts


LIBRARY = """# Adjuvant {adjuvant}
note: anti-emetica en premedicatie (dexamethason) volgens lokaal schema; LVEF voor de start en elke 3 maanden.
regimen "EC-paclitaxel"
  phase EC: 4 cycles
    regimen EC75
  followed by phase paclitaxel: 12 cycles
    regimen "paclitaxel weekly"
"""


def test_library_regimens_in_phases_take_the_phase_count() -> None:
    header = SAMPLE.split("# Adjuvant")[0]
    result = compile_text("x.protocol", (header + LIBRARY).encode())
    assert result.protocol is not None
    assert [d.code for d in result.diagnostics if d.severity.value != "info"] == []
    ten = compile_text("x.protocol", (header + LIBRARY.replace("EC: 4 cycles", "EC: 10 cycles")).encode())
    d011 = [d.message for d in ten.diagnostics if d.code == "D011"]
    assert d011 and "× 10 ×" in d011[0]
    bundle = export_protocol(result.protocol, load()).bundle
    epirubicin = next(e["resource"] for e in bundle["entry"] if e["resource"].get("title") == "epirubicine")
    assert epirubicin["dosage"][0]["timing"]["repeat"]["count"] == 4
