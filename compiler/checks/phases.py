"""Regimen phases (issue 14 item 4): `phase AC: cycle 21 days, 4 cycles` / `followed by
phase paclitaxel: cycle 7 days, 12 cycles` under an inline regimen.

The phases of a regimen are given one after the other, so the combination checks do
not pair drugs of different phases (`compiler/arms.py`), the cumulative anthracycline
dose adds the phases up (D011), and each drug line takes its phase's cycle length and
count. The rules here check what only phases can get wrong: a drug line whose schedule
contradicts the cycle of its regimen or phase, and a cap that spans the phases.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, arm_layout
from compiler.diagnostics import Diagnostic, Related, Severity, check
from compiler.records import frozen

DAYS = {"day": 1, "week": 7}
DAYS_PER = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}


def _days(duration: m.Duration | None) -> int | None:
    if duration is None or duration.unit not in DAYS:
        return None
    return duration.value * DAYS[duration.unit]


def _container(lay: a.Layout, index: int) -> m.RegimenLine | m.PhaseLine | None:
    """The phase, else the regimen, a drug line is written in."""
    at = lay.container(index)
    if at is None:
        return None
    item = lay.items[at]
    assert isinstance(item, (m.PhaseLine, m.RegimenLine))
    return item


def _name(context: Context, line: m.DrugLine) -> str:
    return context.tables.drug_name(line.drug_id, "en") if line.drug_id else line.name.value


def _kind(container: m.RegimenLine | m.PhaseLine) -> str:
    return f"phase {container.name.value}" if isinstance(container, m.PhaseLine) else f"regimen {container.name.value}"


@check("S014", "cycle-length-conflict", Severity.ERROR,
       "a drug line's cycle or interval contradicts the cycle of its regimen or phase")
def cycle_length_conflict(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a drug line written under a regimen or a `phase` that has a cycle
    length (stated, `cycle 21 days`, or the library regimen's own) does not state another one (`cycle 28
    days`, or an on/off pattern of another length), and an interval of its own (`every
    2 weeks`) fits the cycle: it divides the cycle (weekly in a 21-day cycle) or is a
    whole number of cycles (every 9 weeks in 21-day cycles).

    Why it matters: "regimen … cycle 21 days" with "drug … cycle 28 days" below it is
    two schedules on one sheet; the ward books one, the pharmacy prepares the other.

    Example: `regimen "carboplatin-paclitaxel" cycle 21 days` / `drug paclitaxel 175
    mg/m2 IV day 1, cycle 28 days …`

    Use instead: one cycle length, on the regimen (or the phase) only.

    Source: ASCO/ONS chemotherapy administration safety standards (2016): one cycle
    length per regimen order; NCCN order templates (cycle header above the drug lines).
    """
    if not context.of_types((m.PhaseLine, m.RegimenLine)):
        return  # no regimen or phase: no line is written in one
    lay = arm_layout(context)
    items = lay.items
    for index in lay.drug_nodes():
        line = items[index]
        assert isinstance(line, m.DrugLine)
        container = _container(lay, index)
        if container is None:
            continue
        cycle = _days(container.cycle_length)
        where_cycle = container.cycle_length.span if container.cycle_length is not None else container.name.span
        if cycle is None and isinstance(container, m.RegimenLine) and container.regimen_id is not None:
            entry = context.tables.regimens.get(container.regimen_id) or {}  # a library regimen's own cycle
            cycle = int(entry["cycle_days"]) if entry.get("cycle_days") else None
        if cycle is None:
            continue
        related = (Related(where_cycle, f"the cycle of {_kind(container)}"),)
        for phase in line.phases:
            own = _days(phase.cycle_length) if phase.cycle_length is not None else (
                sum(phase.on_off) if phase.on_off is not None else None)
            where = phase.cycle_length.span if phase.cycle_length is not None else phase.span
            if own is not None and own != cycle:
                yield cycle_length_conflict.at(
                    where, f"{_name(context, line)}: cycle of {own} days in {_kind(container)} of {cycle} days",
                    "state the cycle once, on the regimen or phase", related=related)
                break
            interval = phase.frequency.interval_days() if phase.frequency is not None else None
            if interval is not None and interval != cycle and cycle % interval and interval % cycle:
                assert phase.frequency is not None
                yield cycle_length_conflict.at(
                    phase.frequency.span, f"{_name(context, line)}: every {interval} days does not fit the "
                                          f"{cycle}-day cycle of {_kind(container)}",
                    "use an interval that divides the cycle or is a whole number of cycles, or move the drug "
                    "to a phase of its own", related=related)
                break


@frozen
class _Planned:
    line: m.DrugLine
    phase: m.PhaseLine
    days: float | None  # None: open-ended or unknown


def _phase_days(phase: m.PhaseLine) -> float | None:
    if phase.until is not None:
        return None
    if phase.max_duration is not None:
        return phase.max_duration.value * DAYS_PER.get(phase.max_duration.unit, 0)
    cycle = _days(phase.cycle_length)
    if cycle is None or phase.cycles is None:
        return None
    return float(cycle * phase.cycles)


def _duration_text(days: float) -> str:
    if days >= 365.25:
        return f"{days / 365.25:.1f} years"
    if days >= 30.4375:
        return f"{days / 30.4375:.1f} months"
    return f"{days:.0f} days"


