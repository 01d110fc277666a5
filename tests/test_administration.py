"""Administration details of drug lines (issue 14 item 2): timing relative to another
drug, PRN with a daily maximum, infusion in hours / maximum, push, diluent.

Golden-style: the model, the drug table of the page and the FHIR dosage/actions of one
sample sheet are compared with tests/goldens/lang-b/administration.* (regenerate with
`pytest --update-goldens` when a change is intended), and the FHIR export is validated
and round-tripped against the model.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from compiler import model as m
from compiler.fhir import export_protocol
from compiler.pipeline import Compiled, compile_text
from compiler.render.html import render_protocol
from compiler.tables import load
from tests.conftest import ROOT
from tests.goldens_io import check_golden
from tests.test_fhir import actions

GOLDENS = ROOT / "tests" / "goldens" / "lang-b"
SAMPLE = """id: administration-sample
title: Paclitaxel-carboplatine met premedicatie
version: 1.0
status: draft
language: nl
owner: Dienst medische oncologie
author: Ziekenhuisapotheek
next review: 2028-11-23
scope: Voorbeeld voor de tests
reference: protocolc test suite

# Chemotherapie {chemo}
note: anti-emetica volgens lokaal schema (NK1 + 5-HT3 + dexamethason).
regimen "paclitaxel-carboplatine"
  drug dexamethasone 20 mg IV 30 min before paclitaxel, infusion 15 min, in 50 mL sodium chloride 0,9 %
  drug paclitaxel 175 mg/m2 IV every 3 weeks, 6 cycles, infusion 3 hours, in 500 mL sodium chloride 0,9 %
  drug carboplatin AUC 5 IV every 3 weeks, 6 cycles, infusion max 1 hour, after paclitaxel, in 500 mL glucose 5 %
  drug dexamethasone 8 mg IV push 1 hour before chemotherapy

# Ondersteunend {ondersteunend}
Bij misselijkheid:
  - drug dexamethasone 4 mg po if nausea, up to 3 times daily
  - drug dexamethasone 4 mg po as needed for nausea, max 12 mg per day
