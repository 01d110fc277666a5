"""S: the schedule against the product — an interval its label allows for the dose (S003), the
longest treatment for the product and setting (S004), the product's schedule pattern (S005)
and the infusion time its label gives (S006).

Checks on one drug line use the line; checks that need "the same arm" (S005's local policy,
S003's combination-only intervals) use `compiler.arms`. Numbers come from the formulary's
dose rows and from `compiler/data/schedules.yaml`; what these rules share with the other S
rules (the drug lines, their regimens, the arms) is `checks.schedule`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, arm_layout
from compiler.checks.combinations import region, tumour_matches
from compiler.checks.schedule import (
    DAYS_PER,
    Interval,
    drug_lines,
    has_schedule,
    inherited,
    line_name,
    regimen_at,
    regimen_entry,
)
from compiler.conditions import find_flag
from compiler.diagnostics import Diagnostic, Fix, Severity, check
from compiler.thresholds import condition_key

MONTHS_PER = {"day": 1 / 30.4375, "week": 7 / 30.4375, "month": 1.0, "year": 12.0}


def _data(context: Context) -> dict[str, Any]:
    return context.tables.schedules


def line_interval(frequency: m.Frequency | None) -> Interval | None:
    """An interval frequency in days (low, high); None for daily and unparsed forms."""
    if frequency is None or frequency.kind != "every" or frequency.interval is None or frequency.unit is None:
        return None
    per = DAYS_PER.get(frequency.unit)
    if per is None:
        return None
    high = frequency.interval_max or frequency.interval
    return frequency.interval * per, high * per


TOKEN = re.compile(r"^q(\d+)(w|d|mo)(?:-q(\d+)(w|d|mo))?$")


def row_interval(token: str) -> Interval | None:
    """A formulary frequency token as an interval in days: q3w, q3w-q4w, q6mo, weekly."""
    if token in _ROW_INTERVALS:
        return _ROW_INTERVALS[token]
    if len(_ROW_INTERVALS) >= 1024:
        _ROW_INTERVALS.clear()
    found = _ROW_INTERVALS[token] = _row_interval(token)
    return found


# The formulary's few frequency tokens, read once each (S003 reads every dose row of a drug per phase).
_ROW_INTERVALS: dict[str, Interval | None] = {}


def _row_interval(token: str) -> Interval | None:
    text = token.strip().lower()
    if text == "weekly":
        return 7.0, 7.0
    match = TOKEN.match(text)
    if match is None:
        return None
    scale = {"w": 7.0, "d": 1.0, "mo": 30.0}
    low = int(match.group(1)) * scale[match.group(2)]
    high = int(match.group(3)) * scale[match.group(4)] if match.group(3) else low
    return low, high


def _rows(context: Context, line: m.DrugLine, phase: m.Phase) -> list[Mapping[str, Any]]:
    """The formulary dose rows whose route, unit and usual range fit a phase's dose."""
    dose = phase.dose
    if dose is None or line.drug_id is None:
        return []
    route = phase.route or line.route
    code = None if route is None else route.code
    # what the rows depend on: the same doses (`200 mg IV`) recur from sheet to sheet
    key = (context.tables.fingerprint, line.drug_id, dose.unit, code, dose.amount.value)
    known = _ROWS.get(key)
    if known is not None:
        return known
    out = []
    amount = float(dose.amount.value)
    for row in (context.tables.drugs.get(line.drug_id) or {}).get("doses") or []:
        usual = row.get("usual") or []
        if row.get("unit") != dose.unit or len(usual) != 2:
            continue
        if code is not None and row.get("route") not in (None, code):
            continue
        if float(usual[0]) <= amount <= float(usual[1]):
            out.append(row)
    if len(_ROWS) >= 4096:
        _ROWS.clear()
    _ROWS[key] = out
    return out


# The fitting rows of a dose by everything `_rows` reads of it (shared: never change a list).
_ROWS: dict[tuple[object, ...], list[Mapping[str, Any]]] = {}


def _arm_has_class(lay: a.Layout, index: int, class_id: str, context: Context) -> bool:
    member = next((mb for mb in lay.members if mb.node == index), None)
    if member is None:
        return False
    arm = lay.arm(member)
    if any(a.satisfies(class_id, p.drug_id, context.tables) for p in arm.partners):
        return True
    return any(t.target_id is not None and a.target_satisfies(class_id, t.target_id, context.tables)
               for g in arm.companions for t in g.targets)


