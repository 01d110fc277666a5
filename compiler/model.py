"""The protocol model: frozen dataclasses with source spans.

The builder (`compiler.build`) makes this from the syntax tree; the resolver fills in
the `*_id` fields from the formulary and the regimen library; checks and renderers
only read it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from compiler.records import frozen
from compiler.source import Span


@frozen(slots=True)
class Text:
    """A piece of source text with its span."""

    value: str
    span: Span


@frozen(slots=True)
class Number:
    """A number as written (`2,5`) and as read (Decimal 2.5)."""

    value: Decimal
    text: str
    span: Span

    @property
    def decimal_separator(self) -> str | None:
        """`,` or `.` when the number has a fractional part, else None."""
        for ch in self.text:
            if ch in ",.":
                return ch
        return None


@frozen(slots=True)
class Version:
    """A document version, major.minor."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


class Status(enum.Enum):
    """Document-control status of a protocol version."""

    DRAFT = "draft"
    REVIEW = "review"
    APPROVED = "approved"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


@frozen(slots=True)
class MetaField:
    """One `key: value` metadata line."""

    key: str
    value: str
    span: Span
    key_span: Span
    value_span: Span


@frozen(slots=True)
class Metadata:
    """Document metadata, typed; `fields` keeps every line as written."""

    fields: tuple[MetaField, ...] = ()
    id: Text | None = None
    title: Text | None = None
    version: Version | None = None
    status: Status | None = None
    language: str | None = None
    owner: Text | None = None
    author: Text | None = None
    reviewer: Text | None = None
    approver: Text | None = None
    authored: datetime.date | None = None
    approved: datetime.date | None = None
    next_review: datetime.date | None = None
    scope: Text | None = None
    references: tuple[Text, ...] = ()
    change_note: Text | None = None

    def field(self, key: str) -> MetaField | None:
        """The first metadata line with this canonical key."""
        for meta in self.fields:
            if meta.key == key:
                return meta
        return None


# ---------------------------------------------------------------- statements


@frozen(slots=True)
class CrossRef:
    """A `§id` reference to a section."""

    target: str
    span: Span


@frozen(slots=True)
class Item:
    """A line of the sheet with its indented children."""

    span: Span
    children: tuple[Item, ...]


@frozen(slots=True)
class Prose(Item):
    """A line of free text; consecutive lines render as one paragraph."""

    text: str
    refs: tuple[CrossRef, ...] = ()


@frozen(slots=True)
class Bullet(Item):
    """A bullet; its content is prose or a statement (or nothing)."""

    content: Item | None


@frozen(slots=True)
class Dose:
    """Amount (or range) and unit: `2,5 mg`, `400-800 mg`, `AUC 5`."""

    amount: Number
    amount_max: Number | None
    unit: str
    unit_text: str
    span: Span


@frozen(slots=True)
class Route:
    """An administration route; `code` is canonical (po, IV, IM, subcut, …)."""

    code: str
    text: str
    span: Span


@frozen(slots=True)
class Frequency:
    """How often: daily, twice daily, weekly, every N days/weeks/months, q3w, …"""

    kind: str
    interval: int | None
    interval_max: int | None
    unit: str | None
    text: str
    span: Span

    def interval_days(self) -> int | None:
        """The interval in days where it is exact (None for months, daily, …)."""
        if self.interval is None or self.unit is None:
            return None
        return self.interval * _DAYS_PER_UNIT.get(self.unit, 0) or None


_DAYS_PER_UNIT = {"day": 1, "week": 7}


@frozen(slots=True)
class Duration:
    """A length of time: `28 days`, `2 years`."""

    value: int
    unit: str
    span: Span


@frozen(slots=True)
class CycleDays:
    """Administration days within a cycle (ranges expanded), as written."""

    days: tuple[int, ...]
    text: str
    span: Span


@frozen(slots=True)
class Phase:
    """One phase of a drug line; `then` starts the next (loading → maintenance)."""

    span: Span
    dose: Dose | None = None
    route: Route | None = None
    frequency: Frequency | None = None
    days: CycleDays | None = None
    cycle_length: Duration | None = None
    on_off: tuple[int, int] | None = None
    cycles: int | None = None
    for_duration: Duration | None = None
    until: Text | None = None
    continuous: bool = False
    start_day: int | None = None  # `from day -7`: the first day, relative to day 1 of the cycle
    until_after: RelativeEnd | None = None  # `until 21 days after the last pemetrexed`
    use: str | None = None
    time: str | None = None


