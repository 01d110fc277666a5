"""The dosed phases of a sheet, as the D rules read them: every drug line with the statements around
it and its arm (`layout`), and every dosed phase with the formulary rows of its use, route, unit and
schedule, and the verdict on its amount (`phase_doses`, `verdict`).

Computed once per check run (`Context.shared`) and read by the rules of `checks.dose` and
`checks.dose_context`; no rule lives here. The arithmetic itself is `compiler.dosing`'s. Where a
finding rests only on data rows marked `unverified: true`, a borderline error may be softened to a
warning (`softened_severity`); a gross one never is (`is_gross`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from compiler import dosing
from compiler import model as m
from compiler._shadow import shadow
from compiler.arms import other_phase_lines, phase_view
from compiler.checks import Context
from compiler.diagnostics import Fix, Severity
from compiler.dosing import DoseRow, RangeMatch, Schedule, plain
from compiler.records import frozen
from compiler.resolve import normalise  # remembered per name: the same variables and names recur
from compiler.tables import Tables, TablesMemo

UNVERIFIED = " (reference unverified: check the SmPC)"
CRCL_VARIABLES = {"crcl", "creatinine clearance", "creatinineklaring", "egfr", "gfr", "klaring"}
SOFTENED = " (softened to a warning only because the reference is unverified: check the SmPC)"
GROSS_HARD, GROSS_USUAL = Decimal(2), Decimal(5)
"""A dose at ≥ 2× the hard maximum or ≥ 5× the usual maximum is an error whatever the data row's state (RULES.md D)."""


def softened_severity(base: Severity, unverified: bool, gross: bool = False) -> Severity:
    """Unverified data may soften a borderline error to a warning; a gross finding stays an error."""
    return Severity.WARNING if unverified and not gross and base is Severity.ERROR else base


def unverified_note(unverified: bool, gross: bool | None = None) -> str:
    """The message suffix: softened (borderline on unverified data) or only a reminder (gross, or not an error)."""
    if not unverified:
        return ""
    return SOFTENED if gross is False else UNVERIFIED


def is_gross(value: Decimal, hard: Decimal | None, usual_high: Decimal | None) -> bool:
    """Whether a dose is a gross overdose: ≥ 2× the hard maximum or ≥ 5× the usual maximum."""
    return (hard is not None and hard > 0 and value >= hard * GROSS_HARD) or \
        (usual_high is not None and usual_high > 0 and value >= usual_high * GROSS_USUAL)


# ---------------------------------------------------------------- where each line sits


@frozen(slots=True)
class LineInfo:
    """A drug line with the statements that enclose it (outermost first) and its arm."""

    line: m.DrugLine
    ancestors: tuple[m.Item, ...]
    section: m.Section | None
    arm: tuple[m.DrugLine, ...]
    # the nearest enclosing regimen and phase lines (None when there is none), found by the walk
    enclosing: tuple[m.RegimenLine | None, m.PhaseLine | None] = (None, None)

    @property
    def regimen(self) -> m.RegimenLine | None:
        """The nearest enclosing regimen line (seen from inside its `phase`, when the line is in one)."""
        regimen, phase = self.enclosing
        if regimen is not None and phase is not None:
            return _phase_view(regimen, phase)  # (built once per phase: `_PHASE_VIEWS`)
        return regimen


# The regimen seen from one of its phases, built once per phase: the drug lines of a phase share it. Keyed by
# identity; each entry keeps its regimen and phase (their ids are not reused while kept), at most 10,000.
_PHASE_VIEWS: dict[tuple[int, int], tuple[m.RegimenLine, m.PhaseLine, m.RegimenLine]] = {}


def _phase_view(regimen: m.RegimenLine, phase: m.PhaseLine) -> m.RegimenLine:
    key = (id(regimen), id(phase))
    known = _PHASE_VIEWS.get(key)
    if known is None or known[0] is not regimen or known[1] is not phase:
        if len(_PHASE_VIEWS) >= 10_000:
            _PHASE_VIEWS.clear()
        known = _PHASE_VIEWS[key] = (regimen, phase, phase_view(regimen, phase))
    return known[2]