@check("S015", "cap-across-phases", Severity.ERROR, "a drug's planned duration over all phases exceeds the stated cap")
def cap_across_phases(context: Context) -> Iterator[Diagnostic]:
    """What it checks: for a drug given in more than one phase of a regimen, the planned
    duration added over its phases (cycles × cycle length of each phase) stays within
    the cap written for it "in all": the regimen's `max` (`regimen "pembrolizumab
    neoadjuvant-adjuvant" max 2 years`), or a `max` on one of the drug's lines. Phases
    that run `until progression` have no planned end and are not added up.

    Why it matters: pembrolizumab 8 cycles before surgery and 17 after is already 1.5
    years; a third phase can pass the two-year limit without any single line showing it.

    Example: `phase neoadjuvant: cycle 21 days, 8 cycles` + `followed by phase adjuvant:
    cycle 42 days, 20 cycles` under `regimen … max 2 years` (8 × 21 + 20 × 42 days = 2.8
    years)

    Use instead: the number of cycles that keeps the sum within the cap (9 × 6 weeks).

    Source: KEYNOTE-522 regimen (pembrolizumab 200 mg every 3 weeks × 8 neoadjuvant, then
    every 3 weeks × 9 adjuvant, Keytruda SmPC 4.2); caps per product: formulary
    `max_duration`.
    """
    if not context.of_type(m.PhaseLine):
        return  # no phase (most sheets): no drug is planned in phases
    lay = arm_layout(context)
    items = lay.items
    for index in lay.regimen_indices():
        regimen = items[index]
        assert isinstance(regimen, m.RegimenLine)
        planned: dict[str, list[_Planned]] = {}
        caps: dict[str, list[m.Duration]] = {}
        for inner in lay.drug_nodes_within(index):
            line = items[inner]
            assert isinstance(line, m.DrugLine)
            if line.drug_id is None:
                continue
            phase_index = lay.enclosing_phase(inner)
            if phase_index is None:
                continue
            phase = items[phase_index]
            assert isinstance(phase, m.PhaseLine)
            planned.setdefault(line.drug_id, []).append(_Planned(line, phase, _phase_days(phase)))
            if line.max_duration is not None:
                caps.setdefault(line.drug_id, []).append(line.max_duration)
        for drug_id, parts in planned.items():
            if len({id(p.phase) for p in parts}) < 2 or any(p.days is None for p in parts):
                continue
            total = sum(p.days or 0 for p in parts)
            stated = [*caps.get(drug_id, []), *([regimen.max_duration] if regimen.max_duration else [])]
            if not stated:
                continue
            cap = min(stated, key=lambda d: d.value * DAYS_PER.get(d.unit, 0))
            cap_days = cap.value * DAYS_PER.get(cap.unit, 0)
            if total > cap_days + 0.5:
                line = parts[-1].line
                yield cap_across_phases.at(
                    line.name.span, f"{_name(context, line)}: {_duration_text(total)} over "
                                    f"{len(parts)} phases, above the cap of {cap.value} {cap.unit}s",
                    "reduce the cycles of a phase so the sum stays within the cap",
                    related=(Related(cap.span, "the cap"),))


def _statement(item: m.Item) -> m.Item:
    return item.content if isinstance(item, m.Bullet) and item.content is not None else item


@check("S016", "phase-placement", Severity.ERROR, "a phase outside a regimen, without drug lines, or beside bare drug lines")
def phase_placement(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a `phase` line is written directly under a `regimen` line, holds
    the drug lines given in that phase (or a library regimen: `regimen EC75`), and a regimen written in phases has no drug lines
    outside its phases.

    Why it matters: a phase is a part of one regimen; outside a regimen its cycle data
    belong to nothing, an empty phase schedules nothing, and a drug line beside the phases
    is in none of them — nobody can tell in which cycles it is given.

    Example: `phase AC: cycle 21 days, 4 cycles` at section level; `regimen "AC-T"` /
    `phase AC: …` / `drug paclitaxel …` (beside the phase)

    Use instead: indent the phases under the regimen and the drug lines under their phase.

    Source: NZ SACT regimen library (regimens in parts, each with its own cycle table);
    FHIR PlanDefinition nested actions (a phase is an action of its regimen).
    """
    if not context.of_type(m.PhaseLine):
        return  # no phase (most sheets): nothing is placed (a regimen's phases are among the items too)
    lay = arm_layout(context)
    items = lay.items
    # the phases and the regimens, in sheet order (no other node is looked at)
    for index in sorted([*lay.phase_nodes(), *lay.regimen_indices()]):
        item = items[index]
        if isinstance(item, m.PhaseLine):
            parent_index = lay.parents[index]
            parent = items[parent_index if parent_index is not None else 0]
            if isinstance(parent, m.Bullet):  # `- phase …`: its block belongs to the bullet, not the phase
                yield phase_placement.at(item.name.span, f"phase {item.name.value} is written as a bullet",
                                         "write `phase …:` without `- ` (a phase is a part of its regimen, "
                                         "not an alternative)")
                continue
            if not isinstance(parent, m.RegimenLine):
                yield phase_placement.at(item.name.span, f"phase {item.name.value} is not under a regimen",
                                         "indent the phase under the `regimen` line it belongs to")
            if not lay.has_line_within(index):
                yield phase_placement.at(item.name.span, f"phase {item.name.value} has no drug lines",
                                         "indent the drug lines (or the library regimen) of this phase under it")
        elif isinstance(item, m.RegimenLine):
            children = [_statement(c) for c in item.children]
            if any(isinstance(c, m.PhaseLine) for c in children):
                for child in children:
                    if isinstance(child, m.DrugLine):
                        yield phase_placement.at(child.name.span, f"{child.name.value} is in none of the phases "
                                                 f"of regimen {item.name.value}",
                                                 "indent it under the phase it is given in")
