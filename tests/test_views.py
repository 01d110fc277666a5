"""The shared views of a check run (issue 17): computed once, and the same answers as the plain walks.

A protocol's sections and items are walked once (the model is frozen); `Context.of_types` merges
the kinds' positions; the cheap tests some rules ask of the whole source first never say "absent"
where the rule's own pattern would find something.
"""

from __future__ import annotations

import re

from compiler import model as m
from compiler import radiobiology
from compiler.checks import Context, notation, text
from compiler.pipeline import compile_text
from compiler.tables import load
from tests.conftest import FIXTURES, TODAY

HEADER = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11]) + "\n\n"
BODY = """# Behandeling
drug letrozole 2,5 mg po daily
- drug anastrozole 1 mg po daily
when HER2+:
  drug trastuzumab 6 mg/kg IV every 3 weeks
  note: controle LVEF
## Radiotherapie
rt 25 x 2 Gy + 5 x 2 Gy boost = 60 Gy site borst
rt 5 x 5,2 Gy = 26 Gy site borst
"""


def _protocol() -> tuple[m.Protocol, Context]:
    result = compile_text("views.protocol", (HEADER + BODY).encode(), TODAY)
    assert result.protocol is not None and result.source is not None
    protocol = result.protocol
    return protocol, Context(protocol, result.source, load(), TODAY, protocol.all_items())


def _walk(protocol: m.Protocol) -> list[m.Item]:
    out: list[m.Item] = []

    def walk(items: tuple[m.Item, ...]) -> None:
        for item in items:
            out.append(item)
            if isinstance(item, m.Bullet) and item.content is not None:
                out.append(item.content)
            walk(item.children)

    sections: list[m.Section] = []

    def walk_sections(found: tuple[m.Section, ...]) -> None:
        for section in found:
            sections.append(section)
            walk_sections(section.subsections)

    walk_sections(protocol.sections)
    walk(protocol.preamble)
    for section in sections:
        walk(section.items)
    return out


def test_items_and_sections_are_the_depth_first_walk_and_a_list_of_the_callers_own() -> None:
    protocol, _ = _protocol()
    items = protocol.all_items()
    assert [id(i) for i in items] == [id(i) for i in _walk(protocol)]
    assert [s.title for s in protocol.all_sections()] == ["Behandeling", "Radiotherapie"]
    items.clear()
    protocol.all_sections().clear()
    assert len(protocol.all_items()) == len(_walk(protocol)) and len(protocol.all_sections()) == 2
    assert repr(protocol) == repr(_protocol()[0]) and protocol == _protocol()[0]  # no field added


def test_of_types_keeps_sheet_order_over_several_kinds() -> None:
    _, context = _protocol()
    kinds = (m.DrugLine, m.Note, m.Fractionation, m.When)
    assert context.of_types(kinds) == [i for i in context.items if isinstance(i, kinds)]
    assert context.of_type(m.DrugLine) == [i for i in context.items if isinstance(i, m.DrugLine)]
    assert context.of_types((m.Query,)) == []


def test_course_views_and_values_are_made_once_per_line() -> None:
    protocol, context = _protocol()
    course = next(i for i in protocol.all_items() if isinstance(i, m.Fractionation) and i.parts)
    first, again = radiobiology.course_parts(course), radiobiology.course_parts(course)
    assert first == again and first is not again and all(a is b for a, b in zip(first, again, strict=True))
    assert radiobiology.values_of(first[0], context.tables) is radiobiology.values_of(again[0], context.tables)
    assert radiobiology.sib_views(course) == []


def test_the_source_tests_never_miss_a_match() -> None:
    for line in ("MS 10 mg", "(MgSO4)", "x3d", "3 X D", "3×d", "D/c", "1,5 Mg", "2 µg", "4 Μg", "<naam>", "[x]"):
        assert notation._word_start(line, "MS") or notation._word_start(line, "MgSO4") or not notation._MS.search(line)
        assert (notation._TIMES_DAYS_LOWER.search(line) or notation._TIMES_DAYS_UPPER.search(line)
                or "×" in line or not notation._TIMES_DAYS.search(line))
        assert notation._UNIT_AFTER_DIGIT(line) or not notation._DOSE_NEEDED(line)
        assert "[" in line or text._ANGLE.search(line) or not text.BRACKETED.search(line)
    assert text._may_hold("HER2-POSTIEVE", ["postieve"]) and not text._may_hold("positieve", ["postieve"])
    assert text._may_hold("ſ", ["postieve"])  # folds to s only under re's rules: not decided by bytes
    assert not notation._word_start("MIMS", "MS") and not re.search(r"\bMS\b", "MIMS")
