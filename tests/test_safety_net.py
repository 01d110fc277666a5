"""Issue 11 property: no dose reaches a page unchecked.

For every drug of the formulary with a dose row, ten times its highest usual dose is an
error wherever it is written: on a structured `drug` line (a D-family error: above the
hard maximum, or five times the usual maximum, whatever the row's verification state),
in a bullet and in a sentence (N030: a dose in prose is not checked).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from compiler import dosing
from compiler.pipeline import compile_text
from compiler.resolve import resolve_drug
from compiler.tables import load, normalise
from tests.conftest import ROOT, TODAY

HEAD = """id: property
title: Property
version: 1.0
status: draft
language: en
owner: Oncology
author: Pharmacy
next review: 2028-11-23
scope: Property test
reference: protocolc test suite

# Treatment
"""


def _dosed_drugs() -> list[str]:
    tables = load()
    return sorted(d for d in tables.drugs if any(r.usual is not None for r in dosing.dose_rows(tables, d)))


def _tenfold(drug_id: str) -> tuple[str, str, str]:
    tables = load()
    rows = [r for r in dosing.dose_rows(tables, drug_id) if r.usual is not None]
    first = rows[0]
    same = [r for r in rows if r.unit == first.unit and r.route == first.route]
    assert all(r.usual is not None for r in same)
    high = max(r.usual[1] for r in same if r.usual is not None) * 10
    amount = dosing.plain(high.quantize(Decimal("0.01")).normalize())
    dose = f"AUC {amount}" if first.unit == "AUC" else f"{amount} {first.unit}"
    return dose, first.route, _written_name(drug_id)


def _written_name(drug_id: str) -> str:
    """A name of the drug that the language reads as a drug name and that resolves to it."""
    tables = load()
    entry = tables.drugs[drug_id]
    candidates = [*(entry.get("names") or {}).values(), *(entry.get("aliases") or [])]
    for name in (str(c) for c in candidates):
        if re.fullmatch(r"[A-Za-z][A-Za-z' -]*", name) and resolve_drug(name, tables)[0] == drug_id:
            return name
    brands = [str(b) for b in entry.get("brands") or []]
    if brands:  # a product named by its group's generic and its brand: `denosumab (Xgeva)`
        return f"{tables.drug_name(drug_id, 'en').split()[0]} ({brands[0]})"
    return tables.drug_name(drug_id, "en")


@pytest.mark.parametrize("drug_id", _dosed_drugs())
def test_tenfold_dose_is_an_error_everywhere(drug_id: str) -> None:
    dose, route, name = _tenfold(drug_id)
    text = HEAD + f"drug {name} {dose} {route}\n- {name} {dose} {route} daily\n{name.capitalize()} {dose} per day.\n"
    result = compile_text("property.protocol", text.encode(), TODAY)
    errors = {(d.span.line, d.code) for d in result.diagnostics if d.severity.value == "error" and d.acknowledged is None}
    structured, bullet, sentence = 13, 14, 15
    assert any(line == structured and code.startswith("D") for line, code in errors), (text, errors)
    assert (bullet, "N030") in errors, (text, errors)
    assert (sentence, "N030") in errors, (text, errors)


def test_every_alias_brand_and_abbreviation_is_the_same_substance() -> None:
    """Identity is never changed: a name in the formulary maps to a drug of its own substance (ATC 5th level)."""
    from compiler.checks.formulary import drug_atc, substance_codes

    tables = load()
    substances = substance_codes()
    wrong: list[str] = []
    for drug_id, entry in tables.drugs.items():
        own = drug_atc(drug_id)
        names = [*(entry.get("names") or {}).values(), *(entry.get("aliases") or []), *(entry.get("brands") or []),
                 *(entry.get("abbreviations") or [])]
        for name in names:
            code = substances.get(normalise(str(name)))
            if code is not None and own is not None and code != own:
                wrong.append(f"{name} → {drug_id}: {code} is not {own}")
            hit = tables.names.get(normalise(str(name)))
            if hit is not None and hit.how != "abbreviation" and drug_id not in hit.drug_ids:
                wrong.append(f"{name} is listed under {drug_id} but resolves to {hit.drug_ids}")
    for entry in tables.abbreviations:  # abbreviations.yaml is authoritative for jargon: hold it to the same rule
        code = substances.get(normalise(str(entry.get("text", ""))))
        for meant in (str(x) for x in entry.get("means") or [] if str(x) in tables.drugs):
            own = drug_atc(meant)
            if code is not None and own is not None and code != own:
                wrong.append(f"{entry.get('text')} → {meant}: {code} is not {own}")
    assert not wrong, wrong


def test_hydroxocobalamin_is_not_cyanocobalamin() -> None:
    tables = load()
    hit = tables.names.get("hydroxocobalamin")
    assert hit is None or "cyanocobalamin" not in hit.drug_ids


# ---------------------------------------------------------------- release gate

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "NO_COLOR": "1"})


def _sheet_with_a_warning(tmp_path: Path, allow: str = "") -> Path:
    book = tmp_path / "protocols"
    book.mkdir()
    source = book / "mpa.protocol"
    text = HEAD.replace("id: property", "id: mpa").replace("reference: protocolc test suite",
                                                         "reference: protocolc test suite\nchange note: eerste versie")
    # 250 mg a day is below the usual 400-1500 mg: D003, a warning
    source.write_text(text + "drug medroxyprogesterone acetate 250 mg po daily\n" + allow, encoding="utf-8")
    return source


def test_release_refuses_an_unacknowledged_warning(tmp_path: Path) -> None:
    source = _sheet_with_a_warning(tmp_path)
    result = _cli("release", str(source), "--approver", "Comité", "--no-pdf", "--today", "2026-11-23")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "D003" in result.stdout and "blocks release" in result.stdout
    assert not (tmp_path / "protocols" / "RELEASES.jsonl").exists()


def test_release_accepts_a_warning_with_a_recorded_reason(tmp_path: Path) -> None:
    source = _sheet_with_a_warning(tmp_path)
    result = _cli("release", str(source), "--approver", "Comité", "--no-pdf", "--today", "2026-11-23",
                  "--accept", "D003", "lage dosis volgens lokaal protocol X")
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / "protocols" / "RELEASES.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert "accepted at release: D003 line 14: lage dosis volgens lokaal protocol X" in record["note"]


def test_release_accepts_a_warning_acknowledged_in_the_source(tmp_path: Path) -> None:
    source = _sheet_with_a_warning(tmp_path, '  allow D003 "lage dosis volgens lokaal protocol X"\n')
    result = _cli("release", str(source), "--approver", "Comité", "--no-pdf", "--today", "2026-11-23")
    assert result.returncode == 0, result.stdout + result.stderr


def test_release_refuses_an_accept_without_a_reason(tmp_path: Path) -> None:
    source = _sheet_with_a_warning(tmp_path)
    result = _cli("release", str(source), "--approver", "Comité", "--no-pdf", "--today", "2026-11-23",
                  "--accept", "D003", " ")
    assert result.returncode == 2 and "needs a code and a reason" in result.stderr


# ---------------------------------------------------------------- soft and hard limits

def _findings(body: str) -> list[tuple[int, str, str, str]]:
    result = compile_text("limits.protocol", (HEAD + body).encode(), TODAY)
    return [(d.span.line, d.code, d.severity.value, d.message) for d in result.diagnostics if d.acknowledged is None]


def _unverified_hard_maximum() -> tuple[str, str, str, Decimal, Decimal] | None:
    """A drug, route and unit whose rows are all unverified with a hard maximum: (name, route, unit, max, usual max)."""
    tables = load()
    for drug_id in _dosed_drugs():
        rows = dosing.dose_rows(tables, drug_id)
        for first in rows:
            same = [r for r in rows if r.route == first.route and r.unit == first.unit]
            if first.unit in ("mg", "mg/m2", "mg/kg") and all(r.unverified and r.max is not None and r.usual for r in same):
                hard = max(r.max for r in same if r.max is not None)
                usual = max(r.usual[1] for r in same if r.usual is not None)
                if hard * Decimal("1.5") < usual * 5:
                    return _written_name(drug_id), first.route, first.unit, hard, usual
    return None


def test_a_borderline_dose_on_an_unverified_row_is_softened_and_says_so() -> None:
    found_row = _unverified_hard_maximum()
    if found_row is None:
        pytest.skip("every row with a hard maximum is verified: nothing is softened any more")
    name, route, unit, hard, _ = found_row
    dose = dosing.plain((hard * Decimal("1.5")).normalize())
    found = [f for f in _findings(f"drug {name} {dose} {unit} {route}\n") if f[1] == "D002"]
    assert found and found[0][2] == "warning" and "softened" in found[0][3], found


def test_a_gross_dose_on_an_unverified_row_is_an_error() -> None:
    found_row = _unverified_hard_maximum()
    if found_row is None:
        pytest.skip("every row with a hard maximum is verified")
    name, route, unit, hard, _ = found_row
    dose = dosing.plain((hard * 2).normalize())
    found = [f for f in _findings(f"drug {name} {dose} {unit} {route}\n") if f[1] == "D002"]
    assert found and found[0][2] == "error" and "softened" not in found[0][3], found


def test_severity_rule() -> None:
    from compiler.checks.dosed import is_gross, softened_severity
    from compiler.diagnostics import Severity

    assert softened_severity(Severity.ERROR, unverified=True) is Severity.WARNING
    assert softened_severity(Severity.ERROR, unverified=True, gross=True) is Severity.ERROR
    assert softened_severity(Severity.ERROR, unverified=False) is Severity.ERROR
    assert is_gross(Decimal(2), Decimal(1), None) and not is_gross(Decimal("1.9"), Decimal(1), None)
    assert is_gross(Decimal(5), None, Decimal(1)) and not is_gross(Decimal("4.9"), None, Decimal(1))


def test_every_zero_days_is_not_printed_as_daily() -> None:
    from compiler import model as m
    from compiler.render.words import frequency
    from compiler.source import Span

    zero = m.Frequency("every", 0, None, "day", "every 0 days", Span("", 0, 0, 0, 0))
    assert frequency(zero, "nl") == "elke 0 dagen"
    assert frequency(zero, "en") == "every 0 days"