# a library regimen line, the phase it is written in, and the levels of items around it (`library_conditions`)
_Levels = tuple[tuple[tuple[m.Item, ...], m.Item | None], ...]
LibraryLine = tuple[m.RegimenLine, m.PhaseLine | None, _Levels]
_LAYOUT: dict[int, tuple[m.Protocol, list[LineInfo], list[LibraryLine]]] = {}


def statement_of(item: m.Item) -> m.Item:
    """The statement an item holds: a bullet's content, else the item itself."""
    return item.content if isinstance(item, m.Bullet) and item.content is not None else item


def layout(context: Context) -> list[LineInfo]:
    """Every drug line with its ancestors and arm, computed once per protocol."""
    if not context.of_type(m.DrugLine):
        return []  # no drug line (a radiotherapy sheet): no walk of the sheet (the context's items are all of them)
    return laid_out(context.protocol)[1]


class _LayoutWalk:
    """`laid_out`'s walk of the sheet (a method: a nested function calling itself through its cell
    leaves a reference cycle per sheet for the collector).
    """

    __slots__ = ("arms", "found", "libraries", "path")

    def __init__(self) -> None:
        self.found: list[tuple[m.DrugLine, tuple[m.Item, ...], m.Section | None,
                               tuple[m.RegimenLine | None, m.PhaseLine | None], int]] = []
        # the lines of each arm: of a regimen, else of a block, else the line alone (by the key's identity)
        self.arms: dict[int, list[m.DrugLine]] = {}
        self.libraries: list[LibraryLine] = []
        # The items of each level above the one walked, with the statement walked into: the conditions around
        # a library regimen are gathered from them for the few there are, not for every block.
        self.path: list[tuple[tuple[m.Item, ...], m.Item | None]] = []

    def walk(self, items: tuple[m.Item, ...], ancestors: tuple[m.Item, ...], section: m.Section | None,
             enclosing: tuple[m.RegimenLine | None, m.PhaseLine | None], phase: m.PhaseLine | None) -> None:
        found, arms, libraries, path, kinds = self.found, self.arms, self.libraries, self.path, _WALK_KINDS
        for item in items:
            # (`statement_of`, inline, and what the statement is by one look-up: every item of the sheet passes here)
            kind = kinds.get(item.__class__)
            if kind is None:
                kind = _walk_kind(item.__class__)
            statement = item
            if kind == _W_BULLET:
                content = item.content  # type: ignore[attr-defined]
                if content is not None:
                    statement = content
                    kind = kinds.get(content.__class__)
                    if kind is None:
                        kind = _walk_kind(content.__class__)
            if kind == _W_DRUG:
                regimen = enclosing[0]
                key = id(regimen) if regimen is not None else (id(ancestors[-1]) if ancestors else id(statement))
                lines = arms.get(key)
                if lines is None:
                    lines = arms[key] = []
                lines.append(statement)  # type: ignore[arg-type]
                found.append((statement, ancestors, section, enclosing, key))  # type: ignore[arg-type]
            elif kind == _W_REGIMEN and statement.regimen_id is not None:  # type: ignore[attr-defined]
                libraries.append((statement, phase, (*path, (items, None))))  # type: ignore[arg-type]
            if item.children:  # a leaf needs no ancestors tuple of its own
                inner: tuple[m.RegimenLine | None, m.PhaseLine | None]
                if kind == _W_REGIMEN:
                    inner = (statement, enclosing[1])  # type: ignore[assignment]
                elif kind == _W_PHASE:
                    inner = (enclosing[0], statement)  # type: ignore[assignment]
                else:
                    inner = enclosing
                path.append((items, statement))
                self.walk(item.children, (*ancestors, statement), section, inner,
                     statement if kind == _W_PHASE else None)  # type: ignore[arg-type]
                path.pop()