"""


def _compiled() -> Compiled:
    result = compile_text("administration-sample.protocol", SAMPLE.encode())
    assert result.protocol is not None
    return result


def _lines(protocol: m.Protocol) -> list[m.DrugLine]:
    return [i for i in protocol.all_items() if isinstance(i, m.DrugLine)]


def _golden(name: str, text: str, update: bool) -> None:
    check_golden(GOLDENS / name, text, update)


def test_sample_has_no_errors() -> None:
    result = _compiled()
    assert [(d.code, d.span.line) for d in result.diagnostics if d.severity.value == "error"] == []


def test_model_golden(update_goldens: bool) -> None:
    lines = _lines(_compiled().protocol)  # type: ignore[arg-type]
    text = json.dumps([m.to_json(line) for line in lines], indent=1, ensure_ascii=False) + "\n"
    _golden("administration.model.json", text, update_goldens)


def test_model_values() -> None:
    premed, paclitaxel, carboplatin, push, prn_times, prn_dose = _lines(_compiled().protocol)  # type: ignore[arg-type]
    assert premed.timing is not None and (premed.timing.relation, premed.timing.offset_min) == ("before", 30)
    assert premed.timing.target_id == "paclitaxel"
    assert premed.diluent is not None and premed.diluent.fluid == "sodium chloride"
    assert premed.diluent.strength is not None and str(premed.diluent.strength.value) == "0.9"
    assert paclitaxel.infusion is not None and (paclitaxel.infusion.first_min, paclitaxel.infusion.hours) == (180, True)
    assert carboplatin.infusion is not None and carboplatin.infusion.at_most
    assert carboplatin.timing is not None and carboplatin.timing.offset_min is None
    assert push.method is not None and push.method.value == "push"
    assert push.timing is not None and push.timing.target_id == "class:chemotherapy"
    assert prn_times.as_needed is not None and prn_times.daily_max is not None and prn_times.daily_max.times == 3
    assert prn_dose.daily_max is not None and prn_dose.daily_max.dose is not None


def _drug_tables(html: str) -> str:
    return "\n".join(re.findall(r'<table class="drugs">.*?</table>', html, flags=re.S)) + "\n"


def test_page_golden(update_goldens: bool) -> None:
    html = render_protocol(_compiled(), load())
    fragment = _drug_tables(html)
    assert "30 min vóór PACLItaxel" in fragment
    assert "in 500 mL natriumchloride 0,9 %" in fragment
    assert "infuus max. 1 uur" in fragment and "infuus 3 uur" in fragment
    assert "IV-push" in fragment and "1 uur vóór chemotherapie" in fragment
    assert '<span class="prn">ZN</span> zo nodig bij nausea, max. 3x/dag' in fragment
    _golden("administration.page.html", fragment, update_goldens)


def _export() -> dict[str, Any]:
    result = _compiled()
    assert result.protocol is not None
    return export_protocol(result.protocol, load()).bundle


def test_fhir_golden_validates_and_round_trips(update_goldens: bool) -> None:
    from fhir.resources.bundle import Bundle

    bundle = _export()
    Bundle.parse_obj(json.loads(json.dumps(bundle)))
    activities = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ActivityDefinition"]
    plan = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "PlanDefinition")
    plan_actions = [a for a in actions(plan) if "definitionCanonical" in a]
    golden = {"dosage": [a["dosage"] for a in activities],
              "actions": [{k: v for k, v in a.items() if k in ("id", "title", "relatedAction")} for a in plan_actions]}
    _golden("administration.fhir.json", json.dumps(golden, indent=1, ensure_ascii=False) + "\n", update_goldens)

    lines = _lines(_compiled().protocol)  # type: ignore[arg-type]
    by_url = {a["url"]: a for a in activities}
    ids = {a.get("id"): a for a in plan_actions}
    for line, action in zip(lines, plan_actions, strict=True):
        dosage = by_url[action["definitionCanonical"]]["dosage"][0]
        if line.timing is not None:
            related = action["relatedAction"][0]
            assert related["relationship"] == {"before": "before-start", "after": "after-end"}[line.timing.relation]
            assert ids[related["actionId"]]["title"] in ("paclitaxel",)
            if line.timing.offset_min is not None:
                assert related["offsetDuration"]["value"] == line.timing.offset_min
                assert related["offsetDuration"]["code"] == "min"
        if line.as_needed is not None:
            reason = line.as_needed.reason
            assert dosage["asNeededCodeableConcept"]["text"] == reason.value if reason else dosage["asNeededBoolean"]
        if line.daily_max is not None and line.daily_max.times is not None:
            assert dosage["timing"]["repeat"]["frequencyMax"] == line.daily_max.times
            assert dosage["timing"]["repeat"]["periodUnit"] == "d"
        if line.daily_max is not None and line.daily_max.dose is not None:
            assert dosage["maxDosePerPeriod"]["numerator"]["value"] == int(line.daily_max.dose.amount.value)
        if line.method is not None:
            assert dosage["method"]["text"] == "IV-push"
        instructions = [i["text"] for i in dosage.get("additionalInstruction", [])]
        if line.diluent is not None:
            assert any(t.startswith(f"in {line.diluent.volume.text} mL") for t in instructions)
        if line.infusion is not None and line.infusion.at_most:
            assert "infuus max. 1 uur" in instructions
            assert "duration" not in dosage["timing"]["repeat"]
        elif line.infusion is not None:
            assert dosage["timing"]["repeat"]["duration"] == line.infusion.first_min


def test_fhir_json_schema() -> None:
    from tests.test_fhir import schema_errors

    bundle = _export()
    errors = [error for entry in bundle["entry"] for error in schema_errors(entry["resource"])]
    assert not errors


@pytest.mark.parametrize("text", [
    "drug dexamethasone 4 mg po if nausea, up to 3 times daily",
    "drug dexamethasone 20 mg IV 30 min before paclitaxel, in 50 mL sodium chloride 0.9%",
    "drug paclitaxel 80 mg/m2 IV weekly, 12 cycles, infusion 1 hour, in 250 mL NaCl 0,9 %",
])
def test_formatter_keeps_administration_details(text: str) -> None:
    from compiler.fmt import format_text

    source = SAMPLE.split("# Chemotherapie")[0] + "# S {s}\n" + text + "\n"
    first = format_text("x.protocol", source.encode())
    assert not format_text("x.protocol", first.text.encode()).changed


def test_prose_starting_with_if_stays_prose() -> None:
    result = compile_text("x.protocol", (SAMPLE.split("# Chemotherapie")[0]
                                         + "# S {s}\nIf nausea persists, call the ward.\nIn 250 mL.\n").encode())
    assert result.protocol is not None
    items = result.protocol.sections[0].items
    assert [type(i).__name__ for i in items] == ["Prose", "Prose"]


# ---------------------------------------------------------------- infusion-time ranges
RANGE_SAMPLE = SAMPLE.split("# Chemotherapie")[0] + """# HER2 {her2}
drug trastuzumab 8 mg/kg IV then 6 mg/kg IV every 3 weeks for 1 year, infusion first 90 min then 30-90 min
  note: LVEF elke 3 maanden.
