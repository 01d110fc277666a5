"""D: dose — ranges, basis, whole-cycle vs daily, carboplatin cap, cumulative anthracyclines,
loading patterns, renal adjustment, bone-modifying agents, BSA capping.

Every number comes from `compiler/data/formulary.yaml` (dose rows, `loading`,
`cumulative`, `calvert`, `renal_adjustment`); the arithmetic lives in
`compiler.dosing` so the report and the renderer can show the same computed values.
Where a finding rests only on data rows marked `unverified: true`, an error is
reported as a warning and the message says that the reference is unverified.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from compiler import dosing
from compiler import model as m
from compiler._shadow import shadow
from compiler.arms import other_phase_lines, phase_override, phase_view
from compiler.checks import Context
from compiler.diagnostics import Diagnostic, Fix, Severity, check
from compiler.dosing import DoseRow, RangeMatch, Schedule, plain
from compiler.lazyre import LazyPattern, lazy
from compiler.records import frozen
from compiler.resolve import normalise  # remembered per name: the same variables and names recur
from compiler.source import Span
from compiler.tables import Tables, TablesMemo

UNVERIFIED = " (reference unverified: check the SmPC)"
FLAT, PER_M2, PER_KG, AUC = "as a flat dose", "per m²", "per kg", "by AUC"
BASIS = {"mg": FLAT, "g": FLAT, "mcg": FLAT, "units": FLAT, "mg/m2": PER_M2, "mg/kg": PER_KG, "mcg/kg": PER_KG,
         "AUC": AUC}
CRCL_VARIABLES = {"crcl", "creatinine clearance", "creatinineklaring", "egfr", "gfr", "klaring"}
RENAL_WORDS = lazy(r"crcl|creatinine|creatinine ?klaring|nierfunctie|nierinsuffici|renal|kidney|klaring|egfr",
                   re.IGNORECASE)
CALCIUM_WORDS = re.compile(r"calcium|kalk", re.IGNORECASE)
VITAMIN_D_WORDS = re.compile(r"vitamine?\s*-?\s*d|colecalciferol|cholecalciferol", re.IGNORECASE)
DENTAL_WORDS = re.compile(r"tandsanering|tandarts|tandheelkund|dental|dentist|mondhygi|gebit|kaakosteonecrose|"
                          r"osteonecrosis of the jaw|osteonecrose van de kaak|\bONJ\b", re.IGNORECASE)
# What every match of each pattern above holds, in lower case (keep in step with the pattern).
RENAL_LITERALS = ("crcl", "creatinine", "nierfunctie", "nierinsuffici", "renal", "kidney", "klaring", "egfr")
CALCIUM_LITERALS = ("calcium", "kalk")
VITAMIN_D_LITERALS = ("vitamin", "calciferol")
DENTAL_LITERALS = ("tand", "dent", "mondhygi", "gebit", "kaakosteonecrose", "osteonecros", "onj")
INDICATION_WORDS: dict[str, LazyPattern] = {
    "bone metastases": lazy(r"bot\s*-?\s*metast|botmeta|bone\s+metast|skeletal\s+metast|skeletmetast|"
                            r"ossale\s+metast|osseous\s+metast", re.IGNORECASE),
}
BSA_CAP = lazy(  # rare: asked only of a text `_may_cap` lets through
    r"(?:\b(?:max(?:imum|imaal|\.)?|cap(?:ped)?|begrens\w*|afgetopt|plafond|tot ten hoogste|hoogstens|niet meer dan|"
    r"not more than|at most|limit(?:ed)?)\b[^.\n]{0,40}?\b\d+(?:[.,]\d+)?\s*m(?:²|2|\^2)(?![A-Za-z0-9/]))"
    r"|(?:\b(?:BSA|LO|body surface|lichaamsoppervlak\w*)\b[^.\n]{0,40}?\b(?:max|cap|begrens|afgetopt|plafond)\w*)",
    re.IGNORECASE)
# What every match of BSA_CAP holds (lower case): a limit word and m²; or a BSA word and a cap word.
# Every match holds one of BSA_CAP_WORDS (the stems are among them).
BSA_CAP_WORDS = ("max", "cap", "begrens", "afgetopt", "plafond", "tot ten hoogste", "hoogstens", "niet meer dan",
                 "not more than", "at most", "limit")
BSA_UNITS = ("m²", "m2", "m^2")
BSA_WORDS = ("bsa", "lo", "body surface", "lichaamsoppervlak")
BSA_CAP_STEMS = ("max", "cap", "begrens", "afgetopt", "plafond")


def _may_cap(lowered: str | None) -> bool:
    """False only when BSA_CAP cannot match a text of this folded form (most prose: no regex for it): when it
    holds no limit word with a unit (`max … m²`) and no cap stem with a BSA word (`BSA … begrensd`).
    """
    if lowered is None:
        return True
    # A word absent (most words, most sheets) is a read of the whole text: the three units first (most prose
    # has none). With a unit, a limit word decides alone: every stem is a limit word, so a stem with a BSA
    # word has one too (tests/test_dose_texts.py).
    if any(u in lowered for u in BSA_UNITS):
        return any(w in lowered for w in BSA_CAP_WORDS)
    return any(w in lowered for w in BSA_CAP_STEMS) and any(w in lowered for w in BSA_WORDS)
PRIOR_ANTHRACYCLINE = lazy(r"prior.*(anthracycl|antracycl|doxorubicin)|eerder.*(antracycl|doxorubicine)|"
                           r"cumulative.*(anthracycl|doxorubicin)", re.IGNORECASE)


SOFTENED = " (softened to a warning only because the reference is unverified: check the SmPC)"
GROSS_HARD, GROSS_USUAL = Decimal(2), Decimal(5)
"""A dose at ≥ 2× the hard maximum or ≥ 5× the usual maximum is an error whatever the data row's state (RULES.md D)."""


def _severity(base: Severity, unverified: bool, gross: bool = False) -> Severity:
    """Unverified data may soften a borderline error to a warning; a gross finding stays an error."""
    return Severity.WARNING if unverified and not gross and base is Severity.ERROR else base


def _note(unverified: bool, gross: bool | None = None) -> str:
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


# a library regimen line, the phase it is written in, and the levels of items around it (`_library_conditions`)
_Levels = tuple[tuple[tuple[m.Item, ...], m.Item | None], ...]
_Library = tuple[m.RegimenLine, m.PhaseLine | None, _Levels]
_LAYOUT: dict[int, tuple[m.Protocol, list[LineInfo], list[_Library]]] = {}


def _statement(item: m.Item) -> m.Item:
    return item.content if isinstance(item, m.Bullet) and item.content is not None else item


def layout(context: Context) -> list[LineInfo]:
    """Every drug line with its ancestors and arm, computed once per protocol."""
    if not context.of_type(m.DrugLine):
        return []  # no drug line (a radiotherapy sheet): no walk of the sheet (the context's items are all of them)
    return _laid_out(context.protocol)[1]


class _LayoutWalk:
    """`_laid_out`'s walk of the sheet (a method: a nested function calling itself through its cell
    leaves a reference cycle per sheet for the collector).
    """

    __slots__ = ("arms", "found", "libraries", "path")

    def __init__(self) -> None:
        self.found: list[tuple[m.DrugLine, tuple[m.Item, ...], m.Section | None,
                               tuple[m.RegimenLine | None, m.PhaseLine | None], int]] = []
        # the lines of each arm: of a regimen, else of a block, else the line alone (by the key's identity)
        self.arms: dict[int, list[m.DrugLine]] = {}
        self.libraries: list[_Library] = []
        # The items of each level above the one walked, with the statement walked into: the conditions around
        # a library regimen are gathered from them for the few there are, not for every block.
        self.path: list[tuple[tuple[m.Item, ...], m.Item | None]] = []

    def walk(self, items: tuple[m.Item, ...], ancestors: tuple[m.Item, ...], section: m.Section | None,
             enclosing: tuple[m.RegimenLine | None, m.PhaseLine | None], phase: m.PhaseLine | None) -> None:
        found, arms, libraries, path, kinds = self.found, self.arms, self.libraries, self.path, _WALK_KINDS
        for item in items:
            # (`_statement`, inline, and what the statement is by one look-up: every item of the sheet passes here)
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


