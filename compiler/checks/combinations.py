"""C: combinations — companions, class duplicates, forbidden pairs, prerequisite states and
first-line immunotherapy in oncogene-driven NSCLC (C001-C005); required supportive care is
`checks.combinations_supportive` (C006), `only with` targets and regimen names
`checks.combinations_targets` (C007-C009).

Every check here reasons over treatment *arms* (`compiler.arms`): the drugs given
together, the companions named by `only with` / `preferably with`, and the conditions
of the patients the arm is for. The rules and drug lists live in
`compiler/data/combinations.yaml` (and the formulary's `requires`, `forbidden_with`);
what they ask of them again and again is `checks.combination_facts`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, arm_layout, folded
from compiler.checks.combination_facts import (
    admits,
    combination_data,
    drug_facts,
    member_matches,
    mentioned,
    mentions,
    new_memo,
    option_name,
    prepared_words,
    satisfies,
)
from compiler.diagnostics import Diagnostic, Related, Severity, check
from compiler.tables import Tables, normalise


def tumour_matches(context: Context, words: list[str] | None) -> bool:
    """Whether the protocol (id, title, scope) is about one of these tumours; no words: always."""
    if not words:
        return True
    # asked for every rule of every arm, with the data's few lists: answered once per list and check run
    known: dict[int, tuple[list[str], bool]] = context.memo("combinations.tumours", new_memo)
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
    known = drug_facts(tables).lowered
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
    return str(combination_data(context).get("default_region") or "EU")


def _target_is(option: str, target_id: str, tables: Tables) -> bool:
    """`arms.target_satisfies`, memoised per data set."""
    known = drug_facts(tables).target_satisfied
    found = known.get((option, target_id))
    if found is None:
        found = known[(option, target_id)] = a.target_satisfies(option, target_id, tables)
    return found


def _arm_mentions(context: Context, texts: tuple[str, ...], words: list[str]) -> bool:
    """`mentions` of an arm's texts, once per check run: the arms of one block share their texts."""
    known: dict[tuple[tuple[str, ...], tuple[str, ...]], bool] = context.memo("combinations.mentions", new_memo)
    key = (texts, tuple(words))
    found = known.get(key)
    if found is None:
        if not words or not texts:
            found = False
        else:
            prepared = prepared_words(words)
            if len(texts) > 1 and not prepared[2]:
                found = mentions(texts, words)
            else:  # `mentions`, the texts joined (and folded) once for every word list asked of them
                joins: dict[tuple[str, ...], tuple[str, str | None]] = context.memo("combinations.joined", new_memo)
                joined = joins.get(texts)
                if joined is None:
                    text = "\n".join(texts)
                    joined = joins[texts] = (text, folded(text))
                found = mentioned(joined[0], joined[1] if prepared[1] is not None else None, prepared)
        known[key] = found
    return found


