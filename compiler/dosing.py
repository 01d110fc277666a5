"""Dose arithmetic: schedules, formulary dose-row look-up, Calvert cap, anthracycline totals.

Pure functions over plain values and the data tables. The D checks use them to decide,
and the validation report and the renderer use them to *show* the computed values
(the Calvert cap of a carboplatin line, the cumulative doxorubicin-equivalent dose of
an arm), so every function is typed, documented and free of side effects. No clinical
number lives here: dose ranges, Calvert parameters and equivalence factors come from
`compiler/data/formulary.yaml` through `Tables`.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from compiler import model as m
from compiler._shadow import shadow
from compiler.records import frozen
from compiler.tables import Tables, TablesMemo

DAYS_PER_UNIT: dict[str, tuple[int, int]] = {"day": (1, 1), "week": (7, 7), "month": (28, 31), "year": (365, 366)}
"""Calendar arithmetic (not clinical data): the length of a period unit in days, as a range."""

PER_DAY: dict[str, int] = {"daily": 1, "twice daily": 2, "three times daily": 3}


def dec(value: object) -> Decimal:
    """A YAML number (int, float or str) as an exact Decimal (`2.5` stays 2.5, not 2.4999…)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


# ---------------------------------------------------------------- schedules


@frozen(slots=True)
class Schedule:
    """How often a dose is given, normalised so that protocol lines and data rows compare.

    `spacing` is the gap in days between consecutive administrations as a (low, high)
    range — 1 for daily dosing (also days 1-21 of a cycle), 7 for weekly or days 1, 8
    of a cycle, 21 for every 3 weeks — or None when not stated. `per_day` is the number
    of administrations on a dosing day (twice daily = 2). `days` and `cycle_days` are the
    administration days within a cycle and its length, when stated.
    """

    per_day: int | None = None
    spacing: tuple[int, int] | None = None
    days: tuple[int, ...] | None = None
    cycle_days: tuple[int, int] | None = None

    @property
    def known(self) -> bool:
        """Whether anything about the schedule is stated."""
        return self.spacing is not None or self.per_day is not None

    @property
    def is_daily(self) -> bool:
        """Dosing on consecutive days (daily, twice daily, days 1-14 of a cycle)."""
        return self.spacing is not None and self.spacing[1] <= 1

    def administrations_per_cycle(self) -> int | None:
        """Administrations in one cycle (days × per day), when days or a cycle are stated."""
        per_day = self.per_day or 1
        if self.days:
            return len(self.days) * per_day
        if self.cycle_days is not None and self.spacing is not None and self.spacing[0] == self.spacing[1] > 0:
            if self.cycle_days[0] == self.cycle_days[1] and self.cycle_days[0] % self.spacing[0] == 0:
                return self.cycle_days[0] // self.spacing[0] * per_day
        return None


def _spacing_of_days(days: Sequence[int], cycle: tuple[int, int] | None) -> tuple[int, int] | None:
    gap = _GAPS.get(days) if isinstance(days, tuple) else None  # (the same days recur on every line and sheet)
    if gap is None:
        gap = _smallest_gap(days)
        if isinstance(days, tuple) and len(days) <= 100:  # the memo outlives the sheet: small keys only
            if len(_GAPS) >= 10_000:
                _GAPS.clear()
            _GAPS[days] = gap
    return (gap, gap) if gap else cycle


_GAPS: dict[tuple[int, ...], int] = {}  # days → the smallest gap between two of them (0: fewer than two days)


def _smallest_gap(days: Sequence[int]) -> int:
    ordered = sorted(set(days))
    return min(b - a for a, b in itertools.pairwise(ordered)) if len(ordered) > 1 else 0


