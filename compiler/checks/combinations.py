"""C: combinations — companions, class duplicates, forbidden pairs, prerequisite states,
first-line immunotherapy in oncogene-driven NSCLC, and required supportive care.

Every check here reasons over treatment *arms* (`compiler.arms`): the drugs given
together, the companions named by `only with` / `preferably with`, and the conditions
of the patients the arm is for. The rules and drug lists live in
`compiler/data/combinations.yaml` (and the formulary's `requires`, `forbidden_with`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, folded
from compiler.diagnostics import Diagnostic, Related, Severity, check
from compiler.records import frozen
from compiler.suggest import closest
from compiler.tables import Tables, normalise


def _layout(context: Context) -> a.Layout:
    return a.layout(context.protocol, context.tables, context.source)


def _data(context: Context) -> dict[str, Any]:
    return context.tables.combinations


def _name(tables: Tables, option: str) -> str:
    if option in tables.drugs:
        return tables.drug_name(option, "en")
    entry = tables.classes.get(option) or {}
    return str((entry.get("names") or {}).get("en") or option.replace("_", " "))


def tumour_matches(context: Context, words: list[str] | None) -> bool:
    """Whether the protocol (id, title, scope) is about one of these tumours; no words: always."""
    if not words:
        return True
    # asked for every rule of every arm, with the data's few lists: answered once per list and check run
    known: dict[int, tuple[list[str], bool]] = context.memo("combinations.tumours", _new_memo)
    found = known.get(id(words))
    if found is None:  # the entry keeps the list alive: its id is not reused while it is here
        text = context.memo("combinations.tumour_text", _tumour_text)
        matched = False
        for word in _lowered(context.tables, words):
            if word in text:
                matched = True
                break
        found = known[id(words)] = (words, matched)
    return found[1]


def _lowered(tables: Tables, words: list[str]) -> tuple[str, ...]:
    """A data list of tumour words in lower case, once per list and data set (bounded)."""
    known = _facts(tables).lowered
    found = known.get(id(words))
    if found is None or found[0] is not words:
        if len(known) >= 1024:
            known.clear()
        found = known[id(words)] = (words, tuple(str(word).lower() for word in words))
    return found[1]


def _tumour_text(context: Context) -> str:
    meta = context.protocol.meta
    return " ".join(t.value for t in (meta.id, meta.title, meta.scope) if t is not None).lower()


def region(context: Context) -> str:
    """The label region that applies (EU unless the data says otherwise)."""
    return str(_data(context).get("default_region") or "EU")


class _DrugFacts:
    """The answers of `compiler.arms` about one data set's drugs and classes, which the C rules
    ask again and again (every arm, every rule), each computed once.
    """

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.satisfied: dict[tuple[str, str], bool] = {}
        self.target_satisfied: dict[tuple[str, str], bool] = {}
        self.molecules: dict[str, frozenset[str]] = {}
        self.forbidden: list[tuple[str, str, str, str]] | None = None
        self.supportive: list[_Supportive] | None = None
        self.forbidden_hints: dict[tuple[str | None, str | None, str | None], str | None] = {}
        self.duplicates: dict[tuple[str, str], tuple[bool, str | None]] = {}  # (drug, drug): `_duplicate`
        self.triggers: dict[str, list[_Supportive]] = {}  # focus drug: the supportive rules it may trigger
        self.target_rules: dict[str, list[tuple[Mapping[str, Any], dict[str, str]]]] = {}  # drug: `_target_rules`
        self.requirements: dict[str, tuple[bool, list[tuple[list[str], Mapping[str, Any]]]]] = {}  # drug
        self.name_drugs: dict[str, frozenset[str]] = {}  # regimen name: `_name_drugs`
        self.library_drugs: dict[str, frozenset[str]] = {}  # regimen id: `_library_drugs`
        self.lowered: dict[int, tuple[list[str], tuple[str, ...]]] = {}  # a word list (by identity): `_lowered`
        self.duplicate_classes: list[str] | None = None  # combinations.yaml `duplicate_classes`


_FACTS: list[_DrugFacts] = []  # one data set at a time (the tables of the running check)


def _facts(tables: Tables) -> _DrugFacts:
    if _FACTS:
        facts = _FACTS[0]
        if facts.tables is tables:
            return facts
    _FACTS[:] = [_DrugFacts(tables)]
    return _FACTS[0]


def _is(option: str, drug_id: str | None, tables: Tables) -> bool:
    """`arms.satisfies`, memoised per data set."""
    if drug_id is None:
        return False
    known = (_FACTS[0] if _FACTS and _FACTS[0].tables is tables else _facts(tables)).satisfied
    found = known.get((option, drug_id))
    if found is None:
        found = known[(option, drug_id)] = a.satisfies(option, drug_id, tables)
    return found


def _target_is(option: str, target_id: str, tables: Tables) -> bool:
    """`arms.target_satisfies`, memoised per data set."""
    known = (_FACTS[0] if _FACTS and _FACTS[0].tables is tables else _facts(tables)).target_satisfied
    found = known.get((option, target_id))
    if found is None:
        found = known[(option, target_id)] = a.target_satisfies(option, target_id, tables)
    return found


def _mentions(texts: list[str] | tuple[str, ...], words: list[str]) -> bool:
    """`arms.mentions` (the same answer, tests/test_check_memos.py) with one compiled pattern per
    word list whose alternatives share one look-behind: several times faster on long prose.
    """
    if not words:
        return False
    pattern, ascii_stems, joinable = prepared = _prepared_words(words)
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
    return _mentioned(joined, folded(joined) if ascii_stems is not None else None, prepared)


def _mentioned(joined: str, lowered: str | None, prepared: tuple[re.Pattern[str], tuple[str, ...] | None, bool]) -> bool:
    """`_mentions` of texts joined by newlines (`lowered`: their `folded`), for a word list `_prepared_words`."""
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


def _prepared_words(words: list[str]) -> tuple[re.Pattern[str], tuple[str, ...] | None, bool]:
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


def _protocol_mentions(lay: a.Layout, joined: tuple[str, str | None], words: list[str]) -> bool:
    """`_mentions(lay.all_texts(), words)`, from the texts joined by newlines (and folded) once."""
    texts = lay.texts_view()
    if not words or not texts:
        return False
    prepared = _prepared_words(words)
    if not prepared[2]:  # a word holds a newline: text by text
        return _mentions(texts, words)
    return _mentioned(joined[0], joined[1], prepared)


def _arm_mentions(context: Context, texts: tuple[str, ...], words: list[str]) -> bool:
    """`_mentions` of an arm's texts, once per check run: the arms of one block share their texts."""
    known: dict[tuple[tuple[str, ...], tuple[str, ...]], bool] = context.memo("combinations.mentions", _new_memo)
    key = (texts, tuple(words))
    found = known.get(key)
    if found is None:
        if not words or not texts:
            found = False
        else:
            prepared = _prepared_words(words)
            if len(texts) > 1 and not prepared[2]:
                found = _mentions(texts, words)
            else:  # `_mentions`, the texts joined (and folded) once for every word list asked of them
                joins: dict[tuple[str, ...], tuple[str, str | None]] = context.memo("combinations.joined", _new_memo)
                joined = joins.get(texts)
                if joined is None:
                    text = "\n".join(texts)
                    joined = joins[texts] = (text, folded(text))
                found = _mentioned(joined[0], joined[1] if prepared[1] is not None else None, prepared)
        known[key] = found
    return found