def laid_out(protocol: m.Protocol) -> tuple[m.Protocol, list[LineInfo], list[LibraryLine]]:
    """The drug lines with where they sit, and the library regimen lines with theirs (D011): one walk of the sheet."""
    cached = _LAYOUT.get(id(protocol))
    if cached is not None and cached[0] is protocol:
        return cached
    walker = _LayoutWalk()
    walker.walk(protocol.preamble, (), None, (None, None), None)
    for section in protocol.all_sections():
        walker.walk(section.items, (), section, (None, None), None)
    found, arms, libraries = walker.found, walker.arms, walker.libraries
    arm_tuples = {key: tuple(lines) for key, lines in arms.items()}
    infos = [_make_line_info(line, ancestors, section, arm_tuples[key], enclosing)
             for line, ancestors, section, enclosing, key in found]
    _forget_other_protocols()
    made = _LAYOUT[id(protocol)] = (protocol, infos, libraries)
    return made


_W_OTHER, _W_DRUG, _W_REGIMEN, _W_PHASE, _W_BULLET = range(5)
_WALK_KINDS: dict[type, int] = {}


def _walk_kind(cls: type) -> int:
    """What the layout's walk does with an item of this class (asked once per class)."""
    kind = (_W_BULLET if issubclass(cls, m.Bullet) else _W_DRUG if issubclass(cls, m.DrugLine)
            else _W_REGIMEN if issubclass(cls, m.RegimenLine) else _W_PHASE if issubclass(cls, m.PhaseLine)
            else _W_OTHER)
    _WALK_KINDS[cls] = kind
    return kind


def library_conditions(levels: _Levels) -> list[m.Condition]:
    """The conditions around a statement: the `only when` lines beside it and beside each enclosing statement,
    and the enclosing `when`s, outermost first.
    """
    out: list[m.Condition] = []
    for level, through in levels:
        out.extend(c.condition for c in map(statement_of, level) if isinstance(c, m.OnlyWhen))
        if isinstance(through, m.When):
            out.append(through.condition)
    return out


def _forget_other_protocols() -> None:
    """Drop the per-block answers of earlier sheets when a new sheet is laid out.

    The caches hold their blocks (to guard the ids), so keeping them across sheets kept
    whole models alive: a 1,000-sheet check grew by every sheet's model. A miss only
    recomputes, so clearing is always safe; memory stays bounded by the sheet being checked.
    """
    _LAYOUT.clear()
    _PHASE_VIEWS.clear()
    _ONLY_WHEN.clear()
    _HAS_RT.clear()
    _SECTION_ONLY_WHEN.clear()


def line_conditions(info: LineInfo) -> list[m.Condition]:
    """The conditions that hold where a line sits: enclosing `when` and sibling `only when` lines."""
    out: list[m.Condition] = []
    for ancestor in info.ancestors:
        if isinstance(ancestor, (m.When, m.OnlyWhen)):
            out.append(ancestor.condition)
        out.extend(_only_when_children(ancestor))
    return out


_ONLY_WHEN: dict[int, tuple[m.Item, tuple[m.Condition, ...]]] = {}


def _only_when_children(item: m.Item) -> tuple[m.Condition, ...]:
    """The `only when` conditions among a block's children, found once per block: a decision
    with thousands of branches would otherwise be scanned again for every line in it (issue 12).
    """
    cached = _ONLY_WHEN.get(id(item))
    if cached is not None and cached[0] is item:
        return cached[1]
    found = tuple(child.condition for child in map(statement_of, item.children) if isinstance(child, m.OnlyWhen))
    if len(_ONLY_WHEN) > 100_000:
        _ONLY_WHEN.clear()
    _ONLY_WHEN[id(item)] = (item, found)
    return found


def compares(condition: m.Condition) -> Iterator[m.Compare]:
    """Every comparison in a condition, at any depth."""
    stack = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, m.All):
            stack.extend(node.operands)
        elif isinstance(node, m.Compare):
            yield node


# ---------------------------------------------------------------- per-phase assessment