def _days_from_text(text: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        bounds = [int(x) for x in part.split("-") if x]
        out.extend(range(bounds[0], bounds[-1] + 1) if len(bounds) == 2 else bounds)
    return tuple(out)


def _period(count: int, unit: str, count_max: int | None = None) -> tuple[int, int]:
    low, high = DAYS_PER_UNIT[unit]
    return (count * low, (count_max or count) * high)


_Q = re.compile(r"\bq(\d+)(d|w|mo)\b(?:\s*-\s*q(\d+)(d|w|mo)\b)?")
_EVERY = re.compile(r"\bevery\s+(\d+)(?:\s*-\s*(\d+))?\s+(day|week|month|year)s?\b")
_Q_UNITS = {"d": "day", "w": "week", "mo": "month"}


def parse_frequency(text: str | None) -> tuple[Schedule, ...]:
    """The schedules a formulary `frequency` string allows (alternatives and phases).

    Understands the data conventions: `daily`, `twice daily`, `weekly`, `q3w`, `q6mo`,
    `q3w-q4w`, `every 9 weeks`, `days 1,8 q21d`, `days 1-21 q28d`, `twice daily, days
    1-14 q21d`, `twice daily, 4 days on 3 days off`, `weekly or days 1,8 q21d` (two
    alternatives) and `days 1, 15, 29, then q4w` (loading then maintenance: both count).
    Free text it cannot read gives an unknown Schedule, which matches any line.
    """
    if not text:
        return (Schedule(),)
    out: list[Schedule] = []
    for alternative in re.split(r"\bor\b|,?\s*\bthen\b", str(text).lower()):
        out.append(_parse_one(alternative))
    return tuple(out)


def _parse_one(text: str) -> Schedule:
    per_day = next((n for word, n in sorted(PER_DAY.items(), key=lambda kv: -len(kv[0])) if word in text), None)
    if "daily" in text and per_day is None:
        per_day = 1
    cycle: tuple[int, int] | None = None
    interval: tuple[int, int] | None = None
    if (q := _Q.search(text)) is not None:
        low = _period(int(q.group(1)), _Q_UNITS[q.group(2)])
        high = _period(int(q.group(3)), _Q_UNITS[q.group(4)]) if q.group(3) else low
        interval = (low[0], high[1])
    elif (every := _EVERY.search(text)) is not None:
        interval = _period(int(every.group(1)), every.group(3), int(every.group(2)) if every.group(2) else None)
    elif re.search(r"\bweekly\b", text):
        interval = (7, 7)
    on_off = re.search(r"(\d+)\s+days?\s+on\s*,?\s*(\d+)\s+days?\s+off", text)
    days_match = re.search(r"\bdays?\s+([\d][\d,\s-]*)", text)
    if on_off is not None:
        length = int(on_off.group(1)) + int(on_off.group(2))
        return Schedule(per_day or 1, (1, 1), tuple(range(1, int(on_off.group(1)) + 1)), (length, length))
    if days_match is not None and not re.match(r"\d+\s+days?\s+on", text):
        days = _days_from_text(days_match.group(1))
        cycle = interval
        if days:
            return Schedule(per_day or 1, _spacing_of_days(days, cycle), days, cycle)
    if per_day is not None and interval is None:
        return Schedule(per_day, (1, 1))
    if interval is not None:
        return Schedule(per_day or 1, interval)
    return Schedule()


def _cycle_of(phase: m.Phase, regimen_cycle: m.Duration | None) -> tuple[int, int] | None:
    length = phase.cycle_length or regimen_cycle
    if length is None or length.unit not in DAYS_PER_UNIT:
        return None
    return _period(length.value, length.unit)


# `Schedule` made as `_shadow` makes model objects (each field stored inline): every dosed phase of a sheet makes one
_schedule = shadow(Schedule)


def schedule_of_phase(phase: m.Phase, regimen_cycle: m.Duration | None = None,
                      regimen_frequency: m.Frequency | None = None) -> Schedule:
    """The Schedule a protocol phase states, with the enclosing regimen's cycle as a fallback.

    `every N weeks` together with `days …` is read as the cycle (days 1, 8 every 3
    weeks); `N days on, M days off` and `continuous` are daily dosing.
    """
    frequency = phase.frequency
    cycle = _cycle_of(phase, regimen_cycle)
    per_day = PER_DAY.get(frequency.kind) if frequency is not None else None
    interval: tuple[int, int] | None = None
    if frequency is not None and frequency.kind == "every" and frequency.interval and frequency.unit in DAYS_PER_UNIT:
        interval = _period(frequency.interval, frequency.unit, frequency.interval_max)
    elif frequency is not None and frequency.kind == "monthly":
        interval = DAYS_PER_UNIT["month"]
    days = phase.days.days if phase.days is not None else None
    if phase.on_off is not None:
        on, off = phase.on_off
        return _schedule(per_day or 1, (1, 1), days or tuple(range(1, on + 1)), (on + off, on + off))
    if days:
        if per_day is not None:
            return _schedule(per_day, (1, 1) if len(days) > 1 or cycle is None else cycle, days, cycle or interval)
        if cycle is None and interval is not None:
            cycle = interval
        return _schedule(1, _spacing_of_days(days, cycle), days, cycle)
    if per_day is not None or phase.continuous:
        return _schedule(per_day or 1, (1, 1), None, cycle)
    if interval is not None:
        return _schedule(1, interval, None, cycle)
    if frequency is None and regimen_frequency is not None:
        return schedule_of_phase(m.Phase(phase.span, frequency=regimen_frequency), regimen_cycle)
    if frequency is not None and frequency.kind == "once":
        return _schedule(1, None)
    if cycle is not None:
        return _schedule(1, cycle, None, cycle)
    return _schedule()


def schedule_of_regimen_drug(entry: Mapping[str, Any], cycle_days: int | None) -> Schedule:
    """The Schedule of a drug in a library regimen (regimens.yaml shape)."""
    frequency = str(entry.get("frequency") or "")
    parsed = parse_frequency(frequency)[0] if frequency else Schedule()
    raw_days = entry.get("days")
    cycle = (cycle_days, cycle_days) if cycle_days else None
    if raw_days:
        days = _days_from_text(",".join(str(d) for d in raw_days))
        if parsed.per_day is not None and parsed.is_daily:
            return Schedule(parsed.per_day, (1, 1), days, cycle)
        if parsed.spacing is not None and not parsed.is_daily and len(days) == 1:
            return Schedule(1, parsed.spacing, days, parsed.spacing)
        return Schedule(1, _spacing_of_days(days, cycle), days, cycle)
    if parsed.known:
        return parsed
    return Schedule(1, cycle, None, cycle) if cycle else Schedule()


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two day ranges share a value."""
    return a[0] <= b[1] and b[0] <= a[1]


def compatible(line: Schedule, row: Schedule) -> bool:
    """Whether a stated schedule fits a data row's schedule (unknown parts fit anything)."""
    if not line.known or not row.known:
        return True
    if line.per_day is not None and row.per_day is not None and line.per_day != row.per_day:
        return False
    if line.spacing is None or row.spacing is None:
        return True
    return overlaps(line.spacing, row.spacing)


def exact(line: Schedule, row: Schedule) -> bool:
    """Whether both state the same days within the same cycle length."""
    return (line.days is not None and row.days is not None and set(line.days) == set(row.days)
            and line.cycle_days is not None and row.cycle_days is not None
            and overlaps(line.cycle_days, row.cycle_days) and compatible(line, row))


# ---------------------------------------------------------------- dose rows


@frozen(slots=True)
class DoseRow:
    """One formulary dose row: product + route + unit + frequency (+ setting) → usual and max."""

    drug_id: str
    index: int
    route: str
    unit: str
    usual: tuple[Decimal, Decimal] | None
    max: Decimal | None
    frequency: str
    schedules: tuple[Schedule, ...]
    setting: str
    source: str
    unverified: bool
    max_daily: Decimal | None = None
    use: str = ""

    def describe(self) -> str:
        """`175 mg/m2 IV q3w` — the row as a short phrase for messages."""
        if self.usual is None:
            amount = "?"
        else:
            low, high = (_plain(x) for x in self.usual)
            amount = low if low == high else f"{low}-{high}"
        unit = f"AUC {amount}" if self.unit == "AUC" else f"{amount} {self.unit}"
        text = f"{unit} {self.route} {self.frequency}".strip()
        return f"{text} for {self.use}" if self.use else text


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros (`750`, `2.5`)."""
    return _plain(value)


_INDEX: dict[str, dict[str, tuple[DoseRow, ...]]] = {}


def dose_rows(tables: Tables, drug_id: str) -> tuple[DoseRow, ...]:
    """The dose rows of a product, parsed once per data fingerprint (when a sheet first doses it: parsing every
    product's rows up front was a few milliseconds of a one-sheet check).
    """
    index = _INDEX.get(tables.fingerprint)
    if index is None:
        index = {}
        _INDEX.clear()
        _INDEX[tables.fingerprint] = index
    rows = index.get(drug_id)
    if rows is None:
        entry = tables.drugs.get(drug_id)
        if entry is None:
            return ()
        rows = index[drug_id] = _rows(drug_id, entry)
    return rows


def _rows(drug_id: str, entry: Mapping[str, Any]) -> tuple[DoseRow, ...]:
    out: list[DoseRow] = []
    for number, row in enumerate(entry.get("doses") or []):
        usual = row.get("usual")
        out.append(DoseRow(
            drug_id, number, str(row.get("route") or ""), str(row.get("unit") or ""),
            (dec(usual[0]), dec(usual[1])) if usual and len(usual) == 2 else None,
            dec(row["max"]) if row.get("max") is not None else None,
            str(row.get("frequency") or ""), parse_frequency(str(row.get("frequency") or "")),
            str(row.get("setting") or ""), str(row.get("source") or entry.get("source") or ""),
            bool(row.get("unverified", entry.get("unverified", True))),
            dec(row["max_daily"]) if row.get("max_daily") is not None else None, str(row.get("use") or "")))
    return tuple(out)


def rows_for_use(rows: tuple[DoseRow, ...], use: str | None, context: frozenset[str] = frozenset()) -> tuple[DoseRow, ...]:
    """The rows that apply to a dose: of the use the sheet states (`for antiemetic`), else of a use its context
    implies (radiotherapy in the arm → chemoradiation); without either, the rows that have no use.

    A row with a use (chemoradiation, premedication) applies only in that use; the selection narrows, never
    empties: when no row fits, every row applies (a drug whose rows all have a use, stated nowhere).
    """
    wanted = {use} if use else set(context)
    chosen = tuple(r for r in rows if r.use and r.use in wanted) if wanted else ()
    if not chosen:
        chosen = tuple(r for r in rows if not r.use)
    return chosen or rows


@frozen
class RangeMatch:
    """The rows that apply to a stated dose, and the range they give.

    `how` is `exact` (same days in the same cycle), `schedule` (compatible interval),
    `any` (the line states no schedule: every row of the route and unit), `unmatched`
    (rows of this route and unit exist, none with a compatible schedule: `rows` holds
    them all) or `none` (no row of this route and unit).
    """

    how: str
    rows: tuple[DoseRow, ...]

    # Cached: the D rules ask each of these several times per dose, and a match is shared by every
    # dose of the same product, use, route, unit and schedule (checks.dosed memoises the look-up).

    @functools.cached_property
    def usual_low(self) -> Decimal | None:
        """Lowest usual dose of the rows."""
        lows = [r.usual[0] for r in self.rows if r.usual is not None]
        return min(lows) if lows else None

    @functools.cached_property
    def usual_high(self) -> Decimal | None:
        """Highest usual dose of the rows."""
        highs = [r.usual[1] for r in self.rows if r.usual is not None]
        return max(highs) if highs else None

    @functools.cached_property
    def hard_max(self) -> Decimal | None:
        """The highest hard maximum — None when any row has none (no hard limit can be claimed)."""
        maxima = [r.max for r in self.rows]
        if not maxima or any(x is None for x in maxima):
            return None
        return max(x for x in maxima if x is not None)

    def within_usual(self, value: Decimal) -> bool:
        """Whether a dose lies in the usual range of at least one row."""
        return any(r.usual is not None and r.usual[0] <= value <= r.usual[1] for r in self.rows)

    def rows_with_max(self, limit: Decimal) -> tuple[DoseRow, ...]:
        """The rows whose hard maximum is `limit`."""
        return tuple(r for r in self.rows if r.max == limit)


def daily_maximum(row: DoseRow) -> Decimal | None:
    """A daily row's hard maximum per day: `max_daily`, else `max` × administrations a day of its frequency."""
    if row.max_daily is not None:
        return row.max_daily
    daily = [s for s in row.schedules if s.is_daily]
    if row.max is None or not daily:
        return None
    return row.max * max(s.per_day or 1 for s in daily)


def lookup(rows: Iterable[DoseRow], route: str | None, unit: str, schedule: Schedule) -> RangeMatch:
    """The formulary rows for a stated route, unit and schedule.

    A row of another unit or another route never matches (a missing route matches every
    route). Among those, rows with the same days in the same cycle win; otherwise rows
    with a compatible interval and the same number of administrations a day.
    """
    same = tuple(r for r in rows if r.unit == unit and (route is None or r.route == route))
    if not same:
        return RangeMatch("none", ())
    if not schedule.known:
        return RangeMatch("any", same)
    exact_rows = tuple(r for r in same if any(exact(schedule, s) for s in r.schedules))
    if exact_rows:
        return RangeMatch("exact", exact_rows)
    fitting = tuple(r for r in same if any(compatible(schedule, s) for s in r.schedules))
    if fitting:
        return RangeMatch("schedule", fitting)
    return RangeMatch("unmatched", same)


def allowed_units(tables: Tables) -> dict[str, tuple[str, ...]]:
    """The units the formulary allows each product (`units`; empty: not stated), read once per tables object
    (F004 and D004 ask them of every dose).
    """
    return _per_product(tables, "units", "", _every_units)


def _every_units(tables: Tables, _: str) -> dict[str, tuple[str, ...]]:
    return {drug_id: tuple(str(u) for u in entry.get("units") or []) for drug_id, entry in tables.drugs.items()}


def allowed_routes(tables: Tables) -> dict[str, tuple[str, ...]]:
    """The routes the formulary gives each product by (`routes`; empty: not stated), read once per tables
    object (F005 asks them of every line).
    """
    return _per_product(tables, "routes", "", _every_routes)


def _every_routes(tables: Tables, _: str) -> dict[str, tuple[str, ...]]:
    return {drug_id: tuple(str(r) for r in entry.get("routes") or []) for drug_id, entry in tables.drugs.items()}


# ---------------------------------------------------------------- carboplatin (Calvert)


@frozen(slots=True)
class CalvertParameters:
    """Calvert formula constants from the data: dose = AUC × (GFR + offset), GFR capped."""

    gfr_offset: Decimal
    gfr_cap: Decimal
    source: str
    unverified: bool


def calvert_parameters(tables: Tables, drug_id: str = "carboplatin") -> CalvertParameters | None:
    """The Calvert parameters of a drug's formulary entry (`calvert:`), if it has them."""
    return _per_product(tables, "calvert", drug_id, _calvert_parameters)


def _calvert_parameters(tables: Tables, drug_id: str) -> CalvertParameters | None:
    entry = (tables.drugs.get(drug_id) or {}).get("calvert")
    if not isinstance(entry, dict):
        return None
    return CalvertParameters(dec(entry["gfr_offset"]), dec(entry["gfr_cap_ml_min"]), str(entry.get("source") or ""),
                             bool(entry.get("unverified", True)))


def calvert_dose(auc: Decimal, gfr: Decimal, parameters: CalvertParameters) -> Decimal:
    """Carboplatin dose in mg: AUC × (min(GFR, cap) + offset) (Calvert 1989; FDA 2010 cap)."""
    return auc * (min(max(gfr, Decimal(0)), parameters.gfr_cap) + parameters.gfr_offset)


def calvert_cap(auc: Decimal, parameters: CalvertParameters) -> Decimal:
    """The largest dose the formula can give: AUC × (GFR cap + offset) — AUC 5 → 750 mg."""
    return calvert_dose(auc, parameters.gfr_cap, parameters)


# ---------------------------------------------------------------- anthracyclines


@frozen(slots=True)
class CumulativeLimit:
    """A product's lifetime cumulative entry: limit(s) and doxorubicin-equivalence factor."""

    drug_id: str
    factor: Decimal
    limit: Decimal | None
    reduced_limit: Decimal | None
    reduced_with: tuple[str, ...]
    source: str
    unverified: bool

    def limit_in_doxorubicin_equivalents(self, reduced: bool) -> Decimal | None:
        """The product's own limit converted to doxorubicin-equivalents."""
        limit = self.reduced_limit if reduced and self.reduced_limit is not None else self.limit
        return None if limit is None else limit * self.factor


def cumulative_limit(tables: Tables, drug_id: str) -> CumulativeLimit | None:
    """The `cumulative:` entry of a product (None for drugs without a lifetime limit entry)."""
    # Asked for every dosed phase of a sheet by D010/D011: read once per product and tables object.
    return _CUMULATIVE.answer(tables, drug_id, _cumulative_limit, tables, drug_id)


_CUMULATIVE: TablesMemo[str, CumulativeLimit | None] = TablesMemo(10_000)


_T = TypeVar("_T")
_PER_PRODUCT: TablesMemo[tuple[str, str], Any] = TablesMemo(10_000)


def _per_product(tables: Tables, what: str, drug_id: str, read: Callable[[Tables, str], _T]) -> _T:
    """`read(tables, drug_id)`, once per product and tables object: the D rules ask it for every dosed phase of a
    sheet, and it parses the product's entry anew (the values are frozen, so one answer serves every caller).
    """
    found: _T = _PER_PRODUCT.answer(tables, (what, drug_id), read, tables, drug_id)
    return found


def _cumulative_limit(tables: Tables, drug_id: str) -> CumulativeLimit | None:
    entry = (tables.drugs.get(drug_id) or {}).get("cumulative")
    if not isinstance(entry, dict) or entry.get("doxorubicin_equivalent_factor") is None:
        return None
    return CumulativeLimit(
        drug_id, dec(entry["doxorubicin_equivalent_factor"]),
        dec(entry["limit_mg_m2"]) if entry.get("limit_mg_m2") is not None else None,
        dec(entry["reduced_limit_mg_m2"]) if entry.get("reduced_limit_mg_m2") is not None else None,
        tuple(str(x) for x in entry.get("reduced_with") or ()), str(entry.get("source") or ""),
        bool(entry.get("unverified", True)))


def regimen_has_cumulative(tables: Tables, regimen_id: str) -> bool:
    """Whether a library regimen holds a drug with a `cumulative:` entry (asked of every library regimen line)."""
    return _per_product(tables, "regimen-cumulative", regimen_id, _regimen_has_cumulative)


def _regimen_has_cumulative(tables: Tables, regimen_id: str) -> bool:
    entry = tables.regimens.get(regimen_id) or {}
    return any(cumulative_limit(tables, str(drug.get("drug"))) is not None for drug in entry.get("drugs") or [])


def doxorubicin_equivalent(dose_mg_m2: Decimal, factor: Decimal) -> Decimal:
    """A cumulative dose of one anthracycline in doxorubicin-equivalent mg/m² (linear)."""
    return dose_mg_m2 * factor


def cumulative_dose(per_administration: Decimal, administrations_per_cycle: int, cycles: int) -> Decimal:
    """Planned cumulative dose: dose × administrations per cycle × cycles."""
    return per_administration * administrations_per_cycle * cycles


@frozen(slots=True)
class Exposure:
    """One planned anthracycline exposure of an arm."""

    limit: CumulativeLimit
    per_administration: Decimal
    administrations_per_cycle: int
    cycles: int

    @property
    def total(self) -> Decimal:
        """Cumulative dose of this product in its own mg/m²."""
        return cumulative_dose(self.per_administration, self.administrations_per_cycle, self.cycles)

    @property
    def equivalent(self) -> Decimal:
        """Cumulative dose in doxorubicin-equivalents."""
        return doxorubicin_equivalent(self.total, self.limit.factor)


@frozen(slots=True)
class CumulativeResult:
    """An arm's planned lifetime anthracycline exposure against the applicable limit."""

    exposures: tuple[Exposure, ...]
    prior: Decimal
    total: Decimal
    limit: Decimal | None
    reduced: bool

    @property
    def fraction(self) -> Decimal | None:
        """Total as a fraction of the limit."""
        return None if not self.limit else self.total / self.limit

    @property
    def unverified(self) -> bool:
        """Whether any limit entry used is unverified."""
        return any(e.limit.unverified for e in self.exposures)


def anthracycline_total(exposures: Sequence[Exposure], prior_doxorubicin_equivalent: Decimal,
                        reduced: bool, doxorubicin: CumulativeLimit | None) -> CumulativeResult:
    """Sum planned exposures and prior exposure in doxorubicin-equivalents and pick the limit.

    The limit is the most conservative (lowest) of the products' own limits expressed in
    doxorubicin-equivalents; prior exposure, stated in doxorubicin-equivalents, brings in
    doxorubicin's own limit. `reduced` selects the reduced limits (prior mediastinal
    radiotherapy, concurrent cyclophosphamide or other cardiotoxic drugs).
    """
    total = prior_doxorubicin_equivalent + sum((e.equivalent for e in exposures), Decimal(0))
    limits = [e.limit.limit_in_doxorubicin_equivalents(reduced) for e in exposures]
    if prior_doxorubicin_equivalent > 0 and doxorubicin is not None:
        limits.append(doxorubicin.limit_in_doxorubicin_equivalents(reduced))
    known = [x for x in limits if x is not None]
    return CumulativeResult(tuple(exposures), prior_doxorubicin_equivalent, total, min(known) if known else None, reduced)


def cycles_to_reach(limit: Decimal, per_cycle_equivalent: Decimal) -> int | None:
    """How many cycles reach a limit (the first cycle at or above it)."""
    if per_cycle_equivalent <= 0:
        return None
    cycles = limit / per_cycle_equivalent
    whole = int(cycles)
    return whole if whole == cycles else whole + 1


# ---------------------------------------------------------------- renal adjustment


@frozen(slots=True)
class RenalBand:
    """One row of a renal adjustment table: CrCl band (mL/min) and dose (None: not recommended)."""

    low: Decimal
    high: Decimal | None
    dose: Decimal | None

    def contains(self, crcl: Decimal) -> bool:
        """Whether a CrCl value falls in the band; whole-number upper bounds include the next fraction (49 → < 50)."""
        if crcl < self.low:
            return False
        return self.high is None or crcl < self.high + 1


def renal_table(tables: Tables, drug_id: str) -> tuple[tuple[RenalBand, ...], str, bool] | None:
    """A product's renal adjustment table with its source and unverified flag."""
    return _per_product(tables, "renal", drug_id, _renal_table)


def _renal_table(tables: Tables, drug_id: str) -> tuple[tuple[RenalBand, ...], str, bool] | None:
    entry = (tables.drugs.get(drug_id) or {}).get("renal_adjustment")
    if not isinstance(entry, dict):
        return None
    bands = tuple(RenalBand(dec(row.get("crcl_min") or 0),
                            dec(row["crcl_max"]) if row.get("crcl_max") is not None else None,
                            dec(row["dose_mg"]) if row.get("dose_mg") is not None else None)
                  for row in entry.get("table") or [])
    return bands, str(entry.get("source") or ""), bool(entry.get("unverified", True))


def renal_band(bands: Sequence[RenalBand], low: Decimal | None, high: Decimal | None) -> RenalBand | None:
    """The band a stated CrCl interval (either bound may be open) falls in, judged at its midpoint.

    The table's bands abut (…, 50–60, > 60), so an interval is placed by a representative
    point strictly inside it: the midpoint, or one unit inside an open-ended interval.
    """
    if low is None and high is None:
        return None
    if low is not None and high is not None:
        point = (low + high) / 2
    elif low is not None:
        point = low + 1
    else:
        assert high is not None
        point = max(high - 1, Decimal(0))
    matches = [band for band in bands if band.contains(point)]
    if not matches:
        return None
    return max(matches, key=lambda band: band.low)