def _laid_out(protocol: m.Protocol) -> tuple[m.Protocol, list[LineInfo], list[_Library]]:
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
    laid_out = _LAYOUT[id(protocol)] = (protocol, infos, libraries)
    return laid_out


_W_OTHER, _W_DRUG, _W_REGIMEN, _W_PHASE, _W_BULLET = range(5)
_WALK_KINDS: dict[type, int] = {}


def _walk_kind(cls: type) -> int:
    """What the layout's walk does with an item of this class (asked once per class)."""
    kind = (_W_BULLET if issubclass(cls, m.Bullet) else _W_DRUG if issubclass(cls, m.DrugLine)
            else _W_REGIMEN if issubclass(cls, m.RegimenLine) else _W_PHASE if issubclass(cls, m.PhaseLine)
            else _W_OTHER)
    _WALK_KINDS[cls] = kind
    return kind


def _library_conditions(levels: _Levels) -> list[m.Condition]:
    """The conditions around a statement: the `only when` lines beside it and beside each enclosing statement,
    and the enclosing `when`s, outermost first.
    """
    out: list[m.Condition] = []
    for level, through in levels:
        out.extend(c.condition for c in map(_statement, level) if isinstance(c, m.OnlyWhen))
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


def _conditions(info: LineInfo) -> list[m.Condition]:
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
    found = tuple(child.condition for child in map(_statement, item.children) if isinstance(child, m.OnlyWhen))
    if len(_ONLY_WHEN) > 100_000:
        _ONLY_WHEN.clear()
    _ONLY_WHEN[id(item)] = (item, found)
    return found


def _compares(condition: m.Condition) -> Iterator[m.Compare]:
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
    for condition in _conditions(info) + _section_conditions(info):
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
        fractionation, bullet = m.Fractionation, m.Bullet  # (`_statement`, inline)
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
        only_when, bullet = m.OnlyWhen, m.Bullet  # (`_statement`, inline)
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


def _use_words(rows: Sequence[DoseRow]) -> str:
    """` for antiemetic` when every row the finding rests on is of one use: the message names the row used."""
    uses = {r.use for r in rows}
    return f" for {uses.pop()}" if len(uses) == 1 and "" not in uses else ""


def _stepped_for_use(line: m.DrugLine) -> bool:
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


def _name(context: Context, drug_id: str) -> str:
    return context.tables.drug_name(drug_id, "en")


def _amount(dose: m.Dose) -> str:
    text = dose.amount.text + (f"-{dose.amount_max.text}" if dose.amount_max is not None else "")
    return f"AUC {text}" if dose.unit == "AUC" else f"{text} {dose.unit_text}"


def _value(value: Decimal, unit: str) -> str:
    return f"AUC {plain(value)}" if unit == "AUC" else f"{plain(value)} {unit}"


# ---------------------------------------------------------------- renal tables


def _crcl_interval(info: LineInfo) -> tuple[Decimal | None, Decimal | None] | None:
    low: Decimal | None = None
    high: Decimal | None = None
    seen = False
    for condition in _conditions(info):
        for compare in _compares(condition):
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


