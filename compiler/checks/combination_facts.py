"""What the C rules ask of the data and of a sheet's arms, each answer found once: a product's
classes and molecules and whether it satisfies a companion option (per data set, `DrugFacts`),
whether an arm's conditions admit a scenario and whether its texts mention a word list (per
check run, `Context.memo`). No rule lives here: the rules are in `checks.combinations`,
`checks.combinations_supportive` and `checks.combinations_targets`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, folded
from compiler.tables import Tables

if TYPE_CHECKING:
    from compiler.checks.combinations_supportive import SupportiveRule


def combination_data(context: Context) -> dict[str, Any]:
    """compiler/data/combinations.yaml, as the tables of this check run hold it."""
    return context.tables.combinations


def option_name(tables: Tables, option: str) -> str:
    """A drug's or a class's name as the messages give it (English)."""
    if option in tables.drugs:
        return tables.drug_name(option, "en")
    entry = tables.classes.get(option) or {}
    return str((entry.get("names") or {}).get("en") or option.replace("_", " "))


class DrugFacts:
    """The answers of `compiler.arms` about one data set's drugs and classes, which the C rules
    ask again and again (every arm, every rule), each computed once.
    """

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.satisfied: dict[tuple[str, str], bool] = {}
        self.target_satisfied: dict[tuple[str, str], bool] = {}
        self.molecules: dict[str, frozenset[str]] = {}
        self.forbidden: list[tuple[str, str, str, str]] | None = None
        self.supportive: list[SupportiveRule] | None = None
        self.forbidden_hints: dict[tuple[str | None, str | None, str | None], str | None] = {}
        self.duplicates: dict[tuple[str, str], tuple[bool, str | None]] = {}  # (drug, drug): `combinations._duplicate`
        self.triggers: dict[str, list[SupportiveRule]] = {}  # focus drug: the supportive rules it may trigger
        self.target_rules: dict[str, list[tuple[Mapping[str, Any], dict[str, str]]]] = {}  # drug: `combinations_targets._target_rules`
        self.requirements: dict[str, tuple[bool, list[tuple[list[str], Mapping[str, Any]]]]] = {}  # drug
        self.name_drugs: dict[str, frozenset[str]] = {}  # regimen name: `combinations_targets._name_drugs`
        self.library_drugs: dict[str, frozenset[str]] = {}  # regimen id: `combinations_targets._library_drugs`
        self.lowered: dict[int, tuple[list[str], tuple[str, ...]]] = {}  # a word list (by identity): `combinations._lowered`
        self.duplicate_classes: list[str] | None = None  # combinations.yaml `duplicate_classes`


_FACTS: list[DrugFacts] = []  # one data set at a time (the tables of the running check)


def drug_facts(tables: Tables) -> DrugFacts:
    """The answers kept about one data set (a new set of tables starts them afresh)."""
    if _FACTS:
        facts = _FACTS[0]
        if facts.tables is tables:
            return facts
    _FACTS[:] = [DrugFacts(tables)]
    return _FACTS[0]


def satisfies(option: str, drug_id: str | None, tables: Tables) -> bool:
    """`arms.satisfies`, memoised per data set."""
    if drug_id is None:
        return False
    known = (_FACTS[0] if _FACTS and _FACTS[0].tables is tables else drug_facts(tables)).satisfied
    found = known.get((option, drug_id))
    if found is None:
        found = known[(option, drug_id)] = a.satisfies(option, drug_id, tables)
    return found


def mentions(texts: list[str] | tuple[str, ...], words: list[str]) -> bool:
    """`arms.mentions` (the same answer, tests/test_check_memos.py) with one compiled pattern per
    word list whose alternatives share one look-behind: several times faster on long prose.
    """
    if not words:
        return False
    pattern, ascii_stems, joinable = prepared = prepared_words(words)
    if len(texts) > 1 and not joinable:
        if ascii_stems is not None:
            # every match starts with a word's probe (any case): a text without any probe mentions none
            texts = [text for text in texts if _may_mention(text, ascii_stems)]
        return any(pattern.search(text) for text in texts)
    if not texts:
        return False
    # One search of the texts joined by newlines answers for all: no word holds a newline, so
    # a match lies inside one text, and a newline passes both boundaries as a text's end does.
    joined = "\n".join(texts)
    return mentioned(joined, folded(joined) if ascii_stems is not None else None, prepared)


def mentioned(joined: str, lowered: str | None, prepared: tuple[re.Pattern[str], tuple[str, ...] | None, bool]) -> bool:
    """`mentions` of texts joined by newlines (`lowered`: their `folded`), for a word list `prepared_words`."""
    pattern, probes, _ = prepared
    if probes is None or lowered is None or len(lowered) != len(joined):
        return pattern.search(joined) is not None  # (a fold that moved characters: positions differ)
    # Every match starts with a word's probe (any case), at the same place in `lowered` (`folded`
    # keeps the length): the pattern is tried only there, not at every character.
    match = pattern.match  # anchored at `at`; the look-behind still sees the text before it
    for stem in probes:
        at = lowered.find(stem)
        while at >= 0:
            if match(joined, at) is not None:
                return True
            at = lowered.find(stem, at + 1)
    return False


def prepared_words(words: list[str]) -> tuple[re.Pattern[str], tuple[str, ...] | None, bool]:
    """A word list's pattern, each word's probe (`_ascii_head` of its stem; None when one is empty:
    a word that starts outside ASCII) and whether no word holds a newline.
    """
    key = tuple(words)
    prepared = _MENTIONS.get(key)
    if prepared is None:
        if len(_MENTIONS) >= 1024:
            _MENTIONS.clear()
        parts = [re.escape(w.rstrip("*")) + ("" if w.endswith("*") else r"(?![A-Za-z0-9])") for w in words]
        probes = tuple(_ascii_head(w.rstrip("*")) for w in words)
        prepared = _MENTIONS[key] = (
            re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(parts) + ")", re.IGNORECASE),
            probes if all(probes) else None,
            not any("\n" in word for word in words))
    return prepared


def _ascii_head(stem: str) -> str:
    """The stem's leading ASCII characters in lower case: where re.IGNORECASE finds the stem in a
    text, `folded(text)` holds these at the same place (the whole stem when it is ASCII).
    """
    head = []
    for char in stem:
        if not char.isascii():
            break
        head.append(char.lower())
    return "".join(head)


def protocol_mentions(lay: a.Layout, joined: tuple[str, str | None], words: list[str]) -> bool:
    """`mentions(lay.all_texts(), words)`, from the texts joined by newlines (and folded) once."""
    texts = lay.texts_view()
    if not words or not texts:
        return False
    prepared = prepared_words(words)
    if not prepared[2]:  # a word holds a newline: text by text
        return mentions(texts, words)
    return mentioned(joined[0], joined[1], prepared)


def new_memo(_: Context) -> dict[Any, Any]:
    """An empty memo for one check run (one function for every memo: no closure made per call)."""
    return {}


def _may_mention(text: str, stems: tuple[str, ...]) -> bool:
    lowered = folded(text)
    return lowered is None or any(stem in lowered for stem in stems)


# per word list: its pattern, its stems in lower case when all are ASCII, whether no word holds a newline
_MENTIONS: dict[tuple[str, ...], tuple[re.Pattern[str], tuple[str, ...] | None, bool]] = {}


def admits(context: Context, arm: a.Arm, scenario: Mapping[str, str | int]) -> bool:
    """`arms.admits` for an arm, memoised per check run by the identity of its conditions and of the
    scenario (the arms of a block share their conditions; a rule asks its same few scenarios of every arm).
    """
    known: dict[tuple[int, int], tuple[object, object, bool]] = context.memo("combinations.admitted", new_memo)
    conditions = arm.conditions
    key = (id(conditions), id(scenario))
    found = known.get(key)
    if found is None:  # each entry keeps its conditions and scenario alive: no id is reused while it is here
        found = known[key] = (conditions, scenario, _conditions_admit(context, conditions, scenario))
    return found[2]


def _conditions_admit(context: Context, conditions: tuple[m.Condition, ...], scenario: Mapping[str, str | int]) -> bool:
    """`arms.admits`, each condition's truth memoised per check run: the arms of a sheet share most of
    their conditions (the global ones, those of their blocks).
    """
    known: dict[tuple[int, tuple[object, ...]], tuple[m.Condition, bool]] = context.memo("combinations.admits", new_memo)
    situation = tuple(scenario.items())
    try:
        hash(situation)
    except TypeError:  # a data value that cannot be a key (a list): ask directly
        return a.admits(conditions, scenario, context.tables)
    for condition in conditions:
        # by the condition's identity: each entry keeps its condition alive, so no id is reused
        key = (id(condition), situation)
        found = known.get(key)
        if found is None:
            found = known[key] = (condition, a.evaluate(condition, scenario, context.tables) is not False)
        if not found[1]:
            return False
    return True


def member_matches(member: a.Member, ids: list[str], tables: Tables) -> bool:
    """`satisfies(option, member.drug_id)` for any option (one look-up of the memo, not one per option)."""
    drug_id = member.drug_id
    if drug_id is None:
        return False
    known = (_FACTS[0] if _FACTS and _FACTS[0].tables is tables else drug_facts(tables)).satisfied
    for option in ids:
        found = known.get((option, drug_id))
        if found is None:
            found = known[(option, drug_id)] = a.satisfies(option, drug_id, tables)
        if found:
            return True
    return False