@frozen(slots=True)
class RelativeEnd:
    """An end relative to another drug: `until 21 days after the last pemetrexed`."""

    amount: int
    unit: str  # day | week
    drug: Text
    drug_id: str | None = None

    def days(self) -> int:
        """The offset in days."""
        return self.amount * (7 if self.unit == "week" else 1)


@frozen(slots=True)
class Infusion:
    """Infusion time in minutes: single, first-then, a minimum or (`infusion max 3 hours`) a maximum.

    A time may be a range (`infusion 1-2 hours`, `then 30-90 min`): `first_min` / `then_min`
    are then its shortest time and `first_upto` / `then_upto` its longest (None: one time).
    """

    first_min: int
    then_min: int | None
    at_least: bool
    span: Span
    at_most: bool = False
    hours: bool = False  # written in hours (`infusion 3 hours`); the minutes are still the value
    first_upto: int | None = None
    then_upto: int | None = None

    def first_range(self) -> tuple[int, int]:
        """The first (or only) infusion's shortest and longest time in minutes."""
        return self.first_min, self.first_upto if self.first_upto is not None else self.first_min

    def then_range(self) -> tuple[int, int] | None:
        """The later infusions' shortest and longest time, or None when one time is given."""
        if self.then_min is None:
            return None
        return self.then_min, self.then_upto if self.then_upto is not None else self.then_min


@frozen(slots=True)
class Form:
    """Pharmaceutical form, with concentration for liquids (`syrup (500 mg/5 mL)`)."""

    name: str
    span: Span
    concentration: tuple[Number, str, Number, str] | None = None


# ---------------------------------------------------------------- lang-b: administration details


@frozen(slots=True)
class RelativeTiming:
    """`30 min before paclitaxel`, `1 hour before chemotherapy`, `after carboplatin`.

    `offset_min` is the gap in minutes (None: immediately before/after, i.e. the order of
    administration); a range (`30-60 min before paclitaxel`) keeps its longest gap in
    `offset_max`; `target_id` is a drug id or `class:<id>` (filled by the resolver).
    """

    relation: str  # before | after
    offset_min: int | None
    offset_text: str | None
    target: Text
    span: Span
    target_id: str | None = None
    offset_max: int | None = None


@frozen(slots=True)
class AsNeeded:
    """`as needed`, `as needed for nausea`, `if nausea`: a PRN drug, with its reason."""

    reason: Text | None
    span: Span


@frozen(slots=True)
class DailyMax:
    """`up to 3 times daily`, `max 16 mg per day`: the maximum per day."""

    span: Span
    times: int | None = None
    dose: Dose | None = None


@frozen(slots=True)
class Diluent:
    """`in 250 mL sodium chloride 0,9 %`: volume, canonical fluid and its strength (%)."""

    volume: Number
    volume_unit: str
    fluid: str  # sodium chloride | glucose | water for injections
    fluid_text: str
    span: Span
    strength: Number | None = None


@frozen(slots=True)
class DrugLine(Item):
    """`drug <name> (<brand>) <dose> <route> <schedule> …` — a checkable drug statement."""

    name: Text
    brand: Text | None
    phases: tuple[Phase, ...]
    infusion: Infusion | None = None
    max_duration: Duration | None = None
    form: Form | None = None
    drug_id: str | None = None
    resolved_by: str | None = None
    # lang-b (issue 14 item 2): administration details
    timing: RelativeTiming | None = None
    as_needed: AsNeeded | None = None
    daily_max: DailyMax | None = None
    diluent: Diluent | None = None
    method: Text | None = None

    @property
    def route(self) -> Route | None:
        """The route of the first phase that states one."""
        for phase in self.phases:  # a loop, not a generator: asked for every line by many rules
            if phase.route is not None:
                return phase.route
        return None