@frozen(slots=True)
class PhaseDose:
    """One dosed phase of a drug line, with the formulary rows that apply to it.

    `drug_id` is the line's product; `high` and `low` the highest and lowest dose written (the ends of a
    range); `verdict` which dose rule speaks for the phase (`verdict`). Every D rule reads them for every
    phase: they are found once, with the phase.
    """

    info: LineInfo
    index: int
    phase: m.Phase
    dose: m.Dose
    route: str | None
    schedule: Schedule
    rows: tuple[DoseRow, ...]
    match: RangeMatch
    loading: bool
    drug_id: str
    high: Decimal
    low: Decimal
    verdict: Verdict


# made as `_shadow` makes model objects (each field stored inline, not through its slot's descriptor):
# every drug line and every dosed phase of every sheet makes one
_make_line_info = shadow(LineInfo)
_make_phase_dose = shadow(PhaseDose)
_LOADING: TablesMemo[tuple[str, str], frozenset[Decimal]] = TablesMemo(10_000)


def _product_loading_doses(tables: Tables, drug_id: str, unit: str) -> frozenset[Decimal]:
    """`_loading_doses` of a product's entry, once per product, unit and tables object (asked of every line)."""
    known = _LOADING.answers(tables)
    found = known.get((drug_id, unit))
    if found is None:
        found = known[(drug_id, unit)] = frozenset(_loading_doses(tables.drugs[drug_id], unit))
    return found


def _loading_doses(entry: dict[str, Any], unit: str) -> set[Decimal]:
    loading = entry.get("loading")
    if not isinstance(loading, dict):
        return set()
    out: set[Decimal] = set()
    for pattern in [loading, *(loading.get("alternatives") or [])]:
        if pattern.get("dose") is not None and str(pattern.get("unit")) == unit:
            out.add(dosing.dec(pattern["dose"]))
    return out


def phase_doses(context: Context) -> tuple[PhaseDose, ...]:
    """Every phase with a dose, of every resolved drug line, with its matching rows (computed once per check run)."""
    return context.shared(_phase_doses)


def _phase_doses(context: Context) -> tuple[PhaseDose, ...]:
    return tuple(_each_phase_dose(context))


def _each_phase_dose(context: Context) -> Iterator[PhaseDose]:
    drugs = context.tables.drugs
    for info in layout(context):
        line = info.line
        drug_id = line.drug_id
        if drug_id is None or drug_id not in drugs:
            continue
        rows = dosing.dose_rows(context.tables, drug_id)
        use_rows = _has_use_rows(rows)
        renal = dosing.renal_table(context.tables, drug_id)
        regimen = info.regimen
        cycle_length, frequency = (regimen.cycle_length, regimen.frequency) if regimen else (None, None)
        line_route = line.route
        line_code = line_route.code if line_route else None
        for index, phase in enumerate(line.phases):
            dose = phase.dose
            if dose is None:
                continue
            if dose.unit == "mL":  # (`_as_strength` changes only a volume)
                dose = _as_strength(line, dose)
                assert dose is not None
            route = phase.route.code if phase.route is not None else line_code
            schedule = dosing.schedule_of_phase(phase, cycle_length, frequency)
            chosen, match = _use_match(context, rows, info, phase, route, dose.unit, schedule, use_rows)
            # the dearest question last: most first doses are not the product's loading dose
            low = dose.amount.value
            loading = (index == 0
                       and low in _product_loading_doses(context.tables, drug_id, dose.unit)
                       and (len(line.phases) > 1
                            or bool(other_phase_lines(info.ancestors, drug_id, earlier=False))))
            high = dose.amount_max.value if dose.amount_max else low
            yield _make_phase_dose(info, index, phase, dose, route, schedule, chosen, match, loading, drug_id, high, low,
                            _verdict(renal, info, dose, high, schedule, match, loading))


# ---------------------------------------------------------------- which rows: the dose's use

# `after-chemoradiation` (consolidation) or `prior radiotherapy` is not concurrent radiotherapy.
AFTER_WORDS = re.compile(r"(?:^|[\s-])(?:after|post|na|prior|previous|eerdere?|voorafgaande?)(?:[\s-]|$)", re.IGNORECASE)
RADIOTHERAPY_WORDS = re.compile(r"radiother|radiation|chemoradi|radiotherap|bestral|chemoradiatie", re.IGNORECASE)


