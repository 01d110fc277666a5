"""`Context.of_type`/`of_types` (issue 17): the index by class answers as a plain walk of the items does.

The index hands out one class's own list when one class on the sheet is of the kinds asked (every
model class has a subclass, `_shadow`'s twin, so the answer cannot rest on "no subclass"), and a pass
over the items when several are; both must keep sheet order and miss nothing, on every fixture sheet.
"""

from __future__ import annotations

import inspect

from compiler import model as m
from tests.conftest import fixture_contexts

# every single class of item, the tuples the rules ask, and base classes with several subclasses
_ITEM_CLASSES = tuple(cls for _, cls in inspect.getmembers(m, inspect.isclass)
                      if issubclass(cls, m.Item) and cls.__module__ == m.__name__)
_ASKED: tuple[tuple[type[m.Item], ...], ...] = (
    *((cls,) for cls in _ITEM_CLASSES),
    (m.DrugLine, m.Fractionation, m.When, m.OnlyWhen, m.ExcludeWhen),
    (m.Prose, m.Note, m.Decision), (m.Prose, m.Note, m.Decision, m.DrugLine), (m.Prose, m.Note),
    (m.Prose, m.Note, m.Query), (m.When, m.OnlyWhen, m.ExcludeWhen), (m.DrugLine, m.RegimenLine),
    (m.DoseModification, m.DoseLevels), (m.PhaseLine, m.RegimenLine),
    (m.When, m.OnlyWhen, m.ExcludeWhen, m.Criterion, m.DoseBand),
)


def test_the_index_answers_as_a_walk_of_the_items() -> None:
    sheets = 0
    for path, context in fixture_contexts():
        sheets += 1
        items = context.items
        for kinds in _ASKED:
            expected = [id(item) for item in items if isinstance(item, kinds)]
            assert list(map(id, context.of_types(kinds))) == expected, (path, kinds)
            assert context.of_types(kinds) is context.of_types(kinds)  # shared within the run
            if len(kinds) == 1:
                assert list(map(id, context.of_type(kinds[0]))) == expected, (path, kinds)
        assert list(map(id, context.of_type(m.Item))) == list(map(id, items))  # the base class: every item, in sheet order
    assert sheets > 100