@frozen(slots=True)
class RegimenLine(Item):
    """`regimen <name>`: a library regimen by name, or an inline one with drug lines as children."""

    name: Text
    quoted: bool
    cycle_length: Duration | None = None
    cycles: int | None = None
    until: Text | None = None
    max_duration: Duration | None = None
    frequency: Frequency | None = None
    regimen_id: str | None = None
    for_duration: Duration | None = None  # `regimen "…" for 2 years`: a fixed duration


@frozen(slots=True)
class PhaseLine(Item):
    """lang-b: `[followed by] phase <name>: <cycle data>` — one part of an inline regimen.

    The phases of a regimen are given one after the other, in the order written; each
    has its own cycle length and count, and holds its drug lines as children.
    """

    name: Text
    followed: bool
    cycle_length: Duration | None = None
    cycles: int | None = None
    until: Text | None = None
    max_duration: Duration | None = None
    frequency: Frequency | None = None


@frozen(slots=True)
class Fractionation(Item):
    """`rt 5 x 4 Gy`: fractions × dose per fraction, with optional total, site, technique."""

    fractions: Number | None
    fractions_max: Number | None
    dose_per_fraction: Number | None
    dose_per_fraction_max: Number | None
    total: Number | None = None
    up_to: bool = False
    tolerance: Text | None = None
    site: Text | None = None
    technique: Text | None = None
    per_week: tuple[Number, Number | None] | None = None
    # lang-b (issue 14 item 5): a course in parts (`25 x 2 Gy + 5 x 2 Gy boost = 60 Gy`). With
    # more than one part, fractions/dose_per_fraction are None and `total` is the course total.
    parts: tuple[RtPart, ...] = ()
    laterality: Text | None = None
    course_part: int | None = None  # set on the per-part views the checks see (1, 2, …)
    # rt14: simultaneous integrated boosts (`SIB 25 x 2,4 Gy = 60 Gy (tumorbed)`), delivered in the
    # same fractions as the base volume; `sib_part` is set on the per-SIB views the checks see.
    sib: tuple[RtSib, ...] = ()
    sib_part: int | None = None


@frozen(slots=True)
class RtPart:
    """lang-b: one part of a radiotherapy course: `19 x 2 Gy boost (tumour bed)`."""

    fractions: Number
    dose_per_fraction: Number
    span: Span
    boost: bool = False
    volume: Text | None = None


@frozen(slots=True)
class RtSib:
    """rt14: a simultaneous integrated boost of an rt line: `SIB 25 x 2,4 Gy = 60 Gy (tumorbed)`."""

    fractions: Number
    dose_per_fraction: Number
    span: Span
    total: Number | None = None
    volume: Text | None = None


@frozen(slots=True)
class OarConstraint(Item):
    """rt14: an organ-at-risk constraint under an rt line: `constraint lung V20 < 35 %`.

    `metric` is `Dmax`, `Dmean` or `V<dose>` as written; `dose_level` is the Gy of a V metric
    (20 for V20); `unit` is `Gy`, `%` or `cc`.
    """

    organ: Text
    metric: Text
    dose_level: Number | None
    op: str
    value: Number
    unit: str


# ---------------------------------------------------------------- conditions


@frozen(slots=True)
class Condition:
    """Base of condition expressions."""

    span: Span


@frozen(slots=True)
class Flag(Condition):
    """A named state: `premenopausal`, `HER2+`, `EGFR+`, `squamous`."""

    words: str


@frozen(slots=True)
class Compare(Condition):
    """`PD-L1 TPS >= 50%`, `line = 1`, `menopause = post`."""

    variable: str
    variable_span: Span
    op: str
    number: Number | None
    percent: bool
    word: str | None
    unit: Text | None = None  # a lab unit as written (`x10^9/L`, `x ULN`, `mL/min`)


@frozen(slots=True)
class Not(Condition):
    """Negation."""

    operand: Condition


@frozen(slots=True)
class All(Condition):
    """Conjunction (`and`)."""

    operands: tuple[Condition, ...]


@frozen(slots=True)
class Any_(Condition):
    """Disjunction (`or`)."""

    operands: tuple[Condition, ...]


def condition_atoms(condition: Condition) -> list[Flag | Compare]:
    """The flags and comparisons of a condition, in source order (through and/or/not)."""
    if isinstance(condition, (Flag, Compare)):
        return [condition]  # most conditions: one atom
    out: list[Flag | Compare] = []
    stack: list[Condition] = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, (All, Any_)):
            stack.extend(reversed(node.operands))
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, (Flag, Compare)):
            out.append(node)
    return out


