"""Issue 14 (lab criteria, dose-modification tables, dose levels, days): the language,
the band analysis with the laboratory's resolution, and golden model / page / FHIR
output of each construct (tests/goldens/lab/; regenerate with --update-goldens)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from compiler import model as m
from compiler.fhir import administrations, export_protocol
from compiler.fmt import format_text
from compiler.model import to_json
from compiler.pipeline import Compiled, compile_text
from compiler.render.html import render_protocol
from compiler.tables import load
from tests.conftest import ROOT, TODAY

GOLDENS = ROOT / "tests" / "goldens" / "lab"

HEAD = """id: lab-example
title: Lab example
version: 1.0
status: draft
language: {language}
owner: Medical oncology
author: Hospital pharmacy
next review: 2028-11-23
scope: Language test
reference: protocolc test suite
"""

CONSTRUCTS: dict[str, str] = {
    "criteria": """# Paclitaxel {paclitaxel}
drug paclitaxel 175 mg/m2 IV every 3 weeks, 6 cycles, infusion 180 min
  allow C006 "premedication on the standing order of the day unit"
criteria before each cycle:
  ANC >= 1.5 x10^9/L
  platelets >= 100 x10^9/L
  bilirubin <= 1.5 x ULN
  CrCl >= 45
  eGFR >= 30 mL/min/1.73 m2
  LVEF >= 50%
  neuropathy grade < 2
""",
    "modification": """# Paclitaxel {paclitaxel}
drug paclitaxel 175 mg/m2 IV every 3 weeks, 6 cycles, infusion 180 min
  allow C006 "premedication on the standing order of the day unit"
dose levels paclitaxel:
  level 0: 175 mg/m2
  level -1: 150 mg/m2
  level -2: 135 mg/m2
dose modification paclitaxel by ANC (x10^9/L):
  ANC >= 1.5: 100%
  ANC 1.0 to < 1.5: delay 1 week then level -1
  ANC < 1.0: level -2
dose modification paclitaxel by neuropathy grade:
  grade 0-1: 100%
  grade 2: 75%
  grade 3: withhold
  grade 4: discontinue
""",
    "qtc": """# Ribociclib {ribociclib}
drug ribociclib 600 mg po daily, 21 days on, 7 days off, of a 28-day cycle until progression
  only with letrozole
drug letrozole 2.5 mg po daily
criteria before each cycle:
  ANC >= 1 x10^9/L
  QTc <= 480 ms
dose levels ribociclib:
  level 0: 600 mg
  level -1: 400 mg
  level -2: 200 mg
dose modification ribociclib by QTc (ms):
  QTc <= 480: 100%
  QTc > 480 to <= 500: withhold then 100%
  QTc > 500: withhold then level -1
""",
    "occurrence": """# Capecitabine {capecitabine}
drug capecitabine 1250 mg/m2 po twice daily, days 1-14, cycle 21 days until progression
DPD deficiency testing (DPYD genotyping) before the first dose.
dose modification capecitabine by diarrhoea grade:
  grade 0-1: 100%
  grade 2:
    1st occurrence: withhold then 100%
    2nd occurrence: withhold then 75%
    3rd occurrence: withhold then 50%
    4th occurrence: discontinue
  grade 3:
    1st occurrence: withhold then 75%
      note: withhold until grade 0-1
    2nd occurrence: withhold then 50%
    3rd and later occurrences: discontinue
  grade 4: discontinue
""",
    "days": """# Pemetrexed {pemetrexed}
regimen pemetrexed-carboplatin-pembrolizumab
  only when non-squamous and PS <= 1
  allow C006 "antiemetic prophylaxis on the standing order of the day unit"