def stated_use(line: m.DrugLine, phase: m.Phase) -> str | None:
    """The use the sheet writes for a phase (`for antiemetic`), or for the line's other phases."""
    if phase.use:
        return phase.use
    for other in line.phases:  # (a loop, not a generator: asked for every dosed phase)
        if other.use:
            return other.use
    return None


def context_uses(context: Context, info: LineInfo) -> frozenset[str]:
    """Uses the line's surroundings imply: radiotherapy in the arm or its section, or named by its conditions, its
    regimen or its section title (`# Chemoradiatie`) → chemoradiation; adjuvant/metastatic/maintenance likewise.
    """
    # They depend on the enclosing statements and the section only: the drug lines of one block
    # share their ancestors tuple, so the answer is found once per block.
    known = context.shared(_uses_by_block)
    key = (id(info.ancestors), id(info.section))
    found = known.get(key)
    if found is None or found[0] is not info.ancestors or found[1] is not info.section:
        found = known[key] = (info.ancestors, info.section, _context_uses(info))
    return found[2]


def _uses_by_block(context: Context) -> dict[tuple[int, int], tuple[tuple[m.Item, ...], m.Section | None,
                                                                    frozenset[str]]]:
    return {}


USE_WORDS = tuple((use, re.compile(rf"\b{use}\b")) for use in ("adjuvant", "neoadjuvant", "metastatic", "maintenance"))


def _context_uses(info: LineInfo) -> frozenset[str]:
    words: list[str] = []
    for condition in line_conditions(info) + _section_conditions(info):
        words.extend(_condition_words(condition))
    if info.regimen is not None:
        words.append(info.regimen.name.value)
    if info.section is not None:
        words.append(info.section.title)
    siblings = info.ancestors[-1].children if info.ancestors else (info.section.items if info.section else ())
    has_rt = _has_fractionation(siblings)
    # The same conditions, regimen names and titles recur from sheet to sheet: searched once
    # (long ones each time: the memo outlives the sheet and must stay small).
    if sum(map(len, words)) > 1_000:
        return _uses_of_words(words, has_rt)
    key = (has_rt, *words)
    found = _USES.get(key)
    if found is None:
        if len(_USES) >= 10_000:
            _USES.clear()
        found = _USES[key] = _uses_of_words(words, has_rt)
    return found


_USES: dict[tuple[object, ...], frozenset[str]] = {}


def _uses_of_words(words: list[str], has_rt: bool) -> frozenset[str]:
    concurrent = [w for w in words if not AFTER_WORDS.search(w)]
    uses = {"chemoradiation"} if has_rt or any(RADIOTHERAPY_WORDS.search(w) for w in concurrent) else set()
    lowered = " ".join(words).lower()
    uses.update(use for use, pattern in USE_WORDS if pattern.search(lowered))
    return frozenset(uses)


# Per block, not per line: every drug line of a block asks the same two questions (thousands of
# lines in one section made them quadratic). Keyed by identity; the block is kept to guard the id.
_HAS_RT: dict[int, tuple[tuple[m.Item, ...], bool]] = {}
_SECTION_ONLY_WHEN: dict[int, tuple[m.Section, list[m.Condition]]] = {}


def _has_fractionation(siblings: tuple[m.Item, ...]) -> bool:
    known = _HAS_RT.get(id(siblings))
    if known is None or known[0] is not siblings:
        if len(_HAS_RT) > 10_000:
            _HAS_RT.clear()
        fractionation, bullet = m.Fractionation, m.Bullet  # (`statement_of`, inline)
        known = _HAS_RT[id(siblings)] = (siblings, any(
            isinstance(s.content if isinstance(s, bullet) and s.content is not None else s, fractionation)
            for s in siblings))
    return known[1]


