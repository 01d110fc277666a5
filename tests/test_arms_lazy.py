"""The arms' lazy views, their conditions' evaluation and the C rules' shortcuts over them
answer as the plain ones (issue 17).

An arm reads its texts and conditions from the blocks around its drug only when asked;
it keeps the layout's block views, not the layout (a layout holds its arms: no cycle).
C006 asks the protocol's notes and prose before an arm's texts, which are such lines but
for what the drug adds itself (`arms.member_texts`); `combination_facts.admits` is memoised by the identity
of an arm's conditions (one tuple per block) and of the scenario.
"""

from __future__ import annotations

import gc
import random
import weakref

import pytest

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, combination_facts
from compiler.conditions import find_flag, variables
from compiler.pipeline import compile_text
from compiler.source import Span
from compiler.tables import Tables, load
from tests.conftest import PARSER_SHEETS, TODAY
from tests.test_arms_views import random_sheet

SPAN = Span("test.protocol", 1, 1, 1, 2)


def layouts() -> list[a.Layout]:
    tables = load()
    texts = [(str(p), p.read_bytes()) for p in PARSER_SHEETS]
    rng = random.Random(1717)
    texts += [("random.protocol", random_sheet(rng).encode()) for _ in range(40)]
    out = []
    for path, raw in texts:
        result = compile_text(path, raw, TODAY)
        if result.protocol is not None:
            out.append(a.Layout(result.protocol, tables, result.source))
    return out


@pytest.fixture(scope="module")
def all_layouts() -> list[a.Layout]:
    return layouts()


def test_a_layout_is_freed_without_the_collector() -> None:
    result = compile_text("a.protocol", PARSER_SHEETS[0].read_bytes(), TODAY)
    assert result.protocol is not None
    lay = a.Layout(result.protocol, load(), result.source)
    arms = list(lay.arms())
    assert arms
    expected = [(arm.conditions, arm.texts) for arm in a.Layout(result.protocol, load(), result.source).arms()]
    freed = weakref.ref(lay)
    gc.disable()
    try:
        del lay
        assert freed() is None  # by its reference count alone: nothing it holds points back at it
    finally:
        gc.enable()
    assert [(arm.conditions, arm.texts) for arm in arms] == expected  # its arms still read their views


def test_lazy_arms_equal_arms_made_whole(all_layouts: list[a.Layout]) -> None:
    seen = 0
    for lay in all_layouts:
        for arm in lay.arms():
            companions, texts, conditions = lay._around(arm.focus.node)
            whole = a.Arm(arm.focus, arm.partners, companions, lay.global_conditions + conditions,
                          texts + a.member_texts(arm.focus))
            assert arm == whole and hash(arm) == hash(whole) and repr(arm) == repr(whole)
            seen += 1
    assert seen > 300


def test_an_arms_texts_are_the_protocols_but_for_what_its_drug_adds(all_layouts: list[a.Layout]) -> None:
    data = load().combinations
    word_lists = [[str(w) for w in rule.get("words") or []] for rule in data.get("supportive") or []]
    word_lists += [["dpd*", "DPYD"], ["B12"], ["*"], []]
    library_notes = 0
    for lay in all_layouts:
        everywhere = lay.all_texts()
        for arm in lay.arms():
            own = a.member_texts(arm.focus)
            library_notes += arm.focus.library is not None and bool(own)
            assert arm.texts[len(arm.texts) - len(own):] == own
            assert all(text in everywhere for text in arm.texts[:len(arm.texts) - len(own)])
            for words in word_lists:  # what C006 decides: named in the arm's texts or the protocol's
                plain = combination_facts.mentions(arm.texts, words) or combination_facts.mentions(everywhere, words)
                shortcut = combination_facts.mentions(everywhere, words) or combination_facts.mentions(own, words)
                assert plain == shortcut, (arm.focus.label, words)
    assert library_notes  # a library regimen's note is among them


def test_admits_by_identity_answers_as_admits(all_layouts: list[a.Layout]) -> None:
    tables = load()
    data = tables.combinations
    scenarios = [dict(s) for s in (data.get("ovarian_suppression") or {}).get("scenarios") or []]
    scenarios += [dict(s) for s in (data.get("first_line_io") or {}).get("scenarios") or []]
    scenarios += [{"menopause": "pre"}, {"EGFR": "positive", "line": 1}, {}]
    shared = 0
    for lay in all_layouts:
        context = Context(lay.protocol, lay.source, tables, TODAY, lay.protocol.all_items())  # type: ignore[arg-type]
        arms = list(lay.arms())
        for _ in range(2):  # the second time from the memo
            for arm in arms:
                for scenario in scenarios:
                    assert combination_facts.admits(context, arm, scenario) == a.admits(arm.conditions, scenario, tables)
        by_node: dict[int, a.Arm] = {}
        for arm in arms:
            other = by_node.setdefault(arm.focus.node, arm)
            shared += other is not arm and other.conditions is arm.conditions
    assert shared  # the members of a library regimen share one conditions tuple


def test_a_sheet_without_constraints_gives_no_companions(all_layouts: list[a.Layout]) -> None:
    for lay in all_layouts:
        if not any(isinstance(node.item, m.WithConstraint) for node in lay.nodes):
            assert all(arm.companions == () for arm in lay.arms())


def weighed(condition: m.Condition, scenario: a.Scenario, tables: Tables) -> a.Truth:
    """Kleene truth with every operand weighed (what `arms.evaluate` answered before it stopped early)."""
    if isinstance(condition, m.Not):
        inner = weighed(condition.operand, scenario, tables)
        return None if inner is None else not inner
    if isinstance(condition, (m.All, m.Any_)):
        values = [weighed(c, scenario, tables) for c in condition.operands]
        decisive = isinstance(condition, m.Any_)
        if any(v is decisive for v in values):
            return decisive
        return (not decisive) if all(v is (not decisive) for v in values) else None
    if isinstance(condition, m.Flag):
        meaning = find_flag(condition.words, tables)
        if meaning is None:
            return None
        results = [None if scenario.get(var) is None else str(scenario.get(var)).lower() == value.lower()
                   for var, value in meaning.items()]
        if any(r is False for r in results):
            return False
        return True if all(r is True for r in results) else None
    return a.evaluate(condition, scenario, tables)  # a comparison: unchanged


def test_evaluate_answers_as_every_operand_weighed(all_layouts: list[a.Layout]) -> None:
    tables = load()
    values: dict[str, list[str | int]] = {name: [*(spec.get("values") or []), "other"]
                                          for name, spec in variables(tables).items()}
    values["line"] = [1, 2, 3]
    rng = random.Random(5)
    names = sorted(values)
    conditions: list[m.Condition] = []
    for lay in all_layouts:
        conditions.extend(lay.global_conditions)
        for arm in lay.arms():
            conditions.extend(arm.conditions)
    mixed: list[m.Condition] = []
    for _ in range(300):  # and/or/not of the sheets' conditions: deeper than any sheet writes
        parts = tuple(rng.sample(conditions, rng.randint(0, 3)))
        made: m.Condition = rng.choice([m.All, m.Any_])(parts[0].span if parts else SPAN, parts)
        mixed.append(m.Not(made.span, made) if rng.random() < 0.3 else made)
    checked = 0
    for condition in [*conditions, *mixed]:
        for _ in range(4):
            scenario = {name: rng.choice(values[name]) for name in rng.sample(names, rng.randint(0, 4))}
            assert a.evaluate(condition, scenario, tables) == weighed(condition, scenario, tables), (condition, scenario)
            checked += 1
    assert checked > 2000
