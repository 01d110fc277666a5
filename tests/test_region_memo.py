"""The region algebra keeps its answers by the identity of its operands (issue 17): the same answers.

Regions of conditions are shared between sheets (one object per condition as written), so the
contexts and branch regions derived from them recur from sheet to sheet; `RegionAlgebra` keeps
`intersect`, `union` and `complement` by the identity of their operands, each entry holding its
operands so that an identity cannot be reused while the entry lives.
"""

from __future__ import annotations

import functools
import itertools

from compiler import model as m
from compiler import thresholds
from compiler.pipeline import compile_text
from compiler.tables import load
from tests.conftest import ROOT, TODAY


@functools.cache
def _regions() -> list[thresholds.Region]:
    translator = thresholds.Translator(load())
    found: list[thresholds.Region] = [thresholds.EVERYTHING, thresholds.NOTHING]
    for path in sorted((ROOT / "protocols").glob("**/*.protocol")):
        result = compile_text(str(path), path.read_bytes(), TODAY)
        assert result.protocol is not None
        for item in result.protocol.all_items():
            if isinstance(item, (m.When, m.OnlyWhen, m.ExcludeWhen)):
                try:
                    found.append(translator.region(item.condition))
                except thresholds.Unresolvable:
                    continue
    return found


def _written(region: thresholds.Region) -> tuple[str, bool]:
    return repr(region.boxes), region.simple


def test_kept_answers_are_the_answers_computed_afresh() -> None:
    regions = _regions()[:30]
    shared = thresholds._algebra(load())
    for a, b in itertools.product(regions, repeat=2):
        for _ in range(2):  # the second time from the memo
            fresh = thresholds.RegionAlgebra(shared.domains)
            assert _written(shared.intersect(a, b)) == _written(fresh.intersect(a, b))
            assert _written(shared.union(a, b)) == _written(fresh.union(a, b))
            assert _written(shared.difference(a, b)) == _written(fresh.difference(a, b))
            assert _written(shared.complement(a)) == _written(fresh.complement(a))
            assert shared.written(a) == repr(a.boxes)


def test_every_kept_answer_holds_its_operands() -> None:
    algebra = thresholds.RegionAlgebra(thresholds._domains(load()))
    regions = _regions()[:12]
    for a, b in itertools.product(regions, repeat=2):
        algebra.difference(a, b)
        algebra.union(a, b, a)
    assert algebra._answers
    for key, (operands, _) in algebra._answers.items():
        held = operands if isinstance(operands, tuple) else (operands,)
        assert tuple(key[1:]) == tuple(id(x) for x in held)
    for key, (region, _) in algebra._written.items():
        assert key == id(region)


def test_the_kept_keys_of_tables_and_criteria_are_the_keys_computed_afresh() -> None:
    from compiler import modification

    tables = load()
    for path in sorted((ROOT / "protocols").glob("**/*.protocol")):
        result = compile_text(str(path), path.read_bytes(), TODAY)
        assert result.protocol is not None
        for item in result.protocol.all_items():
            if isinstance(item, m.DoseModification):
                first = modification._table_key(item, tables)
                modification._KEYS.clear()
                assert modification._table_key(item, tables) == first
                assert modification._table_key(item, tables) is modification._table_key(item, tables)
            elif isinstance(item, m.Criteria):
                first = modification._criteria_key(item, tables)
                modification._KEYS.clear()
                assert modification._criteria_key(item, tables) == first