drug zoledronic acid 4 mg IV every 4 weeks, infusion over 1-2 hours, in 100 mL sodium chloride 0,9 %
drug paclitaxel 80 mg/m2 IV weekly, 12 cycles, infusion 60 to 90 min
  allow C006 "premedicatie volgens de staande order"
"""


def _range_lines() -> list[m.DrugLine]:
    result = compile_text("range.protocol", RANGE_SAMPLE.encode())
    assert result.protocol is not None
    return _lines(result.protocol)


def test_infusion_ranges_in_the_model(update_goldens: bool) -> None:
    trastuzumab, zoledronic, paclitaxel = _range_lines()
    assert trastuzumab.infusion is not None
    assert (trastuzumab.infusion.first_range(), trastuzumab.infusion.then_range()) == ((90, 90), (30, 90))
    assert zoledronic.infusion is not None and zoledronic.infusion.first_range() == (60, 120)
    assert zoledronic.infusion.hours and zoledronic.infusion.then_range() is None
    assert paclitaxel.infusion is not None and paclitaxel.infusion.first_range() == (60, 90)
    text = json.dumps([m.to_json(line.infusion) for line in (trastuzumab, zoledronic, paclitaxel)],
                      indent=1, ensure_ascii=False) + "\n"
    _golden("infusion-range.model.json", text, update_goldens)


def test_infusion_ranges_on_the_page_and_in_fhir(update_goldens: bool) -> None:
    from fhir.resources.bundle import Bundle

    result = compile_text("range.protocol", RANGE_SAMPLE.encode())
    assert result.protocol is not None
    assert [d.code for d in result.diagnostics if d.severity.value == "error"] == []
    fragment = _drug_tables(render_protocol(result, load()))
    assert "infuus eerst 90 min, daarna 30-90 min" in fragment
    assert "infuus 1-2 uur" in fragment and "infuus 60-90 min" in fragment
    _golden("infusion-range.page.html", fragment, update_goldens)
    bundle = export_protocol(result.protocol, load()).bundle
    Bundle.parse_obj(json.loads(json.dumps(bundle)))
    activities = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ActivityDefinition"]
    repeats = [[d["timing"]["repeat"] for d in a["dosage"]] for a in activities]
    # trastuzumab: loading 90 min, maintenance 30-90 min; zoledronic acid 60-120 min; paclitaxel 60-90 min
    assert [(r[0].get("duration"), r[0].get("durationMax")) for r in repeats] == [(90, None), (60, 120), (60, 90)]
    assert (repeats[0][1]["duration"], repeats[0][1]["durationMax"]) == (30, 90)
    _golden("infusion-range.fhir.json", json.dumps(repeats, indent=1, ensure_ascii=False) + "\n", update_goldens)


@pytest.mark.parametrize(("infusion", "code", "message"), [
    ("infusion first 90 min then 30-120 min", "S006", "later infusions 30-120 min (label: 30-90 min)"),
    ("infusion first 60-90 min then 30 min", "S006", "first infusion 60-90 min (label: 90 min)"),
    ("infusion first 90 min then 90-30 min", "S009", "an infusion time range that runs backwards"),
])
def test_infusion_range_checked_at_both_ends(infusion: str, code: str, message: str) -> None:
    line = f"drug trastuzumab 8 mg/kg IV then 6 mg/kg IV every 3 weeks for 1 year, {infusion}\n  note: LVEF elke 3 maanden.\n"
    result = compile_text("x.protocol", (SAMPLE.split("# Chemotherapie")[0] + "# S {s}\n" + line).encode())
    found = [d.message for d in result.diagnostics if d.code == code]
    assert any(message in text for text in found), found


@pytest.mark.parametrize("text", [
    "drug paclitaxel 80 mg/m2 IV weekly, 12 cycles, infusion over 1-2 hours",
    "drug trastuzumab 8 mg/kg IV then 6 mg/kg IV every 3 weeks, infusion first 90 min then 30 to 90 min",
])
def test_formatter_keeps_infusion_ranges(text: str) -> None:
    from compiler.fmt import format_text

    source = SAMPLE.split("# Chemotherapie")[0] + "# S {s}\n" + text + "\n"
    first = format_text("x.protocol", source.encode())
    assert not format_text("x.protocol", first.text.encode()).changed
    before = compile_text("a.protocol", source.encode()).protocol
    after = compile_text("a.protocol", first.text.encode()).protocol
    assert before is not None and after is not None
    assert _lines(before)[0].infusion.first_range() == _lines(after)[0].infusion.first_range()  # type: ignore[union-attr]


def test_docs_infusion_range_example_checks_clean() -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```protocol\n(.*?)```", text, re.S) if "voorbeeld-infuustijd-bereik" in b)
    result = compile_text("docs.protocol", block.encode())
    problems = [(d.code, d.message) for d in result.diagnostics
                if d.acknowledged is None and d.severity.value in ("error", "warning")]
    assert problems == []


# ---------------------------------------------------------------- timing ranges (`30-60 min before paclitaxel`)
TIMING_RANGE = SAMPLE.split("# Chemotherapie")[0] + """# Chemotherapie {chemo}
regimen "voorbeeld premedicatie" cycle 7 days 12 cycles
  drug dexamethasone 10 mg IV push, day 1, 30-60 min before paclitaxel for premedication
  drug paclitaxel 80 mg/m2 IV once, day 1, infusion 60 min