def _satisfied(arm: a.Arm, options: list[str], tables: Tables) -> bool:
    """A requirement (any one of `options`) is met by a partner, or — in an arm that gives
    no partner at all (a monograph-style block) — by an `only with` that names it.

    Content over words: once an arm gives partners, only a partner counts (an `only with
    aromataseremmer` beside tamoxifen does not make tamoxifen an aromatase inhibitor), and
    `preferably with` never satisfies a requirement.
    """
    if arm.partners:
        for partner in arm.partners:
            if member_matches(partner, options, tables):
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
            return any(satisfies(option, p.drug_id, tables) for p in arm.partners)

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
                                                                              new_memo)
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
    facts = drug_facts(context.tables)
    known = facts.requirements.get(drug_id)
    if known is None:
        tables = context.tables
        rules = [([str(x) for x in rule.get("requires") or []], rule)
                 for rule in combination_data(context).get("companions") or []
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
        "combinations.requirements", new_memo)  # `_requirements`, its memo read once
    for arm in arm_layout(context).arms():
        focus = arm.focus
        if focus.drug_id is None:
            continue
        unmet = _unmet_only_with(arm, tables) if arm.partners and arm.companions else None
        if unmet is not None:
            key = (focus.span, "only with")
            if key not in seen:
                seen.add(key)
                given = ", ".join(dict.fromkeys(option_name(tables, p.drug_id) for p in arm.partners if p.drug_id))
                yield companion_missing.at(
                    focus.span, f"{option_name(tables, focus.drug_id)}: `only with {unmet}` but its arm gives {given}",
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
            names = " or ".join(option_name(tables, o) for o in options + extra)
            yield companion_missing.at(
                focus.span, f"{option_name(tables, focus.drug_id)} without {names} in its arm",
                "give it in one regimen with its companion, or state `only with "
                f"{option_name(tables, options[0])}`; sibling bullets are alternatives{hint_extra}")


def _duplicate_class(tables: Tables, classes: list[str], first: set[str], second: set[str]) -> str | None:
    for class_id in classes:
        if class_id in first and class_id in second:
            return class_id
    return None


def _duplicate(tables: Tables, classes: list[str], first: str, second: str) -> tuple[bool, str | None]:
    """Whether two drugs are one molecule, else the never-combined class they share (memoised per data set)."""
    known = drug_facts(tables).duplicates
    found = known.get((first, second))
    if found is None:
        if _molecules(first, tables) & _molecules(second, tables):
            found = (True, None)
        else:
            found = (False, _duplicate_class(tables, classes, tables.drug_classes(first), tables.drug_classes(second)))
        known[(first, second)] = found
    return found


def _molecules(drug_id: str, tables: Tables) -> frozenset[str]:
    known = drug_facts(tables).molecules
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
    facts = drug_facts(tables)
    classes = facts.duplicate_classes
    if classes is None:
        classes = facts.duplicate_classes = [str(e.get("class")) for e in combination_data(context).get("duplicate_classes") or []]
    lay = arm_layout(context)
    for first, second in lay.pairs():
        if first.drug_id is None or second.drug_id is None or first.drug_id == second.drug_id:
            continue
        same, shared = _duplicate(tables, classes, first.drug_id, second.drug_id)
        if same:
            yield class_duplicate.at(
                second.span, f"{option_name(tables, first.drug_id)} and {option_name(tables, second.drug_id)} are the same "
                "molecule in one arm", "give one product; sibling bullets are alternatives",
                related=(Related(first.span, "the other product"),))
            continue
        if shared is not None:
            yield class_duplicate.at(
                second.span, f"two {option_name(tables, shared)}s in one arm: {option_name(tables, first.drug_id)} and "
                f"{option_name(tables, second.drug_id)}",
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
                        target.text.span, f"`{target.text.value}` is a second {option_name(tables, shared)} for "
                        f"{option_name(tables, arm.focus.drug_id)}", "name a companion of another class",
                        related=(Related(arm.focus.span, "the drug it accompanies"),))


def _forbidden(context: Context) -> list[tuple[str, str, str, str]]:
    """(a, b, hint, source) of every forbidden pair, from combinations.yaml and the formulary."""
    facts = drug_facts(context.tables)
    if facts.forbidden is None:
        out = [(str(p.get("a")), str(p.get("b")), str(p.get("hint") or ""), str(p.get("source") or ""))
               for p in combination_data(context).get("forbidden_pairs") or []]
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
    lay = arm_layout(context)
    reported: set[tuple[object, object]] = set()
    for first, second in lay.pairs():
        hint = _forbidden_hint(context, first.drug_id, second.drug_id, None)
        # the first forbidden pair that matches speaks; one finding per pair of places
        if hint is not None and (first.span, second.span) not in reported:
            reported.add((first.span, second.span))
            assert first.drug_id is not None and second.drug_id is not None
            yield forbidden_pair.at(
                second.span, f"{option_name(tables, first.drug_id)} and {option_name(tables, second.drug_id)} "
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
                        f"{option_name(tables, focus.drug_id)}", hint or "name another companion",
                        related=(Related(focus.span, "the drug it accompanies"),))


def _forbidden_hint(context: Context, drug_id: str | None, other: str | None, target_id: str | None) -> str | None:
    """The hint of the first forbidden pair a drug makes with another drug (or with a constraint
    target), "" when it has none; None when the two may be given together. Memoised per data set.
    """
    tables = context.tables
    known = drug_facts(tables).forbidden_hints
    key = (drug_id, other, target_id)
    if key in known:
        return known[key]
    found: str | None = None
    for x, y, hint, _source in _forbidden(context):
        if target_id is None:
            hit = (satisfies(x, drug_id, tables) and satisfies(y, other, tables)) or \
                  (satisfies(y, drug_id, tables) and satisfies(x, other, tables))
        else:
            hit = (satisfies(x, drug_id, tables) and _target_is(y, target_id, tables)) or \
                  (satisfies(y, drug_id, tables) and _target_is(x, target_id, tables))
        if hit:
            found = hint
            break
    known[key] = found
    return found


def _needs_suppression(arm: a.Arm, needs: list[str], tables: Tables) -> bool:
    if member_matches(arm.focus, needs, tables):
        return True
    if arm.focus.line is None:
        return False
    for partner in arm.partners:
        if member_matches(partner, needs, tables):
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
    rule = combination_data(context).get("ovarian_suppression") or {}
    if not rule or not tumour_matches(context, rule.get("tumour")):
        return
    needs = [str(x) for x in rule.get("needs") or []]
    provided = [str(x) for x in rule.get("provided_by") or []]
    scenarios = [dict(s) for s in rule.get("scenarios") or []]
    words = [str(w) for w in rule.get("words") or []]
    seen: set[object] = set()
    for arm in arm_layout(context).arms():
        if arm.focus.drug_id is None or not _needs_suppression(arm, needs, tables):
            continue
        if _satisfied(arm, provided, tables) or member_matches(arm.focus, provided, tables):
            continue
        for scenario in scenarios:
            if admits(context, arm, scenario):
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
    rule = combination_data(context).get("first_line_io") or {}
    if not rule or not tumour_matches(context, rule.get("tumour")):
        return
    io_classes = [str(x) for x in rule.get("io_classes") or []]
    scenarios = [dict(s) for s in rule.get("scenarios") or []]
    seen: set[object] = set()
    for arm in arm_layout(context).arms():
        if not member_matches(arm.focus, io_classes, tables) or arm.focus.span in seen:
            continue
        admitted = [s for s in scenarios if admits(context, arm, s)]
        if not admitted:
            continue
        seen.add(arm.focus.span)
        who = " and ".join(next(k for k in s if k != "line") + "+" for s in admitted)
        yield first_line_io_oncogene.at(
            arm.focus.span, f"{arm.focus.label}: immunotherapy arm admits {who} NSCLC in line 1",
            "add `exclude when EGFR+ or ALK+` (or restrict the arm to later lines)")