def _days_text(days: float) -> str:
    if days % 7 == 0:
        weeks = int(days // 7)
        return "every week" if weeks == 1 else f"every {weeks} weeks"
    return f"every {int(days)} days"


def _paired(context: Context, drug_id: str | None) -> bool:
    """Whether the label pairs doses with intervals: `allowed_pairs`, or dose rows with
    more than one interval. Single-interval products (epirubicin q3w, denosumab 120 mg
    q4w) are left to the dose-dense (D012) and product (D031) rules.
    """
    entry = context.tables.drugs.get(drug_id or "") or _NO_ENTRY
    known = _PAIRED.get(id(entry))
    if known is not None and known[0] is entry:
        return known[1]
    if entry.get("allowed_pairs"):
        found = True
    else:
        intervals = {row_interval(str(r.get("frequency") or "")) for r in entry.get("doses") or []}
        found = len(intervals - {None}) > 1
    if len(_PAIRED) >= 4096:
        _PAIRED.clear()
    _PAIRED[id(entry)] = (entry, found)
    return found


# The answer for each formulary entry, by the entry itself (kept alive here, so its id is not reused):
# it follows the tables object, as the other drug look-ups do.
_PAIRED: dict[int, tuple[dict[str, Any], bool]] = {}
_NO_ENTRY: dict[str, Any] = {}


def _interval_known(context: Context, line: m.DrugLine, phase: m.Phase, interval: Interval) -> bool:
    """Whether any dose row of the product (same route and unit, any dose) has this
    interval. An interval no row has at all (epirubicin or doxorubicin every 2 weeks) is a
    dose-dense or off-interval schedule: D012's, which accepts a written justification.
    """
    dose = phase.dose
    if dose is None or line.drug_id is None:
        return True
    route = phase.route or line.route
    for row in (context.tables.drugs.get(line.drug_id) or {}).get("doses") or []:
        if row.get("unit") != dose.unit or (route is not None and row.get("route") not in (None, route.code)):
            continue
        iv = row_interval(str(row.get("frequency") or ""))
        if iv is not None and iv[0] <= interval[1] and interval[0] <= iv[1]:
            return True
    return False


@check("S003", "interval-not-allowed", Severity.ERROR, "interval not allowed for this dose of the product")
def interval_not_allowed(context: Context) -> Iterator[Diagnostic]:
    """What it checks: an interval dose (`every 3 weeks`) is one the product's label pairs
    with that dose: pembrolizumab 200 mg every 3 weeks or 400 mg every 6 weeks (400 mg
    every 3 weeks is a double dose); nivolumab 240 mg every 2 weeks, 480 mg every 4
    weeks; atezolizumab 840/1200/1680 mg every 2/3/4 weeks; durvalumab every 3 weeks
    only with chemotherapy in the same arm. The allowed pairs are the formulary's dose
    rows (route, unit, usual range, frequency) of products licensed as dose–interval
    pairs (`allowed_pairs`, or rows with more than one interval); a dose no row covers is
    left to the D checks, and so are single-interval products and intervals no row of
    the product has at all (dose-dense chemotherapy is D012, denosumab products D031). A pair confirmed only by rows marked unverified
    is a warning.

    Why it matters: flat-dosed antibodies are licensed as dose–interval pairs; mixing
    them doubles or halves the exposure.

    Example: `drug pembrolizumab 400 mg IV every 3 weeks, infusion 30 min`

    Use instead: `drug pembrolizumab 400 mg IV every 6 weeks, infusion 30 min`

    Source: formulary.yaml dose rows (Keytruda, Opdivo, Tecentriq, Imfinzi EU SmPCs
    section 4.2); schedules.yaml `interval_requires` (Imfinzi EU SmPC 4.2).
    """
    lay = arm_layout(context)
    rules = _data(context).get("interval_requires") or []
    for index, line in drug_lines(context):
        for phase in line.phases:
            interval = line_interval(phase.frequency)
            if interval is None or phase.frequency is None:
                continue
            rows = [(r, row_interval(str(r.get("frequency") or ""))) for r in _rows(context, line, phase)]
            timed = [(r, iv) for r, iv in rows if iv is not None]
            if not timed or not _paired(context, line.drug_id) or not _interval_known(context, line, phase, interval):
                continue
            fitting = [r for r, iv in timed if iv[0] <= interval[0] and interval[1] <= iv[1]]
            dose = phase.dose
            assert dose is not None
            shown = f"{line_name(context, line)} {dose.amount.text} {dose.unit_text}"
            if not fitting:
                allowed = sorted({_days_text(iv[0]) if iv[0] == iv[1] else f"every {int(iv[0] // 7)}-{int(iv[1] // 7)} weeks"
                                  for _, iv in timed})
                unverified = all(r.get("unverified") for r, _ in timed)
                yield interval_not_allowed.at(
                    phase.frequency.span, f"{shown} is not given {phase.frequency.text}",
                    "the label pairs this dose with: " + ", ".join(allowed)
                    + ("; the dose rows are unverified — confirm with the SmPC" if unverified else ""),
                    Fix(phase.frequency.span, allowed[0], f"write {allowed[0]}") if len(allowed) == 1 else None,
                    severity=Severity.WARNING if unverified else None)
                continue
            for rule in rules:
                if rule.get("drug") != line.drug_id or interval[0] != float(rule.get("interval_days", -1)):
                    continue
                if not _arm_has_class(lay, index, str(rule.get("requires_class")), context):
                    yield interval_not_allowed.at(
                        phase.frequency.span, f"{shown} {phase.frequency.text} without {rule.get('requires_class')} "
                        "in its arm", str(rule.get("note") or "this interval is only licensed in combination"))


def _months(duration: m.Duration) -> float:
    return duration.value * MONTHS_PER.get(duration.unit, 0.0)


def _stated_months(context: Context, member: a.Member) -> tuple[float | None, m.Duration | None]:
    """The maximum or fixed duration stated for a member: its line, else its regimen."""
    line = member.line
    if line is not None:
        if line.max_duration is not None:
            return _months(line.max_duration), line.max_duration
        spans = [p.for_duration for p in line.phases if p.for_duration is not None]
        if spans:
            longest = max(spans, key=_months)
            return _months(longest), longest
    regimen = member.regimen or regimen_at(context, member.node)
    if regimen is not None and regimen.max_duration is not None:
        return _months(regimen.max_duration), regimen.max_duration
    if regimen is not None and regimen.for_duration is not None:
        return _months(regimen.for_duration), regimen.for_duration
    entry = regimen_entry(context, regimen)
    if entry.get("max_duration_months"):
        return float(entry["max_duration_months"]), None
    return None, None


def _cycle_length(context: Context, member: a.Member) -> m.Duration | None:
    """The cycle length of a member: its line's phases, else its regimen."""
    line = member.line
    lengths = [p.cycle_length for p in line.phases if p.cycle_length is not None] if line is not None else []
    if lengths:
        return lengths[0]
    regimen = member.regimen or regimen_at(context, member.node)
    return regimen.cycle_length if regimen is not None else None


def _stated_cycles(context: Context, member: a.Member) -> int | None:
    """The number of cycles a member's line states (`14 cycles`), summed over its phases;
    else the count its regimen states (`regimen "…" cycle 21 days 14 cycles` with the line
    indented under it).
    """
    line = member.line
    counts = [p.cycles for p in line.phases if p.cycles is not None] if line is not None else []
    if counts:
        return sum(counts)
    regimen = member.regimen or regimen_at(context, member.node)
    return regimen.cycles if regimen is not None else None


def _setting_applies(context: Context, arm: a.Arm, setting: str) -> bool:
    """The arm is in `setting`: its conditions entail it, or they admit it and the
    protocol's scope names it.
    """
    # The drugs of one block share their conditions: decided once per set of conditions.
    # (The arms of a block share one tuple of conditions: it is the key, by identity. The memo
    # holds the tuple, so its id is not reused while the entry stands; `is` confirms it.)
    known = context.shared(_settings)
    conditions = arm.conditions
    key = (setting, id(conditions))
    found = known.get(key)
    if found is None or found[0] is not conditions:
        found = known[key] = (conditions, _setting_applies_uncached(context, arm, setting))
    return found[1]


def _settings(context: Context) -> dict[tuple[str, int], tuple[tuple[m.Condition, ...], bool]]:
    return {}


def _setting_applies_uncached(context: Context, arm: a.Arm, setting: str) -> bool:
    verdict = _arm_verdict(context, arm.conditions, setting)
    if verdict != _ADMITTED:
        return verdict == _ENTAILED
    known = context.shared(_scope_words)
    found = known.get(setting)
    if found is None:
        words = (_data(context).get("setting_words") or {}).get(setting) or []
        found = known[setting] = _scope_text(context), [str(w).lower() for w in words]
    text, lowered = found
    return any(w in text for w in lowered)


def _scope_words(context: Context) -> dict[str, tuple[str, list[str]]]:
    """Per setting: the protocol's title and scope in lower case, and the setting's words in lower case
    (filled as rules ask, once per check run: every arm of a sheet asked again).
    """
    return {}


def _scope_text(context: Context) -> str:
    meta = context.protocol.meta
    return " ".join(t.value for t in (meta.title, meta.scope) if t is not None).lower()


_EXCLUDED, _ENTAILED, _ADMITTED = range(3)
# What an arm's conditions say about a setting, by what they all say and the setting: the conditions
# bearing on the setting (and so the verdict) follow from them and the data.
_ARM_VERDICTS: dict[tuple[object, ...], int] = {}


def _arm_verdict(context: Context, conditions: tuple[m.Condition, ...], setting: str) -> int:
    """Whether an arm's conditions entail the setting, exclude it (or the setting is no flag), or admit it."""
    keys = context.shared(_condition_keys)
    written: list[tuple[object, ...] | None] = []
    for condition in conditions:
        found = keys.get(id(condition))
        if found is None or found[0] is not condition:  # the arms of a sheet share their conditions: once each
            found = keys[id(condition)] = (condition, condition_key(condition))
        written.append(found[1])
    key = None if None in written else (context.tables.fingerprint, setting, *written)
    if key is not None:
        known = _ARM_VERDICTS.get(key)
        if known is not None:
            return known
    meaning = find_flag(setting, context.tables) or {}
    verdict = _setting_verdict(context, _bearing_on(context, conditions, meaning), meaning, setting) \
        if meaning else _EXCLUDED
    if key is not None:
        if len(_ARM_VERDICTS) >= 4096:
            _ARM_VERDICTS.clear()
        _ARM_VERDICTS[key] = verdict
    return verdict


def _condition_keys(context: Context) -> dict[int, tuple[m.Condition, tuple[object, ...] | None]]:
    return {}
# What conditions say about a setting, by what they say (thresholds.condition_key): the same few
# conditions (`when metastatic`, `only when after-chemoradiation`) recur from sheet to sheet.
_SETTING_VERDICTS: dict[tuple[object, ...], int] = {}


def _setting_verdict(context: Context, conditions: tuple[m.Condition, ...], meaning: Mapping[str, str],
                     setting: str) -> int:
    """Whether the conditions entail the setting, exclude it, or admit it (then the scope decides)."""
    keys = [condition_key(c) for c in conditions]
    key = None if any(k is None for k in keys) else (context.tables.fingerprint, setting, *keys)
    if key is not None and key in _SETTING_VERDICTS:
        return _SETTING_VERDICTS[key]
    if all(a.entails(conditions, var, value, context.tables) for var, value in meaning.items()):
        verdict = _ENTAILED
    elif not a.admits(conditions, meaning, context.tables):
        verdict = _EXCLUDED
    else:
        verdict = _ADMITTED
    if key is not None:
        if len(_SETTING_VERDICTS) >= 4096:
            _SETTING_VERDICTS.clear()
        _SETTING_VERDICTS[key] = verdict
    return verdict


def _bearing_on(context: Context, conditions: tuple[m.Condition, ...], meaning: Mapping[str, str]) -> tuple[m.Condition, ...]:
    """The conditions whose truth may depend on the variables of `meaning`.

    A condition that names none of them is as true for every value of them as for a patient
    of whom nothing is known; it is kept only when that is false (then nothing is admitted).
    `entails` asks every condition once per value of the variable: the others cost nothing.
    """
    known = context.shared(_condition_facts)
    out: list[m.Condition] = []
    for condition in conditions:
        found = known.get(id(condition))
        if found is None or found[0] is not condition:  # the arms of a sheet share their conditions: once each
            found = known[id(condition)] = (
                condition, frozenset(a.referenced_variables((condition,), context.tables)),
                a.evaluate(condition, {}, context.tables) is False)
        if found[2] or not found[1].isdisjoint(meaning):
            out.append(condition)
    return tuple(out)


def _condition_facts(context: Context) -> dict[int, tuple[m.Condition, frozenset[str], bool]]:
    return {}


_CAPS: list[tuple[list[Any], dict[str, list[dict[str, Any]]]]] = []


def _caps_by_drug(context: Context) -> dict[str, list[dict[str, Any]]]:
    """The `max_duration` entries of each drug, in table order (indexed once per table: every arm asked each entry)."""
    table = _data(context).get("max_duration") or []
    if not _CAPS or _CAPS[0][0] is not table:
        index: dict[str, list[dict[str, Any]]] = {}
        for entry in table:
            for drug in dict.fromkeys(entry.get("drug") or []):
                index.setdefault(drug, []).append(entry)
        _CAPS[:] = [(table, index)]
    return _CAPS[0][1]


@check("S004", "duration-exceeded", Severity.ERROR, "maximum treatment duration exceeded for the product and setting")
def duration_exceeded(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a stated maximum or fixed duration (`max 3 years`, `for 2 years`,
    a library regimen's maximum) does not exceed the product's maximum for the tumour
    and setting: PD-(L)1 inhibitors in metastatic NSCLC 2 years (pembrolizumab 35 × q3w
    or 18 × q6w); durvalumab after chemoradiation 12 months; adjuvant immunotherapy 12
    months; adjuvant trastuzumab/pertuzumab 1 year; adjuvant trastuzumab emtansine 14
    cycles (a line that states only a number of cycles is compared with the entry's
    `cycles`). A capped setting whose line states no maximum (only `until progression`,
    or nothing) warns. The setting comes from the
    arm's conditions (`when adjuvant:`, `only when after-chemoradiation`), or — when they
    admit it — from the protocol's scope. Local-policy caps (seed 004 for atezolizumab,
    cemiplimab, durvalumab in metastatic NSCLC) and unverified rows only warn.

    Why it matters: treatment beyond the studied duration adds toxicity and cost without
    evidence; an uncapped sheet invites indefinite treatment.

    Example: `drug pembrolizumab 200 mg IV every 3 weeks, infusion 30 min, max 3 years`
    in a metastatic NSCLC protocol.

    Use instead: `max 2 years`.

    Source: schedules.yaml `max_duration` (Keytruda, Opdivo, Imfinzi, Herceptin, Kadcyla
    labels; seed 004; seed 000), per entry.
    """
    lay = arm_layout(context)
    by_drug = _caps_by_drug(context)
    seen: set[object] = set()
    tumoured: dict[str, list[dict[str, Any]]] = {}  # a drug's entries for this sheet's tumour (the same for every arm)
    for arm in lay.arms():
        member = arm.focus
        if member.drug_id is None or member.drug_id not in by_drug or member.span in seen:
            continue  # (a span already reported on is skipped whatever its caps: asking them first cost more)
        entries = tumoured.get(member.drug_id)
        if entries is None:
            entries = tumoured[member.drug_id] = [e for e in by_drug[member.drug_id]
                                                  if tumour_matches(context, e.get("tumour"))]
        caps = [e for e in entries if _setting_applies(context, arm, str(e.get("setting")))]
        if not caps or member.span in seen:
            continue
        stated, duration = _stated_months(context, member)
        capped = [e for e in caps if e.get("months") is not None]
        if not capped:
            continue
        cap = min(capped, key=lambda e: float(e["months"]))
        months = float(cap["months"])
        soft = bool(cap.get("local_policy") or cap.get("unverified"))
        seen.add(member.span)
        where = duration.span if duration is not None else member.span
        cycles = _stated_cycles(context, member)
        if stated is None and cycles is not None and cap.get("cycles") is not None:
            if cycles > int(cap["cycles"]):
                yield duration_exceeded.at(
                    member.span, f"{member.label}: {cycles} cycles exceeds the maximum of {int(cap['cycles'])} "
                    f"for {cap.get('setting')}", f"source: {cap.get('source')}",
                    severity=Severity.WARNING if soft else None)
            continue
        if stated is None and cycles is not None:
            # a fixed course: 16 cycles of 21 days is 11 months, within a 12-month cap
            length = _cycle_length(context, member)
            if length is not None:
                stated = _months(length) * cycles
        if stated is None:
            yield duration_exceeded.at(
                where, f"{member.label}: no maximum duration stated ({cap.get('setting')}: {int(months)} months)",
                f"add `max {int(months)} months`" if months % 12 else f"add `max {int(months // 12)} years`",
                severity=Severity.WARNING)
        elif stated > months + 0.01:
            policy = " (local policy)" if cap.get("local_policy") else ""
            yield duration_exceeded.at(
                where, f"{member.label}: {round(stated, 1):g} months exceeds the {int(months)}-month maximum{policy} "
                f"for {cap.get('setting')}", f"source: {cap.get('source')}",
                severity=Severity.WARNING if soft else None)


def _pattern_problem(rule: Mapping[str, Any], line: m.DrugLine) -> str | None:
    phase = line.phases[-1]
    days = phase.days.days if phase.days is not None else None
    if rule.get("continuous"):
        if days is not None or phase.on_off is not None or phase.cycle_length is not None:
            return "is taken continuously, without days off"
        return None
    on, cycle = int(rule.get("days_on", 0)), int(rule.get("cycle_days", 0))
    if phase.on_off is not None:
        return None if phase.on_off == (on, cycle - on) else f"is given {on} days on, {cycle - on} days off"
    if days is None or phase.continuous:
        return f"needs its break: days 1-{on} of a {cycle}-day cycle"
    length = phase.cycle_length
    length_days = round(length.value * DAYS_PER.get(length.unit, 1)) if length is not None else None
    if tuple(days) != tuple(range(1, on + 1)) or (length_days is not None and length_days != cycle):
        return f"is given on days 1-{on} of a {cycle}-day cycle"
    return None


@check("S005", "drug-schedule-pattern", Severity.ERROR, "schedule does not follow the product's pattern")
def drug_schedule_pattern(context: Context) -> Iterator[Diagnostic]:
    """What it checks: products with a licensed administration pattern follow it:
    palbociclib and ribociclib days 1–21 of a 28-day cycle (21 on, 7 off), abemaciclib
    continuously (no break) — error on mismatch. And a local policy (warning):
    pembrolizumab every 6 weeks in an arm with chemotherapy; the label allows it, but
    seed 004 says the hospital gives pembrolizumab every 3 weeks with chemotherapy.

    Why it matters: palbociclib without its 7-day break causes cumulative neutropenia;
    abemaciclib with a break is under-dosed.

    Example: `drug palbociclib 125 mg po daily until progression`

    Use instead: `drug palbociclib 125 mg po daily, days 1-21, cycle 28 days until progression`

    Source: Ibrance, Kisqali, Verzenios EU SmPCs section 4.2; seed 004 (local policy)
    (compiler/data/schedules.yaml `patterns`, `local_policies`).
    """
    patterns = _data(context).get("patterns") or {}
    lay = arm_layout(context)
    for index, line in drug_lines(context):
        rule = patterns.get(line.drug_id or "")
        if rule and line.phases and any(p.dose is not None or has_schedule(p) for p in line.phases):
            problem = _pattern_problem(rule, line)
            if problem is not None:
                yield drug_schedule_pattern.at(line.name.span, f"{line_name(context, line)} {problem}",
                                               f"source: {rule.get('source')}")
        for policy in _data(context).get("local_policies") or []:
            if policy.get("drug") != line.drug_id:
                continue
            intervals = [line_interval(p.frequency) for p in line.phases]
            if not any(iv is not None and iv[0] == float(policy.get("interval_days", -1)) for iv in intervals):
                continue
            if _arm_has_class(lay, index, str(policy.get("not_with_class")), context):
                yield drug_schedule_pattern.at(line.name.span, str(policy.get("message")), str(policy.get("hint")),
                                               severity=Severity.WARNING)


def _label_range(context: Context, line: m.DrugLine) -> tuple[list[Any], list[Any], Mapping[str, Any]] | None:
    entry = (_data(context).get("infusion") or {}).get(line.drug_id or "")
    if not entry:
        return None
    first, then = list(entry.get("first") or [None, None]), list(entry.get("then") or [None, None])
    dose = next((p.dose for p in reversed(line.phases) if p.dose is not None), None)
    for special in entry.get("by_dose") or []:
        if special.get("region") not in (None, region(context)):
            continue
        if dose is not None and dose.unit == "mg" and float(dose.amount.value) == float(special.get("dose_mg", -1)):
            first, then = list(special.get("first") or first), list(special.get("then") or then)
    return first, then, entry


def _outside(minutes: tuple[int, int], bounds: list[Any], at_least: bool) -> bool:
    """Whether any time of a written time or range (shortest, longest) lies outside the label."""
    low, high = bounds[0], bounds[1]
    if low is not None and minutes[0] < int(low):
        return True
    return not at_least and high is not None and minutes[1] > int(high)


def _minutes_text(minutes: tuple[int, int]) -> str:
    return f"{minutes[0]} min" if minutes[0] == minutes[1] else f"{minutes[0]}-{minutes[1]} min"


def _range_text(bounds: list[Any]) -> str:
    low, high = bounds
    if high is None:
        return f"at least {low} min"
    return f"{low} min" if low == high else f"{low}-{high} min"


@check("S006", "infusion-time", Severity.WARNING, "IV drug without infusion time, or infusion time outside the label")
def infusion_time(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a dosed intravenous drug line states its infusion time (warning), and
    the time lies within the label (error): atezolizumab first 60 min then 30 min;
    pembrolizumab 30 min; durvalumab 60 min; nivolumab 30 min (EU: 480 mg over 60 min —
    keyed by region, EU by default); trastuzumab 90 min loading then 30–90 min;
    pertuzumab 60 min loading then 30–60 min; trastuzumab emtansine 90 then 30–90 min;
    zoledronic acid at least 15 min. A single time (`infusion 30 min`) is the time of
    every infusion, including the first. A range (`infusion first 90 min then 30-90 min`,
    `infusion 1-2 hours`) must lie within the label at both ends. A renal dose row under a line of the same drug
    that states the infusion takes that time.

    Why it matters: too-fast infusion of an antibody causes infusion reactions; too-fast
    zoledronic acid damages the kidney.

    Example: `drug atezolizumab 1200 mg IV every 3 weeks, infusion 30 min`

    Use instead: `infusion first 60 min then 30 min`

    Source: schedules.yaml `infusion` (Tecentriq, Keytruda, Imfinzi, Opdivo, Herceptin,
    Perjeta, Kadcyla, Zometa EU SmPCs section 4.2; seed 004), per product.
    """
    lay = arm_layout(context)
    for index, line in drug_lines(context):
        if not any(p.route is not None and p.route.code == "IV" for p in line.phases) \
                or not any(p.dose is not None for p in line.phases):
            continue
        if line.infusion is None:
            if line.method is not None:  # lang-b: IV push / bolus is not an infusion
                continue
            if not inherited(lay, index, line, "infusion"):
                yield infusion_time.at(line.name.span, f"{line_name(context, line)} IV without an infusion time",
                                       "add `infusion 30 min` (or the product's time)")
            continue
        label = _label_range(context, line)
        if label is None:
            continue
        first, then, entry = label
        if a.other_phase_lines(lay.ancestor_items(index), line.drug_id, earlier=True):
            first = then  # lang-b: an earlier phase of the regimen gave the first infusion
        infusion = line.infusion
        written_first = infusion.first_range()
        later = infusion.then_range() or written_first
        problems = []
        if _outside(written_first, first, infusion.at_least):
            problems.append(f"first infusion {_minutes_text(written_first)} (label: {_range_text(first)})")
        if _outside(later, then, infusion.at_least) and (infusion.then_min is not None or first != then):
            problems.append(f"later infusions {_minutes_text(later)} (label: {_range_text(then)})")
        if problems:
            yield infusion_time.at(
                infusion.span, f"{line_name(context, line)}: " + "; ".join(problems), f"source: {entry.get('source')}",
                severity=Severity.WARNING if entry.get("unverified") else Severity.ERROR)