@frozen(slots=True)
class When(Item):
    """`when <condition>:` — a branch; siblings under a `decision:` form one decision."""

    condition: Condition


@frozen(slots=True)
class Otherwise(Item):
    """`otherwise:` — the branch taken when no sibling `when` applies."""


@frozen(slots=True)
class Decision(Item):
    """`decision: <question>` — groups the `when`/`otherwise` branches below it."""

    title: Text | None


@frozen(slots=True)
class OnlyWhen(Item):
    """`only when <condition>` — restricts the enclosing block."""

    condition: Condition


@frozen(slots=True)
class ExcludeWhen(Item):
    """`exclude when <condition>` — a contraindication for the enclosing block."""

    condition: Condition


@frozen(slots=True)
class WithConstraint(Item):
    """`preferably with …` / `only with …` / `not with …` — combination constraints of the enclosing block."""

    kind: str
    targets: tuple[Text, ...]
    target_ids: tuple[str | None, ...] = ()


@frozen(slots=True)
class Note(Item):
    """`note: …` (also `NOTA:`): a highlighted remark."""

    text: Text | None
    refs: tuple[CrossRef, ...] = ()


@frozen(slots=True)
class Query(Item):
    """`query: …` — an open review question; blocks approval until resolved."""

    text: Text | None


@frozen(slots=True)
class Allow(Item):
    """`allow CODE "justification"` — acknowledges a finding on the parent statement."""

    code: Text
    justification: Text | None


# ---------------------------------------------------------------- lab criteria and dose modification


@frozen(slots=True)
class Criteria(Item):
    """`criteria before each cycle:` — its `Criterion` children must all hold before a cycle starts."""

    def criteria(self) -> tuple[Criterion, ...]:
        """The condition rows (notes and queries left out)."""
        return tuple(c for c in self.children if isinstance(c, Criterion))


@frozen(slots=True)
class Criterion(Item):
    """One row of a criteria block: `ANC >= 1.5 x10^9/L`."""

    condition: Condition


@frozen(slots=True)
class DoseAction:
    """What a band of a dose-modification table does.

    `kind`: percent (`75%`), level (`level -1`), dose (`150 mg/m2`), delay (`delay 1 week`,
    `delay until …`), withhold, discontinue, then (sequence word between two actions).
    """

    kind: str
    span: Span
    percent: Number | None = None
    level: int | None = None
    dose: Dose | None = None
    delay: Duration | None = None
    until: Text | None = None


@frozen(slots=True)
class DoseBand(Item):
    """One row of a dose-modification table: a band of the table's variable and its actions.

    `condition` is the band as a condition over the table's variable (`ANC >= 1 and ANC < 1.5`);
    `variable` is the variable as the row wrote it (None when the row leaves it to the table).
    """

    variable: Text | None
    condition: Condition
    actions: tuple[DoseAction, ...]

    def occurrences(self) -> tuple[Occurrence, ...]:
        """The `1st occurrence: …` rows under the band (empty when the band has one action list)."""
        if not self.children:  # most bands: asked by several rules, answered without a generator
            return ()
        return tuple(c for c in self.children if isinstance(c, Occurrence))

    def action_lists(self) -> tuple[tuple[DoseAction, ...], ...]:
        """Each list of actions the band can give: its own, or one per occurrence row."""
        occurrences = self.occurrences()
        return tuple(o.actions for o in occurrences) if occurrences else (self.actions,)

    def all_actions(self) -> tuple[DoseAction, ...]:
        """Every action of the band, its occurrence rows' included (for the checks of each action)."""
        if not self.children:
            return self.actions  # the band's own list (a tuple: the same actions, in the same order)
        return tuple(a for actions in self.action_lists() for a in actions)


@frozen(slots=True)
class Occurrence(Item):
    """`2nd occurrence: withhold then 75%` under a band: what the table does the nth time the band applies.

    `and_later`: the row also holds for every later occurrence (`3rd and later occurrences`).
    """

    number: int
    and_later: bool
    actions: tuple[DoseAction, ...]