def _renal(context: Context, pd: PhaseDose) -> tuple[dosing.RenalBand, str, bool] | None:
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
                return Verdict("D005", f"{detail}: {_value(value / divisor, dose.unit)} per administration "
                                       "is the usual dose", rows)
    if match.how == "unmatched" and schedule.spacing is not None:
        if schedule.is_daily:
            rows = tuple(r for r in _within(same, value) if any(s.spacing and s.spacing[0] >= 7 for s in r.schedules))
            if rows:
                return Verdict("D005", f"{_value(value, dose.unit)} is the dose of a single administration "
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
                    return Verdict("D005", f"{_value(value, dose.unit)} every {schedule.spacing[0]} days is "
                                           f"{_value(value / per_interval, dose.unit)} per administration: "
                                           f"a {row.frequency} dose written as a total", (row,))
            shorter = tuple(r for r in _within(same, value)
                            if any(s.spacing is not None and s.spacing[0] > schedule.spacing[1] for s in r.schedules))
            if shorter:
                return Verdict("D012", f"{_value(value, dose.unit)} is the dose for {shorter[0].frequency}; "
                                       f"given every {_interval(schedule)} it is dose-dense", shorter)
    return _RANGE


def _interval(schedule: Schedule) -> str:
    assert schedule.spacing is not None
    low, high = schedule.spacing
    return f"{low} days" if low == high else f"{low}-{high} days"


def _rows_unverified(rows: Sequence[DoseRow]) -> bool:
    return bool(rows) and all(r.unverified for r in rows)


def _sources(rows: Sequence[DoseRow]) -> str:
    return "; ".join(dict.fromkeys(r.source for r in rows if r.source))


def _fix(pd: PhaseDose, value: Decimal, title: str) -> Fix:
    return Fix(pd.dose.span, _value(value, pd.dose.unit), title, safe=False)


# ---------------------------------------------------------------- D001–D005


@check("D001", "dose-above-usual", Severity.WARNING, "dose above the usual range")
def dose_above_usual(context: Context) -> Iterator[Diagnostic]:
    """What it checks: each dose is compared with the formulary's dose rows for the same
    product, route, unit and schedule (days within the cycle, or the interval, and the
    number of administrations a day). A dose above the usual range of every matching row
    — but not above the hard maximum, which is D002 — is reported. Loading doses in the
    first phase of a `then` line, doses set by a renal adjustment table (D030), and
    doses that D005 or D012 explain are not reported here.

    Why it matters: a dose above the usual range is either a deliberate choice that the
    sheet should explain, or a slip (a wrong decimal, the wrong product's dose).

    Example: `drug epirubicin 110 mg/m2 IV every 3 weeks` (usual 60-90 mg/m² in
    conventional schedules — only the high-dose adjuvant row goes to 120)

    Use instead: `drug epirubicin 90 mg/m2 IV every 3 weeks`, or keep the dose and
    acknowledge it: `allow D001 "FEC100-type adjuvant dose, local protocol X"`.

    Source: the product's SmPC section 4.2, cited per dose row in formulary.yaml.
    """
    for pd in phase_doses(context):
        if pd.verdict.code != "range":
            continue
        match = pd.match
        high, hard = match.usual_high, match.hard_max
        if high is None or pd.high <= high or match.within_usual(pd.high) or (hard is not None and pd.high > hard) \
                or is_gross(pd.high, hard, high):
            continue
        rows = tuple(r for r in match.rows if r.usual is not None)
        usual = ", ".join(r.describe() for r in rows)
        yield dose_above_usual.at(
            pd.dose.span, f"{_name(context, pd.drug_id)} {_amount(pd.dose)} is above the usual "
                          f"{_value(high, pd.dose.unit)}{_use_words(rows)}{_note(_rows_unverified(rows))}",
            f"usual: {usual} ({_sources(rows)}); correct the dose or acknowledge it with `allow D001 \"…\"`",
            _fix(pd, high, f"use the usual {_value(high, pd.dose.unit)}"))


@check("D002", "dose-above-maximum", Severity.ERROR, "dose above the hard maximum")
def dose_above_maximum(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a dose above the hard maximum per administration of every
    formulary row matching the product, route, unit and schedule. Soft and hard limits
    work as in smart-pump drug libraries: a *gross* overdose — at least 2× the hard
    maximum, or at least 5× the usual maximum (also where the label gives no hard
    maximum) — is an error whatever the verification state of the rows. Only a
    borderline dose (above the hard maximum, below both gross limits) resting on rows
    marked `unverified: true` is softened to a warning, and the message says so. A name
    that means several products (`denosumab`, F003) is checked against every product it
    may mean: a dose gross for all of them is an error.

    Why it matters: above the label maximum is where tenfold slips and wrong-product
    doses land (letrozole 25 mg for 2,5 mg; trastuzumab 60 mg/kg).

    Example: `drug letrozole 25 mg po daily`

    Use instead: `drug letrozole 2,5 mg po daily`

    Source: the product's SmPC section 4.2 (maximum dose), cited per row in formulary.yaml.
    """
    for pd in phase_doses(context):
        if pd.verdict.code != "range":
            continue
        hard, usual = pd.match.hard_max, pd.match.usual_high
        gross = is_gross(pd.high, hard, usual)
        if hard is not None and pd.high > hard:
            rows = pd.match.rows_with_max(hard)
            unverified = _rows_unverified(rows)
            times = f" ({plain((pd.high / hard).quantize(Decimal('0.1')))}×)" if gross else ""
            yield dose_above_maximum.at(
                pd.dose.span, f"{_name(context, pd.drug_id)} {_amount(pd.dose)} is above the maximum "
                              f"{_value(hard, pd.dose.unit)} per administration{times}{_note(unverified, gross)}",
                f"maximum from: {', '.join(r.describe() for r in rows)} ({_sources(rows)})",
                _fix(pd, hard, f"use at most {_value(hard, pd.dose.unit)}"),
                severity=_severity(Severity.ERROR, unverified, gross))
        elif gross and usual is not None:
            rows = tuple(r for r in pd.match.rows if r.usual is not None)
            yield dose_above_maximum.at(
                pd.dose.span, f"{_name(context, pd.drug_id)} {_amount(pd.dose)} is "
                              f"{plain((pd.high / usual).quantize(Decimal('0.1')))}× the usual maximum "
                              f"{_value(usual, pd.dose.unit)}{_note(_rows_unverified(rows), True)}",
                f"usual: {', '.join(r.describe() for r in rows)} ({_sources(rows)}); a dose five times the usual "
                "maximum is an error whatever the label's hard limit",
                _fix(pd, usual, f"use the usual {_value(usual, pd.dose.unit)}"))
    yield from _gross_for_every_product(context)


def _gross_for_every_product(context: Context) -> Iterator[Diagnostic]:
    """D002 for a line whose name means several products (`denosumab 1200 mg`): gross for each of them."""
    for info in layout(context):
        line = info.line
        if line.drug_id is not None or line.resolved_by != "ambiguous-product":
            continue
        products = _products(context, line)
        for phase in line.phases:
            dose = phase.dose
            if dose is None or not products:
                continue
            route = phase.route.code if phase.route is not None else (line.route.code if line.route else None)
            schedule = dosing.schedule_of_phase(phase)
            value = (dose.amount_max or dose.amount).value
            matches = [dosing.lookup(dosing.dose_rows(context.tables, p), route, dose.unit, schedule) for p in products]
            if all(x.how != "none" and is_gross(value, x.hard_max, x.usual_high) for x in matches):
                names = " or ".join(_name(context, p) for p in products)
                yield dose_above_maximum.at(dose.span, f"{line.name.value} {_amount(dose)} is a gross overdose for "
                                                       f"every product it may mean ({names})",
                                            "name the product and write its dose")


@check("D003", "dose-below-usual", Severity.WARNING, "dose below the usual range")
def dose_below_usual(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a dose below the usual range of every formulary row matching the
    product, route, unit and schedule. Doses in a renal adjustment branch that match the
    label's table (zoledronic acid 3,5 mg at CrCl 50-60) are not reported.

    Why it matters: underdosing loses efficacy silently; a low dose is often a tablet
    strength written as the daily dose, or a reduced dose that should say why.

    Example: `drug medroxyprogesterone acetate 250 mg po daily` (usual 400-1500 mg/day)

    Use instead: the intended daily dose, or a note stating the dose reduction and its
    reason, acknowledged with `allow D003 "…"`.

    Source: the product's SmPC section 4.2, cited per dose row in formulary.yaml.
    """
    for pd in phase_doses(context):
        if pd.verdict.code != "range":
            continue
        low = pd.match.usual_low
        if low is None or pd.low >= low or pd.match.within_usual(pd.low):
            continue
        rows = tuple(r for r in pd.match.rows if r.usual is not None)
        yield dose_below_usual.at(
            pd.dose.span, f"{_name(context, pd.drug_id)} {_amount(pd.dose)} is below the usual "
                          f"{_value(low, pd.dose.unit)}{_use_words(rows)}{_note(_rows_unverified(rows))}",
            f"usual: {', '.join(r.describe() for r in rows)} ({_sources(rows)}); state the intended dose or the reason "
            "for the reduction")


@check("D004", "wrong-dose-basis", Severity.ERROR, "flat dose for a drug dosed per m² or per kg, or vice versa")
def wrong_dose_basis(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the dose basis (flat mg, per m², per kg, AUC) is one the formulary
    doses this product in *by this route*. F004 already reports a unit the drug is never
    dosed in; D004 reports a unit the drug knows but not for this route and schedule:
    cyclophosphamide IV in flat mg (flat mg is the oral metronomic dose), nivolumab in
    mg/kg (the EU label doses it flat). Carboplatin in mg is left to D010 (the Calvert
    formula gives mg). Rows marked unverified make it a warning.

    Why it matters: a per-m² dose read as flat is a 1.7- to 2-fold error; a per-kg dose
    read as flat is a 70-fold one.

    Example: `drug cyclophosphamide 600 mg IV every 3 weeks`

    Use instead: `drug cyclophosphamide 600 mg/m2 IV every 3 weeks`

    Source: the product's SmPC section 4.2 (cited per row in formulary.yaml); ISMP
    Guidelines for Standard Order Sets (2010): state the dose basis.
    """
    tables = context.tables
    allowed_units = dosing.allowed_units(tables)
    for pd in phase_doses(context):
        allowed = allowed_units[pd.drug_id]
        if pd.dose.unit not in BASIS or (allowed and pd.dose.unit not in allowed):
            continue  # F004/F006 speak for units the drug never has
        by_route = tuple(r for r in pd.rows if pd.route is None or r.route == pd.route)
        bases = {BASIS.get(r.unit) for r in by_route}
        if not by_route or BASIS[pd.dose.unit] in bases:
            continue
        if pd.dose.unit == "mg" and AUC in bases and dosing.calvert_parameters(tables, pd.drug_id) is not None:
            continue  # D010
        units = ", ".join(dict.fromkeys(r.unit for r in by_route))
        unverified = _rows_unverified(by_route)
        yield wrong_dose_basis.at(
            pd.dose.span, f"{_name(context, pd.drug_id)} {pd.route or ''} is dosed {' or '.join(sorted(b for b in bases if b))}"
                          f", not {BASIS[pd.dose.unit]}{_note(unverified, True)}".replace("  ", " "),
            f"write the dose in {units} ({_sources(by_route)})")


@check("D005", "whole-cycle-as-daily", Severity.ERROR, "whole-cycle or whole-day dose written per administration")
def whole_cycle_as_daily(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a dose that only makes sense as the total of several
    administrations, or a single administration written as daily. The heuristic, on
    the formulary rows of the same product, route and unit:

    - the line's schedule matches a row, the dose is above its usual range, and the dose
      divided by the administrations a day (twice daily → 2) or by the administrations
      in the cycle (days 1, 8 → 2; days 1-14 twice daily → 28) falls in the usual range:
      a whole-day or whole-cycle total written as one administration;
    - the line is daily but the product has no daily row, and the dose is the usual dose
      of a weekly or longer interval: a per-cycle dose written as daily;
    - the line gives an interval of N days but the product is dosed daily, and the dose
      divided by N (× administrations a day) is the usual daily dose: a daily dose
      written as a total.

    Rows marked unverified make it a warning.

    Why it matters: "capecitabine 2500 mg/m2 twice daily" doubles the dose; a 3-weekly
    docetaxel dose written "daily" is a 21-fold overdose.

    Example: `drug capecitabine 2500 mg/m2 po twice daily, days 1-14, cycle 21 days`

    Use instead: `drug capecitabine 1250 mg/m2 po twice daily, days 1-14, cycle 21 days`

    Source: ISMP Guidelines for Standard Order Sets (2010): express doses per
    administration; Xeloda EU SmPC section 4.2 (dose per administration, twice daily).
    """
    for pd in phase_doses(context):
        result = pd.verdict
        if result.code != "D005":
            continue
        unverified = _rows_unverified(result.rows)
        yield whole_cycle_as_daily.at(
            pd.dose.span, f"{_name(context, pd.drug_id)} {_amount(pd.dose)}: {result.detail}{_note(unverified, True)}",
            f"write the dose per administration; formulary: {', '.join(r.describe() for r in result.rows)} "
            f"({_sources(result.rows)})")


@check("D006", "daily-total-above-maximum", Severity.ERROR, "daily total above the daily maximum")
def daily_total_above_maximum(context: Context) -> Iterator[Diagnostic]:
    """What it checks: for a line dosed on consecutive days, the dose per administration ×
    the administrations a day (`twice daily` = 2, `three times daily` = 3) against the
    product's daily maximum for the route and unit: the row's `max_daily` where the label
    states one, otherwise its `max` × the administrations a day of the row's own
    frequency. The finding is an error whatever the data row's verification state (a
    daily total above the daily maximum is a gross error, RULES.md D). Doses above the
    per-administration maximum are D002's; whole-day doses written per administration
    are D005's.

    Why it matters: each administration can look right while the day is a multiple of
    the label dose — letrozole 2,5 mg twice daily is twice the licensed daily dose.

    Example: `drug letrozole 2,5 mg po twice daily`

    Use instead: `drug letrozole 2,5 mg po daily`

    Source: the product's SmPC section 4.2 (daily dose), cited per dose row in
    formulary.yaml; RULES.md D (gross errors).
    """
    for pd in phase_doses(context):
        per_day = pd.schedule.per_day or 1
        if not pd.schedule.is_daily or pd.verdict.code != "range":
            continue
        hard = pd.match.hard_max
        if (hard is not None and pd.high > hard) or is_gross(pd.high, hard, pd.match.usual_high):
            continue  # D002
        rows = tuple(r for r in pd.rows if r.unit == pd.dose.unit and (pd.route is None or r.route == pd.route)
                     and any(s.is_daily for s in r.schedules))
        limits = [dosing.daily_maximum(r) for r in rows]
        known = [x for x in limits if x is not None]
        if not rows or len(known) < len(rows):
            continue  # a daily row without a limit: no daily maximum can be claimed
        limit = max(known)
        total = pd.high * per_day
        if total <= limit:
            continue
        yield daily_total_above_maximum.at(
            pd.dose.span, f"{_name(context, pd.drug_id)} {_amount(pd.dose)} × {per_day} a day = "
                          f"{_value(total, pd.dose.unit)} a day, above the daily maximum {_value(limit, pd.dose.unit)}"
                          f"{_note(_rows_unverified(rows), True)}",
            f"daily maximum from: {', '.join(r.describe() for r in rows)} ({_sources(rows)})")


# ---------------------------------------------------------------- D010 carboplatin


def _stated_auc(context: Context, pd: PhaseDose) -> tuple[Decimal, str] | None:
    for line in (pd.info.line, *pd.info.arm):
        if line.drug_id != pd.drug_id:
            continue
        for phase in line.phases:
            if phase.dose is not None and phase.dose.unit == "AUC":
                return (phase.dose.amount_max or phase.dose.amount).value, "stated"
    match = dosing.lookup(pd.rows, pd.route, "AUC", pd.schedule)
    if match.usual_high is not None:
        return match.usual_high, "usual"
    return None


@check("D010", "carboplatin-above-calvert-cap", Severity.ERROR, "carboplatin mg dose above the Calvert cap")
def carboplatin_above_calvert_cap(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a carboplatin dose written in mg is compared with the largest
    dose the Calvert formula can give, AUC × (GFR cap + 25) = AUC × 150 mg with the
    GFR capped at 125 mL/min. The AUC is the one stated for carboplatin on the same line
    or in the same arm; otherwise the upper end of the usual AUC for the line's schedule
    (AUC 6 every 3 weeks → 900 mg; AUC 2 weekly → 300 mg). The message shows the cap.

    Why it matters: dosing on an uncapped (IDMS-standardised) creatinine overestimates
    GFR; the FDA asked for the cap after overdoses and severe myelosuppression.

    Example: `drug carboplatin 1000 mg IV every 3 weeks`

    Use instead: `drug carboplatin AUC 6 IV every 3 weeks` (the pharmacy computes mg with
    the capped GFR), or a mg dose at most AUC × 150.

    Source: Calvert et al. J Clin Oncol 1989; FDA carboplatin dosing advisory (2010);
    parameters in formulary.yaml `carboplatin.calvert`.
    """
    for pd in phase_doses(context):
        if pd.dose.unit != "mg":
            continue
        parameters = dosing.calvert_parameters(context.tables, pd.drug_id)
        if parameters is None:
            continue
        stated = _stated_auc(context, pd)
        if stated is None:
            continue
        auc, how = stated
        cap = dosing.calvert_cap(auc, parameters)
        if pd.high <= cap:
            continue
        formula = f"AUC {plain(auc)} × ({plain(parameters.gfr_cap)} + {plain(parameters.gfr_offset)})"
        yield carboplatin_above_calvert_cap.at(
            pd.dose.span, f"carboplatin {_amount(pd.dose)} is above the Calvert cap {plain(cap)} mg for the "
                          f"{how} AUC {plain(auc)} ({formula}){_note(parameters.unverified, pd.high >= cap * GROSS_HARD)}",
            f"write the target AUC (`AUC {plain(auc)}`) and let the pharmacy compute mg with GFR capped at "
            f"{plain(parameters.gfr_cap)} mL/min; or use at most {plain(cap)} mg ({parameters.source})",
            Fix(pd.dose.span, f"AUC {plain(auc)}", f"write AUC {plain(auc)}", safe=False),
            severity=_severity(Severity.ERROR, parameters.unverified, pd.high >= cap * GROSS_HARD))


# ---------------------------------------------------------------- D011 anthracyclines


@frozen
class ArmExposure:
    """The anthracycline exposures planned in one arm, where the arm is stated."""

    span: Span
    label: str
    exposures: tuple[dosing.Exposure, ...]
    unplanned: tuple[tuple[dosing.CumulativeLimit, Decimal, int], ...]
    drug_ids: frozenset[str]
    prior: Decimal
    prior_stated: bool


def _prior(conditions: Sequence[m.Condition]) -> Decimal | None:
    for condition in conditions:
        for compare in _compares(condition):
            if PRIOR_ANTHRACYCLINE.search(compare.variable) and compare.number is not None \
                    and compare.op in ("<", "<=", "≤"):
                return compare.number.value
    return None


def _regimen_children_conditions(regimen: m.RegimenLine) -> list[m.Condition]:
    return [c.condition for c in (_statement(x) for x in regimen.children) if isinstance(c, (m.OnlyWhen, m.When))]


def arm_exposures(context: Context) -> Iterator[ArmExposure]:
    """Planned anthracycline exposure per arm: inline drug lines grouped by arm, and library regimens."""
    tables = context.tables
    grouped: dict[int, list[PhaseDose]] = {}
    for pd in phase_doses(context):
        if pd.dose.unit == "mg/m2" and dosing.cumulative_limit(tables, pd.drug_id) is not None:
            grouped.setdefault(id(pd.info.arm), []).append(pd)
    for pds in grouped.values():
        first = pds[0]
        regimen = first.info.regimen
        library = tables.regimens.get(regimen.regimen_id or "") if regimen is not None else None
        planned: list[dosing.Exposure] = []
        unplanned: list[tuple[dosing.CumulativeLimit, Decimal, int]] = []
        for pd in pds:
            limit = dosing.cumulative_limit(tables, pd.drug_id)
            assert limit is not None
            per_cycle = pd.schedule.administrations_per_cycle() or 1
            line_regimen = pd.info.regimen  # lang-b: in a phase, the phase's count
            cycles = pd.phase.cycles or (line_regimen.cycles if line_regimen else None) or \
                (int(library["cycles"]) if library and library.get("cycles") else None)
            if cycles is None and pd.phase.for_duration is not None and pd.schedule.spacing is not None:
                days = pd.phase.for_duration.value * dosing.DAYS_PER_UNIT.get(pd.phase.for_duration.unit, (0, 0))[0]
                cycles, per_cycle = (days // pd.schedule.spacing[0]) or None, 1
            if cycles is None:
                unplanned.append((limit, pd.high, per_cycle))
            else:
                planned.append(dosing.Exposure(limit, pd.high, per_cycle, cycles))
        prior = _prior(_conditions(first.info))
        yield ArmExposure(first.info.line.span, "this arm", tuple(planned), tuple(unplanned),
                          frozenset(line.drug_id for line in first.info.arm if line.drug_id), prior or Decimal(0),
                          prior is not None)
    for written, phase, levels in _library_regimen_lines(context):
        if not dosing.regimen_has_cumulative(tables, written.regimen_id or ""):
            continue  # no anthracycline in it (most regimens): nothing below would be planned
        entry = tables.regimens.get(written.regimen_id or "")
        if not entry or any(isinstance(_statement(c), m.DrugLine) for c in written.children):
            continue
        # lang-b: a library regimen in a phase takes the phase's count
        info_regimen = phase_override(written, phase) if phase is not None else written
        exposures, open_ended, drug_ids = _library_exposures(tables, info_regimen.regimen_id or "", info_regimen.cycles)
        if exposures or open_ended:
            prior = _prior(_library_conditions(levels) + _regimen_children_conditions(info_regimen))
            yield ArmExposure(info_regimen.name.span, f"regimen {info_regimen.name.value}", exposures,
                              open_ended, drug_ids, prior or Decimal(0), prior is not None)


_Planned = tuple[tuple[dosing.Exposure, ...], tuple[tuple[dosing.CumulativeLimit, Decimal, int], ...], frozenset[str]]
_LIBRARY_EXPOSURES: TablesMemo[tuple[str, int | None], _Planned] = TablesMemo(10_000)


def _library_exposures(tables: Tables, regimen_id: str, line_cycles: int | None) -> _Planned:
    """The planned and unplanned anthracycline exposures of a library regimen, and its drugs: they depend on the
    regimen and the cycles its line states only (read once per tables object: the same regimens recur).
    """
    return _LIBRARY_EXPOSURES.answer(tables, (regimen_id, line_cycles), _read_library_exposures, tables, regimen_id,
                                     line_cycles)


def _read_library_exposures(tables: Tables, regimen_id: str, line_cycles: int | None) -> _Planned:
    entry = tables.regimens.get(regimen_id) or {}
    planned: list[dosing.Exposure] = []
    unplanned: list[tuple[dosing.CumulativeLimit, Decimal, int]] = []
    drug_ids = frozenset(str(d.get("drug")) for d in entry.get("drugs") or [])
    for drug in entry.get("drugs") or []:
        limit = dosing.cumulative_limit(tables, str(drug.get("drug")))
        if limit is None or str(drug.get("unit")) != "mg/m2" or drug.get("dose") is None:
            continue
        dose = drug["dose"]
        value = dosing.dec(max(dose) if isinstance(dose, list) else dose)
        per_cycle = len(dosing.schedule_of_regimen_drug(drug, entry.get("cycle_days")).days or (1,))
        cycles = drug.get("cycles") or line_cycles or entry.get("cycles")
        if cycles:
            planned.append(dosing.Exposure(limit, value, per_cycle, int(cycles)))
        else:
            unplanned.append((limit, value, per_cycle))
    return tuple(planned), tuple(unplanned), drug_ids


def _library_regimen_lines(context: Context) -> list[_Library]:
    """Each library regimen line with the phase it is written in (if any) and the conditions around it."""
    if not any(isinstance(item, m.RegimenLine) and item.regimen_id is not None for item in context.of_type(m.RegimenLine)):
        return []  # no library regimen: no need to walk the sheet for the conditions around one
    return _laid_out(context.protocol)[2]


@check("D011", "anthracycline-cumulative-dose", Severity.ERROR, "planned cumulative anthracycline dose near or above the limit")
def anthracycline_cumulative_dose(context: Context) -> Iterator[Diagnostic]:
    """What it checks: per arm (an inline regimen, a block of drug lines, or a library
    regimen), the planned cumulative anthracycline dose: dose per administration ×
    administrations per cycle × planned cycles (from `N cycles` on the line, the
    enclosing regimen line, or the library regimen), plus prior exposure, converted to
    doxorubicin-equivalents with the factors of the formulary `cumulative` entries
    (epirubicin × 0.8, mitoxantrone × 10.5; the factor is shown). The limit is the
    lowest of the products' own limits in doxorubicin-equivalents (epirubicin 900 ×
    0.8 = 720; doxorubicin 550), the reduced limit (doxorubicin 400) when a drug listed
    in `reduced_with` (cyclophosphamide) is in the same arm. Warning at ≥ 80 % of the
    limit, error above it (warning when the limit entry is unverified). An anthracycline
    with no planned number of cycles (until progression) is a warning that says after
    how many cycles the limit is reached.

    Prior exposure: the language has no field for it yet. A condition on a variable
    naming prior anthracycline exposure in doxorubicin-equivalents (`only when prior
    anthracycline dose <= 240`) is read as the prior exposure; otherwise it is counted
    as 0 and the message says so. Prior mediastinal radiotherapy cannot be stated yet.

    Why it matters: anthracycline cardiomyopathy is dose-dependent and irreversible; the
    label limits count every anthracycline the patient has had.

    Example: `drug doxorubicin 75 mg/m2 IV every 3 weeks, 8 cycles` (600 mg/m²)

    Use instead: `drug doxorubicin 75 mg/m2 IV every 3 weeks, 6 cycles` (450 mg/m²,
    82 % of 550: still a warning to monitor LVEF), or fewer cycles.

    Source: doxorubicin and epirubicin SmPCs section 4.4; ESC 2022 cardio-oncology
    guideline (Lyon et al.); Feijen et al. JAMA Oncol 2019 (equivalence factors).
    """
    doxorubicin = dosing.cumulative_limit(context.tables, "doxorubicin")
    for arm in arm_exposures(context):
        prior_text = (f"; prior exposure {plain(arm.prior)} mg/m² as stated" if arm.prior_stated
                      else "; prior exposure not stated (counted as 0)")
        for limit, dose, per_cycle in arm.unplanned[:1]:
            reduced = any(x in arm.drug_ids for x in limit.reduced_with)
            cap = limit.reduced_limit if reduced and limit.reduced_limit is not None else limit.limit
            if cap is None:
                continue
            cycles = dosing.cycles_to_reach(cap - arm.prior / limit.factor, dose * per_cycle)
            name = _name(context, limit.drug_id)
            yield anthracycline_cumulative_dose.at(
                arm.span, f"{name} {plain(dose)} mg/m² without a planned number of cycles: the lifetime limit "
                          f"{plain(cap)} mg/m² is reached at cycle {cycles}{prior_text}{_note(limit.unverified)}",
                "state the number of cycles (`6 cycles`) or a maximum cumulative dose in the protocol",
                severity=Severity.WARNING)
        if not arm.exposures or arm.unplanned:
            continue
        reduced = any(x in arm.drug_ids for e in arm.exposures for x in e.limit.reduced_with)
        result = dosing.anthracycline_total(arm.exposures, arm.prior, reduced, doxorubicin)
        if result.limit is None or result.fraction is None or result.fraction < Decimal("0.8"):
            continue
        parts = " + ".join(f"{_name(context, e.limit.drug_id)} {plain(e.per_administration)} mg/m² × "
                           f"{e.administrations_per_cycle * e.cycles} × {plain(e.limit.factor)}" for e in result.exposures)
        above = result.total > result.limit
        percent = (result.fraction * 100).quantize(Decimal(1))
        reducers = sorted({x for e in result.exposures for x in e.limit.reduced_with} & arm.drug_ids)
        reduced_text = f" (reduced: with {', '.join(reducers)})" if reduced else ""
        message = (f"planned cumulative anthracycline dose {plain(result.total.quantize(Decimal('0.1')))} mg/m² "
                   f"doxorubicin-equivalents ({parts}) is {percent} % of the limit {plain(result.limit)} mg/m²"
                   f"{reduced_text}{prior_text}{_note(result.unverified, True if above else None)}")
        yield anthracycline_cumulative_dose.at(
            arm.span, message, "reduce the number of cycles or the dose; monitor LVEF; record prior anthracycline exposure",
            severity=Severity.ERROR if above else Severity.WARNING)


# ---------------------------------------------------------------- D012 dose-dense


@check("D012", "dose-dense", Severity.ERROR, "dose-dense or off-interval dose without a justification")
def dose_dense(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a dose that lies in the usual range of a formulary row for the
    same product, route and unit, but is given at a shorter interval than every such
    row allows — e.g. epirubicin 90 mg/m² every 2 weeks where the rows are every 3
    weeks (dose-dense EC), or docetaxel 75 mg/m² weekly. Precisely: no row's schedule
    is compatible with the line's interval, and at least one row whose usual range
    contains the dose has a longer interval. It needs a written acknowledgement:
    `allow D012 "…"`. Daily lines are D005's (a 3-weekly dose written daily).

    Why it matters: dose-dense schedules are legitimate with G-CSF support (ASCO 2015)
    and trial evidence, but the same dose given more often is also how overdoses look;
    the sheet must say that it is deliberate.

    Example: `drug epirubicin 90 mg/m2 IV every 2 weeks`

    Use instead: `drug epirubicin 90 mg/m2 IV every 3 weeks`, or keep it with
    `allow D012 "dose-dense EC with pegfilgrastim per local protocol X, committee 2026-03"`.

    Source: RULES.md D012; ASCO 2015 WBC growth factor guideline (dose-dense regimens);
    the product's SmPC section 4.2 for the usual interval.
    """
    for pd in phase_doses(context):
        result = pd.verdict
        if result.code != "D012":
            continue
        unverified = _rows_unverified(result.rows)
        yield dose_dense.at(
            pd.dose.span, f"{_name(context, pd.drug_id)} {_amount(pd.dose)}: {result.detail}{_note(unverified, False)}",
            f"give the usual interval ({', '.join(r.describe() for r in result.rows)}) or justify it with "
            "`allow D012 \"…\"` under the line", severity=_severity(Severity.ERROR, unverified))


# ---------------------------------------------------------------- D020 loading


def _patterns(loading: dict[str, Any]) -> list[dict[str, Any]]:
    return [loading, *(loading.get("alternatives") or [])]


@check("D020", "loading-pattern", Severity.WARNING, "loading dose missing or maintenance above loading")
def loading_pattern(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the loading pattern of the products that have one, from the
    formulary `loading` entries: trastuzumab IV 8 → 6 mg/kg every 3 weeks (or 4 → 2
    mg/kg weekly), pertuzumab 840 → 420 mg, Phesgo 1200 → 600 mg (pertuzumab
    component), fulvestrant 500 mg on days 1, 15, 29 then every 4 weeks. A line of such
    a product that gives only the maintenance dose (no `then`), or whose first dose is
    not the loading dose of its maintenance pattern, or whose maintenance is above its
    loading dose, warns. A product without a loading dose (trastuzumab SC) written with
    a higher first dose `then` a lower one also warns. Lines with a route the product
    is not given by are left to F005. Continuing treatment that needs no re-load is
    acknowledged with `allow D020 "…"`. A step-down written for a stated use
    (`… 125 mg po once, day 1 then 80 mg po daily, days 2-3 for antiemetic`) is that
    use's schedule, not a loading dose, and does not warn; nor does a first dose then
    smaller doses as needed (`loperamide 4 mg po once then 2 mg po as needed for loose
    stools, max 16 mg per day`: the label's symptom schedule).

    Why it matters: without the loading dose, trastuzumab and pertuzumab take cycles to
    reach steady state; a "loading" on a fixed-dose SC product is an overdose.

    Example: `drug pertuzumab 420 mg IV every 3 weeks`

    Use instead: `drug pertuzumab 840 mg IV then 420 mg IV every 3 weeks`

    Source: Herceptin, Perjeta, Phesgo and Faslodex EU SmPCs section 4.2 (cited per
    product in formulary.yaml).
    """
    tables = context.tables
    for info in layout(context):
        line = info.line
        if line.drug_id is None or line.drug_id not in tables.drugs:
            continue
        entry = tables.drugs[line.drug_id]
        loading = entry.get("loading")
        if not isinstance(loading, dict) and len(line.phases) < 2:
            continue  # no loading dose and one phase (most lines): no first dose then another to compare
        routes = [str(r) for r in entry.get("routes") or []]
        if line.route is not None and routes and line.route.code not in routes:
            continue
        dosed = [p for p in line.phases if p.dose is not None]
        if not isinstance(loading, dict):
            if _stepped_for_use(line) or line.as_needed is not None:
                continue  # a first dose then smaller doses as needed is the symptom schedule (loperamide 4 → 2 mg)
            if len(dosed) > 1 and dosed[0].dose is not None and dosed[1].dose is not None \
                    and dosed[0].dose.unit == dosed[1].dose.unit and dosed[0].dose.amount.value > dosed[1].dose.amount.value:
                yield loading_pattern.at(dosed[0].dose.span, f"{_name(context, line.drug_id)} has no loading dose: "
                                         f"{_amount(dosed[0].dose)} then {_amount(dosed[1].dose)}",
                                         f"give the fixed dose throughout ({entry.get('source') or 'SmPC'})")
            continue
        if not dosed:
            continue
        name = _name(context, line.drug_id)
        first = dosed[0]
        assert first.dose is not None
        unit = first.dose.unit
        patterns = [p for p in _patterns(loading) if str(p.get("unit")) == unit]
        if not patterns:
            continue
        days_loading = [p for p in patterns if p.get("days")]
        if days_loading:
            wanted = tuple(int(d) for d in days_loading[0]["days"])
            days = line.phases[0].days.days if line.phases[0].days is not None else ()
            if not set(wanted) <= set(days):
                yield loading_pattern.at(
                    line.phases[0].span, f"{name}: the loading doses on days {', '.join(map(str, wanted))} are missing",
                    f"write `{plain(dosing.dec(days_loading[0]['dose']))} {unit} {line.route.text if line.route else ''} "
                    f"days {', '.join(map(str, wanted))} then every 28 days` ({entry.get('source') or 'SmPC'})".replace("  ", " "))
            continue
        value = first.dose.amount.value
        if len(dosed) == 1:
            maintenance = {dosing.dec(p["then"]): p for p in patterns if p.get("then") is not None}
            loaded = {dosing.dec(p["dose"]) for p in patterns if p.get("dose") is not None}
            earlier = other_phase_lines(info.ancestors, line.drug_id, earlier=True)
            if any(ph.dose is not None and ph.dose.unit == unit and ph.dose.amount.value in loaded
                   for e in earlier for ph in e.phases):
                continue  # lang-b: the loading dose is the line of an earlier phase (cycle 1)
            if value in maintenance:
                pattern = maintenance[value]
                yield loading_pattern.at(
                    first.dose.span, f"{name} {_amount(first.dose)} without the loading dose "
                                     f"{plain(dosing.dec(pattern['dose']))} {unit}",
                    f"write `{plain(dosing.dec(pattern['dose']))} {unit} … then {_amount(first.dose)} …`; "
                    f"for continuing treatment acknowledge with `allow D020 \"…\"` ({entry.get('source') or 'SmPC'})")
            continue
        second = dosed[1]
        assert second.dose is not None
        if second.dose.unit != unit:
            continue
        later = second.dose.amount.value
        if later > value:
            yield loading_pattern.at(second.dose.span, f"{name} maintenance {_amount(second.dose)} is above the "
                                     f"loading dose {_amount(first.dose)}",
                                     f"loading → maintenance: {_describe_patterns(patterns, unit)}")
            continue
        expected = [p for p in patterns if p.get("then") is not None and dosing.dec(p["then"]) == later]
        if expected and all(dosing.dec(p["dose"]) != value for p in expected):
            yield loading_pattern.at(first.dose.span, f"{name} loading dose {_amount(first.dose)} does not fit the "
                                     f"maintenance {_amount(second.dose)}",
                                     f"loading → maintenance: {_describe_patterns(patterns, unit)}")


def _describe_patterns(patterns: Sequence[dict[str, Any]], unit: str) -> str:
    return "; ".join(f"{plain(dosing.dec(p['dose']))} → {plain(dosing.dec(p['then']))} {unit} {p.get('interval') or ''}".strip()
                     for p in patterns if p.get("then") is not None)


# ---------------------------------------------------------------- D030 renal


def _all_texts(context: Context) -> tuple[tuple[m.Item, str], ...]:
    """Every prose, note and query text, in sheet order (found once per check run: D030, D031 and D032 read them)."""
    return context.shared(_find_texts)


def _find_texts(context: Context) -> tuple[tuple[m.Item, str], ...]:
    out: list[tuple[m.Item, str]] = []
    append, prose, note_or_query = out.append, m.Prose, (m.Note, m.Query)
    for item in context.of_types((m.Prose, m.Note, m.Query)):
        if isinstance(item, prose):
            append((item, item.text))
        elif isinstance(item, note_or_query) and item.text is not None:
            append((item, item.text.value))
    return tuple(out)


def _texts(context: Context, kinds: tuple[type[m.Item], ...]) -> list[tuple[m.Item, str]]:
    return [(item, text) for item, text in _all_texts(context) if isinstance(item, kinds)]


_FOLDS_TO_ASCII = "\u0130\u0131\u017f\u212a"  # as in `checks.folded`


def _fold(text: str) -> str | None:
    """The text with its ASCII letters lowered: a lower-case ASCII literal (or `m²`) occurs in it wherever it
    occurs in `checks.folded(text)`, at the same place; None where `folded` gives None.

    `str.lower` goes character by character through the Unicode tables for a text with an `é` or a `≥`;
    the UTF-8 round trip runs at memory speed. Outside ASCII only İ and the Kelvin sign lower to an ASCII
    letter, and `folded` refuses both.
    """
    if text.isascii():
        return text.lower()
    if any(char in text for char in _FOLDS_TO_ASCII):
        return None
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def _holding(texts: Sequence[str], literals: tuple[str, ...]) -> list[int]:
    """The indexes of the texts, ascending, whose folded form may hold one of the lower-case `literals`
    (every text when folding cannot tell).

    The texts are folded and searched joined, once: no literal holds a newline, so a hit lies in one text,
    and most sheets hold no literal at all (one search of each instead of a loop over the texts).
    """
    joined = "\n".join(texts)
    lowered = _fold(joined)
    if lowered is None or len(lowered) != len(joined):
        return list(range(len(texts)))
    starts: list[int] = []
    at = 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    found: set[int] = set()
    for word in literals:
        hit = lowered.find(word)
        while hit >= 0:
            index = bisect.bisect_right(starts, hit) - 1
            found.add(index)
            hit = lowered.find(word, starts[index] + len(texts[index]) + 1)
    return sorted(found)


def _candidates(texts: Sequence[str], literals: tuple[str, ...]) -> list[str]:
    """The texts whose folded form may hold one of the lower-case `literals` (every match of their pattern does)."""
    return [texts[index] for index in _holding(texts, literals)]


def _has_crcl_condition(context: Context) -> bool:
    for item in context.of_types((m.When, m.OnlyWhen, m.ExcludeWhen)):
        if isinstance(item, (m.When, m.OnlyWhen, m.ExcludeWhen)):
            for atom in m.condition_atoms(item.condition):
                if isinstance(atom, m.Compare) and normalise(atom.variable) in CRCL_VARIABLES:
                    return True
    return False


@check("D030", "renal-adjustment", Severity.WARNING, "renal dose adjustment table missing or not followed")
def renal_adjustment(context: Context) -> Iterator[Diagnostic]:
    """What it checks: for a product whose label has a renal adjustment table (formulary
    `renal_adjustment`: zoledronic acid 4 mg at CrCl > 60, 3,5 mg at 50-60, 3,3 mg at
    40-49, 3 mg at 30-39, not recommended < 30 mL/min), the protocol states how to adjust:
    a `decision:` (or `when`/`only when`) on CrCl, or a `note:`/`query:` that mentions
    renal function or creatinine clearance. Free prose is not enough (the table is
    what is expected). Under a `when CrCl …` branch, the dose must be the table's dose
    for that band, and a band the label does not recommend must not hold a dose.

    Why it matters: zoledronic acid is nephrotoxic; the label reduces the dose from the
    first infusion by creatinine clearance, and a missing table is a missing instruction.

    Example: `drug zoledronic acid 4 mg IV every 4 weeks` with no CrCl decision

    Use instead: add `decision: dosis volgens creatinineklaring` with `when CrCl > 60:`
    … `drug zoledronic acid 4 mg IV`, `when CrCl >= 50 and CrCl <= 60:` … 3,5 mg, and
    so on (see the emmaus protocol, section ondersteunende therapie).

    Source: Zometa EU SmPC section 4.2 (renal impairment table); Zometa US PI Table 1.
    """
    tables = context.tables
    stated: list[bool] = []  # a CrCl condition or a note about renal function: looked for once, when needed

    def adjusted() -> bool:
        if not stated:
            stated.append(_has_crcl_condition(context)
                          or any(RENAL_WORDS.search(text) for text in
                                 _candidates([text for _, text in _texts(context, (m.Note, m.Query))], RENAL_LITERALS)))
        return stated[0]

    reported: set[str] = set()
    for pd in phase_doses(context):
        table = dosing.renal_table(tables, pd.drug_id)
        if table is None:
            continue
        bands, source, unverified = table
        renal = _renal(context, pd)
        if renal is not None:
            band = renal[0]
            if band.dose is None:
                below = next((b.low for b in bands if b.dose is not None and b.low > band.low), band.low)
                yield renal_adjustment.at(pd.dose.span, f"{_name(context, pd.drug_id)} is not recommended at CrCl "
                                          f"below {plain(below)} mL/min{_note(unverified)}",
                                          f"remove the dose from this branch ({source})")
            elif band.dose != pd.high:
                yield renal_adjustment.at(pd.dose.span, f"{_name(context, pd.drug_id)} {_amount(pd.dose)} at CrCl "
                                          f"{plain(band.low)}{'+' if band.high is None else '-' + plain(band.high)} mL/min: "
                                          f"the label's dose is {plain(band.dose)} mg{_note(unverified)}",
                                          f"use {plain(band.dose)} mg ({source})",
                                          Fix(pd.dose.span, f"{plain(band.dose)} mg", f"use {plain(band.dose)} mg"))
            continue
        if pd.drug_id in reported or adjusted():
            continue
        reported.add(pd.drug_id)
        shown = "; ".join(f"CrCl {plain(b.low)}{'+' if b.high is None else '-' + plain(b.high)}: "
                          f"{plain(b.dose) + ' mg' if b.dose is not None else 'not recommended'}" for b in bands)
        yield renal_adjustment.at(pd.info.line.name.span, f"{_name(context, pd.drug_id)} without its renal adjustment "
                                  f"table{_note(unverified)}",
                                  f"add a `decision:` on CrCl with the label's doses ({shown}; {source})")


# ---------------------------------------------------------------- D031 bone-modifying agents


_NEEDS: TablesMemo[tuple[str, str, str], bool] = TablesMemo(10_000)


def _product_needs(tables: Tables, drug_id: str, wanted: str, field: str) -> bool:
    """Whether a product's `field` list names `wanted` (asked for every line, twice): once per tables object."""
    known = _NEEDS.answers(tables)
    key = (drug_id, wanted, field)
    found = known.get(key)
    if found is None:
        found = known[key] = any(wanted in str(x) for x in tables.drugs[drug_id].get(field) or [])
    return found


_NEEDING: TablesMemo[tuple[str, str], frozenset[str]] = TablesMemo(64)


def _needing(tables: Tables, wanted: str, field: str) -> frozenset[str]:
    """The products whose `field` list names `wanted` (`_product_needs` of every product), once per tables object:
    D031 asks it of every line of every sheet, and few products need anything.
    """
    known = _NEEDING.answers(tables)
    found = known.get((wanted, field))
    if found is None:
        found = known[(wanted, field)] = frozenset(d for d in tables.drugs if _product_needs(tables, d, wanted, field))
    return found


_NO_DEFAULT: TablesMemo[str, list[dict[str, Any]]] = TablesMemo(4)


def _groups_without_default(tables: Tables) -> list[dict[str, Any]]:
    """The product groups without a default product (D031 reads them for every sheet), once per tables object."""
    known = _NO_DEFAULT.answers(tables)
    found = known.get("")
    if found is None:
        found = known[""] = [g for g in tables.product_groups.values() if g.get("default") is None]
    return found


def _products(context: Context, line: m.DrugLine) -> list[str]:
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


def _indication_text(context: Context, info: LineInfo) -> str:
    meta = context.protocol.meta
    parts = [meta.title.value if meta.title else "", meta.scope.value if meta.scope else ""]
    if info.section is not None:
        parts.append(info.section.title)
        for item in info.section.items:
            statement = _statement(item)
            if isinstance(statement, m.Prose):
                parts.append(statement.text)
            elif isinstance(statement, m.Note) and statement.text is not None:
                parts.append(statement.text.value)
    for ancestor in info.ancestors:
        if isinstance(ancestor, m.Prose):
            parts.append(ancestor.text)
    for condition in _conditions(info):
        for compare in _compares(condition):
            if compare.word in ("yes", "ja"):
                parts.append(compare.variable)
    return " ".join(parts)


@check("D031", "bone-modifying-agent", Severity.ERROR, "denosumab product, supplementation or dental check")
def bone_modifying_agent(context: Context) -> Iterator[Diagnostic]:
    """What it checks: three things for bone-modifying agents, from the formulary:

    - product and interval (error): a product excluded for an indication
      (`excluded_indications`: Prolia 60 mg is not for bone metastases) in a protocol
      or section that is about that indication (its title, scope, section text or a
      condition on `bone metastases`); and a dose whose interval belongs to the other
      product of its name group (denosumab 120 mg every 6 months: Xgeva's dose at
      Prolia's interval);
    - calcium and vitamin D (warning): a product whose `supportive` list holds
      calcium_vitamin_d needs a drug line for it, or a note, query or prose line that
      names both calcium and vitamin D (an open `query:` counts: it is already X006);
    - dental check (warning): a product whose `prerequisites` name a dental examination
      needs a line that mentions it (tandsanering, tandarts, dental, kaakosteonecrose,
      osteonecrosis of the jaw).

    Each supportive finding is reported once per protocol, at the first line needing it.

    Why it matters: Prolia's 60 mg every 6 months undertreats bone metastases; Xgeva's
    120 mg every 6 months is neither product. Hypocalcaemia and osteonecrosis of the jaw
    are the label's main risks and are prevented by supplementation and a dental check.

    Example: `drug denosumab 60 mg subcut every 6 months` in a bone-metastases section

    Use instead: `drug denosumab (Xgeva) 120 mg subcut every 4 weeks`, with
    `drug calcium + vitamine D3 500 mg po daily` and a line "Tandsanering vóór de start".

    Source: Xgeva and Prolia EU SmPCs sections 4.1, 4.2 and 4.4; Zometa EU SmPC 4.4.
    """
    tables = context.tables
    infos = layout(context)
    ids = {info.line.drug_id for info in infos}
    unresolved = None in ids  # (a line without a product: an ambiguous product name may be among them)
    present = {drug_id for drug_id in ids if drug_id}

    def texts(literals: tuple[str, ...]) -> list[str]:  # read only when a line needs supplementation or a dental check
        return _candidates([text for _, text in _all_texts(context)], literals)

    groups = _groups_without_default(tables)
    # One finding per line (the fixture runner and the editor key findings by line and code).
    found: dict[int, tuple[m.DrugLine, list[str], list[str], Severity]] = {}

    def add(line: m.DrugLine, message: str, hint: str, severity: Severity) -> None:
        entry = found.setdefault(id(line), (line, [], [], severity))
        entry[1].append(message)
        entry[2].append(hint)
        if severity.rank < entry[3].rank:
            found[id(line)] = (line, entry[1], entry[2], severity)

    for pd in phase_doses(context):
        entry = tables.drugs[pd.drug_id]
        for indication in entry.get("excluded_indications") or []:
            pattern = INDICATION_WORDS.get(str(indication))
            if pattern is not None and pattern.search(_indication_text(context, pd.info)):
                add(pd.info.line, f"{_name(context, pd.drug_id)} is not a treatment for {indication}",
                    str(entry.get("excluded_indications_note") or f"use the product licensed for {indication}"),
                    Severity.ERROR)
        if pd.match.how != "unmatched":
            continue
        for group in groups:
            members = [str(x) for x in group.get("members") or []]
            for other in (x for x in members if pd.drug_id in members and x != pd.drug_id):
                theirs = dosing.lookup(dosing.dose_rows(tables, other), pd.route, pd.dose.unit, pd.schedule)
                if theirs.how in ("exact", "schedule"):
                    add(pd.info.line, f"{_amount(pd.dose)} is the dose of {_name(context, pd.drug_id)} but the "
                                      f"interval is that of {_name(context, other)}",
                        f"{_name(context, pd.drug_id)}: {', '.join(r.describe() for r in pd.rows)}; "
                        f"{_name(context, other)}: {', '.join(r.describe() for r in theirs.rows)} "
                        f"({group.get('source') or 'SmPC'})", Severity.ERROR)
    missing: list[tuple[str, str, list[LineInfo]]] = []

    def needs(info: LineInfo, wanted: str, field: str, needing: frozenset[str]) -> bool:
        line = info.line
        if line.drug_id is not None:  # (`_products` is the product itself, when the formulary has it)
            return line.drug_id in needing
        if line.resolved_by != "ambiguous-product":
            return False  # (no product: `_products` is empty)
        products = _products(context, line)
        return bool(products) and all(_product_needs(tables, p, wanted, field) for p in products)

    calcium = _needing(tables, "calcium_vitamin_d", "supportive")
    dental = _needing(tables, "dental", "prerequisites")
    # (no line asked about when no product of the sheet needs it and every line has its product: most sheets)
    need_calcium = [] if "calcium_vitamin_d" in present or (not unresolved and calcium.isdisjoint(present)) else \
        [i for i in infos if needs(i, "calcium_vitamin_d", "supportive", calcium)]
    if need_calcium and any(CALCIUM_WORDS.search(t) and VITAMIN_D_WORDS.search(t)
                            for t in _candidates(texts(CALCIUM_LITERALS), VITAMIN_D_LITERALS)):
        need_calcium = []
    need_dental = [] if not unresolved and dental.isdisjoint(present) else \
        [i for i in infos if needs(i, "dental", "prerequisites", dental)]
    if need_dental and any(DENTAL_WORDS.search(t) for t in texts(DENTAL_LITERALS)):
        need_dental = []
    if need_calcium:
        missing.append(("calcium and vitamin D supplementation",
                        "add `drug calcium en vitamine D 500 mg po daily` (at least 500 mg calcium and 400 units "
                        "vitamin D daily unless hypercalcaemic; Xgeva EU SmPC 4.2)", need_calcium))
    if need_dental:
        missing.append(("a dental check before the start",
                        "add a line such as `Tandsanering en tandheelkundig onderzoek vóór de start "
                        "(kaakosteonecrose)`", need_dental))
    for what, hint, needing in missing:
        names = ", ".join(dict.fromkeys(_name(context, i.line.drug_id) if i.line.drug_id else i.line.name.value
                                        for i in needing))
        add(needing[0].line, f"{names} without {what}", hint, Severity.WARNING)
    for line, messages, hints, severity in found.values():
        yield bone_modifying_agent.at(line.name.span, "; ".join(messages), "; ".join(hints), severity=severity)


# ---------------------------------------------------------------- D032 BSA cap


@check("D032", "bsa-cap", Severity.WARNING, "protocol-wide body-surface-area cap")
def bsa_cap(context: Context) -> Iterator[Diagnostic]:
    """What it checks: prose or a note that caps the body surface area used for dosing
    ("BSA max 2,0 m²", "lichaamsoppervlakte begrenzen tot 2 m²", "capped at 2.0 m2").

    Why it matters: ASCO recommends full weight-based doses in obese patients; a blanket
    BSA cap underdoses curative chemotherapy. Capping belongs to individual, documented
    decisions (e.g. toxicity), not to the protocol.

    Example: `Dosering: lichaamsoppervlakte maximaal 2,0 m².`

    Use instead: dose on actual body weight; state individual reductions for toxicity.

    Source: Griggs JJ et al. J Clin Oncol 2021;39:2037-48 (ASCO guideline update,
    appropriate chemotherapy dosing for obese adults).
    """
    texts = _texts(context, (m.Prose, m.Note))
    raw = [text for _, text in texts]
    if not _may_cap(_fold("\n".join(raw))):
        return  # the words a cap needs are not in the texts together, so in none of them
    for index in _holding(raw, BSA_CAP_WORDS):  # (in sheet order)
        item, text = texts[index]
        if not _may_cap(_fold(text)):
            continue
        match = BSA_CAP.search(text)
        if match is None:
            continue
        yield bsa_cap.at(item.span, f"body-surface-area cap: `{match.group(0).strip()}`",
                         "dose on actual body weight (ASCO 2021); record individual caps as patient decisions")
