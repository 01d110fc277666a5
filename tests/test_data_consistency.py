"""Data consistency: every library regimen drug dose lies in the formulary's dose rows.

Doses in a protocol's drug lines are the protocol's (the D checks judge them); doses in
`regimens.yaml` are data and must agree with `formulary.yaml` for the same product,
route, unit and schedule. A regimen marked `unverified: true` is reported only when its
note does not say why; a mismatch in a verified regimen fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from compiler import dosing
from compiler.tables import load

TABLES = load()


def regimen_doses() -> Iterator[tuple[str, str, Mapping[str, Any], int | None]]:
    """(regimen id, where, drug entry, cycle days) for every drug of every library regimen, phases included."""
    for regimen_id, entry in TABLES.regimens.items():
        cycle = entry.get("cycle_days")
        for drug in entry.get("drugs") or []:
            yield regimen_id, "drugs", drug, cycle
        for phase in entry.get("phases") or []:
            for drug in phase.get("drugs") or []:
                yield regimen_id, f"phase {phase.get('name')}", drug, cycle


def mismatch(drug: Mapping[str, Any], cycle: int | None) -> str | None:
    """Why a regimen drug dose does not fit the formulary, or None."""
    drug_id = str(drug.get("drug"))
    if drug_id not in TABLES.drugs:
        return f"unknown drug {drug_id}"
    rows = dosing.dose_rows(TABLES, drug_id)
    dose = drug.get("dose")
    if dose is None or not rows:
        return None
    values = [dosing.dec(x) for x in (dose if isinstance(dose, list) else [dose])]
    schedule = dosing.schedule_of_regimen_drug(drug, cycle)
    match = dosing.lookup(rows, str(drug.get("route")), str(drug.get("unit")), schedule)
    shown = f"{'-'.join(dosing.plain(v) for v in values)} {drug.get('unit')} {drug.get('route')}"
    if match.how == "none":
        return f"{drug_id} {shown}: no formulary row for route {drug.get('route')} and unit {drug.get('unit')}"
    if match.how == "unmatched":
        return (f"{drug_id} {shown}: no formulary row with a compatible schedule "
                f"({', '.join(r.describe() for r in match.rows)})")
    for value in values:
        if not match.within_usual(value):
            return f"{drug_id} {shown}: {dosing.plain(value)} outside the usual {', '.join(r.describe() for r in match.rows)}"
        if match.hard_max is not None and value > match.hard_max:
            return f"{drug_id} {shown}: {dosing.plain(value)} above the maximum {dosing.plain(match.hard_max)}"
    loading = drug.get("loading")
    if isinstance(loading, dict) and loading.get("dose") is not None:
        formulary = (TABLES.drugs[drug_id].get("loading") or {})
        allowed = {dosing.dec(p["dose"]) for p in [formulary, *(formulary.get("alternatives") or [])] if p.get("dose") is not None}
        if dosing.dec(loading["dose"]) not in allowed:
            return f"{drug_id} loading {loading['dose']} {loading.get('unit')}: formulary loading doses {sorted(allowed)}"
    return None


CASES = [(r, where, d, c) for r, where, d, c in regimen_doses()]


@pytest.mark.parametrize(("regimen_id", "where", "drug", "cycle"), CASES,
                         ids=[f"{r}:{w}:{d.get('drug')}" for r, w, d, _ in CASES])
def test_regimen_dose_in_formulary_range(regimen_id: str, where: str, drug: Mapping[str, Any], cycle: int | None) -> None:
    problem = mismatch(drug, cycle)
    if problem is None:
        return
    entry = TABLES.regimens[regimen_id]
    if entry.get("unverified"):
        pytest.skip(f"{regimen_id} ({where}) is marked unverified: {problem}")
    pytest.fail(f"regimen {regimen_id} ({where}): {problem}")


def test_calvert_parameters_are_sourced() -> None:
    parameters = dosing.calvert_parameters(TABLES)
    assert parameters is not None and parameters.source
    assert dosing.calvert_cap(Decimal(1), parameters) == parameters.gfr_cap + parameters.gfr_offset


def test_every_dose_row_has_source_and_review_date() -> None:
    for drug_id, entry in TABLES.drugs.items():
        for row in entry.get("doses") or []:
            assert row.get("source"), f"{drug_id}: dose row without source"
            assert row.get("last_verified"), f"{drug_id}: dose row without last_verified"
            assert "unverified" in row, f"{drug_id}: dose row without an unverified flag"
            usual = row.get("usual")
            if usual and row.get("max") is not None:
                assert dosing.dec(usual[1]) <= dosing.dec(row["max"]), f"{drug_id}: usual above max"


# ======================================================================================
# data-support (issue 13): supportive care — antiemetics, premedication, vitamins, G-CSF,
# protectants, electrolytes and fluids. Every row of these drugs is sourced, typed,
# sectioned and dated; a row still unverified says why in its note.
# ======================================================================================

SUPPORTIVE_DRUGS = (
    "ondansetron", "granisetron", "palonosetron", "aprepitant", "fosaprepitant", "netupitant_palonosetron",
    "olanzapine", "metoclopramide", "domperidone", "cyclizine", "dexamethasone", "methylprednisolone",
    "prednisolone", "hydrocortisone", "clemastine", "chlorphenamine", "cetirizine", "famotidine", "filgrastim", "pegfilgrastim",
    "folic_acid", "cyanocobalamin", "hydroxocobalamin", "mesna", "calcium_folinate", "dexrazoxane", "allopurinol",
    "loperamide", "magnesium_sulfate", "magnesium_oral", "potassium_chloride", "calcium_vitamin_d",
    "sodium_chloride_infusion", "glucose_infusion",
)
SOURCE_TYPES = {"smpc", "us-label", "guideline", "trial", "seed", "local"}
SUPPORTIVE_CLASSES = ("antiemetic", "antiemetic_5ht3", "nk1_antagonist", "antiemetic_dopamine_antagonist",
                      "antiemetic_other", "h1_antihistamine", "h2_antagonist", "vitamin_b12", "cytoprotectant",
                      "xanthine_oxidase_inhibitor", "antidiarrhoeal", "electrolyte", "infusion_fluid")


@pytest.mark.parametrize("drug_id", SUPPORTIVE_DRUGS)
def test_supportive_rows_are_sourced_typed_sectioned_and_dated(drug_id: str) -> None:
    entry = TABLES.drugs[drug_id]
    for number, row in enumerate(entry.get("doses") or []):
        where = f"{drug_id} row {number}"
        assert row.get("source"), f"{where}: no source"
        assert row.get("source_type") in SOURCE_TYPES, f"{where}: source_type {row.get('source_type')!r}"
        assert row.get("section"), f"{where}: no section"
        assert row.get("last_verified"), f"{where}: no last_verified"
        assert "unverified" in row, f"{where}: no unverified flag"
        if row["unverified"]:
            assert row.get("note"), f"{where}: unverified without a note saying why"
        usual = row.get("usual")
        assert usual and dosing.dec(usual[0]) <= dosing.dec(usual[1]), f"{where}: usual range"
        if row.get("max") is not None:
            assert dosing.dec(usual[1]) <= dosing.dec(row["max"]), f"{where}: usual above max"
        if row.get("max_daily") is not None and row.get("max") is not None:
            assert dosing.dec(row["max"]) <= dosing.dec(row["max_daily"]), f"{where}: max above max_daily"
    if not entry.get("doses"):
        assert entry.get("doses_note"), f"{drug_id}: no dose rows and no note saying why"


def test_supportive_drugs_have_atc_codes_and_supportive_classes() -> None:
    import yaml

    from compiler.tables import DATA_DIR

    atc = yaml.safe_load((DATA_DIR / "atc.yaml").read_text(encoding="utf-8"))["drugs"]
    for drug_id in SUPPORTIVE_DRUGS:
        assert drug_id in atc or TABLES.drugs[drug_id].get("atc_note"), f"{drug_id}: no ATC code and no note why"
        assert "supportive_care" in TABLES.drug_classes(drug_id), f"{drug_id}: not a supportive-care class"
    for class_id in SUPPORTIVE_CLASSES:
        assert TABLES.classes[class_id].get("role") == "supportive", class_id


def test_hydroxocobalamin_and_cyanocobalamin_are_distinct_substances() -> None:
    import yaml

    from compiler.tables import DATA_DIR

    atc = yaml.safe_load((DATA_DIR / "atc.yaml").read_text(encoding="utf-8"))["drugs"]
    assert (atc["cyanocobalamin"]["code"], atc["hydroxocobalamin"]["code"]) == ("B03BA01", "B03BA03")
    cyano = {a.lower() for a in TABLES.drugs["cyanocobalamin"]["aliases"]}
    hydroxo = {a.lower() for a in TABLES.drugs["hydroxocobalamin"]["aliases"]}
    assert not cyano & hydroxo and not any("hydroxo" in a for a in cyano)
    assert TABLES.names["hydroxocobalamin"].drug_ids == ("hydroxocobalamin",)
    assert "vitamin_b12" in TABLES.drug_classes("hydroxocobalamin") & TABLES.drug_classes("cyanocobalamin")

# ====================================================================== end data-support
