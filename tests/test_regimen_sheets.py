"""Complete public regimen sheets, supportive care included, check clean (issue 13, "Must show").

The sheets in tests/data/regimen_sheets/ were written from public regimen sheets (NZ SACT
regimen library, BC Cancer, MASCC/ESMO 2023, the SmPCs), cited in their `reference:`
lines. Each must check with no error, no warning and no `allow`: the antiemetics,
premedication and vitamins are known drugs with dose rows of their use, and C006 sees
them as the supportive care it asks for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler import model as m
from compiler.pipeline import compile_file
from tests.conftest import ROOT, TODAY

SHEETS = sorted((ROOT / "tests" / "data" / "regimen_sheets").glob("*.protocol"))


def test_the_two_must_show_sheets_exist() -> None:
    assert {p.stem for p in SHEETS} >= {"ac-q21d-antiemetics", "carboplatin-pemetrexed-pembrolizumab"}


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.stem)
def test_sheet_checks_clean_without_allow(path: Path) -> None:
    result = compile_file(path, TODAY)
    assert result.protocol is not None
    findings = [f"{d.span.line}:{d.code} {d.message}" for d in result.diagnostics if d.severity.value != "info"]
    assert findings == []
    assert not [i for i in result.protocol.all_items() if isinstance(i, m.Allow)]
    assert "allow " not in path.read_text(encoding="utf-8")
    references = [r for r in path.read_text(encoding="utf-8").splitlines() if r.startswith("reference:")]
    assert len(references) >= 2 and any("http" in r for r in references)


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.stem)
def test_every_drug_of_the_sheet_is_known(path: Path) -> None:
    result = compile_file(path, TODAY)
    assert result.protocol is not None
    lines = [i for i in result.protocol.all_items() if isinstance(i, m.DrugLine)]
    assert lines and all(line.drug_id is not None for line in lines)
