"""A single-line mutation that makes a shipped protocol clinically wrong is an error at that line.

Each mutation finds its line by content (so reformatting the shipped sheets does not break
the test), applies one edit, and expects an unacknowledged error of the given code on the
mutated line (or, for a deleted companion statement, on the line it applied to).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from compiler.pipeline import compile_text
from tests.conftest import ROOT, TODAY

EMMAUS = ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol"
TARGETED = ROOT / "protocols" / "borst" / "doelgerichte-therapie-borstkanker.protocol"
NSCLC = ROOT / "protocols" / "longkanker" / "nsclc-immuuntherapie.protocol"


@dataclass(frozen=True)
class Mutation:
    name: str
    path: object
    find: str
    old: str
    new: str
    code: str
    at: str | None = None  # content of the line the error is expected on, when not the mutated one


MUTATIONS = [
    Mutation("dose x10", EMMAUS, "drug letrozole (Femara)", "2,5 mg", "25 mg", "D002"),
    Mutation("dose x10 tamoxifen", EMMAUS, "drug tamoxifen (Nolvadex)", "20 mg", "200 mg", "D002"),
    Mutation("route swap", EMMAUS, "drug fulvestrant (Faslodex)", " IM ", " po ", "F005"),
    Mutation("route swap IV to po", TARGETED, "drug pertuzumab (Perjeta)", " IV ", " po ", "F005"),
    Mutation("dropped companion", TARGETED, "only with trastuzumab", "only with trastuzumab", "", "C001",
             at="drug pertuzumab (Perjeta)"),
    Mutation("day outside the cycle", TARGETED, "drug palbociclib (Ibrance)", "days 1-21", "days 1-29", "S002"),
    Mutation("wrong fractionation total", EMMAUS, "rt 5 x 4 Gy = 20 Gy site bot", "= 20 Gy", "= 25 Gy", "R001"),
    Mutation("overlapping threshold", NSCLC, "when PD-L1 TPS < 50%:", "< 50%", "< 60%", "L001",
             at="when PD-L1 TPS"),
    Mutation("interval not allowed", NSCLC, "drug pembrolizumab", "every 3 weeks", "every 6 weeks", "S003"),
    # issue 11: no dose reaches a page unchecked
    Mutation("dose in a sentence", EMMAUS, "Tamoxifen:", "Tamoxifen:", "Tamoxifen 200 mg per dag.", "N030"),
    Mutation("dose in a bullet", EMMAUS, "drug letrozole (Femara)", "drug letrozole (Femara) 2,5 mg",
             "letrozole (Femara) 25 mg", "N030"),
    Mutation("zero-width space before drug", EMMAUS, "drug tamoxifen (Nolvadex)", "- drug", "- \u200bdrug", "P011"),
    Mutation("bidi override in a drug line", EMMAUS, "drug tamoxifen (Nolvadex)", "20 mg", "20 mg\u202e", "P011"),
    # gross overdoses are errors whatever the data row's verification state
    Mutation("anastrozole 10 mg", EMMAUS, "drug anastrozole (Arimidex)", "1 mg", "10 mg", "D002"),
    Mutation("exemestane 250 mg", EMMAUS, "drug exemestane (Aromasin)", "25 mg", "250 mg", "D002"),
    Mutation("fulvestrant 5000 mg", EMMAUS, "drug fulvestrant (Faslodex)", "500 mg IM days", "5000 mg IM days", "D002"),
    Mutation("everolimus 100 mg", TARGETED, "drug everolimus (Afinitor)", "10 mg", "100 mg", "D002"),
    Mutation("trastuzumab emtansine 36 mg/kg", TARGETED, "drug trastuzumab emtansine (Kadcyla) 3,6 mg/kg IV every 3 "
             "weeks, 14 cycles", "3,6 mg/kg", "36 mg/kg", "D002"),
    Mutation("ibandronic acid 50 mg IV", EMMAUS, "drug ibandronic acid (Bondronat) 6 mg IV", "6 mg IV", "50 mg IV",
             "D002"),
    Mutation("capecitabine flat", TARGETED, "drug capecitabine (Xeloda)", "1000 mg/m2", "1000 mg", "D004"),
    Mutation("medroxyprogesterone syrup 10 g a day", EMMAUS, "drug medroxyprogesterone acetate (Provera) po daily, syrup",
             "(Provera) po daily", "(Provera) 100 mL po daily", "D002"),
    Mutation("doxorubicin cumulative 136 %", EMMAUS, 'regimen "doxorubicin q3w"', '"doxorubicin q3w"',
             '"doxorubicin q3w" 10 cycles', "D011"),
    Mutation("zoledronic acid 10x in a renal branch", EMMAUS, "drug zoledronic acid 3,5 mg IV", "3,5 mg", "35 mg",
             "D002"),
    Mutation("letrozole twice daily", EMMAUS, "drug letrozole (Femara)", "po daily", "po twice daily", "D006"),
    Mutation("every 0 days", EMMAUS, "drug tamoxifen (Nolvadex)", "po daily", "po every 0 days", "S009"),
    # everything written is checked
    Mutation("daily methotrexate", EMMAUS, 'regimen "metronomic cyclophosphamide-methotrexate"',
             '"metronomic cyclophosphamide-methotrexate"', '"metronomic cyclophosphamide-methotrexate" daily', "S010"),
    Mutation("weekly doxorubicin daily", EMMAUS, 'regimen "doxorubicin low-dose weekly"',
             '"doxorubicin low-dose weekly"', '"doxorubicin low-dose weekly" daily', "S010"),
    Mutation("pembrolizumab q6w beyond two years", NSCLC, 'regimen "pembrolizumab 400 mg q6w"',
             '"pembrolizumab 400 mg q6w"', '"pembrolizumab 400 mg q6w" 19 cycles', "S010"),
    Mutation("no interval borrowed from a sibling", EMMAUS, "drug zoledronic acid 3,5 mg IV",
             " every 3-4 weeks, infusion at least 15 min", "", "S001"),
    # content over words
    Mutation("only with aromataseremmer beside tamoxifen", TARGETED, "drug letrozole (Femara) 2,5 mg po daily, tablet",
             "letrozole (Femara) 2,5 mg", "tamoxifen (Nolvadex) 20 mg", "C009"),
    Mutation("preferably with does not satisfy", TARGETED, "only with trastuzumab", "only with", "preferably with",
             "C001", at="drug pertuzumab (Perjeta)"),
    Mutation("trastuzumab under HER2-", TARGETED, "only when HER2+", "HER2+", "HER2-", "C008", at="drug trastuzumab"),
    # identity never changed; catalogue
    Mutation("name of another substance", EMMAUS, "drug tamoxifen (Nolvadex)", "(Nolvadex)", "(hydroxocobalamin)",
             "F008"),
    Mutation("MgSO4 in prose", EMMAUS, "Tamoxifen:", "Tamoxifen:", "MgSO4 bij kramp:", "N005"),
    Mutation("ambiguous regimen jargon", EMMAUS, 'regimen "doxorubicin q3w"', '"doxorubicin q3w"', '"TC weekly"',
             "F003"),
    # approval gate
    Mutation("approved with open queries", EMMAUS, "status: review", "review", "approved", "V010", at="query:"),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_mutation_is_an_error_at_its_line(mutation: Mutation) -> None:
    path = mutation.path
    lines = path.read_text(encoding="utf-8").split("\n")  # type: ignore[attr-defined]
    index = next(i for i, line in enumerate(lines) if mutation.find in line)
    assert mutation.old in lines[index]
    lines[index] = lines[index].replace(mutation.old, mutation.new)
    if not lines[index].strip():
        del lines[index]
    before = compile_text(str(path), path.read_bytes(), TODAY)  # type: ignore[attr-defined]
    assert not [d for d in before.diagnostics if d.severity.value == "error"]
    after = compile_text(str(path), "\n".join(lines).encode(), TODAY)
    errors = [(d.span.line, d.code) for d in after.diagnostics
              if d.severity.value == "error" and d.acknowledged is None]
    if mutation.at is None:
        expected_lines = {index + 1}
    else:
        expected_lines = {i + 1 for i, line in enumerate(lines) if mutation.at in line}
    assert any(code == mutation.code and line in expected_lines for line, code in errors), errors