@frozen(slots=True)
class DoseModification(Item):
    """`dose modification <drug> by <variable> (<unit>):` with its `DoseBand` rows as children."""

    drug: Text
    variable: Text | None
    unit: Text | None
    drug_id: str | None = None
    nadir: bool = False  # `by nadir ANC`: the lowest value of the previous cycle, not the pre-cycle value

    def bands(self) -> tuple[DoseBand, ...]:
        """The band rows (notes and queries left out)."""
        return tuple(c for c in self.children if isinstance(c, DoseBand))


@frozen(slots=True)
class DoseLevel(Item):
    """`level -1: 150 mg/m2` — one row of a `dose levels` list."""

    level: int
    dose: Dose


@frozen(slots=True)
class DoseLevels(Item):
    """`dose levels <drug>:` — the doses that `level 0`, `level -1` … stand for."""

    drug: Text
    drug_id: str | None = None

    def levels(self) -> tuple[DoseLevel, ...]:
        """The level rows."""
        return tuple(c for c in self.children if isinstance(c, DoseLevel))


# ---------------------------------------------------------------- document


@frozen(slots=True)
class Section:
    """A numbered section with a stable id; subsections nest by heading level."""

    id: str
    explicit_id: bool
    title: str
    number: str
    level: int
    span: Span
    items: tuple[Item, ...]
    subsections: tuple[Section, ...]


@frozen(slots=True)
class Protocol:
    """One protocol sheet."""

    path: str
    sha256: str
    meta: Metadata
    preamble: tuple[Item, ...]
    sections: tuple[Section, ...]

    def all_sections(self) -> list[Section]:
        """Every section, depth first."""
        return list(_walked(self)[1])

    def all_items(self) -> list[Item]:
        """Every item (depth first, bullets' content included)."""
        walked = _walked(self)
        items = walked[2]
        if items is None:
            items = walked[2] = _all_items(self.preamble, walked[1])
        return list(items)


# The walks of the last few protocols (by identity: the model is frozen, so a protocol's sections and
# items never change; the entry holds the protocol, so its id is not reused while it is here). A check
# run asks for every section about ten times, and the checks, the report and the book entry each walk
# every item: once per protocol is enough. Each caller gets a list of its own.
_WALKS: dict[int, list[Any]] = {}
_MAX_WALKS = 8


def _walked(protocol: Protocol) -> list[Any]:
    """[protocol, its sections (depth first), its items or None until asked]."""
    known = _WALKS.get(id(protocol))
    if known is None or known[0] is not protocol:
        if len(_WALKS) >= _MAX_WALKS:
            _WALKS.clear()
        known = _WALKS[id(protocol)] = [protocol, _all_sections(protocol.sections), None]
    return known


def _all_sections(top: tuple[Section, ...]) -> tuple[Section, ...]:
    out: list[Section] = []
    stack = list(reversed(top))
    while stack:
        section = stack.pop()
        out.append(section)
        if section.subsections:
            stack.extend(reversed(section.subsections))
    return tuple(out)


def _all_items(preamble: tuple[Item, ...], sections: tuple[Section, ...]) -> tuple[Item, ...]:
    out: list[Item] = []
    append = out.append
    _walk_items(preamble, append)
    for section in sections:
        _walk_items(section.items, append)
    return tuple(out)


def _walk_items(items: tuple[Item, ...], append: Callable[[Item], None]) -> None:
    """Each item, a bullet's content after it, then its children (a module function: a nested one calling
    itself through its cell leaves a reference cycle, which keeps the item list alive until a collection).
    """
    for item in items:
        append(item)
        if isinstance(item, Bullet) and item.content is not None:
            append(item.content)
        if item.children:  # most items have none: no call for them
            _walk_items(item.children, append)


def to_json(value: Any) -> Any:
    """A plain-JSON view of the model (stable key order) for `protocolc model` and goldens."""
    if isinstance(value, Span):
        return [value.line, value.column, value.end_line, value.end_column]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime.date, Version)):
        return str(value) if isinstance(value, Version) else value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"node": type(value).__name__.rstrip("_")}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None or item == () or item is False:
                continue
            if isinstance(value, Protocol) and f.name == "path":
                continue
            out[f.name] = to_json(item)
        return out
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    return value