drug folic acid 400 mcg po daily from day -7 until 21 days after the last pemetrexed
drug cyanocobalamin 1000 mcg IM every 9 weeks, cycle 21 days, 6 cycles
drug dexamethasone 4 mg po twice daily, days -1, 1, 2, cycle 21 days, 6 cycles
""",
}


def compiled(name: str, language: str = "en") -> Compiled:
    text = HEAD.format(language=language) + CONSTRUCTS[name]
    return compile_text(f"{name}.protocol", text.encode(), today=TODAY)


def codes(text: str) -> list[tuple[int, str]]:
    result = compile_text("x.protocol", (HEAD.format(language="en") + text).encode(), today=TODAY)
    return [(d.span.line - HEAD.count("\n"), d.code) for d in result.diagnostics if d.acknowledged is None]


def golden(name: str, value: Any, update: bool) -> None:
    path = GOLDENS / name
    text = value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (run pytest --update-goldens if intended)"


def section_items(result: Compiled) -> list[m.Item]:
    assert result.protocol is not None
    return list(result.protocol.sections[0].items)


# ---------------------------------------------------------------- clean, and golden output


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_constructs_compile_without_findings(name: str) -> None:
    result = compiled(name)
    assert [(d.code, d.message) for d in result.diagnostics if d.acknowledged is None] == []


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_golden_model(name: str, update_goldens: bool) -> None:
    golden(f"{name}.model.json", to_json(section_items(compiled(name))), update_goldens)


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
@pytest.mark.parametrize("language", ["nl", "en"])
def test_golden_page_fragment(name: str, language: str, update_goldens: bool) -> None:
    html = render_protocol(compiled(name, language), load())
    fragments = re.findall(r'<table class="(?:lab-table|calendar)[^"]*">.*?</table>', html, re.S)
    assert fragments
    golden(f"{name}.{language}.html", "\n".join(fragments) + "\n", update_goldens)


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_golden_fhir_and_valid(name: str, update_goldens: bool) -> None:
    from fhir.resources.bundle import Bundle

    result = compiled(name)
    assert result.protocol is not None
    bundle = export_protocol(result.protocol, load()).bundle
    Bundle.parse_obj(json.loads(json.dumps(bundle)))
    golden(f"{name}.fhir.json", bundle, update_goldens)
    from tests.test_fhir import schema_errors, schema_path

    try:
        schema_path()
    except pytest.skip.Exception:
        return
    assert [e for entry in bundle["entry"] for e in schema_errors(entry["resource"])] == []


def test_fhir_maps_criteria_to_start_conditions_and_bands_to_dynamic_values() -> None:
    result = compiled("criteria")
    assert result.protocol is not None
    plan = export_protocol(result.protocol, load()).bundle["entry"][0]["resource"]
    starts = [c for c in plan["action"][0]["condition"] if c["kind"] == "start"]
    assert len(starts) == 7
    assert starts[0]["expression"]["expression"] == "\"ANC\" >= 1.5 '10*9/L'"
    result = compiled("modification")
    assert result.protocol is not None
    plan = export_protocol(result.protocol, load()).bundle["entry"][0]["resource"]
    table = next(a for a in plan["action"][0]["action"] if a["title"].startswith("Dose modification paclitaxel by ANC"))
    assert table["selectionBehavior"] == "exactly-one"
    lowest = table["action"][-1]
    assert lowest["dynamicValue"][0]["expression"]["expression"] == "135 'mg/m2'"
    assert lowest["definitionCanonical"].endswith("-drug-1")


def test_interval_longer_than_the_cycle_is_counted_per_interval() -> None:
    result = compiled("days")
    assert result.protocol is not None
    export = export_protocol(result.protocol, load())
    b12 = next(r for a, r in export.administrations if a.drug_id == "cyanocobalamin" and a.source.startswith("line"))
    assert b12["dosage"][0]["timing"]["repeat"]["count"] == 2  # 6 x 21 days = 126 days: days 1 and 64
    weekly = m.Frequency("every", 1, None, "week", "weekly", m.Span("", 1, 1, 1, 1))
    assert administrations(m.Phase(m.Span("", 1, 1, 1, 1)), weekly, m.Duration(21, "day", m.Span("", 1, 1, 1, 1)),
                           6) == 6  # unchanged: no day list, per-cycle count as before


# ---------------------------------------------------------------- the language


def test_egfr_is_kidney_function_and_EGFR_the_mutation() -> None:
    assert codes("# s\nwhen eGFR < 30:\n  Tekst.\nTekst.\nwhen EGFR+:\n  Tekst.\n") == []
    found = codes("# s\nwhen egfr < 30:\n  Tekst.\n")
    assert found == [(2, "L004")]


@pytest.mark.parametrize("unit", ["x10^9/L", "×10⁹/L", "10^9/L", "G/L", "x 10^9/L"])
def test_common_spellings_of_10_9_per_litre(unit: str) -> None:
    assert codes(f"# s\ncriteria before each cycle:\n  ANC >= 1.5 {unit}\n") == []


def test_a_unit_that_does_not_fit_is_L004() -> None:
    assert codes("# s\ncriteria before each cycle:\n  ANC >= 1.5 mmol/L\n  bilirubin <= 1.5\n"
                 "  neuropathy grade >= 5\n  PS <= 1 x ULN\n") == [(3, "L004"), (4, "L004"), (5, "L004"), (6, "L004")]


def test_a_row_that_does_not_parse_is_a_syntax_error_not_prose() -> None:
    found = codes("# s\ndose modification paclitaxel by ANC:\n  ANC is low: give less\n")
    assert (2, "P001") in found or (3, "P001") in found
    found = codes("# s\ncriteria before each cycle:\n  check the blood count\n")
    assert found == [(3, "L004")]  # read as a condition (an unknown one), never as unchecked prose


def test_prose_after_a_lab_block_stays_prose() -> None:
    text = ("# s\ncriteria before each cycle:\n  ANC >= 1.5 x10^9/L\n    query: source?\n"
            "Beschikbare medicijnen: paclitaxel.\n")
    result = compile_text("x.protocol", (HEAD.format(language="nl") + text).encode(), today=TODAY)
    assert result.protocol is not None
    assert isinstance(result.protocol.sections[0].items[1], m.Prose)


def test_negative_days_day_zero_and_relative_end_are_read() -> None:
    items = section_items(compiled("days"))
    folic = next(i for i in items if isinstance(i, m.DrugLine) and i.drug_id == "folic_acid")
    assert folic.phases[0].start_day == -7
    end = folic.phases[0].until_after
    assert end is not None and end.days() == 21 and end.drug_id == "pemetrexed"
    dexa = next(i for i in items if isinstance(i, m.DrugLine) and i.drug_id == "dexamethasone")
    assert dexa.phases[0].days is not None and dexa.phases[0].days.days == (-1, 1, 2)


def test_calendar_draws_day_zero_and_days_before_day_one() -> None:
    html = render_protocol(compiled("days", "nl"), load())
    calendar = next(t for t in re.findall(r'<table class="calendar.*?</table>', html, re.S)
                    if "<strong>dexamethason</strong>" in t)
    heads = re.findall(r'<span class="visually-hidden">Dag </span>(-?[0-9]+)</th>', calendar)
    assert heads[:3] == ["-1", "0", "1"]
    marks = re.findall(r"<td class=\"d on[ \"]", calendar)
    assert len(marks) == 3  # days −1, 1, 2 (twice daily is one mark a day); day 0 is a column without a mark


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_fmt_round_trips_the_constructs(name: str) -> None:
    text = HEAD.format(language="en") + CONSTRUCTS[name]
    first = format_text("x.protocol", text.encode())
    assert format_text("x.protocol", first.text.encode()).changed is False


def test_fmt_lowers_keywords_and_keeps_units() -> None:
    text = HEAD.format(language="en") + ("# s\nCriteria Before Each Cycle:\n  ANC ≥ 1.5 ×10⁹/L\n"
                                         "Dose Modification paclitaxel BY ANC:\n  >= 1.5: 100 %\n  < 1.5: Withhold\n")
    out = format_text("x.protocol", text.encode()).text
    assert "criteria before each cycle:\n  ANC >= 1.5 ×10⁹/L\n" in out
    assert "dose modification paclitaxel by ANC:\n  >= 1.5: 100%\n  < 1.5: withhold\n" in out


# ---------------------------------------------------------------- bands and resolution


PUBLISHED_GAP = """# s
drug paclitaxel 175 mg/m2 IV every 3 weeks, 6 cycles, infusion 180 min
  allow C006 "premedication on the standing order of the day unit"
