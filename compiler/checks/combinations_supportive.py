"""C006: required supportive care — the premedication, prophylaxis and supplements a drug's
label or guideline requires in its arm (`compiler/data/combinations.yaml` `supportive`,
the formulary's `supportive`), given as a drug line or stated in the arm's texts.
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
    mentions,
    protocol_mentions,
    satisfies,
)
from compiler.diagnostics import Diagnostic, Severity, check
from compiler.records import frozen
from compiler.tables import Tables


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
class SupportiveRule:
    """One `supportive` rule of combinations.yaml, its lists read once per data set."""

    index: int
    rule: Mapping[str, Any]
    id: str
    when_all: tuple[str, ...]
    when: tuple[str, ...]
    words: list[str]  # the words that say it is given (`words`)
    drugs: list[str]  # the drugs that give it (`drugs`)
    excluded: dict[str, str | int] | None  # `excluded_scenario`: the patient it is not needed for


def _supportive_rules(context: Context) -> list[SupportiveRule]:
    facts = drug_facts(context.tables)
    if facts.supportive is None:
        facts.supportive = [
            SupportiveRule(index, rule, str(rule.get("id")), tuple(str(x) for x in rule.get("when_all") or []),
                        tuple(str(x) for x in rule.get("when") or []), [str(w) for w in rule.get("words") or []],
                        [str(x) for x in rule.get("drugs") or []],
                        None if rule.get("excluded_scenario") is None else dict(rule["excluded_scenario"]))
            for index, rule in enumerate(combination_data(context).get("supportive") or [])]
    return facts.supportive


def _supportive_for(context: Context, focus: a.Member) -> list[SupportiveRule]:
    """The supportive rules whose drugs (`when_all`, else `when`) the focus drug is one of, in data order."""
    if focus.drug_id is None:
        return []  # matches no drug or class
    facts = drug_facts(context.tables)
    found = facts.triggers.get(focus.drug_id)
    if found is None:
        found = facts.triggers[focus.drug_id] = [
            entry for entry in _supportive_rules(context)
            if member_matches(focus, list(entry.when_all or entry.when), context.tables)]
    return found


def _triggered(prepared: SupportiveRule, arm: a.Arm, tables: Tables, cycle_days: int | None) -> bool:
    """Whether a rule applies to an arm whose focus drug is one of the rule's drugs (`_supportive_for`)."""
    focus = arm.focus
    if prepared.when_all:
        return all(any(satisfies(x, mb.drug_id, tables) for mb in arm.members) for x in prepared.when_all)
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
    if satisfies(option, arm.focus.drug_id, tables):
        return True
    for partner in arm.partners:
        if satisfies(option, partner.drug_id, tables):
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
            if not any(satisfies(option, d, tables) for option in part.split("|") for d in given)]


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
    lay = arm_layout(context)
    protocol_text: tuple[str, str | None] | None = None  # every note and prose line joined, and folded
    named_in_protocol: dict[int, bool] = {}  # per rule: a note or prose line of the protocol names it
    protocol_ids: set[str] | None = None  # the drugs of every drug line: listed when a rule first asks
    on_lines: dict[str, bool] = {}  # per drug or class: one of `protocol_ids` is it
    parts_missing: dict[tuple[int, tuple[str, ...]], list[str]] = {}  # `_missing_parts`, per rule and drugs given
    done: set[str] = set()
    triggers = drug_facts(tables).triggers
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
                if not admits(context, arm, scenario):
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
                        found = on_lines[option] = any(satisfies(option, drug_id, tables) for drug_id in protocol_ids)
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
                if entry.index not in named_in_protocol:
                    if protocol_text is None:  # the protocol's texts, joined once for every rule that asks
                        joined = "\n".join(lay.texts_view())
                        protocol_text = (joined, folded(joined))
                    named_in_protocol[entry.index] = protocol_mentions(lay, protocol_text, words)
                if named_in_protocol[entry.index]:
                    continue
                own = a.member_texts(arm.focus)
                if own and mentions(own, words):
                    continue
            done.add(rule_id)
            yield supportive_care_missing.at(arm.focus.span, f"{arm.focus.label}: {rule.get('message')}",
                                             str(rule.get("hint") or "state it in the protocol"))