def _section_conditions(info: LineInfo) -> list[m.Condition]:
    section = info.section
    if section is None:
        return []
    known = _SECTION_ONLY_WHEN.get(id(section))
    if known is None or known[0] is not section:
        if len(_SECTION_ONLY_WHEN) > 10_000:
            _SECTION_ONLY_WHEN.clear()
        only_when, bullet = m.OnlyWhen, m.Bullet  # (`statement_of`, inline)
        conditions = [s.condition for s in (x.content if isinstance(x, bullet) and x.content is not None else x
                                            for x in section.items) if isinstance(s, only_when)]
        known = _SECTION_ONLY_WHEN[id(section)] = (section, conditions)
    return known[1]


def _condition_words(condition: m.Condition) -> Iterator[str]:
    for atom in m.condition_atoms(condition):
        if isinstance(atom, m.Flag):
            yield atom.words
        else:
            yield atom.variable
            if atom.word:
                yield atom.word


def use_words(rows: Sequence[DoseRow]) -> str:
    """` for antiemetic` when every row the finding rests on is of one use: the message names the row used."""
    uses = {r.use for r in rows}
    return f" for {uses.pop()}" if len(uses) == 1 and "" not in uses else ""


def stepped_for_use(line: m.DrugLine) -> bool:
    """A higher first dose `then` a lower one written for a stated use (`for antiemetic`: aprepitant 125 then 80,
    dexamethasone 12 then 8) is the schedule of that use, not a loading dose.
    """
    use = next((p.use for p in line.phases if p.use), None)
    return use is not None and use not in ("loading", "maintenance")


def _use_match(context: Context, rows: tuple[DoseRow, ...], info: LineInfo, phase: m.Phase, route: str | None, unit: str,
               schedule: Schedule, use_rows: bool) -> tuple[tuple[DoseRow, ...], RangeMatch]:
    """The rows of the dose's use and their match. A stated or implied use whose rows do not fit the line's route,
    unit or schedule gives way to all rows; without a use, rows bound to a use (chemoradiation) stay out.
    """
    use = stated_use(info.line, phase)
    # Only rows bound to a use can be chosen by an implied one: for a product without such rows (most), the
    # surroundings of the line are not read (`rows_for_use` gives every row whatever they imply).
    implied = frozenset() if use or not use_rows else context_uses(context, info)  # (`use_rows`: `_has_use_rows`)
    # The answer depends on these alone; the same drug, route and schedule recur in every sheet. (The schedule
    # by its fields: a tuple of plain values hashes and compares without a call of the Schedule's methods.)
    key = (info.line.drug_id, use, implied, route, unit, schedule.per_day, schedule.spacing, schedule.days,
           schedule.cycle_days)
    known = _USE_MATCHES.get(key)
    if known is not None and known[0] is rows:
        return known[1]
    chosen = dosing.rows_for_use(rows, use, implied)
    match = dosing.lookup(chosen, route, unit, schedule)
    if (use or implied) and chosen != rows and match.how in ("none", "unmatched"):
        chosen, match = rows, dosing.lookup(rows, route, unit, schedule)
    if schedule.days is None or len(schedule.days) <= 100:  # the memo outlives the sheet: small keys only
        if len(_USE_MATCHES) >= 10_000:
            _USE_MATCHES.clear()
        _USE_MATCHES[key] = (rows, (chosen, match))
    return chosen, match


def _has_use_rows(rows: tuple[DoseRow, ...]) -> bool:
    for row in rows:
        if row.use:
            return True
    return False


_USE_MATCHES: dict[tuple[object, ...], tuple[tuple[DoseRow, ...], tuple[tuple[DoseRow, ...], RangeMatch]]] = {}


def _as_strength(line: m.DrugLine, dose: m.Dose | None) -> m.Dose | None:
    """A volume of a liquid with a stated strength, converted to the strength's unit (100 mL of 500 mg/5 mL → 10000 mg)."""
    concentration = line.form.concentration if line.form is not None else None
    if dose is None or dose.unit != "mL" or concentration is None or concentration[3] != "mL" \
            or concentration[2].value == 0:
        return dose
    per_ml = concentration[0].value / concentration[2].value

    def convert(number: m.Number) -> m.Number:
        return m.Number(number.value * per_ml, plain(number.value * per_ml), number.span)

    high = convert(dose.amount_max) if dose.amount_max is not None else None
    shown = f"{concentration[1]} (= {dose.amount.text} {dose.unit_text} of {concentration[0].text} {concentration[1]}/" \
            f"{concentration[2].text} mL)"
    return m.Dose(convert(dose.amount), high, concentration[1], shown, dose.span)


