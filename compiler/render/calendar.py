"""Treatment calendars, course timelines and fractionation tables, drawn from the model.

- `CycleCalendar`: one cyclic regimen (library or inline) as the pharmacist's order
  template: days of the cycle as columns, one row per drug with dose and route, the
  administration days marked with a text "●" that carries an accessible label.
- `timeline_svg`: loading → maintenance schedules and maximum durations as a course in
  weeks (inline SVG; labels are text).
- `RtTable`: radiotherapy fractionations with n × d, total, BED and EQD2 per α/β,
  grouped by indication; the arithmetic is the checker's (`compiler.radiobiology`, exact
  fractions), so the table and the R003 findings give the same numbers.

The template (`protocol.html.j2`) only places these; wording comes from `words.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from compiler import model as m
from compiler import radiobiology
from compiler.render import svg
from compiler.render import words as w
from compiler.source import Span

MAX_COLUMNS = 28
MIN_LEAD_DAY = -28  # the earliest day before day 1 a calendar draws (folic acid from day −7)
DAYS_PER = {"day": 1, "week": 7, "month": 28, "year": 364}
WEEKS_PER_MONTH = 52 / 12

# ---------------------------------------------------------------- cycle calendars


@dataclass
class CalendarRow:
    """One drug of a cycle calendar."""

    name: str
    anchor: str | None
    dose: str
    route: str
    marks: list[bool]
    own_interval: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class CalendarPart:
    """A run of day columns (a 42-day cycle prints as two parts of 21 days)."""

    days: list[int]
    rows: list[CalendarRow]


@dataclass
class CycleCalendar:
    """A cycle calendar: parts of day columns, rows per drug, and what goes underneath."""

    id: str
    title: str
    cycle_days: int
    parts: list[CalendarPart]
    footer: list[str]

    @property
    def columns(self) -> int:
        """Day columns of the widest part (for the CSS class that sizes them)."""
        return max(len(p.days) for p in self.parts)


@dataclass
class DrugSchedule:
    """What a calendar row needs to know about one drug, from a drug line or the library."""

    name: str
    anchor: str | None
    dose: str
    route: str
    days: list[int] | None  # None: no fixed cycle days
    continuous: bool = False
    own_interval: str | None = None
    notes: list[str] = field(default_factory=list)


def _shown_days(cycle: int) -> tuple[int, int]:
    """(columns, repeats): short cycles repeat to fill four weeks."""
    if cycle < 21:
        repeats = max(1, math.ceil(MAX_COLUMNS / cycle))
        return cycle * repeats, repeats
    return cycle, 1


def cycle_calendar(calendar_id: str, title: str, cycle: int, drugs: Sequence[DrugSchedule], footer: list[str],
                   language: str) -> CycleCalendar | None:
    """A calendar for drugs sharing one cycle; None when nothing can be marked."""
    if cycle <= 0 or cycle > 84 or not drugs:
        return None
    if not any(d.days or d.continuous for d in drugs):
        return None
    labels = w.LABELS[language]
    span, repeats = _shown_days(cycle)
    # Days before day 1 (premedication from day −7, day 0) get columns of their own before the cycle.
    lead = min((d for drug in drugs if drug.days for d in drug.days if MIN_LEAD_DAY <= d < 1), default=1)
    pre_days = list(range(lead, 1))
    pre_marks = [[day in (drug.days or []) for day in pre_days] for drug in drugs]
    rows: list[CalendarRow] = []
    for index, drug in enumerate(drugs):
        marks = [False] * span
        if drug.continuous:
            marks = [True] * span
        elif drug.days:
            for day in drug.days:
                if 1 <= day <= cycle:
                    for repeat in range(repeats):
                        marks[repeat * cycle + day - 1] = True
        own = drug.own_interval if not drug.continuous and not drug.days else None
        if own is None and not any(marks) and not any(pre_marks[index]):
            own = "—"
        rows.append(CalendarRow(drug.name, drug.anchor, drug.dose, drug.route, marks, own, list(drug.notes)))
    if repeats > 1:
        footer = [labels["repeat_weekly"].format(days=cycle, n=repeats), *footer]
    else:
        footer = [labels["cycle_of"].format(days=cycle), *footer]
    chunk = span if span <= MAX_COLUMNS else (21 if span % 21 == 0 else MAX_COLUMNS)
    parts: list[CalendarPart] = []
    for start in range(0, span, chunk):
        days = list(range(start + 1, min(span, start + chunk) + 1))
        lead_in = pre_days if start == 0 else []
        part_rows = [CalendarRow(r.name, r.anchor, r.dose, r.route,
                                 (pre if start == 0 else []) + r.marks[start:start + len(days)],
                                 r.own_interval, r.notes) for r, pre in zip(rows, pre_marks, strict=True)]
        parts.append(CalendarPart(lead_in + days, part_rows))
    return CycleCalendar(calendar_id, title, cycle, parts, footer)


def expand_days(days: Any) -> list[int]:
    """Library day lists (`[1, 8]`, `["1-14"]`) as day numbers."""
    out: list[int] = []
    for day in days if isinstance(days, list) else [days]:
        text = str(day)
        if "-" in text:
            low, high = text.split("-", 1)
            out.extend(range(int(low), int(high) + 1))
        elif text.isdigit():
            out.append(int(text))
    return out


def duration_days(value: m.Duration) -> int:
    """A duration in days (months as 4 weeks, years as 52 weeks: calendar approximations)."""
    return value.value * DAYS_PER.get(value.unit, 1)


def duration_weeks(value: m.Duration) -> float:
    """A duration in weeks (a month is 52/12 weeks, a year 52)."""
    if value.unit == "month":
        return value.value * WEEKS_PER_MONTH
    if value.unit == "year":
        return value.value * 52.0
    return value.value * DAYS_PER.get(value.unit, 1) / 7


def phase_is_continuous(phase: m.Phase) -> bool:
    """Daily dosing without fixed cycle days (daily, twice daily, continuous)."""
    if phase.continuous:
        return True
    frequency = phase.frequency
    return frequency is not None and frequency.kind in ("daily", "twice daily", "three times daily")


def phase_cycle(phase: m.Phase) -> int | None:
    """The cycle length of a phase in days (cycle N days, or on + off)."""
    if phase.cycle_length is not None:
        return duration_days(phase.cycle_length)
    if phase.on_off is not None:
        return phase.on_off[0] + phase.on_off[1]
    return None


def phase_days(phase: m.Phase) -> list[int] | None:
    """The administration days of a phase within its cycle."""
    if phase.days is not None:
        return list(phase.days.days)
    if phase.on_off is not None:
        return list(range(1, phase.on_off[0] + 1))
    return None


# ---------------------------------------------------------------- course timelines


@dataclass
class Phase:
    """One phase of a course: administrations (days from the start) or a continuous run."""

    text: str
    start: int
    doses: list[int]
    continuous_until: int | None = None
    loading: bool = False


@dataclass
class Lane:
    """One drug's course."""

    name: str
    anchor: str | None
    phases: list[Phase]
    end_day: int | None  # a maximum duration ends the course here
    end_text: str
    open_end: bool


