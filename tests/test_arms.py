"""The arm rule (compiler.arms): which drug statements are given together, and who for."""

from __future__ import annotations

from pathlib import Path

from compiler import arms as a
from compiler import model as m
from compiler.pipeline import compile_text
from compiler.tables import load
from tests.conftest import FIXTURES, TODAY

HEADER = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11]) + "\n\n"


def layout_of(body: str) -> a.Layout:
    result = compile_text("arms.protocol", (HEADER + body).encode(), TODAY)
    assert result.protocol is not None and result.source is not None
    return a.layout(result.protocol, load(), result.source)


def together(lay: a.Layout) -> set[frozenset[str]]:
    return {frozenset((x.drug_id or "?", y.drug_id or "?")) for x, y in lay.pairs()}


def test_regimen_drugs_are_one_arm_even_as_bullets() -> None:
    lay = layout_of('# H\nregimen "x"\n  - drug letrozole 2,5 mg po daily\n  - drug palbociclib 125 mg po daily\n')
    assert frozenset(("letrozole", "palbociclib")) in together(lay)


def test_sibling_bullets_are_alternatives() -> None:
    lay = layout_of("# H\nAI:\n  - drug letrozole 2,5 mg po daily\n  - drug anastrozole 1 mg po daily\n")
    assert not together(lay)


def test_bare_lines_in_a_block_are_together_and_join_each_bullet() -> None:
    lay = layout_of("# H\nPremenopauzaal:\n  drug goserelin 3,6 mg subcut every 4 weeks\n"
                    "  - drug letrozole 2,5 mg po daily\n  - drug anastrozole 1 mg po daily\n")
    pairs = together(lay)
    assert frozenset(("goserelin", "letrozole")) in pairs
    assert frozenset(("goserelin", "anastrozole")) in pairs
    assert frozenset(("letrozole", "anastrozole")) not in pairs


def test_section_level_lines_are_independent() -> None:
    lay = layout_of("# H\ndrug letrozole 2,5 mg po daily\ndrug anastrozole 1 mg po daily\n")
    assert not together(lay)


def test_nested_decision_is_an_alternative_to_sibling_bullets() -> None:
    lay = layout_of("# H\nwhen PS <= 1:\n  - regimen pembrolizumab\n  decision: histologie\n"
                    "    when squamous:\n      regimen carboplatin-paclitaxel-pembrolizumab\n")
    pairs = together(lay)
    assert frozenset(("carboplatin", "paclitaxel")) in pairs  # inside the library regimen
    members = {mb.regimen.name.value for mb in lay.members if mb.regimen is not None}
    assert members == {"pembrolizumab", "carboplatin-paclitaxel-pembrolizumab"}
    first = next(mb for mb in lay.members if mb.regimen and mb.regimen.name.value == "pembrolizumab")
    other = next(mb for mb in lay.members if mb.drug_id == "carboplatin")
    assert not lay.together(first.node, other.node)


def test_constraints_give_companions_with_or_and() -> None:
    lay = layout_of("# H\nCDK:\n  only with aromataseremmer or fulvestrant\n"
                    "  - drug palbociclib 125 mg po daily, days 1-21, cycle 28 days until progression\n")
    arm = next(lay.arms())
    assert len(arm.companions) == 1
    group = arm.companions[0]
    assert group.any_of
    assert [t.target_id for t in group.targets] == ["class:aromatase_inhibitor", "fulvestrant"]


def test_conditions_three_valued() -> None:
    lay = layout_of("# Voorwaarden\nexclude when (EGFR+ or ALK+) and line = 1\n\n# Eerste lijn\n"
                    "when PD-L1 TPS >= 50%:\n  drug pembrolizumab 200 mg IV every 3 weeks, infusion 30 min\n")
    arm = next(lay.arms())
    tables = load()
    assert not a.admits(arm.conditions, {"EGFR": "positive", "line": 1}, tables)  # eligibility is global
    assert a.admits(arm.conditions, {"EGFR": "positive", "line": 2}, tables)
    assert a.admits(arm.conditions, {"EGFR": "negative"}, tables)  # PD-L1 unknown: admitted


def test_otherwise_is_none_of_its_siblings() -> None:
    lay = layout_of("# H\ndecision: menopauze\n  when postmenopausal:\n    drug letrozole 2,5 mg po daily\n"
                    "  otherwise:\n    drug tamoxifen 20 mg po daily\n")
    tamoxifen = next(arm for arm in lay.arms() if arm.focus.drug_id == "tamoxifen")
    assert not a.admits(tamoxifen.conditions, {"menopause": "post"}, load())
    assert a.entails(tamoxifen.conditions, "menopause", "post", load()) is False


def test_renal_dose_rows_nested_under_the_line_inherit_the_schedule() -> None:
    body = ("# H\nZoledroninezuur:\n  drug zoledronic acid 4 mg IV every 4 weeks, infusion at least 15 min\n"
            "    when CrCl >= 50 and CrCl <= 60:\n      drug zoledronic acid 3,5 mg IV\n")
    result = compile_text("arms.protocol", (HEADER + body).encode(), TODAY)
    codes = {d.code for d in result.diagnostics}
    assert not codes & {"S001", "S006", "S008"}


def test_a_sibling_line_lends_no_schedule() -> None:
    """Issue 11: a line of the same drug beside this one never lends its interval or infusion time."""
    body = ("# H\nZoledroninezuur:\n  drug zoledronic acid 4 mg IV every 4 weeks, infusion at least 15 min\n"
            "  when CrCl >= 50 and CrCl <= 60:\n    drug zoledronic acid 3,5 mg IV\n")
    result = compile_text("arms.protocol", (HEADER + body).encode(), TODAY)
    assert any(d.code == "S001" and d.span.line == HEADER.count("\n") + 5 for d in result.diagnostics)


def test_shipped_nsclc_first_line_excludes_egfr() -> None:
    path = Path(__file__).resolve().parent.parent / "protocols" / "longkanker" / "nsclc-immuuntherapie.protocol"
    result = compile_text(str(path), path.read_bytes(), TODAY)
    assert not [d for d in result.diagnostics if d.code == "C005"]
    assert result.protocol is not None
    assert any(isinstance(i, m.ExcludeWhen) for i in result.protocol.all_items())