def _new_memo(_: Context) -> dict[Any, Any]:
    """An empty memo for one check run (one function for every memo: no closure made per call)."""
    return {}


def _may_mention(text: str, stems: tuple[str, ...]) -> bool:
    lowered = folded(text)
    return lowered is None or any(stem in lowered for stem in stems)


# per word list: its pattern, its stems in lower case when all are ASCII, whether no word holds a newline
_MENTIONS: dict[tuple[str, ...], tuple[re.Pattern[str], tuple[str, ...] | None, bool]] = {}


def _admits(context: Context, arm: a.Arm, scenario: Mapping[str, str | int]) -> bool:
    """`arms.admits` for an arm, memoised per check run by the identity of its conditions and of the
    scenario (the arms of a block share their conditions; a rule asks its same few scenarios of every arm).
    """
    known: dict[tuple[int, int], tuple[object, object, bool]] = context.memo("combinations.admitted", _new_memo)
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
    known: dict[tuple[int, tuple[object, ...]], tuple[m.Condition, bool]] = context.memo("combinations.admits", _new_memo)
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


def _member_matches(member: a.Member, ids: list[str], tables: Tables) -> bool:
    """`_is(option, member.drug_id)` for any option (one look-up of the memo, not one per option)."""
    drug_id = member.drug_id
    if drug_id is None:
        return False
    known = (_FACTS[0] if _FACTS and _FACTS[0].tables is tables else _facts(tables)).satisfied
    for option in ids:
        found = known.get((option, drug_id))
        if found is None:
            found = known[(option, drug_id)] = a.satisfies(option, drug_id, tables)
        if found:
            return True
    return False


def _satisfied(arm: a.Arm, options: list[str], tables: Tables) -> bool:
    """A requirement (any one of `options`) is met by a partner, or — in an arm that gives
    no partner at all (a monograph-style block) — by an `only with` that names it.

    Content over words: once an arm gives partners, only a partner counts (an `only with
    aromataseremmer` beside tamoxifen does not make tamoxifen an aromatase inhibitor), and
    `preferably with` never satisfies a requirement.
    """
    if arm.partners:
        for partner in arm.partners:
            if _member_matches(partner, options, tables):
                return True
        return False
    for group in arm.companions:
        if group.constraint.kind != "only":
            continue
        known = [t for t in group.targets if t.target_id is not None]
        if not known:
            continue
        fits = [any(_target_is(o, t.target_id, tables) for o in options) for t in known if t.target_id]
        if (group.any_of and all(fits)) or (not group.any_of and any(fits)):
            return True
    return False


def _unmet_only_with(arm: a.Arm, tables: Tables) -> str | None:
    """The text of an `only with` that the arm's partners contradict (None when met, or no partner is given)."""
    if not arm.partners:
        return None
    for group in arm.companions:
        known = [t for t in group.targets if t.target_id is not None]
        if group.constraint.kind != "only" or not known:
            continue

        def given(target_id: str) -> bool:
            option = target_id[6:] if target_id.startswith("class:") else target_id
            return any(_is(option, p.drug_id, tables) for p in arm.partners)

        met = [given(t.target_id) for t in known if t.target_id is not None]
        if not (any(met) if group.any_of else all(met)):
            return (" or " if group.any_of else " and ").join(t.text.value for t in group.targets)
    return None


def _dose_mg(line: m.DrugLine | None) -> float | None:
    if line is None:
        return None
    for phase in reversed(line.phases):
        if phase.dose is not None and phase.dose.unit == "mg":
            return float(phase.dose.amount.value)
    return None


def _frequency_kind(line: m.DrugLine | None) -> str | None:
    if line is None:
        return None
    for phase in reversed(line.phases):
        if phase.frequency is not None:
            return phase.frequency.kind
    return None


def _requirements(context: Context, member: a.Member) -> list[tuple[list[str], Mapping[str, Any]]]:
    """The companion requirements of a drug: (options, rule) pairs (once per drug and check run)."""
    assert member.drug_id is not None
    known: dict[str, list[tuple[list[str], Mapping[str, Any]]]] = context.memo("combinations.requirements",
                                                                              _new_memo)
    found = known.get(member.drug_id)
    if found is None:
        found = known[member.drug_id] = list(_find_requirements(context, member.drug_id))
    return found


def _find_requirements(context: Context, drug_id: str) -> Iterator[tuple[list[str], Mapping[str, Any]]]:
    covered, found = _drug_requirements(context, drug_id)
    if not covered:
        yield from found
        return
    for options, rule in found:
        if tumour_matches(context, rule.get("tumour")):
            yield options, rule


def _drug_requirements(context: Context, drug_id: str) -> tuple[bool, list[tuple[list[str], Mapping[str, Any]]]]:
    """Whether a companion rule of combinations.yaml covers the drug, and then those rules (the protocol's
    tumour decides which apply), else the formulary's `requires`; once per drug and data set.
    """
    facts = _facts(context.tables)
    known = facts.requirements.get(drug_id)
    if known is None:
        tables = context.tables
        rules = [([str(x) for x in rule.get("requires") or []], rule)
                 for rule in _data(context).get("companions") or []
                 if rule.get("drug") == drug_id or (rule.get("class") and rule["class"] in tables.drug_classes(drug_id))]
        if rules:
            known = (True, rules)
        else:
            known = (False, [([x.strip() for x in str(element).split("|") if x.strip()],
                              {"source": "formulary.yaml requires"})
                             for element in (tables.drugs.get(drug_id) or {}).get("requires") or []])
        facts.requirements[drug_id] = known
    return known


