"""S: schedule — what a sheet's own schedule must hold: frequency, route and cycle data (S001),
days inside the cycle (S002), `monthly` said plainly (S007), one schedule per drug and arm
(S008), no schedule that cannot exist (S009), and a library regimen's schedule as the library
gives it (S010). The schedule against the product's label (intervals, duration, pattern,
infusion time: S003-S006) is `checks.schedule_label`.

Checks on one drug line use the line; checks that need "the same arm" (S008) use
`compiler.arms`. Numbers come from `compiler/data/schedules.yaml` and the regimen library.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, arm_layout
from compiler.diagnostics import Diagnostic, Fix, Related, Severity, check
from compiler.lazyre import lazy
from compiler.source import Span

DAYS_PER = {"day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}


def drug_lines(context: Context) -> tuple[tuple[int, m.DrugLine], ...]:
    """Every drug line with its node in the layout (found once per check run: ten rules read them)."""
    return context.shared(_drug_nodes)


def _drug_nodes(context: Context) -> tuple[tuple[int, m.DrugLine], ...]:
    lay = arm_layout(context)
    items = lay.items
    return tuple([(index, items[index]) for index in lay.drug_nodes()])  # type: ignore[misc]


def regimen_at(context: Context, index: int) -> m.RegimenLine | None:
    """`enclosing_regimen` of a node, once per node and check run (five rules ask it of every line, and a
    line in a phase gets a fresh view of its regimen each time).
    """
    known = context.shared(_regimens_at)
    if index in known:
        return known[index]
    found = known[index] = arm_layout(context).enclosing_regimen(index)
    return found


def _regimens_at(context: Context) -> dict[int, m.RegimenLine | None]:
    return {}


def line_name(context: Context, line: m.DrugLine) -> str:
    """A drug line's drug as the messages name it (its product's English name, else the name written)."""
    return context.tables.drug_name(line.drug_id, "en") if line.drug_id else line.name.value


def has_schedule(phase: m.Phase) -> bool:
    """Whether a phase states when it is given (a frequency or days)."""
    return phase.frequency is not None or phase.days is not None


def inherited(lay: a.Layout, index: int, line: m.DrugLine, want: str) -> bool:
    """The drug line this line is written *under* (an enclosing statement of the same drug)
    states the missing part: a renal dose table nested below the scheduled line.

    Only enclosing lines count: a sibling or cousin line of the same drug never lends its
    interval or infusion time (a line that lacks one is reported where it stands).
    """
    if line.drug_id is None:
        return False
    for ancestor in lay.ancestors(index)[1:]:
        other = lay.items[ancestor]
        if isinstance(other, m.Bullet):
            other = other.content
        if not isinstance(other, m.DrugLine) or other is line or other.drug_id != line.drug_id:
            continue
        if want == "schedule" and any(has_schedule(p) for p in other.phases):
            return True
        if want == "infusion" and other.infusion is not None:
            return True
    return False


def regimen_entry(context: Context, regimen: m.RegimenLine | None) -> Mapping[str, Any]:
    """The regimen library's entry of a regimen line ({} when it names none the library has)."""
    if regimen is None or regimen.regimen_id is None:
        return {}
    return context.tables.regimens.get(regimen.regimen_id) or {}


def _cycle_days(context: Context, line: m.DrugLine | None, regimen: m.RegimenLine | None) -> int | None:
    if line is not None:
        for phase in line.phases:
            if phase.cycle_length is not None:
                return round(phase.cycle_length.value * DAYS_PER.get(phase.cycle_length.unit, 1))
            if phase.on_off is not None:
                return phase.on_off[0] + phase.on_off[1]
    if regimen is not None and regimen.cycle_length is not None:
        return round(regimen.cycle_length.value * DAYS_PER.get(regimen.cycle_length.unit, 1))
    entry = regimen_entry(context, regimen)
    return int(entry["cycle_days"]) if entry.get("cycle_days") else None


def _has_count(context: Context, line: m.DrugLine | None, regimen: m.RegimenLine | None) -> bool:
    if line is not None and (line.max_duration is not None or any(
            p.cycles is not None or p.until is not None or p.for_duration is not None for p in line.phases)):
        return True
    if regimen is not None and (regimen.cycles is not None or regimen.until is not None
                                or regimen.max_duration is not None):
        return True
    entry = regimen_entry(context, regimen)
    return bool(entry.get("cycles") or entry.get("until_progression") or entry.get("max_duration_months"))