dose modification paclitaxel by {variable} ({unit}):
  >= {high}: 100%
  {low} - {upper}: 75%
  < {low}: withhold
"""


def _gap_message(variable: str, unit: str, low: str, upper: str, high: str) -> list[str]:
    text = PUBLISHED_GAP.format(variable=variable, unit=unit, low=low, upper=upper, high=high)
    result = compile_text("x.protocol", (HEAD.format(language="en") + text).encode(), today=TODAY)
    return [d.message for d in result.diagnostics if d.code == "L007"]


def test_published_149_150_gap_is_caught_for_ANC_without_a_stated_resolution() -> None:
    messages = _gap_message("ANC", "x10^9/L", "1.0", "1.49", "1.5")
    assert messages == ["no row for ANC > 1.49 and < 1.5 ×10⁹/L"]


def test_a_gap_below_the_resolution_is_still_reported_and_says_so() -> None:
    # platelets are reported in whole 10^9/L: nothing reported falls between 99 and 100
    messages = _gap_message("platelets", "x10^9/L", "75", "99", "100")
    assert messages == ["no row for platelets > 99 and < 100 ×10⁹/L (no value reported at resolution 1 falls in it)"]
    # …but between 98 and 100 the value 99 is reported: a real gap
    messages = _gap_message("platelets", "x10^9/L", "75", "98", "100")
    assert messages == ["no row for platelets > 98 and < 100 ×10⁹/L"]


def test_resolution_decides_whether_a_reported_value_falls_in_the_gap() -> None:
    from decimal import Decimal

    from compiler.modification import _reportable
    from compiler.thresholds import Interval

    gap_149 = Interval(Decimal("1.49"), False, Decimal("1.5"), False)
    gap_14 = Interval(Decimal("1.4"), False, Decimal("1.5"), False)
    assert not _reportable(gap_149, Decimal("0.01"))
    assert _reportable(gap_14, Decimal("0.01"))
    assert _reportable(gap_149, None)


def test_overlapping_published_bands_are_an_error() -> None:
    found = codes("# s\ndrug paclitaxel 175 mg/m2 IV every 3 weeks, 6 cycles, infusion 180 min\n"
                  "  allow C006 \"premedication on the standing order of the day unit\"\n"
                  "dose modification paclitaxel by platelets (x10^9/L):\n"
                  "  >= 100: 100%\n  75 - 100: 75%\n  < 75: withhold\n")
    assert found == [(6, "L008")]


def test_docs_examples_of_this_chapter_exist() -> None:
    text = Path(ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    for words in ("criteria before each cycle:", "dose modification paclitaxel by ANC", "dose levels paclitaxel:",
                  "from day -7", "until 21 days after the last pemetrexed"):
        assert words in text


def test_worked_examples_of_the_new_chapters_check_without_errors() -> None:
    text = Path(ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    chapters = text[text.index("## 16. Laboratory values"):]
    blocks = re.findall(r"```protocol\n(.*?)```", chapters, re.S)
    assert len(blocks) >= 4
    for block in blocks:
        body = block if block.startswith("#") else "# Voorbeeld\n" + block
        result = compile_text("docs.protocol", (HEAD.format(language="nl") + body).encode(), today=TODAY)
        problems = [(d.code, d.message) for d in result.diagnostics
                    if d.acknowledged is None and d.severity.value in ("error", "warning") and d.code != "X006"]
        assert problems == [], block


def test_lab_data_is_sourced_and_well_formed() -> None:
    import datetime

    from compiler.labs import lab_specs, lab_variables

    tables = load()
    specs = lab_specs(tables)
    assert {"ANC", "platelets", "haemoglobin", "bilirubin", "ALT", "AST", "CrCl", "eGFR", "LVEF", "neuropathy",
            "diarrhoea", "mucositis", "hand-foot"} <= set(specs)
    for name, spec in specs.items():
        assert spec.get("source"), name
        assert isinstance(spec.get("last_verified"), (datetime.date, str)), name
        assert spec.get("scales"), name
    for lab in lab_variables(tables).values():
        assert sum(1 for s in lab.scales if s.default) <= 1, lab.name
        for scale in lab.scales:
            assert scale.low < scale.high, lab.name
            assert scale.resolution is None or scale.resolution > 0, lab.name
        if lab.grade:
            assert lab.kind == "integer" and lab.scales[0].high <= 4, lab.name
    # no lab name may shadow a condition variable except by case (eGFR / EGFR)
    conditions = {n.lower(): n for n in (tables.conditions.get("variables") or {})}
    for name in specs:
        assert name.lower() not in conditions or (specs[name].get("case_sensitive") and conditions[name.lower()] != name)


def test_a_dose_level_above_the_label_maximum_is_D024() -> None:
    found = codes("# s\ndrug docetaxel 75 mg/m2 IV every 3 weeks, 6 cycles, infusion 60 min\n"
                  "dose levels docetaxel:\n  level 0: 750 mg/m2\n  level -1: 60 mg/m2\n")
    assert (4, "D024") in found and (4, "D023") in found


def test_dutch_keywords_of_the_blocks() -> None:
    text = ("# s\ndrug paclitaxel 175 mg/m2 IV every 3 weeks, 6 cycles, infusion 180 min\n"
            "  allow C006 \"premedicatie volgens de staande order\"\n"
            "voorwaarden voor elke kuur:\n  neutrofielen >= 1,5 x10^9/L\n"
            "dosisniveaus paclitaxel:\n  niveau 0: 175 mg/m2\n  niveau -1: 150 mg/m2\n"
            "dosisaanpassing paclitaxel volgens ANC (x10^9/L):\n  >= 1,5: 100%\n  1 to < 1,5: uitstel 1 week\n"
            "  < 1: niveau -1\n")
    result = compile_text("x.protocol", (HEAD.format(language="nl") + text).encode(), today=TODAY)
    assert [d.code for d in result.diagnostics if d.acknowledged is None] == []
    assert result.protocol is not None
    kinds = [type(i).__name__ for i in result.protocol.sections[0].items]
    assert kinds == ["DrugLine", "Criteria", "DoseLevels", "DoseModification"]


# ---------------------------------------------------------------- QTc, T and N categories (sheets14)


def test_qtc_in_ms_in_criteria_and_dose_modification_tables() -> None:
    text = ("# s\ndrug ribociclib 600 mg po daily, 21 days on, 7 days off, of a 28-day cycle until progression\n"
            "  only with letrozole\n"
            "drug letrozole 2.5 mg po daily\n"
            "only when QTcF < 450 ms\n"
            "dose levels ribociclib:\n  level 0: 600 mg\n  level -1: 400 mg\n"
            "dose modification ribociclib by QTc (ms):\n  QTc <= 480: 100%\n"
            "  QTc > 480 to <= 500: withhold then 100%\n  QTc > 500: withhold then level -1\n")
    found = [code for _, code in codes(text) if code.startswith(("L", "P", "D02"))]
    assert found == []


@pytest.mark.parametrize(("text", "expected"), [
    ("# s\ncriteria before each cycle:\n  QTc < 450 msec\n", []),
    ("# s\ncriteria before each cycle:\n  QTc < 450 mmol/L\n", [(3, "L004")]),  # not a QTc unit
    ("# s\ncriteria before each cycle:\n  QTc < 4500 ms\n", [(3, "L004")]),  # outside the domain
])
def test_qtc_unit_and_domain(text: str, expected: list[tuple[int, str]]) -> None:
    assert codes(text) == expected


@pytest.mark.parametrize("condition", ["T3-T4 or N+", "T3 and N0", "T stage = T2 and N stage = N0",
                                       "T-stage = T4 or N-stage = N1", "N+ or T4", "node-positive"])
def test_t_and_n_categories_are_condition_variables(condition: str) -> None:
    assert codes(f"# s\nwhen {condition}:\n  Tekst.\n") == []


def test_t_and_n_categories_are_checked() -> None:
    assert codes("# s\nwhen T5:\n  Tekst.\n") == [(2, "L004")]
    # N+ covers N1-N3: a branch for N2 under `only when N0` can never be taken
    assert (3, "L003") in codes("# s\nonly when N0\nwhen N2:\n  Tekst.\n")


def test_egfr_stays_unambiguous_next_to_the_new_variables() -> None:
    """`eGFR` (kidney) and `EGFR` (mutation) are still told apart by case with QTc and TNM added."""
    assert codes("# s\nwhen eGFR < 30 and N+:\n  Tekst.\nTekst.\nwhen EGFR+ and T3-T4:\n  Tekst.\n") == []
    assert codes("# s\nwhen EGFR < 30:\n  Tekst.\n") == [(2, "L004")]  # the mutation has no numeric value
    assert codes("# s\nwhen egfr < 30:\n  Tekst.\n") == [(2, "L004")]


def test_t_and_n_categories_in_fhir_applicability() -> None:
    text = "# s\nonly when T3-T4 or N+\nPostmastectomy radiotherapy per the RT protocol.\n"
    result = compile_text("x.protocol", (HEAD.format(language="en") + text).encode(), today=TODAY)
    assert result.protocol is not None and not result.errors
    bundle = json.dumps(export_protocol(result.protocol, load()).bundle)
    # one CQL name per concept: the category variable and the value the flag stands for
    assert '(\\"T stage\\" = \'T3-T4\') or (\\"N stage\\" = \'N+\')' in bundle