def interval_of(phase: m.Phase) -> int | None:
    """Days between administrations of a phase (monthly as 28 days)."""
    frequency = phase.frequency
    if frequency is None:
        return phase_cycle(phase)
    if frequency.kind == "weekly":
        return 7
    if frequency.kind == "monthly":
        return 28
    days = frequency.interval_days()
    if days is None and frequency.unit == "month" and frequency.interval is not None:
        return 28 * frequency.interval
    return days


def drug_lane(line: m.DrugLine, name: str, anchor: str | None, phase_text: Callable[[m.Phase], str],
              horizon_days: int, language: str) -> Lane:
    """The course of a drug line: its phases one after the other, up to its maximum duration."""
    labels = w.LABELS[language]
    phases: list[Phase] = []
    start = 1
    end_day = duration_days(line.max_duration) if line.max_duration is not None else None
    if line.max_duration is not None and line.max_duration.unit in ("month", "year"):
        end_day = round(duration_weeks(line.max_duration) * 7)
    open_end = False
    for index, phase in enumerate(line.phases):
        stop = end_day or horizon_days
        if phase.for_duration is not None:
            # "… then 6 mg/kg every 3 weeks for 1 year": one year of treatment, counted from day 1
            stop = round(duration_weeks(phase.for_duration) * 7)
            end_day = stop if end_day is None else min(end_day, stop)
            stop = end_day
        text = (f"{labels['then']} " if index else "") + phase_text(phase)
        interval = interval_of(phase)
        days = phase_days(phase)
        cycle = phase_cycle(phase)
        doses: list[int] = []
        continuous: int | None = None
        if phase_is_continuous(phase) and days is None:
            continuous = stop
        elif days is not None and cycle is None:
            doses = [start + d - 1 for d in days]
        elif days is not None and cycle is not None:
            # never more cycles than reach the end of the drawing (doses beyond it are dropped below)
            count = min(phase.cycles or math.inf, max(0, math.ceil((stop - start + 1) / cycle)))
            doses = [start + c * cycle + d - 1 for c in range(int(count)) for d in days]
        elif interval is not None:
            count = min(phase.cycles or math.inf, max(0, math.ceil((stop - start + 1) / interval)))
            doses = [start + k * interval for k in range(int(count))]
        else:
            doses = [start]
        doses = [d for d in doses if d <= stop]
        last = index == len(line.phases) - 1
        phases.append(Phase(text, start, doses, continuous, loading=not last and len(doses) <= 3))
        if last:
            open_end = phase.until is not None or (end_day is None and phase.cycles is None
                                                   and phase.for_duration is None
                                                   and (interval is not None or continuous is not None))
            break
        following = line.phases[index + 1]
        step = interval_of(following) or 1
        start = (doses[-1] if doses else start) + step
    end_text = ""
    if line.max_duration is not None:
        end_text = w.max_duration(line.max_duration, language)
    elif end_day is not None:
        end_text = labels["stop_at"].format(what=_weeks_text(end_day, language))
    return Lane(name, anchor, phases, end_day, end_text, bool(open_end))