def drug_name(context: Context, drug_id: str) -> str:
    """A product's name as the messages give it (English)."""
    return context.tables.drug_name(drug_id, "en")


def amount_text(dose: m.Dose) -> str:
    """A dose's amount as written (`AUC 5`, `80-90 mg/m²`)."""
    text = dose.amount.text + (f"-{dose.amount_max.text}" if dose.amount_max is not None else "")
    return f"AUC {text}" if dose.unit == "AUC" else f"{text} {dose.unit_text}"


def value_text(value: Decimal, unit: str) -> str:
    """A computed amount with its unit, as the messages and fixes write it."""
    return f"AUC {plain(value)}" if unit == "AUC" else f"{plain(value)} {unit}"


# ---------------------------------------------------------------- renal tables


def _crcl_interval(info: LineInfo) -> tuple[Decimal | None, Decimal | None] | None:
    low: Decimal | None = None
    high: Decimal | None = None
    seen = False
    for condition in line_conditions(info):
        for compare in compares(condition):
            if normalise(compare.variable) not in CRCL_VARIABLES or compare.number is None:
                continue
            seen = True
            value = compare.number.value
            if compare.op in (">", ">="):
                low = value if low is None else max(low, value)
            elif compare.op in ("<", "<=", "≤"):
                high = value if high is None else min(high, value)
            elif compare.op == "≥":
                low = value if low is None else max(low, value)
            elif compare.op == "=":
                low = high = value
    return (low, high) if seen else None


def renal_band_for(context: Context, pd: PhaseDose) -> tuple[dosing.RenalBand, str, bool] | None:
    """The renal band a line sits in (when it sits under a CrCl condition and the drug has a table)."""
    return _renal_band(context, pd.drug_id, pd.info)


def _renal_band(context: Context, drug_id: str, info: LineInfo) -> tuple[dosing.RenalBand, str, bool] | None:
    return _renal_band_in(dosing.renal_table(context.tables, drug_id), info)


def _renal_band_in(table: tuple[tuple[dosing.RenalBand, ...], str, bool] | None,
                   info: LineInfo) -> tuple[dosing.RenalBand, str, bool] | None:
    """`_renal_band`, given the product's renal table."""
    if table is None:
        return None  # most products: no need to read the conditions around the line
    interval = _crcl_interval(info)
    if interval is None:
        return None
    bands, source, unverified = table
    band = dosing.renal_band(bands, *interval)
    return (band, source, unverified) if band is not None else None


# ---------------------------------------------------------------- the decision per phase


@frozen
class Verdict:
    """Which rule speaks for a phase: one of D005, D012, D030 (renal band), range, or none."""

    code: str
    detail: str = ""
    rows: tuple[DoseRow, ...] = ()


def _within(rows: Sequence[DoseRow], value: Decimal) -> tuple[DoseRow, ...]:
    return tuple(r for r in rows if r.usual is not None and r.usual[0] <= value <= r.usual[1])


def verdict(context: Context, pd: PhaseDose) -> Verdict:
    """Decide which dose rule applies to a phase, so that one slip gets one finding (decided once per phase,
    with the phase: `PhaseDose.verdict`).
    """
    return pd.verdict


_NO_VERDICT, _RANGE = Verdict(""), Verdict("range")  # (shared: most phases get one of these)