"""


def test_timing_range_in_model_page_and_fhir() -> None:
    from fhir.resources.bundle import Bundle

    result = compile_text("timing.protocol", TIMING_RANGE.encode())
    assert result.protocol is not None
    assert [d.code for d in result.diagnostics if d.severity.value == "error"] == []
    premed = _lines(result.protocol)[0]
    assert premed.timing is not None and (premed.timing.offset_min, premed.timing.offset_max) == (30, 60)
    assert "30-60 min vóór PACLItaxel" in _drug_tables(render_protocol(result, load()))
    bundle = export_protocol(result.protocol, load()).bundle
    Bundle.parse_obj(json.loads(json.dumps(bundle)))
    plan = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "PlanDefinition")
    related = next(a["relatedAction"][0] for a in actions(plan) if a.get("relatedAction"))
    assert related["relationship"] == "before-start"
    assert (related["offsetRange"]["low"]["value"], related["offsetRange"]["high"]["value"]) == (30, 60)


def test_backwards_timing_range_is_S009() -> None:
    text = TIMING_RANGE.replace("30-60 min before", "60-30 min before")
    result = compile_text("timing.protocol", text.encode())
    assert any(d.code == "S009" and "runs backwards" in d.message for d in result.diagnostics)


def test_formatter_keeps_timing_ranges() -> None:
    from compiler.fmt import format_text

    first = format_text("x.protocol", TIMING_RANGE.encode())
    assert not format_text("x.protocol", first.text.encode()).changed
    assert "30-60 min before paclitaxel" in first.text


@pytest.mark.parametrize(("line", "found"), [
    ("drug trastuzumab deruxtecan 5.4 mg/kg IV every 3 weeks, infusion first 90 min then 30 min, "
     "in 100 mL sodium chloride 0,9 %", True),
    ("drug trastuzumab deruxtecan 5.4 mg/kg IV every 3 weeks, infusion first 90 min then 30 min, "
     "in 100 mL glucose 5 %", False),
    ("drug trastuzumab 8 mg/kg IV then 6 mg/kg IV every 3 weeks, infusion first 90 min then 30 min, "
     "in 250 mL glucose 5 %", True),
    ("drug trastuzumab 8 mg/kg IV then 6 mg/kg IV every 3 weeks, infusion first 90 min then 30 min, "
     "in 250 mL sodium chloride 0,9 %", False),
])
def test_her2_products_have_their_own_diluent(line: str, found: bool) -> None:
    """Trastuzumab deruxtecan only in glucose (SmPC 6.2), trastuzumab never in glucose: D026."""
    source = SAMPLE.split("# Chemotherapie")[0] + "# S {s}\n" + line + "\n  note: LVEF elke 3 maanden.\n"
    result = compile_text("x.protocol", source.encode())
    assert any(d.code == "D026" for d in result.diagnostics) is found