def _weeks_text(days: int, language: str) -> str:
    weeks = round(days / 7)
    return f"{weeks} {w.LABELS[language]['weeks' if weeks != 1 else 'week']}"


def library_lanes(entry: dict[str, Any], drug_name: Callable[[str], str], dose_text: Callable[[dict[str, Any]], str],
                  regimen_cycles: int | None, max_weeks: float | None, language: str) -> list[Lane]:
    """Courses of a library regimen's drugs: loading in cycle 1, per-drug cycle limits, own intervals."""
    labels = w.LABELS[language]
    cycle = int(entry.get("cycle_days") or 0)
    if cycle <= 0:
        return []
    end_day = round(max_weeks * 7) if max_weeks is not None else None
    limit_cycles = regimen_cycles
    horizon = end_day or (cycle * limit_cycles if limit_cycles else 0) or 26 * 7
    lanes: list[Lane] = []
    for drug in entry.get("drugs") or []:
        name = drug_name(str(drug.get("drug") or ""))
        days = expand_days(drug.get("days")) if drug.get("days") else None
        cycles = int(drug.get("cycles") or 0) or limit_cycles
        stop = min(horizon, cycle * cycles) if cycles else horizon
        frequency = str(drug.get("frequency") or "")
        phases: list[Phase] = []
        maintenance = dose_text(drug)
        loading = drug.get("loading")
        if days is not None:
            doses = [c * cycle + d for c in range(math.ceil(stop / cycle)) for d in days if c * cycle + d <= stop]
            if isinstance(loading, dict) and loading.get("dose") is not None and doses:
                first = [d for d in doses if d <= cycle]
                loading_dose = dose_text({**drug, "dose": loading["dose"], "unit": loading.get("unit")})
                phases.append(Phase(f"{labels['cycle1']}: {loading_dose} ({labels['loading']})", 1, first,
                                    loading=True))
                doses = [d for d in doses if d > cycle]
                maintenance = f"{labels['then']} {maintenance}"
            phases.append(Phase(maintenance, doses[0] if doses else 1, doses))
        elif frequency in ("daily", "twice daily"):
            phases.append(Phase(maintenance, 1, [], continuous_until=stop))
        else:
            interval = _library_interval(frequency)
            if interval is None:
                continue
            phases.append(Phase(maintenance, 1, [1 + k * interval for k in range(math.ceil(stop / interval))
                                                 if 1 + k * interval <= stop]))
        drug_cycles = int(drug.get("cycles") or 0)
        end_text = ""
        drug_end: int | None = None
        if drug_cycles and (end_day is None or drug_cycles * cycle < end_day):
            end_text = w.cycles(drug_cycles, language)
            drug_end = drug_cycles * cycle
        elif end_day is not None:
            end_text = w.max_duration(m.Duration(round(max_weeks / WEEKS_PER_MONTH) if max_weeks else 0, "month",
                                                 _NO_SPAN), language)
            drug_end = end_day
        open_end = drug_end is None and bool(entry.get("until_progression"))
        lanes.append(Lane(name, None, phases, drug_end, end_text, open_end))
    return lanes