def _verdict(table: tuple[tuple[dosing.RenalBand, ...], str, bool] | None, info: LineInfo, dose: m.Dose,
             value: Decimal, schedule: Schedule, match: RangeMatch, loading: bool) -> Verdict:
    """The verdict of a dosed phase, from its parts (`PhaseDose` holds it; `value` is its highest dose, `table` the
    product's renal table).
    """
    if loading or match.how == "none":
        return _NO_VERDICT
    renal = _renal_band_in(table, info)
    if renal is not None and not is_gross(value, match.hard_max, match.usual_high):  # gross: D002, an error
        band = renal[0]
        if band.dose is not None and band.dose == value and dose.unit == "mg":
            return _NO_VERDICT
        return Verdict("D030")
    same = match.rows
    # (above the highest usual dose is within no row's usual range: `within_usual` need not be asked)
    if match.how in ("exact", "schedule") and match.usual_high is not None and value > match.usual_high:
        divisors: list[tuple[int, str]] = []
        if (schedule.per_day or 1) > 1:
            divisors.append((schedule.per_day or 1, "the whole day's dose written as one administration "
                                                     f"({schedule.per_day} a day)"))
        per_cycle = schedule.administrations_per_cycle()
        if per_cycle is not None and per_cycle > 1:
            divisors.append((per_cycle, f"the whole cycle's dose written as one administration ({per_cycle} per cycle)"))
        for divisor, detail in divisors:
            rows = _within(same, value / divisor)
            if rows:
                return Verdict("D005", f"{detail}: {value_text(value / divisor, dose.unit)} per administration "
                                       "is the usual dose", rows)
    if match.how == "unmatched" and schedule.spacing is not None:
        if schedule.is_daily:
            rows = tuple(r for r in _within(same, value) if any(s.spacing and s.spacing[0] >= 7 for s in r.schedules))
            if rows:
                return Verdict("D005", f"{value_text(value, dose.unit)} is the dose of a single administration "
                                       f"({rows[0].frequency}), written as a daily dose", rows)
        else:
            for row in same:
                daily = [s for s in row.schedules if s.is_daily]
                if not daily:
                    continue
                cycle_doses = daily[0].administrations_per_cycle()
                same_cycle = daily[0].cycle_days is not None and dosing.overlaps(daily[0].cycle_days, schedule.spacing)
                per_interval = cycle_doses if same_cycle and cycle_doses else \
                    schedule.spacing[0] * (daily[0].per_day or 1)
                if row.usual is not None and row.usual[0] <= value / per_interval <= row.usual[1]:
                    return Verdict("D005", f"{value_text(value, dose.unit)} every {schedule.spacing[0]} days is "
                                           f"{value_text(value / per_interval, dose.unit)} per administration: "
                                           f"a {row.frequency} dose written as a total", (row,))
            shorter = tuple(r for r in _within(same, value)
                            if any(s.spacing is not None and s.spacing[0] > schedule.spacing[1] for s in r.schedules))
            if shorter:
                return Verdict("D012", f"{value_text(value, dose.unit)} is the dose for {shorter[0].frequency}; "
                                       f"given every {_interval(schedule)} it is dose-dense", shorter)
    return _RANGE


def _interval(schedule: Schedule) -> str:
    assert schedule.spacing is not None
    low, high = schedule.spacing
    return f"{low} days" if low == high else f"{low}-{high} days"


def rows_unverified(rows: Sequence[DoseRow]) -> bool:
    """Whether a finding rests only on formulary rows marked `unverified: true`."""
    return bool(rows) and all(r.unverified for r in rows)


def sources_text(rows: Sequence[DoseRow]) -> str:
    """The sources of the rows, each once, in their order."""
    return "; ".join(dict.fromkeys(r.source for r in rows if r.source))


def dose_fix(pd: PhaseDose, value: Decimal, title: str) -> Fix:
    """A fix that writes `value` in place of a phase's dose (never applied without asking: `safe=False`)."""
    return Fix(pd.dose.span, value_text(value, pd.dose.unit), title, safe=False)


def products_of(context: Context, line: m.DrugLine) -> list[str]:
    """The product of a line, or every product its name may mean when it is ambiguous (`denosumab`)."""
    if line.drug_id is not None:
        return [line.drug_id] if line.drug_id in context.tables.drugs else []
    if line.resolved_by != "ambiguous-product":
        return []
    key = normalise(line.name.value)
    for group in context.tables.product_groups.values():
        if key in [normalise(str(n)) for n in group.get("names") or []]:
            return [str(x) for x in group.get("members") or [] if str(x) in context.tables.drugs]
    return []
