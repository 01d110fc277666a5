"""The shortcuts of the logic, schedule and modification checks (issue 17) find what the long way finds.

`thresholds.analyse_restrictions` answers for a sheet without branches what the block walk of
`thresholds.analyse` answers; the findings kept across sheets (criteria regions, L004 verdicts)
are the same on a second sheet as on the first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler import model as m
from compiler.checks import Context
from compiler.checks.logic import translator
from compiler.modification import _CONFLICTS, _CRITERIA, criteria_conflicts, criteria_region
from compiler.pipeline import compile_text
from compiler.tables import load
from compiler.thresholds import Analysis, analyse, analyse_restrictions
from tests.conftest import FIXTURES, ROOT, TODAY

HEADER = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11]) + "\n\n"
SHEETS = sorted([*(ROOT / "protocols").rglob("*.protocol"), *FIXTURES.glob("L0*/*.protocol")])


def _context(name: str, text: str) -> Context:
    result = compile_text(name, text.encode(), TODAY)
    assert result.protocol is not None and result.source is not None
    return Context(result.protocol, result.source, load(), TODAY, result.protocol.all_items())


def _findings(found: Analysis) -> tuple[object, ...]:
    return (len(found.decisions), [(id(c.item), id(c.condition), c.alone) for c in found.contradictions])


def _shortcut(context: Context) -> Analysis | None:
    if context.of_type(m.When) or context.of_type(m.Otherwise) or context.of_type(m.Decision):
        return None
    return analyse_restrictions(context.of_type(m.OnlyWhen), context.of_type(m.ExcludeWhen), translator(context))


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_restrictions_shortcut_finds_what_the_walk_finds(path: Path) -> None:
    context = _context(path.name, path.read_text(encoding="utf-8"))
    quick = _shortcut(context)
    if quick is not None:
        assert _findings(quick) == _findings(analyse(context.protocol, context.tables))


@pytest.mark.parametrize("body, contradictions", [
    ("only when PS <= 1\n# H\ndrug letrozole 2,5 mg po daily\n", 0),
    ("only when PS <= 1 and PS >= 2\n# H\ndrug letrozole 2,5 mg po daily\n", 1),
    ("exclude when PS >= 2\n# H\nonly when PS <= 1\ndrug letrozole 2,5 mg po daily\n", 0),
    ("exclude when PS <= 1\n# H\nonly when PS <= 1\ndrug letrozole 2,5 mg po daily\n", 1),
    ("exclude when PS >= 2\nexclude when PS = 0\n# H\nonly when PS <= 1\ndrug letrozole 2,5 mg po daily\n", 0),
    ("# H\nexclude when PS <= 1\n# I\nonly when PS <= 1\ndrug letrozole 2,5 mg po daily\n", 0),
])
def test_one_eligibility_line_against_exclusions(body: str, contradictions: int) -> None:
    context = _context("restrict.protocol", HEADER + body)
    walked = analyse(context.protocol, context.tables)
    assert len(walked.contradictions) == contradictions
    quick = _shortcut(context)
    if quick is not None:  # None: the walk decides (an exclusion may cover the eligibility line)
        assert _findings(quick) == _findings(walked)


def test_kept_criteria_findings_are_those_of_a_fresh_analysis() -> None:
    body = ("# H\ndrug paclitaxel 80 mg/m2 IV weekly, infusion 60 min\n"
            "criteria before each cycle:\n  ANC >= 1.5 x10^9/L\n  platelets >= 100 x10^9/L\n"
            "dose modification paclitaxel by ANC (x10^9/L):\n  >= 1.5: 100%\n  1.0 to < 1.5: 100%\n  < 1.0: withhold\n")
    found = []
    for _ in range(2):
        context = _context("criteria.protocol", HEADER + body)
        block = context.of_type(m.Criteria)[0]
        table = context.of_type(m.DoseModification)[0]
        found.append(([b.span for b, _ in criteria_conflicts(block, table, context.tables)],
                      criteria_region(block, context.tables)))
    _CRITERIA.clear()
    _CONFLICTS.clear()
    context = _context("criteria.protocol", HEADER + body)
    fresh = criteria_conflicts(context.of_type(m.Criteria)[0], context.of_type(m.DoseModification)[0], context.tables)
    assert found[0] == found[1]
    assert found[0][0] == [band.span for band, _ in fresh] and len(fresh) == 1