def _library_interval(frequency: str) -> int | None:
    parts = frequency.split()
    if frequency == "weekly":
        return 7
    if len(parts) == 3 and parts[0] == "every" and parts[1].isdigit():
        return int(parts[1]) * DAYS_PER.get(parts[2].rstrip("s"), 0) or None
    return None


_NO_SPAN = Span("", 0, 0, 0, 0)


TL_WIDTH = 720.0
TL_LABEL = 250.0
TL_PLOT_X = 262.0
TL_PLOT_END = 698.0
TL_SIZE = 9.5
TL_NAME_SIZE = 10.0


def _tick_step(weeks: int) -> int:
    for step in (1, 2, 4, 8, 13, 26, 52):
        if weeks / step <= 9:
            return step
    return 52


def horizon_weeks(lanes: Iterable[Lane]) -> int:
    """Weeks the timeline spans: the longest maximum duration, else the doses plus a margin."""
    longest = 0
    for lane in lanes:
        if lane.end_day is not None:
            longest = max(longest, lane.end_day)
        for phase in lane.phases:
            longest = max(longest, *(phase.doses or [0]), phase.continuous_until or 0)
    weeks = max(8, math.ceil(longest / 7))
    step = _tick_step(weeks)
    return math.ceil(weeks / step) * step