@check("C001", "companion-missing", Severity.ERROR, "required companion drug missing from the arm")
def companion_missing(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a drug that is only given with a companion has that companion in its
    arm — as a drug of the same regimen or block; in a block that gives no other drug at
    all (a monograph-style section), an `only with` naming the companion stands for it.
    Content beats words: once the arm gives partners, only a partner counts, and an
    `only with` that the partners contradict (`only with aromataseremmer` beside
    tamoxifen) is itself this error; `preferably with` never satisfies a requirement.
    The requirements: pertuzumab → trastuzumab (Phesgo counts as both); everolimus in
    breast cancer → exemestane; a CDK4/6 inhibitor → an aromatase inhibitor or fulvestrant
    (adjuvant abemaciclib also tamoxifen); lapatinib → capecitabine, an aromatase inhibitor
    or trastuzumab. Abemaciclib 200 mg twice daily alone is a US-label monotherapy; the
    exception is data-driven per region (`alone_allowed` in combinations.yaml) and does not
    apply in the default EU region, where Verzenios has no monotherapy indication. Sibling
    bullets are alternatives, so a companion listed as the next bullet does not count:
    group drugs given together in a `regimen`.

    Why it matters: pertuzumab without trastuzumab, or a CDK4/6 inhibitor without
    endocrine therapy, is an unlicensed, unstudied treatment.

    Example: `drug pertuzumab 840 mg IV then 420 mg IV every 3 weeks` alone in its arm.

    Use instead: put it in a regimen with trastuzumab, or add `only with trastuzumab`.

    Source: Perjeta, Afinitor, Ibrance, Kisqali, Verzenios, Tyverb EU SmPCs section 4.1;
    Verzenio US PI; seed 000 (compiler/data/combinations.yaml).
    """
    tables = context.tables
    seen: set[tuple[object, str]] = set()
    requirements: dict[str, list[tuple[list[str], Mapping[str, Any]]]] = context.memo(
        "combinations.requirements", _new_memo)  # `_requirements`, its memo read once
    for arm in _layout(context).arms():
        focus = arm.focus
        if focus.drug_id is None:
            continue
        unmet = _unmet_only_with(arm, tables) if arm.partners and arm.companions else None
        if unmet is not None:
            key = (focus.span, "only with")
            if key not in seen:
                seen.add(key)
                given = ", ".join(dict.fromkeys(_name(tables, p.drug_id) for p in arm.partners if p.drug_id))
                yield companion_missing.at(
                    focus.span, f"{_name(tables, focus.drug_id)}: `only with {unmet}` but its arm gives {given}",
                    "give the named companion in the same regimen, or correct the `only with` statement")
                continue
        needs = requirements.get(focus.drug_id)
        if needs is None:
            needs = _requirements(context, focus)
        for options, rule in needs:
            extra: list[str] = []
            for item in rule.get("extra_in_setting") or []:
                if item.get("drug") == focus.drug_id and a.entails(arm.conditions, "setting", str(item.get("setting")),
                                                                    tables):
                    if not item.get("requires"):
                        continue
                    extra.extend(str(x) for x in item.get("requires") or [])
            if not options or _satisfied(arm, options + extra, tables):
                continue
            hint_extra = ""
            allowed_alone = False
            for alone in rule.get("alone_allowed") or []:
                if alone.get("drug") != focus.drug_id:
                    continue
                fits = (_dose_mg(focus.line) == float(alone.get("dose_mg", -1))
                        and _frequency_kind(focus.line) == alone.get("frequency"))
                if fits and region(context) in (alone.get("regions") or []):
                    allowed_alone = True
                elif fits:
                    hint_extra = f"; {alone.get('note')}"
            if allowed_alone:
                continue
            key = (focus.span, "|".join(options))
            if key in seen:
                continue
            seen.add(key)
            names = " or ".join(_name(tables, o) for o in options + extra)
            yield companion_missing.at(
                focus.span, f"{_name(tables, focus.drug_id)} without {names} in its arm",
                "give it in one regimen with its companion, or state `only with "
                f"{_name(tables, options[0])}`; sibling bullets are alternatives{hint_extra}")


def _duplicate_class(tables: Tables, classes: list[str], first: set[str], second: set[str]) -> str | None:
    for class_id in classes:
        if class_id in first and class_id in second:
            return class_id
    return None


def _duplicate(tables: Tables, classes: list[str], first: str, second: str) -> tuple[bool, str | None]:
    """Whether two drugs are one molecule, else the never-combined class they share (memoised per data set)."""
    known = (_FACTS[0] if _FACTS and _FACTS[0].tables is tables else _facts(tables)).duplicates
    found = known.get((first, second))
    if found is None:
        if _molecules(first, tables) & _molecules(second, tables):
            found = (True, None)
        else:
            found = (False, _duplicate_class(tables, classes, tables.drug_classes(first), tables.drug_classes(second)))
        known[(first, second)] = found
    return found


def _molecules(drug_id: str, tables: Tables) -> frozenset[str]:
    known = (_FACTS[0] if _FACTS and _FACTS[0].tables is tables else _facts(tables)).molecules
    found = known.get(drug_id)
    if found is None:
        ids = a.counts_as(drug_id, tables)
        out = set(ids)
        for group in tables.product_groups.values():
            members = {str(x) for x in group.get("members") or []}
            if members & ids:
                out |= {f"group:{normalise(str(n))}" for n in group.get("names") or []}
        found = known[drug_id] = frozenset(out)
    return found


@check("C002", "class-duplicate", Severity.ERROR, "two drugs of one class in one arm")
def class_duplicate(context: Context) -> Iterator[Diagnostic]:
    """What it checks: one arm holds at most one drug of each class that is never
    combined: aromatase inhibitors, CDK4/6 inhibitors, anthracyclines, PD-(L)1
    inhibitors, bone-modifying agents (denosumab + a bisphosphonate), LHRH agonists,
    taxanes, platinum compounds, fluoropyrimidines — and at most one product of one
    molecule (trastuzumab IV + subcutaneous trastuzumab, Phesgo + trastuzumab). A
    companion named by `only with` / `preferably with` counts as given.

    Why it matters: a duplicate doubles toxicity without benefit (two anthracyclines add
    up to the cardiotoxic limit; denosumab + zoledronic acid: hypocalcaemia, jaw
    osteonecrosis) and usually means two alternatives were written as a combination.

    Example: `regimen "letrozol + anastrozol"` with both drug lines below it.

    Use instead: write alternatives as sibling bullets outside a regimen.

    Source: compiler/data/combinations.yaml `duplicate_classes` (Xgeva SmPC 4.4, ESC
    2022, seed 004 and others, per entry).
    """
    tables = context.tables
    facts = _facts(tables)
    classes = facts.duplicate_classes
    if classes is None:
        classes = facts.duplicate_classes = [str(e.get("class")) for e in _data(context).get("duplicate_classes") or []]
    lay = _layout(context)
    for first, second in lay.pairs():
        if first.drug_id is None or second.drug_id is None or first.drug_id == second.drug_id:
            continue
        same, shared = _duplicate(tables, classes, first.drug_id, second.drug_id)
        if same:
            yield class_duplicate.at(
                second.span, f"{_name(tables, first.drug_id)} and {_name(tables, second.drug_id)} are the same "
                "molecule in one arm", "give one product; sibling bullets are alternatives",
                related=(Related(first.span, "the other product"),))
            continue
        if shared is not None:
            yield class_duplicate.at(
                second.span, f"two {_name(tables, shared)}s in one arm: {_name(tables, first.drug_id)} and "
                f"{_name(tables, second.drug_id)}",
                "alternatives are written as sibling bullets, not in one regimen or block",
                related=(Related(first.span, "the other one"),))
    for arm in lay.arms():
        if arm.focus.drug_id is None or arm.focus.line is None:
            continue
        for group in arm.companions:
            for target in group.targets:
                if target.target_id is None:
                    continue
                shared = _duplicate_class(tables, classes, tables.drug_classes(arm.focus.drug_id),
                                          a.target_classes(target.target_id, tables))
                if shared is not None and target.target_id != arm.focus.drug_id:
                    yield class_duplicate.at(
                        target.text.span, f"`{target.text.value}` is a second {_name(tables, shared)} for "
                        f"{_name(tables, arm.focus.drug_id)}", "name a companion of another class",
                        related=(Related(arm.focus.span, "the drug it accompanies"),))


def _forbidden(context: Context) -> list[tuple[str, str, str, str]]:
    """(a, b, hint, source) of every forbidden pair, from combinations.yaml and the formulary."""
    facts = _facts(context.tables)
    if facts.forbidden is None:
        out = [(str(p.get("a")), str(p.get("b")), str(p.get("hint") or ""), str(p.get("source") or ""))
               for p in _data(context).get("forbidden_pairs") or []]
        for drug_id, entry in context.tables.drugs.items():
            for key in ("forbidden_with", "forbidden_concurrent_with"):
                for other in entry.get(key) or []:
                    out.append((drug_id, str(other), "", f"formulary.yaml {key}"))
        facts.forbidden = out
    return facts.forbidden


@check("C003", "forbidden-pair", Severity.ERROR, "forbidden concurrent combination in one arm")
def forbidden_pair(context: Context) -> Iterator[Diagnostic]:
    """What it checks: no arm combines a forbidden pair: a HER2 antibody (trastuzumab,
    pertuzumab, Phesgo) concurrently with an anthracycline; ribociclib with tamoxifen;
    subcutaneous nivolumab with ipilimumab; and the pairs the formulary lists as
    `forbidden_with`. A companion named by `only with` / `preferably with` counts.

    Why it matters: trastuzumab given with doxorubicin caused cardiac dysfunction in
    27 % of patients; ribociclib with tamoxifen prolongs the QT interval.

    Example: `regimen "AC + trastuzumab"` with doxorubicin, cyclophosphamide and
    trastuzumab lines below it.

    Use instead: the anthracycline first, the HER2 antibody in a later arm (sequential);
    ribociclib with an aromatase inhibitor or fulvestrant.

    Source: Herceptin EU SmPC 4.4; Slamon, NEJM 2001; Kisqali EU SmPC 4.4
    (compiler/data/combinations.yaml `forbidden_pairs`).
    """
    tables = context.tables
    lay = _layout(context)
    reported: set[tuple[object, object]] = set()
    for first, second in lay.pairs():
        hint = _forbidden_hint(context, first.drug_id, second.drug_id, None)
        # the first forbidden pair that matches speaks; one finding per pair of places
        if hint is not None and (first.span, second.span) not in reported:
            reported.add((first.span, second.span))
            assert first.drug_id is not None and second.drug_id is not None
            yield forbidden_pair.at(
                second.span, f"{_name(tables, first.drug_id)} and {_name(tables, second.drug_id)} "
                "must not be given together", hint or "give them in separate arms",
                related=(Related(first.span, "given together with this"),))
    for arm in lay.arms():
        focus = arm.focus
        if focus.drug_id is None or focus.line is None:
            continue
        for group in arm.companions:
            for target in group.targets:
                tid = target.target_id
                if tid is None:
                    continue
                hint = _forbidden_hint(context, focus.drug_id, None, tid)
                if hint is not None and (target.text.span, focus.span) not in reported:
                    reported.add((target.text.span, focus.span))
                    yield forbidden_pair.at(
                        target.text.span, f"`{target.text.value}` must not be given with "
                        f"{_name(tables, focus.drug_id)}", hint or "name another companion",
                        related=(Related(focus.span, "the drug it accompanies"),))


def _forbidden_hint(context: Context, drug_id: str | None, other: str | None, target_id: str | None) -> str | None:
    """The hint of the first forbidden pair a drug makes with another drug (or with a constraint
    target), "" when it has none; None when the two may be given together. Memoised per data set.
    """
    tables = context.tables
    known = (_FACTS[0] if _FACTS and _FACTS[0].tables is tables else _facts(tables)).forbidden_hints
    key = (drug_id, other, target_id)
    if key in known:
        return known[key]
    found: str | None = None
    for x, y, hint, _source in _forbidden(context):
        if target_id is None:
            hit = (_is(x, drug_id, tables) and _is(y, other, tables)) or \
                  (_is(y, drug_id, tables) and _is(x, other, tables))
        else:
            hit = (_is(x, drug_id, tables) and _target_is(y, target_id, tables)) or \
                  (_is(y, drug_id, tables) and _target_is(x, target_id, tables))
        if hit:
            found = hint
            break
    known[key] = found
    return found


def _needs_suppression(arm: a.Arm, needs: list[str], tables: Tables) -> bool:
    if _member_matches(arm.focus, needs, tables):
        return True
    if arm.focus.line is None:
        return False
    for partner in arm.partners:
        if _member_matches(partner, needs, tables):
            return False  # the partner that needs it is reported itself
    for group in arm.companions:
        for target in group.targets:
            if target.target_id and any(_target_is(n, target.target_id, tables) for n in needs):
                return True
    return False


@check("C004", "ovarian-suppression-missing", Severity.ERROR,
       "aromatase inhibitor or fulvestrant for premenopausal women without ovarian suppression")
def ovarian_suppression_missing(context: Context) -> Iterator[Diagnostic]:
    """What it checks: in a breast cancer protocol (id, title or scope names it), an arm
    with an aromatase inhibitor or fulvestrant (given, or named as a companion) either
    excludes pre- and perimenopausal women without ovarian suppression — by its
    conditions (`only when postmenopausal or castrated`, a `when postmenopausal:`
    branch) — or gives ovarian suppression in the same arm (an LHRH
    agonist line or companion), or says so in a note or prose line of its block. The
    requirement comes from the endocrine partner: abemaciclib with tamoxifen needs none.

    Why it matters: in a woman with functioning ovaries an aromatase inhibitor does not
    lower oestrogen and stimulates the ovaries; fulvestrant is licensed in postmenopausal
    women, or with an LHRH agonist.

    Severity: an error when the arm's conditions speak about menopause or ovarian
    suppression and still admit such women (`when premenopausal:`, the `otherwise` of a
    menopause decision); a warning when the arm says nothing about menopausal status.

    Example: `Pure anti-oestrogenen:` / `- drug fulvestrant 500 mg IM …` with no menopausal
    condition.

    Use instead: add `only when postmenopausal or castrated`, or give goserelin in the
    same arm (`only with goserelin`).

    Source: Femara, Arimidex, Aromasin SmPCs 4.1; Faslodex, Ibrance, Kisqali, Verzenios
    EU SmPCs 4.1–4.2; ABC5 (compiler/data/combinations.yaml `ovarian_suppression`).
    """
    tables = context.tables
    rule = _data(context).get("ovarian_suppression") or {}
    if not rule or not tumour_matches(context, rule.get("tumour")):
        return
    needs = [str(x) for x in rule.get("needs") or []]
    provided = [str(x) for x in rule.get("provided_by") or []]
    scenarios = [dict(s) for s in rule.get("scenarios") or []]
    words = [str(w) for w in rule.get("words") or []]
    seen: set[object] = set()
    for arm in _layout(context).arms():
        if arm.focus.drug_id is None or not _needs_suppression(arm, needs, tables):
            continue
        if _satisfied(arm, provided, tables) or _member_matches(arm.focus, provided, tables):
            continue
        for scenario in scenarios:
            if _admits(context, arm, scenario):
                break
        else:
            continue  # no scenario admits the arm
        if _arm_mentions(context, arm.texts, words):
            continue
        if arm.focus.span in seen:
            continue
        seen.add(arm.focus.span)
        variables = {v for s in scenarios for v in s}
        if a.referenced_variables(arm.conditions, tables) & variables:
            yield ovarian_suppression_missing.at(
                arm.focus.span, f"{arm.focus.label}: admits pre- or perimenopausal women without ovarian suppression",
                "add `only when postmenopausal or castrated`, or give an LHRH agonist in the same arm")
        else:
            yield ovarian_suppression_missing.at(
                arm.focus.span, f"{arm.focus.label}: no menopausal status stated and no ovarian suppression",
                "add `only when postmenopausal or castrated`, or give an LHRH agonist in the same arm",
                severity=Severity.WARNING)


@check("C005", "first-line-io-oncogene", Severity.ERROR,
       "first-line immunotherapy admits EGFR- or ALK-positive NSCLC")
def first_line_io_oncogene(context: Context) -> Iterator[Diagnostic]:
    """What it checks: in an NSCLC protocol, every arm with a PD-(L)1 or CTLA-4 inhibitor
    excludes EGFR- and ALK-positive patients in the first line — by its own conditions or
    the protocol's eligibility conditions (`exclude when EGFR+ or ALK+`, `exclude when
    (EGFR+ or ALK+) and line = 1`, `only when line >= 2`). The arm's conditions are read
    for a hypothetical patient with EGFR+ (or ALK+) disease in line 1; if no condition is
    certainly false for them, the arm admits them.

    Why it matters: these patients first get targeted therapy; immunotherapy does little
    for them and makes later osimertinib more toxic (pneumonitis).

    Example: `when PD-L1 TPS >= 50%:` / `regimen pembrolizumab` with no EGFR/ALK exclusion.

    Use instead: `exclude when EGFR+ or ALK+` on the first-line section.

    Source: seed 004 (Longkanker Nederland; richtlijn NSCLC, Federatie Medisch
    Specialisten: zonder moleculaire aberratie waarvoor doelgerichte therapie bestaat).
    """
    tables = context.tables
    rule = _data(context).get("first_line_io") or {}
    if not rule or not tumour_matches(context, rule.get("tumour")):
        return
    io_classes = [str(x) for x in rule.get("io_classes") or []]
    scenarios = [dict(s) for s in rule.get("scenarios") or []]
    seen: set[object] = set()
    for arm in _layout(context).arms():
        if not _member_matches(arm.focus, io_classes, tables) or arm.focus.span in seen:
            continue
        admitted = [s for s in scenarios if _admits(context, arm, s)]
        if not admitted:
            continue
        seen.add(arm.focus.span)
        who = " and ".join(next(k for k in s if k != "line") + "+" for s in admitted)
        yield first_line_io_oncogene.at(
            arm.focus.span, f"{arm.focus.label}: immunotherapy arm admits {who} NSCLC in line 1",
            "add `exclude when EGFR+ or ALK+` (or restrict the arm to later lines)")


def _interval_days(member: a.Member) -> int | None:
    if member.line is not None:
        for phase in reversed(member.line.phases):
            if phase.frequency is not None and phase.frequency.interval_days() is not None:
                return phase.frequency.interval_days()
            if phase.cycle_length is not None:
                return phase.cycle_length.value * (7 if phase.cycle_length.unit == "week" else 1)
    regimen = member.regimen
    if regimen is not None and regimen.cycle_length is not None:
        return regimen.cycle_length.value * (7 if regimen.cycle_length.unit == "week" else 1)
    return None


def _auc(member: a.Member) -> float | None:
    if member.line is not None:
        for phase in member.line.phases:
            if phase.dose is not None and phase.dose.unit == "AUC":
                return float(phase.dose.amount.value)
        return None
    if member.library is not None and member.library.get("unit") == "AUC":
        dose = member.library.get("dose")
        values = dose if isinstance(dose, list) else [dose]
        return max(float(v) for v in values if v is not None)
    return None


@frozen
class _Supportive:
    """One `supportive` rule of combinations.yaml, its lists read once per data set."""

    index: int
    rule: Mapping[str, Any]
    id: str
    when_all: tuple[str, ...]
    when: tuple[str, ...]
    words: list[str]  # the words that say it is given (`words`)
    drugs: list[str]  # the drugs that give it (`drugs`)
    excluded: dict[str, str | int] | None  # `excluded_scenario`: the patient it is not needed for


def _supportive_rules(context: Context) -> list[_Supportive]:
    facts = _facts(context.tables)
    if facts.supportive is None:
        facts.supportive = [
            _Supportive(index, rule, str(rule.get("id")), tuple(str(x) for x in rule.get("when_all") or []),
                        tuple(str(x) for x in rule.get("when") or []), [str(w) for w in rule.get("words") or []],
                        [str(x) for x in rule.get("drugs") or []],
                        None if rule.get("excluded_scenario") is None else dict(rule["excluded_scenario"]))
            for index, rule in enumerate(_data(context).get("supportive") or [])]
    return facts.supportive


def _supportive_for(context: Context, focus: a.Member) -> list[_Supportive]:
    """The supportive rules whose drugs (`when_all`, else `when`) the focus drug is one of, in data order."""
    if focus.drug_id is None:
        return []  # matches no drug or class
    facts = _facts(context.tables)
    found = facts.triggers.get(focus.drug_id)
    if found is None:
        found = facts.triggers[focus.drug_id] = [
            entry for entry in _supportive_rules(context)
            if _member_matches(focus, list(entry.when_all or entry.when), context.tables)]
    return found


def _triggered(prepared: _Supportive, arm: a.Arm, tables: Tables, cycle_days: int | None) -> bool:
    """Whether a rule applies to an arm whose focus drug is one of the rule's drugs (`_supportive_for`)."""
    focus = arm.focus
    if prepared.when_all:
        return all(any(_is(x, mb.drug_id, tables) for mb in arm.members) for x in prepared.when_all)
    rule = prepared.rule
    if rule.get("when_interval_days") is not None:
        interval = _interval_days(focus) or cycle_days
        if interval != int(rule["when_interval_days"]):
            return False
    if rule.get("when_auc_at_least") is not None:
        auc = _auc(focus)
        if auc is None or auc < float(rule["when_auc_at_least"]):
            return False
    return True


def _member_matches_any(arm: a.Arm, option: str, tables: Tables) -> bool:
    """Whether a member of the arm (the focus drug or a partner) is the drug or class `option`."""
    if _is(option, arm.focus.drug_id, tables):
        return True
    for partner in arm.partners:
        if _is(option, partner.drug_id, tables):
            return True
    return False


def _supportive_ids(arm: a.Arm, protocol_ids: set[str]) -> set[str]:
    """Drugs that count as given with an arm: its members, and supportive drug lines anywhere in the protocol
    (an antiemetic or premedication block is usually written once, in its own section).
    """
    return {mb.drug_id for mb in arm.members if mb.drug_id is not None} | protocol_ids


def _off_lines(arm: a.Arm, protocol_ids: set[str]) -> tuple[str, ...]:
    """The drugs of an arm's members that no drug line of the protocol gives (a library regimen's)."""
    focus = arm.focus.drug_id
    out: tuple[str, ...] = () if focus is None or focus in protocol_ids else (focus,)
    for partner in arm.partners:
        drug_id = partner.drug_id
        if drug_id is not None and drug_id not in protocol_ids:
            out += (drug_id,)
    return out


def _missing_parts(rule: Mapping[str, Any], given: set[str], tables: Tables) -> list[str]:
    """The parts of a multi-part prophylaxis (`drugs_all`) missing from the drugs given (written as drug lines:
    the caller asks only once one of the rule's `drugs` is there).
    """
    parts = [str(x) for x in rule.get("drugs_all") or []]
    return [_part_name(part, tables) for part in parts
            if not any(_is(option, d, tables) for option in part.split("|") for d in given)]


def _part_name(part: str, tables: Tables) -> str:
    names = []
    for option in part.split("|"):
        entry = tables.classes.get(option) or tables.drugs.get(option) or {}
        names.append(str((entry.get("names") or {}).get("en") or option))
    return " or ".join(names)


@check("C006", "supportive-care-missing", Severity.WARNING, "required supportive care not stated")
def supportive_care_missing(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the supportive care a drug requires is part of the protocol:
    DPD (DPYD) testing before capecitabine or fluorouracil; folic acid, vitamin B12 and
    dexamethasone with pemetrexed, and non-squamous histology; G-CSF with dose-dense
    (every 2 weeks) anthracycline, cyclophosphamide or paclitaxel; antiemetic
    prophylaxis for highly emetogenic chemotherapy (cisplatin, anthracycline +
    cyclophosphamide, carboplatin AUC ≥ 4); paclitaxel premedication; LVEF monitoring with
    HER2 antibodies, HER2 ADCs and anthracyclines. Satisfied by a drug of the right
    class in the arm (including a library regimen's supportive drugs) or on a drug line
    anywhere in the protocol (`drug ondansetron …`, `drug hydroxocobalamin …`), or by a note or
    prose line anywhere in the protocol — or a library regimen's note — naming it (the
    words are listed per rule in combinations.yaml); histology by the arm's conditions.
    Each rule is reported once per protocol, at its first unmet arm. Antiemetic
    prophylaxis written as drug lines must be complete for the emetic risk (`drugs_all`
    in combinations.yaml): high risk (cisplatin, AC) NK1 antagonist + 5-HT3 antagonist +
    dexamethasone (+ olanzapine, recommended), carboplatin AUC ≥ 4 the same three; a
    partial set names what is missing.

    Why it matters: fatal toxicity follows from missing DPD testing (complete deficiency)
    or missing vitamin supplementation with pemetrexed; unmonitored cardiotoxicity is
    irreversible.

    Example: `drug capecitabine 1000 mg/m2 po twice daily, days 1-14, cycle 21 days …`
    in a protocol that never mentions DPD.

    Use instead: `note: DPD-deficiëntie (DPYD-genotypering) testen vóór de eerste dosis.`

    Source: EMA PRAC 2020 (DPD); Alimta EU SmPC 4.2; ASCO growth factor guideline 2015;
    ASCO antiemetics guideline 2020; Taxol SmPC 4.2; Herceptin SmPC 4.4; ESC 2022
    (compiler/data/combinations.yaml `supportive`).
    """
    tables = context.tables
    lay = _layout(context)
    protocol_text: tuple[str, str | None] | None = None  # every note and prose line joined, and folded
    protocol_mentions: dict[int, bool] = {}  # per rule: a note or prose line of the protocol names it
    protocol_ids: set[str] | None = None  # the drugs of every drug line: listed when a rule first asks
    on_lines: dict[str, bool] = {}  # per drug or class: one of `protocol_ids` is it
    parts_missing: dict[tuple[int, tuple[str, ...]], list[str]] = {}  # `_missing_parts`, per rule and drugs given
    done: set[str] = set()
    triggers = _facts(tables).triggers
    for arm in lay.arms():
        drug_id = arm.focus.drug_id
        entries = triggers.get(drug_id) if drug_id is not None else None
        if entries is None:
            entries = _supportive_for(context, arm.focus)
        if not entries:
            continue  # most drugs trigger no supportive rule
        regimen_entry = tables.regimens.get(arm.focus.regimen.regimen_id or "") if arm.focus.regimen else None
        cycle_days = int(regimen_entry["cycle_days"]) if regimen_entry and regimen_entry.get("cycle_days") else None
        for entry in entries:
            rule, rule_id = entry.rule, entry.id
            if rule_id in done or not _triggered(entry, arm, tables, cycle_days):
                continue
            scenario = entry.excluded
            if scenario is not None:
                if not _admits(context, arm, scenario):
                    continue
            else:
                if protocol_ids is None:
                    protocol_ids = {i.drug_id for i in context.of_type(m.DrugLine)
                                    if isinstance(i, m.DrugLine) and i.drug_id is not None}
                # one of the rule's drugs given: on a drug line of the protocol (asked once per drug), or in the arm
                given_here = False
                for option in entry.drugs:
                    found = on_lines.get(option)
                    if found is None:
                        found = on_lines[option] = any(_is(option, drug_id, tables) for drug_id in protocol_ids)
                    if found or _member_matches_any(arm, option, tables):
                        given_here = True
                        break
                if given_here:
                    # what is missing depends on the drugs given only: the protocol's lines, and those of the
                    # arm's members that are not on a line (a library regimen's drugs); the same for most arms
                    key = (entry.index, _off_lines(arm, protocol_ids))
                    missing = parts_missing.get(key)
                    if missing is None:
                        missing = parts_missing[key] = _missing_parts(rule, _supportive_ids(arm, protocol_ids), tables)
                    if not missing:
                        continue
                    done.add(rule_id)
                    yield supportive_care_missing.at(
                        arm.focus.span, f"{arm.focus.label}: {rule.get('incomplete_message') or rule.get('message')}: "
                                        f"no {', no '.join(missing)}", str(rule.get("hint") or "state it in the protocol"))
                    continue
                # Named in the arm's texts or in any note or prose line of the protocol: the arm's texts are
                # such lines (its blocks' labels, notes and prose), but for what its drug adds itself (its
                # line's notes, its library entry's note); so the protocol is asked first, once per rule.
                words = entry.words
                if entry.index not in protocol_mentions:
                    if protocol_text is None:  # the protocol's texts, joined once for every rule that asks
                        joined = "\n".join(lay.texts_view())
                        protocol_text = (joined, folded(joined))
                    protocol_mentions[entry.index] = _protocol_mentions(lay, protocol_text, words)
                if protocol_mentions[entry.index]:
                    continue
                own = a.member_texts(arm.focus)
                if own and _mentions(own, words):
                    continue
            done.add(rule_id)
            yield supportive_care_missing.at(arm.focus.span, f"{arm.focus.label}: {rule.get('message')}",
                                             str(rule.get("hint") or "state it in the protocol"))


@check("C007", "unknown-combination-target", Severity.ERROR, "`only with` / `preferably with` names an unknown drug or class")
def unknown_combination_target(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every target of `only with` and `preferably with` is a drug of the
    formulary (generic, brand or alias) or a therapeutic class (`aromataseremmer`,
    `CDK4/6-remmers`, `HER-blokkade`, `chemotherapie`).

    Why it matters: a companion the compiler cannot read is a combination nobody checks
    (C001–C004), and usually a typo.

    Example: `only with aromatse inhibitor`

    Use instead: `only with aromatase inhibitor` (or `aromataseremmer`).

    Source: compiler/data/formulary.yaml (drug names, class names and aliases).
    """
    tables = context.tables
    candidates: list[str] = []  # every drug and class name: built only when a target is unknown
    for item in context.of_type(m.WithConstraint):
        if not isinstance(item, m.WithConstraint):
            continue
        ids = item.target_ids or tuple(None for _ in item.targets)
        for target, target_id in zip(item.targets, ids, strict=False):
            if target_id is not None:
                continue
            if not candidates:
                candidates = list(tables.class_names) + list(tables.names)
            suggestion = closest(normalise(target.value), candidates)
            hint = f"did you mean `{suggestion}`?" if suggestion else "name a formulary drug or class"
            yield unknown_combination_target.at(target.span, f"unknown drug or class `{target.value}`", hint)


@check("C008", "target-excluded", Severity.ERROR, "a targeted drug under a condition that excludes its target")
def target_excluded(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a targeted drug (combinations.yaml `targets`: HER2 antibodies and
    HER2 tyrosine-kinase inhibitors need HER2-positive disease; EGFR inhibitors an EGFR
    mutation; ALK inhibitors an ALK rearrangement) sits in an arm whose conditions admit
    patients with its target. An arm whose conditions are certainly false for every
    patient with the target — trastuzumab under `only when HER2-`, osimertinib under
    `when EGFR-` — is an error. An arm that does not mention the target is not reported
    here. Trastuzumab deruxtecan is not listed (licensed in HER2-low disease).

    Why it matters: the sheet then prescribes a drug to exactly the patients it cannot
    help, usually because a branch or a condition was copied into the wrong place.

    Example: `only when HER2-` above `drug trastuzumab 8 mg/kg IV then 6 mg/kg IV every 3 weeks`

    Use instead: `only when HER2+` (or move the drug to the HER2-positive branch).

    Source: the products' EU SmPCs section 4.1, cited per entry in combinations.yaml `targets`.
    """
    tables = context.tables
    seen: set[object] = set()
    known = _facts(tables).target_rules  # `_target_rules`, its memo read once
    for arm in _layout(context).arms():
        drug_id = arm.focus.drug_id
        if drug_id is None:
            continue
        rules = known.get(drug_id)
        if rules is None:
            rules = _target_rules(context, drug_id)
        if not rules or arm.focus.span in seen:
            continue
        for rule, scenario in rules:
            if _admits(context, arm, scenario):
                continue
            seen.add(arm.focus.span)
            target = str(rule.get("target") or ", ".join(scenario))
            yield target_excluded.at(
                arm.focus.span, f"{_name(tables, drug_id)} needs {target}-positive disease, but its conditions "
                                f"exclude {target}-positive patients",
                f"put it under a condition that requires {target}-positive disease ({rule.get('source')})")
            break


def _target_rules(context: Context, drug_id: str) -> list[tuple[Mapping[str, Any], dict[str, str]]]:
    """The `targets` rules of combinations.yaml that name a drug (or what it counts as), in data order,
    each with the scenario of a patient with the target; once per drug and data set.
    """
    facts = _facts(context.tables)
    found = facts.target_rules.get(drug_id)
    if found is None:
        ids = a.counts_as(drug_id, context.tables)
        found = facts.target_rules[drug_id] = [
            (rule, {str(k): str(v) for k, v in (rule.get("requires") or {}).items()})
            for rule in _data(context).get("targets") or []
            if isinstance(rule, dict) and ids & {str(x) for x in rule.get("drugs") or []}]
    return found


def _name_drugs(context: Context, name: str) -> frozenset[str]:
    """Drug ids named in a regimen name (`lapatinib-letrozole` → lapatinib, letrozole)."""
    known = _facts(context.tables).name_drugs  # the answer depends on the name and the data set only
    found = known.get(name)
    if found is None:
        from compiler.checks.notation import drug_names_in

        found = frozenset(d for _, _, ids in drug_names_in(name.replace("-", " ").replace("+", " "), context)
                          for d in ids)
        if len(name) <= 200:  # sheet words: bounded, and long ones never kept
            if len(known) >= 4096:
                known.clear()
            known[name] = found
    return found


def _library_drugs(tables: Tables, regimen_id: str | None) -> frozenset[str]:
    """The drugs of a library regimen (regimens.yaml), once per regimen and data set."""
    known = _facts(tables).library_drugs
    key = regimen_id or ""
    found = known.get(key)
    if found is None:
        entry = tables.regimens.get(key) or {}
        found = frozenset(str(d.get("drug")) for d in entry.get("drugs") or [] if isinstance(d, dict))
        if key in tables.regimens:  # ids of the data set only: bounded over a book
            known[key] = found
    return found


@check("C009", "regimen-contradicts-name", Severity.ERROR,
       "a regimen's drugs contradict its name or its library entry")
def regimen_contradicts_name(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the drug lines written under a regimen agree with what the regimen
    is. Under a library regimen (`regimen lapatinib-letrozole`), every drug line is a drug
    of the library entry (regimens.yaml); under any regimen, a drug named in the regimen's
    name (`regimen letrozole-palbociclib`) is given in it. Products of one substance count
    as each other (trastuzumab SC for trastuzumab).

    Why it matters: the name is what a reader scans, the drug lines are what is given; a
    regimen called lapatinib-letrozole that gives tamoxifen is either a wrong name or a
    wrong drug, and the library's companions silently fill in what the name promises.

    Example: `regimen lapatinib-letrozole` with `drug tamoxifen 20 mg po daily` under it.

    Use instead: `regimen lapatinib-letrozole` with `drug letrozole 2,5 mg po daily`, or a
    regimen named for what it gives.

    Source: ISMP Guidelines for Standard Order Sets (2010): regimen names match their
    components; regimens.yaml.
    """
    tables = context.tables
    lay = _layout(context)
    for index in lay.regimen_indices():
        regimen = lay.items[index]
        if not isinstance(regimen, m.RegimenLine):
            continue
        lines = lay.drug_lines_within(index)
        if not lines:
            continue  # nothing written under it to contradict anything
        given: set[str] = set()
        for line in lines:
            if line.drug_id:
                given |= a.counted(line.drug_id, tables)
        library = _library_drugs(tables, regimen.regimen_id)
        if library:
            for line in lines:
                if line.drug_id is None or a.counted(line.drug_id, tables) & library:
                    continue
                yield regimen_contradicts_name.at(
                    line.name.span, f"{_name(tables, line.drug_id)} is not a drug of regimen {regimen.name.value} "
                                    f"({', '.join(_name(tables, d) for d in sorted(library))})",
                    "give the regimen's own drugs, or name the regimen for what it gives")
        missing = sorted(d for d in _name_drugs(context, regimen.name.value)
                         if d in tables.drugs and not a.counted(d, tables) & given)
        if missing:
            yield regimen_contradicts_name.at(
                regimen.name.span, f"regimen {regimen.name.value} names {', '.join(_name(tables, d) for d in missing)} "
                                   "but does not give it",
                "add the drug line, or name the regimen for what it gives")
