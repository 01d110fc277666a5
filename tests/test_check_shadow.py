"""The D rules' per-line and per-phase records (and each phase's schedule) are made by their classes' `_shadow`s (issue 17): each is an
object of its own class, equal to the one its class makes from the same fields, on every fixture sheet.
"""

from __future__ import annotations

import dataclasses

from compiler.checks.dosed import LineInfo, PhaseDose, layout, phase_doses
from compiler.dosing import Schedule
from tests.conftest import fixture_contexts


def _fields(record: object) -> list[object]:
    return [getattr(record, f.name) for f in dataclasses.fields(record)]  # type: ignore[arg-type]


def test_line_infos_and_phase_doses_are_their_classes_own() -> None:
    made = 0
    for _, context in fixture_contexts():
        for info in layout(context):
            assert type(info) is LineInfo and LineInfo(*_fields(info)) == info
            made += 1
        for dosed in phase_doses(context):
            assert type(dosed) is PhaseDose and PhaseDose(*_fields(dosed)) == dosed
            assert type(dosed.schedule) is Schedule and Schedule(*_fields(dosed.schedule)) == dosed.schedule
            made += 1
    assert made > 100