def timeline_svg(timeline_id: str, title: str, lanes: Sequence[Lane], language: str) -> tuple[Markup, list[str]]:
    """A course timeline in weeks (one lane per drug); also returns its label texts."""
    labels = w.LABELS[language]
    weeks = horizon_weeks(lanes)
    span_days = weeks * 7
    plot = TL_PLOT_END - TL_PLOT_X
    n = svg.number

    def x_of(day: float) -> float:
        return TL_PLOT_X + (day - 1) / span_days * plot

    parts: list[Markup] = []
    texts: list[svg.Label] = []
    y = 6.0
    for lane in lanes:
        lines: list[tuple[str, float, bool, str | None]] = []
        for line in svg.wrap(lane.name, TL_LABEL, TL_NAME_SIZE, True):
            lines.append((line, TL_NAME_SIZE, True, f"#{lane.anchor}" if lane.anchor else None))
        for phase in lane.phases:
            for line in svg.wrap(phase.text, TL_LABEL - 8, TL_SIZE):
                lines.append((line, TL_SIZE, False, None))
        top = y
        for text, size, bold, href in lines:
            y += size * 1.3
            texts.append(svg.Label(0 if bold else 8, y - size * 0.3 - 0.5, text, size, bold,
                                   fill="#0b4f71" if bold else "#1b1f23", href=href))
        bottom = max(y, top + 34)
        bar_y = top + 22
        # the lane: a light track over the whole span, the course drawn on it
        parts.append(Markup('<rect x="{}" y="{}" width="{}" height="4" fill="#eef2f5"/>').format(
            n(TL_PLOT_X), n(bar_y - 2), n(plot)))
        for phase in lane.phases:
            colour = "#0b4f71" if not phase.loading else "#c9a227"
            if phase.continuous_until is not None:
                end = min(phase.continuous_until, span_days)
                parts.append(Markup('<rect x="{}" y="{}" width="{}" height="6" fill="{}"/>').format(
                    n(x_of(phase.start)), n(bar_y - 3), n(max(1.5, x_of(end) - x_of(phase.start))), colour))
            for day in phase.doses:
                if day > span_days:
                    break
                parts.append(Markup('<path d="M{} {}v12" stroke="{}" stroke-width="{}"/>').format(
                    n(x_of(day)), n(bar_y - 6), colour, "2.2" if phase.loading else "1.4"))
        end_label = lane.end_text
        if lane.end_day is not None and lane.end_day <= span_days:
            end_x = x_of(lane.end_day)
            parts.append(Markup('<path d="M{} {}v18" stroke="#b3261e" stroke-width="1.6"/>').format(
                n(end_x), n(bar_y - 9)))
            if end_label:
                width = svg.text_width(end_label, TL_SIZE)
                anchor_end = end_x + width > TL_PLOT_END
                texts.append(svg.Label(end_x - 3 if anchor_end else end_x + 3, top + TL_SIZE + 1, end_label, TL_SIZE,
                                       True, fill="#b3261e", anchor="end" if anchor_end else "start"))
        elif lane.open_end:
            parts.append(Markup('<path d="M{} {}l-7 -4v8z" fill="#0b4f71"/>').format(n(TL_PLOT_END), n(bar_y)))
            texts.append(svg.Label(TL_PLOT_END, top + TL_SIZE + 1, labels["until_open"], TL_SIZE, False,
                                   fill="#0b4f71", anchor="end"))
        y = bottom + 8
    # the axis: elapsed weeks
    step = _tick_step(weeks)
    axis_y = y + 2
    parts.append(Markup('<path d="M{} {}H{}" stroke="#5b6670" stroke-width="0.8"/>').format(
        n(TL_PLOT_X), n(axis_y), n(TL_PLOT_END)))
    for week in range(0, weeks + 1, step):
        x = x_of(week * 7 + 1)
        parts.append(Markup('<path d="M{} {}v4" stroke="#5b6670" stroke-width="0.8"/>').format(n(x), n(axis_y)))
        texts.append(svg.Label(x, axis_y + 14, str(week), TL_SIZE - 0.5, anchor="middle", fill="#4a5560"))
    axis_title = f"{labels['weeks']} (0 = start)"
    texts.append(svg.Label(TL_PLOT_X - 8, axis_y + 14, axis_title, TL_SIZE - 0.5, anchor="end", fill="#4a5560"))
    height = axis_y + 20
    body = svg.svg_open(TL_WIDTH, height, timeline_id, "timeline-svg")
    description = "; ".join(f"{lane.name}: " + ", ".join(p.text for p in lane.phases)
                            + (f", {lane.end_text}" if lane.end_text else "") for lane in lanes)
    body += Markup('<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>').format(
        timeline_id, title, timeline_id, description)
    # one join: adding Markup piece by piece copies the whole picture each time (quadratic)
    body += Markup("").join([*parts, *(label.svg() for label in texts), Markup("</svg>")])
    return body, [label.text for label in texts]


