"""The shipped regimen sheets (protocols/regimes/, issue 14 "Must show").

Each sheet is transcribed from public national, institutional or label sources named in
its `reference:` lines. Every sheet checks with no error and no `allow F001` (every drug
is a known formulary drug), names a public source, and exports to a FHIR R4 Bundle that
fhir.resources accepts. Warnings that remain are listed here per code: review queries
(X006) for what the language or the consulted source could not yet carry, and the real
points a pharmacist should see (kept on purpose, see the sheet).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from compiler import model as m
from compiler.fhir import export_protocol
from compiler.pipeline import compile_file
from compiler.tables import load
from tests.conftest import ROOT, TODAY

REGIMES = ROOT / "protocols" / "regimes"
SHEETS = sorted(REGIMES.rglob("*.protocol"))
# A warning other than a review query must be a real point for the pharmacist, kept on purpose.
KEPT_WARNINGS = {
    ("capecitabine-gemetastaseerd", "C006"),  # DPD testing is not stated in the consulted SmPC summary
}
PUBLIC_SOURCE = re.compile(r"https?://|N Engl J Med|Lancet|J Clin Oncol|Clin Oncol|SmPC|Prescribing Information",
                           re.IGNORECASE)


def test_at_least_twenty_sheets_for_breast_and_lung() -> None:
    assert len(SHEETS) >= 20
    assert {p.parent.name for p in SHEETS} == {"borst", "long"}


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.stem)
def test_sheet_checks_without_errors_and_without_allow_f001(path: Path) -> None:
    result = compile_file(path, TODAY)
    assert result.protocol is not None
    errors = [f"{d.span.line}:{d.code} {d.message}" for d in result.diagnostics if d.severity.value == "error"]
    assert errors == []
    assert not [d for d in result.diagnostics if d.code == "F001"]
    allows = [i for i in result.protocol.all_items() if isinstance(i, m.Allow)]
    assert not [a for a in allows if a.code.value == "F001"]
    unexpected = [f"{d.span.line}:{d.code} {d.message}" for d in result.diagnostics
                  if d.severity.value == "warning" and d.code != "X006" and d.acknowledged is None
                  and (path.stem, d.code) not in KEPT_WARNINGS]
    assert unexpected == []


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.stem)
def test_sheet_names_a_public_source(path: Path) -> None:
    result = compile_file(path, TODAY)
    assert result.protocol is not None
    references = [f.value for f in result.protocol.meta.fields if f.key == "reference"]
    assert references and any(PUBLIC_SOURCE.search(r) for r in references)
    assert any("http" in r for r in references)


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.stem)
def test_sheet_exports_to_a_valid_fhir_bundle(path: Path) -> None:
    from fhir.resources.bundle import Bundle

    result = compile_file(path, TODAY)
    assert result.protocol is not None and not result.errors
    export = export_protocol(result.protocol, load())
    Bundle.parse_obj(json.loads(json.dumps(export.bundle)))
    kinds = [e["resource"]["resourceType"] for e in export.bundle["entry"]]
    drugs = [i for i in result.protocol.all_items() if isinstance(i, m.DrugLine)]
    assert kinds.count("ActivityDefinition") == len(drugs)


def test_a_published_band_gap_is_caught_before_it_is_written_as_a_query() -> None:
    """The zoledronic acid sheet writes the SmPC's creatinine-clearance bands so that they
    meet, with a query; written as published (40-49, 50-60) the checker finds the gaps."""
    path = REGIMES / "borst" / "zoledroninezuur-botmetastasen.protocol"
    text = path.read_text(encoding="utf-8")
    published = (text.replace("CrCl 50 to <= 60:", "CrCl 50 - 60:").replace("CrCl 40 to < 50:", "CrCl 40 - 49:")
                 .replace("CrCl 30 to < 40:", "CrCl 30 - 39:"))
    assert published != text
    from compiler.pipeline import compile_text

    result = compile_text(str(path), published.encode("utf-8"), TODAY)
    gaps = [d.message for d in result.diagnostics if d.code == "L007"]
    assert len(gaps) == 2 and any("49" in g for g in gaps) and any("39" in g for g in gaps)