@check("S001", "schedule-incomplete", Severity.ERROR, "dosed drug line without frequency, route or cycle data")
def schedule_incomplete(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a drug line with a dose states its route and how often it is given
    (a frequency, or cycle days). Only the last phase needs a schedule: earlier phases
    (`8 mg/kg IV then 6 mg/kg IV every 3 weeks`) are single loading doses. A line that
    only restates the dose of a drug scheduled in an enclosing block (a renal dose table
    under the scheduled line) takes that schedule. A cyclic line (cycle days) or an
    inline regimen also states its cycle length and how long it runs: a number of cycles,
    `for …`, `max …` or `until progression` — on the line or on its regimen (a library
    regimen supplies its own).

    Why it matters: "capecitabine 1000 mg/m2 twice daily, days 1-14" without a cycle
    length or an end is an order nobody can schedule; a missing route is a guess.

    Example: `drug everolimus 10 mg`

    Use instead: `drug everolimus 10 mg po daily`; `drug capecitabine 1000 mg/m2 po twice
    daily, days 1-14, cycle 21 days until progression`.

    Source: ISMP Guidelines for Standard Order Sets (2010); ASCO/ONS chemotherapy
    administration safety standards (2016): regimen, dose, route, frequency, cycle
    length and number of cycles on every order.
    """
    lay = arm_layout(context)
    for index, line in drug_lines(context):
        for phase in line.phases:
            if phase.dose is not None:
                break
        else:
            continue  # no dose
        regimen = regimen_at(context, index)
        where = line.name.span
        if line.route is None and not inherited(lay, index, line, "schedule"):
            yield schedule_incomplete.at(where, f"{line_name(context, line)}: no route", "write the route: po, IV, IM, subcut …")
        last = line.phases[-1]
        regimen_schedule = regimen is not None and (regimen.frequency is not None or regimen.cycle_length is not None)
        # lang-b: a drug timed to another (`30 min before paclitaxel`) follows that drug's
        # schedule; an as-needed drug has none (S013 asks for its daily maximum instead).
        follows = line.timing is not None or line.as_needed is not None
        if not has_schedule(last) and not last.continuous and not regimen_schedule and not follows \
                and not inherited(lay, index, line, "schedule"):
            yield schedule_incomplete.at(where, f"{line_name(context, line)}: no frequency",
                                         "write how often: daily, every 3 weeks, days 1, 8 …")
            continue
        if last.days is not None:  # days of an earlier phase are loading days (fulvestrant 1, 15, 29)
            if _cycle_days(context, line, regimen) is None:
                yield schedule_incomplete.at(where, f"{line_name(context, line)}: cycle days without a cycle length",
                                             "add `cycle 21 days` (or the regimen's cycle length)")
            elif not _has_count(context, line, regimen):
                yield schedule_incomplete.at(where, f"{line_name(context, line)}: cyclic without a number of cycles or end",
                                             "add `6 cycles`, `for 1 year` or `until progression`")
    if all(regimen.regimen_id is not None for regimen in context.of_type(m.RegimenLine)):
        return  # no inline regimen (the index holds bullets' content too)
    items = lay.items
    for at in lay.regimen_indices():
        inline = items[at]
        if not isinstance(inline, m.RegimenLine) or inline.regimen_id is not None:
            continue
        lines = lay.drug_lines_within(at)
        if not lines:
            continue
        regimen = inline
        phased = [index for index in lay.drug_nodes_within(at) if lay.enclosing_phase(index) is not None]
        if phased:
            continue  # lang-b: a regimen in phases: each line is checked with its phase's cycle above
        if regimen.cycle_length is None and all(_cycle_days(context, x, None) is None for x in lines) \
                and any(p.days is not None for x in lines for p in x.phases):
            yield schedule_incomplete.at(regimen.name.span, f"regimen {regimen.name.value}: no cycle length",
                                         "add `cycle 21 days` to the regimen line")
        elif any(p.days is not None for x in lines for p in x.phases) and not _has_count(context, None, regimen) \
                and not any(_has_count(context, x, None) for x in lines):
            yield schedule_incomplete.at(regimen.name.span, f"regimen {regimen.name.value}: no number of cycles or end",
                                         "add `6 cycles` or `until progression` to the regimen line")


@check("S002", "day-outside-cycle", Severity.ERROR, "administration day outside the cycle")
def day_outside_cycle(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every administration day lies within the cycle (day 22 in a
    21-day cycle is outside), and an on/off pattern adds up to the cycle length
    (21 days on, 7 off = 28 days). Days before day 1 (a lead-in: `days -7 to -1`,
    day 0) are allowed, but not more than 90 days before day 1.

    Why it matters: a day outside the cycle is either a typo in the day or in the cycle
    length; both change the dose intensity.

    Example: `drug capecitabine 1000 mg/m2 po twice daily, days 1-22, cycle 21 days`

    Use instead: `days 1-14, cycle 21 days`

    Source: ASCO/ONS chemotherapy administration safety standards (2016).
    """
    for index, line in drug_lines(context):
        cycle = _cycle_days(context, line, regimen_at(context, index))
        if cycle is None:
            continue
        for phase in line.phases:
            if phase.days is not None and max(phase.days.days, default=0) > cycle:
                yield day_outside_cycle.at(phase.days.span, f"day {max(phase.days.days)} is outside the {cycle}-day cycle",
                                           "check the days and the cycle length")
            if phase.on_off is not None and phase.cycle_length is not None:
                length = round(phase.cycle_length.value * DAYS_PER.get(phase.cycle_length.unit, 1))
                if sum(phase.on_off) != length:
                    yield day_outside_cycle.at(phase.cycle_length.span,
                                               f"{phase.on_off[0]} days on + {phase.on_off[1]} off is not a {length}-day cycle",
                                               "make the pattern and the cycle length agree")


Interval = tuple[float, float]


@check("S007", "monthly-interval", Severity.WARNING, "`monthly` is ambiguous: calendar month or 4 weeks")
def monthly_interval(context: Context) -> Iterator[Diagnostic]:
    """What it checks: no drug line is given "monthly" / "maandelijks".

    Why it matters: a calendar month and 28 days drift apart by a dose a year, and
    pharmacy, ward and patient each pick one; labels mean 28 days ("every 4 weeks") for
    fulvestrant, goserelin and denosumab 120 mg.

    Example: `drug fulvestrant 500 mg IM days 1, 15, 29 then 500 mg IM monthly`

    Use instead: `… then 500 mg IM every 4 weeks` (or `every month (calendar)` if that is
    really meant).

    Source: ISMP error-prone dose designations; seed 002 ("nadien maandelijks").
    """
    for _index, line in drug_lines(context):
        for phase in line.phases:
            if phase.frequency is not None and phase.frequency.kind == "monthly":
                yield monthly_interval.at(
                    phase.frequency.span, f"`{phase.frequency.text}`: calendar month or every 4 weeks?",
                    "write `every 4 weeks` (28 days) or `every month (calendar)`",
                    Fix(phase.frequency.span, "every 4 weeks", "write every 4 weeks", safe=False))


def _disjoint_days(first: m.DrugLine, second: m.DrugLine) -> bool:
    days_a = {d for p in first.phases if p.days is not None for d in p.days.days}
    days_b = {d for p in second.phases if p.days is not None for d in p.days.days}
    return bool(days_a) and bool(days_b) and not (days_a & days_b)


def _distinct_moments(first: m.DrugLine, second: m.DrugLine) -> bool:
    """Both lines say when in the day, when relative to another drug, or what for, and they differ:
    one drug given twice that day on purpose (`1 hour before chemotherapy` and `8 hours after chemotherapy`).
    """
    def moments(line: m.DrugLine) -> set[tuple[str | None, str | None, tuple[str, int | None, str] | None]]:
        timing = line.timing
        relative = None if timing is None else (
            timing.relation, timing.offset_min, timing.target_id or timing.target.value.lower())
        return {(p.time, p.use, relative) for p in line.phases
                if p.time is not None or p.use is not None or relative is not None}
    a, b = moments(first), moments(second)
    return bool(a) and bool(b) and not (a & b)


@check("S008", "schedule-conflict", Severity.ERROR, "overlapping or contradictory schedules for one drug in one arm")
def schedule_conflict(context: Context) -> Iterator[Diagnostic]:
    """What it checks: one arm gives a drug once: two drug lines (or a drug line and a
    library regimen drug) of the same product given together overlap or contradict each
    other, unless they are given on different days of the cycle (`days 1` and `days 8`)
    or both say when in the day, when relative to another drug, or what for, and these differ
    (`before chemotherapy` and `in the evening`; `1 hour before chemotherapy` and `8 hours
    after chemotherapy`; `for premedication` and `for antiemetic`).
    Alternatives — sibling bullets, decision branches — are not together and may differ.

    Why it matters: two schedules for one drug in one arm double the dose or leave the
    nurse to choose.

    Example: an inline regimen with `drug pembrolizumab 200 mg IV every 3 weeks` and
    `drug pembrolizumab 400 mg IV every 6 weeks` both below it.

    Use instead: one line, or the two as alternatives (sibling bullets outside the
    regimen).

    Source: ISMP Guidelines for Standard Order Sets (2010): one order per drug.
    """
    tables = context.tables
    for first, second in arm_layout(context).pairs():
        if first.drug_id is None or first.drug_id != second.drug_id:
            continue
        if first.line is not None and second.line is not None and (
                _disjoint_days(first.line, second.line) or _distinct_moments(first.line, second.line)):
            continue
        if any(mb.line is not None and not any(has_schedule(p) for p in mb.line.phases) for mb in (first, second)):
            continue  # a line that only restates the dose (a renal dose row) refines the other
        yield schedule_conflict.at(
            second.span, f"{tables.drug_name(first.drug_id, 'en')} twice in one arm",
            "give one schedule, or write the two as alternatives (sibling bullets)",
            related=(Related(first.span, "the other schedule"),))


# at most 12 digits: a longer number is P017 (and Python refuses to convert one of 4,300 digits)
_DAY_RANGE = re.compile(r"(?<![0-9])([0-9]{1,12})\s*(?:-|–|to)\s*([0-9]{1,12})(?![0-9])")


def _day_ranges(text: str) -> Iterator[re.Match[str]]:
    """`_DAY_RANGE.finditer(text)`, asked only of texts holding a range's `-`, `–` or `to` (most day lists
    have none, and the pattern's look-behind is tried at every position).
    """
    if "-" in text or "–" in text or "to" in text:
        return _DAY_RANGE.finditer(text)
    return iter(())


# A day 0 the author wrote (`day 0`, `days 0, 1`) is their convention and is drawn; one that only
# falls inside a range such as `-1 to 1` is a guess about which convention is meant.
_EXPLICIT_DAY_ZERO = lazy(r"(?<![0-9\-−.,])0(?![0-9]|[.,][0-9])")


def _impossible(phase_or_line: m.Phase | m.RegimenLine) -> Iterator[tuple[Span, str]]:
    frequency = phase_or_line.frequency
    if frequency is not None and frequency.kind == "every":
        if frequency.interval == 0 or frequency.interval_max == 0:
            yield frequency.span, f"`{frequency.text}`: an interval of zero"
        elif frequency.interval is not None and frequency.interval_max is not None \
                and frequency.interval_max < frequency.interval:
            yield frequency.span, f"`{frequency.text}`: the interval range runs backwards"
    if phase_or_line.cycle_length is not None and phase_or_line.cycle_length.value == 0:
        yield phase_or_line.cycle_length.span, "a cycle of zero days"
    if phase_or_line.cycles == 0:
        yield phase_or_line.span, "zero cycles"
    if isinstance(phase_or_line, m.Phase):
        days = phase_or_line.days
        if days is not None:
            if 0 in days.days and not _EXPLICIT_DAY_ZERO.search(days.text):
                yield days.span, (f"`{days.text}`: the range crosses day 0, which this sheet never names (day 1 is the "
                                  "first day of the cycle, the day before it day -1)")
            for match in _day_ranges(days.text):
                if int(match.group(2)) < int(match.group(1)):
                    yield days.span, f"`{days.text}`: the day range {match.group(0)} runs backwards"
        if phase_or_line.on_off is not None and phase_or_line.on_off[0] == 0:
            yield phase_or_line.span, "zero days on"
        if phase_or_line.for_duration is not None and phase_or_line.for_duration.value == 0:
            yield phase_or_line.for_duration.span, "a duration of zero"


@check("S009", "impossible-schedule", Severity.ERROR, "a schedule that cannot exist: interval zero, backwards day range")
def impossible_schedule(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every frequency, day list and cycle of drug and regimen lines can
    exist: no `every 0 days` (or weeks), no interval range that runs backwards (`every
    4-2 weeks`), no range that crosses day 0 without naming it (`days -1 to 1`: is there a day 0?
    a day 0 written as such is the author's convention and allowed), no day range that runs
    backwards (`days 14-1`), no cycle of 0
    days, no 0 cycles, no `0 days on`, no infusion of 0 minutes, no infusion time range that
    runs backwards (`infusion 2-1 hours`, `60-30 min before paclitaxel`). The finding is an error
    whatever the state of the data.

    Why it matters: an impossible schedule is read as whatever the reader guesses:
    `every 0 days` was printed as "dagelijks", and `days 14-1` as no days at all.

    Example: `drug tamoxifen 20 mg po every 0 days`

    Use instead: `drug tamoxifen 20 mg po daily`

    Source: RULES.md D and S (impossible schedules are always errors); ISMP Guidelines
    for Standard Order Sets (2010).
    """
    for item in context.of_types((m.DrugLine, m.RegimenLine)):
        if isinstance(item, m.DrugLine):
            for phase in item.phases:
                for span, problem in _impossible(phase):
                    yield impossible_schedule.at(span, f"{line_name(context, item)}: {problem}",
                                                 "write the schedule that is meant: daily, every 3 weeks, days 1-14 …")
            if item.infusion is not None and (item.infusion.first_min == 0 or item.infusion.then_min == 0):
                yield impossible_schedule.at(item.infusion.span, f"{line_name(context, item)}: an infusion of 0 minutes",
                                             "write the infusion time in minutes")
            if item.infusion is not None and _backwards_infusion(item.infusion):
                yield impossible_schedule.at(item.infusion.span,
                                             f"{line_name(context, item)}: an infusion time range that runs backwards",
                                             "write the shorter time first: `infusion 30-90 min`, `infusion 1-2 hours`")
            if _backwards_timing(item.timing):
                yield impossible_schedule.at(item.timing.span,  # type: ignore[union-attr]
                                             f"{line_name(context, item)}: a time before or after that runs backwards",
                                             "write the shorter time first: `30-60 min before paclitaxel`")
        elif isinstance(item, m.RegimenLine):
            for span, problem in _impossible(item):
                yield impossible_schedule.at(span, f"regimen {item.name.value}: {problem}",
                                             "write the schedule that is meant")


def _backwards_timing(timing: m.RelativeTiming | None) -> bool:
    return timing is not None and timing.offset_min is not None and timing.offset_max is not None \
        and timing.offset_max < timing.offset_min


def _backwards_infusion(infusion: m.Infusion) -> bool:
    ranges = [infusion.first_range(), infusion.then_range() or infusion.first_range()]
    return any(high < low for low, high in ranges)


def _library_drug_text(context: Context, drug: Mapping[str, Any], cycle_days: object) -> str:
    days = drug.get("days")
    parts = [context.tables.drug_name(str(drug.get("drug")), "en"), f"{drug.get('dose')} {drug.get('unit')}",
             str(drug.get("route") or ""), str(drug.get("frequency") or ""),
             f"days {', '.join(str(d) for d in days)}" if days else "",
             f"of a {cycle_days}-day cycle" if cycle_days else ""]
    return " ".join(p for p in parts if p and p != "None")


@check("S010", "regimen-schedule-contradicts-library", Severity.ERROR,
       "a frequency or cycle written after a library regimen contradicts the regimen")
def regimen_schedule_contradicts_library(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a frequency or cycle length written after a library regimen
    (`regimen "EC75" every 2 weeks`, `regimen "metronomic cyclophosphamide-methotrexate"
    daily`) is compared with the schedule of every drug of the regimen in regimens.yaml.
    A frequency is a contradiction when it does not fit a drug's interval or
    administrations a day, or when it makes a drug given on some days of the cycle only
    (methotrexate on days 1-2 of each week) a daily drug; a cycle length is a
    contradiction when it differs from the regimen's; a number of cycles is a
    contradiction when it is above the library's fixed number (EC75: 6) or when the
    last cycle would start beyond the regimen's maximum duration (pembrolizumab every 3
    weeks: 35 cycles fit in 24 months, 36 do not). What is written is never read and
    dropped: it is checked, or it is this error.

    Why it matters: the library schedule is what the pharmacy prepares; a frequency on the
    regimen line that nobody checks is what a nurse may read. Daily methotrexate instead of
    methotrexate on two days a week is a known fatal error.

    Example: `regimen "metronomic cyclophosphamide-methotrexate" daily`

    Use instead: `regimen "metronomic cyclophosphamide-methotrexate"` (the library
    schedule: cyclophosphamide daily, methotrexate twice daily on days 1-2 of each week),
    or write the regimen inline with its own drug lines.

    Source: regimens.yaml (each regimen's source); ISMP: oral methotrexate daily-instead-
    of-weekly dosing errors (ISMP Medication Safety Alert, 2002-2023).
    """
    from compiler import dosing

    for item in context.of_type(m.RegimenLine):
        if not isinstance(item, m.RegimenLine) or item.regimen_id is None:
            continue
        entry = context.tables.regimens.get(item.regimen_id) or {}
        cycle_days = entry.get("cycle_days")
        drugs = [d for d in entry.get("drugs") or [] if isinstance(d, dict)]
        if item.cycle_length is not None and cycle_days:
            length = dosing.DAYS_PER_UNIT.get(item.cycle_length.unit, (0, 0))
            written = (item.cycle_length.value * length[0], item.cycle_length.value * length[1])
            if not written[0] <= int(cycle_days) <= written[1]:
                yield regimen_schedule_contradicts_library.at(
                    item.cycle_length.span, f"regimen {item.name.value}: a cycle of {item.cycle_length.value} "
                                            f"{item.cycle_length.unit}(s), the library regimen's cycle is {cycle_days} days",
                    "remove the cycle (the library's applies) or write the regimen inline with its own schedule")
        yield from _regimen_count(item, entry)
        if item.frequency is None:
            continue
        written_schedule = dosing.schedule_of_phase(m.Phase(item.frequency.span, frequency=item.frequency))
        for drug in drugs:
            own = dosing.schedule_of_regimen_drug(drug, int(cycle_days) if cycle_days else None)
            some_days = own.days is not None and own.cycle_days is not None and len(own.days) < own.cycle_days[0]
            if own.known and (not dosing.compatible(written_schedule, own)
                              or (written_schedule.is_daily and some_days)):
                yield regimen_schedule_contradicts_library.at(
                    item.frequency.span, f"regimen {item.name.value} `{item.frequency.text}` contradicts the library "
                                         f"schedule: {_library_drug_text(context, drug, cycle_days)}",
                    "remove the frequency (the library's schedule applies) or write the regimen inline with its own "
                    f"drug lines ({entry.get('source') or 'regimens.yaml'})")
                break


def _regimen_count(item: m.RegimenLine, entry: Mapping[str, Any]) -> Iterator[Diagnostic]:
    """A cycle count on a library regimen: above the library's fixed count, or beyond its maximum duration."""
    if item.cycles is None:
        return
    fixed = entry.get("cycles")
    cycle_days = entry.get("cycle_days")
    limit = entry.get("max_duration_months")
    if isinstance(fixed, int) and item.cycles > fixed:
        yield regimen_schedule_contradicts_library.at(
            item.span, f"regimen {item.name.value}: {item.cycles} cycles, the library regimen has {fixed}",
            "remove the count (the library's applies), or write the regimen inline with its own schedule and "
            f"the reason ({entry.get('source') or 'regimens.yaml'})")
    # the last cycle starts (cycles - 1) × cycle length after the first: 35 × 3 weeks fit in 2 years
    elif cycle_days and limit and (item.cycles - 1) * int(cycle_days) / 30.4375 > float(limit):
        yield regimen_schedule_contradicts_library.at(
            item.span, f"regimen {item.name.value}: {item.cycles} cycles of {cycle_days} days exceed the regimen's "
                       f"maximum of {limit} months", f"give at most {int(float(limit) * 30.4375 // int(cycle_days)) + 1} "
                                                      f"cycles ({entry.get('source') or 'regimens.yaml'})")