# ---------------------------------------------------------------- radiotherapy


@dataclass
class RtRow:
    """One fractionation scheme with its biological doses."""

    scheme: str
    total: str
    site: str
    values: list[str]  # BED, EQD2 per α/β, in order
    lq_warning: bool
    alpha_beta: str = ""  # lang-b: the α/β of the first pair, the one R003 uses for this site


@dataclass
class RtGroup:
    """Schemes under one indication (as the author wrote it)."""

    indication: str
    rows: list[RtRow]


@dataclass
class RtTable:
    """The fractionation table of a section."""

    id: str
    alpha_betas: list[tuple[str, str]]  # (α/β text, tissue)
    groups: list[RtGroup]
    lq_note: str | None


def bed(fractions: Decimal, dose: Decimal, alpha_beta: Decimal) -> Decimal:
    """Biologically effective dose, n·d·(1 + d/(α/β)): the checker's exact arithmetic, rounded to 0.1 Gy."""
    value = radiobiology.bed(radiobiology.exact(fractions), radiobiology.exact(dose), radiobiology.exact(alpha_beta))
    return Decimal(radiobiology.shown(value))


def eqd2(fractions: Decimal, dose: Decimal, alpha_beta: Decimal) -> Decimal:
    """Equivalent dose in 2 Gy fractions, BED/(1 + 2/(α/β)): the checker's arithmetic, rounded to 0.1 Gy."""
    value = radiobiology.eqd2(radiobiology.exact(fractions), radiobiology.exact(dose),
                              radiobiology.exact(alpha_beta))
    return Decimal(radiobiology.shown(value))


def alpha_beta_values(rt_schemes: dict[str, Any]) -> list[tuple[Decimal, str]]:
    """The α/β values the table shows: the default (tumour) and late-responding tissue, from the data."""
    out: list[tuple[Decimal, str]] = []
    for entry in rt_schemes.get("alpha_beta") or []:
        use = entry.get("use_for")
        tissue = str(entry.get("tissue") or "")
        if use == "default" or tissue.startswith("late-responding"):
            value = Decimal(str(entry.get("value_gy")))
            if all(value != v for v, _ in out):
                out.append((value, tissue))
    return out


def rt_row(line: m.Fractionation, alpha_betas: Sequence[Decimal], lq_limit: Decimal | None,
           language: str) -> RtRow | None:
    """A row for a fractionation with exact fractions and dose; None for `up to tolerance` lines."""
    if line.fractions is None or line.dose_per_fraction is None:
        return None
    ranged = line.fractions_max is not None or line.dose_per_fraction_max is not None
    fractions = w.number_range(line.fractions.value, line.fractions_max.value if line.fractions_max else None,
                               language)
    dose = w.number_range(line.dose_per_fraction.value,
                          line.dose_per_fraction_max.value if line.dose_per_fraction_max else None, language)
    total_value = line.total.value if line.total is not None else (
        None if ranged else line.fractions.value * line.dose_per_fraction.value)
    total = f"{w.number(total_value, language)} Gy" if total_value is not None else "—"
    values: list[str] = []
    for alpha_beta in alpha_betas:
        if ranged:
            values.extend(["—", "—"])
            continue
        values.append(w.number(bed(line.fractions.value, line.dose_per_fraction.value, alpha_beta), language))
        values.append(w.number(eqd2(line.fractions.value, line.dose_per_fraction.value, alpha_beta), language))
    site_parts = [p for p in (line.site.value if line.site else "", line.technique.value if line.technique else "")
                  if p]
    lq = lq_limit is not None and line.dose_per_fraction.value > lq_limit
    return RtRow(f"{fractions} × {dose} Gy", total, ", ".join(site_parts), values, lq)
