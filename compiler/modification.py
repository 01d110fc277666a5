"""Dose-modification tables and pre-cycle criteria, analysed with the interval algebra.

A `dose modification <drug> by <variable>:` table is a set of bands over one variable
(a lab value on one scale, or a CTCAE grade). Printed tables have no precedence between
rows, so the bands must partition the variable's domain: two rows that both apply are an
overlap (L008), a row that can never apply is unreachable (L009), values no row covers
are a gap (L007). Gaps are computed exactly; the scale's reporting `resolution`
(compiler/data/labs.yaml) then says whether a value the laboratory reports can fall in
the gap (1.49 / 1.5 at resolution 0.01: none can) — the gap is reported either way, in
words that say which. A `criteria before each cycle:` block is a conjunction; if it can
never hold it is a contradiction (L010).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

from compiler import model as m
from compiler.conditions import find_variable
from compiler.labs import domain_key, lab_variables, scale_of_key
from compiler.records import frozen
from compiler.tables import Tables
from compiler.thresholds import (
    EVERYTHING,
    Domain,
    Interval,
    IntervalSet,
    Region,
    Translator,
    Unresolvable,
    atom_key,
    describe_facts,
)


@frozen
class BandGap:
    """Values of the table's variable that no band covers."""

    interval: Interval
    text: str  # `ANC > 1.49 and < 1.5 ×10⁹/L`
    resolution: Decimal | None
    reportable: bool  # a value at the reporting resolution falls in the gap (always, without a resolution)


@frozen
class BandOverlap:
    """Two bands that both apply to some values."""

    first: m.DoseBand
    second: m.DoseBand
    text: str


@frozen
class TableAnalysis:
    """What the band analysis found in one dose-modification table."""

    table: m.DoseModification
    variable: str | None  # the analysis variable (a lab scale key, or a grade)
    resolved: bool  # every band could be read (unknown variables and units are L004's)
    mismatched: tuple[tuple[m.DoseBand, str], ...] = ()  # band, the variable it compares instead
    gaps: tuple[BandGap, ...] = ()
    overlaps: tuple[BandOverlap, ...] = ()
    unreachable: tuple[tuple[m.DoseBand, m.DoseBand | None], ...] = ()  # band, the earlier band that holds it


def table_variable(table: m.DoseModification, tables: Tables) -> str | None:
    """The analysis variable the table's header names (`by ANC (x10^9/L)`), if it names one."""
    if table.variable is None:
        return None
    variable = find_variable(table.variable.value, tables)
    if variable is None:
        return None
    if variable in lab_variables(tables):
        unit = table.unit.value if table.unit is not None else None
        return domain_key(tables, variable, None if unit == "%" else unit, unit == "%")
    return variable


def analyse_table(table: m.DoseModification, tables: Tables, translator: Translator | None = None) -> TableAnalysis:
    """Gaps, overlaps, unreachable rows and foreign variables of one table.

    `translator` (of the same tables) shares its translated conditions with other analyses.
    The same table (header and rows, wherever written) is analysed once per data set: the
    findings are kept by row number and given back with this table's rows.
    """
    key = _table_key(table, tables)
    shape = _SHAPES.get(key)
    if shape is None:
        analysis = _analyse_table(table, tables, translator or Translator(tables))
        if len(_SHAPES) >= _SHAPES_SIZE:
            _SHAPES.clear()
        _SHAPES[key] = _shape_of(analysis)
        return analysis
    return _with_rows(shape, table)


_SHAPES_SIZE = 2048


@frozen
class _Shape:
    """A table analysis with rows as row numbers (`table.bands()` positions)."""

    variable: str | None
    resolved: bool
    mismatched: tuple[tuple[int, str], ...]
    gaps: tuple[BandGap, ...]
    overlaps: tuple[tuple[int, int, str], ...]
    unreachable: tuple[tuple[int, int | None], ...]


_SHAPES: dict[tuple[object, ...], _Shape] = {}


def _condition_key(condition: m.Condition) -> tuple[object, ...]:
    """What a condition says, without where: all a band's analysis reads of it."""
    if isinstance(condition, (m.Flag, m.Compare)):
        return atom_key(condition)
    if isinstance(condition, (m.All, m.Any_)):
        return (type(condition).__name__, tuple(_condition_key(c) for c in condition.operands))
    if isinstance(condition, m.Not):
        return ("not", _condition_key(condition.operand))
    return (type(condition).__name__,)


def _table_key(table: m.DoseModification, tables: Tables) -> tuple[object, ...]:
    known = _KEYS.get(id(table))
    if known is not None and known[0] is table and known[1] == tables.fingerprint:
        return known[2]
    found = (tables.fingerprint, None if table.variable is None else table.variable.value,
             None if table.unit is None else table.unit.value,
             tuple(_condition_key(band.condition) for band in table.bands()))
    _keep_key(table, tables, found)
    return found


def _keep_key(node: m.Item, tables: Tables, key: tuple[object, ...]) -> None:
    if len(_KEYS) >= _KEYS_SIZE:
        _KEYS.clear()
    _KEYS[id(node)] = (node, tables.fingerprint, key)


_KEYS_SIZE = 512
# The keys of tables and criteria blocks by the block itself (kept here, so its id is not reused): a
# sheet's table is keyed for its analysis and again for each criteria block it is compared with.
_KEYS: dict[int, tuple[m.Item, str, tuple[object, ...]]] = {}


def _shape_of(analysis: TableAnalysis) -> _Shape:
    row = {id(band): n for n, band in enumerate(analysis.table.bands())}
    return _Shape(analysis.variable, analysis.resolved,
                  tuple((row[id(band)], text) for band, text in analysis.mismatched), analysis.gaps,
                  tuple((row[id(o.first)], row[id(o.second)], o.text) for o in analysis.overlaps),
                  tuple((row[id(band)], None if holder is None else row[id(holder)])
                        for band, holder in analysis.unreachable))


def _with_rows(shape: _Shape, table: m.DoseModification) -> TableAnalysis:
    bands = table.bands()
    return TableAnalysis(table, shape.variable, shape.resolved,
                         tuple((bands[n], text) for n, text in shape.mismatched), shape.gaps,
                         tuple(BandOverlap(bands[a], bands[b], text) for a, b, text in shape.overlaps),
                         tuple((bands[n], None if holder is None else bands[holder])
                               for n, holder in shape.unreachable))


def _analyse_table(table: m.DoseModification, tables: Tables, translator: Translator) -> TableAnalysis:
    algebra = translator.algebra
    expected = table_variable(table, tables)
    regions: list[tuple[m.DoseBand, Region]] = []
    mismatched: list[tuple[m.DoseBand, str]] = []
    resolved = True
    for band in table.bands():
        found = translator.variables_of(band.condition)
        try:
            region = translator.region(band.condition)
        except Unresolvable:
            resolved = False
            continue
        if expected is None and found:
            expected = sorted(found)[0]
        if found != {expected}:
            mismatched.append((band, ", ".join(sorted(found - {expected})) or "?"))
            continue
        regions.append((band, region))
    if expected is None or expected not in translator.domains or not resolved:
        return TableAnalysis(table, expected, False, tuple(mismatched))
    domain = translator.domains[expected]
    unreachable: list[tuple[m.DoseBand, m.DoseBand | None]] = []
    overlaps: list[BandOverlap] = []
    live: list[tuple[m.DoseBand, Region]] = []
    for band, region in regions:
        if region.is_empty():
            unreachable.append((band, None))
            continue
        holder = next((earlier for earlier, other in live
                       if algebra.difference(region, other).is_empty()), None)
        if holder is not None:
            unreachable.append((band, holder))
            continue
        for earlier, other in live:
            both = algebra.intersect(region, other)
            if not both.is_empty():
                overlaps.append(BandOverlap(earlier, band, _describe(both, expected, domain)))
        live.append((band, region))
    gaps = _gaps(expected, domain, [r for _, r in live], tables)
    return TableAnalysis(table, expected, True, tuple(mismatched), tuple(gaps), tuple(overlaps), tuple(unreachable))


def _describe(region: Region, variable: str, domain: Domain) -> str:
    facts = IntervalSet((), domain.kind == "integer")
    for box in region.boxes:
        part = box.get(variable, domain.full())
        assert isinstance(part, IntervalSet)
        facts = facts.union(part)
    return describe_facts(variable, facts, domain)


def _gaps(variable: str, domain: Domain, regions: list[Region], tables: Tables) -> list[BandGap]:
    covered = IntervalSet((), domain.kind == "integer")
    for region in regions:
        for box in region.boxes:
            part = box.get(variable, domain.full())
            assert isinstance(part, IntervalSet)
            covered = covered.union(part)
    assert domain.numbers is not None
    missing = domain.numbers.difference(covered)
    found = scale_of_key(tables, variable)
    resolution = found[1].resolution if found is not None else None
    out: list[BandGap] = []
    for interval in missing.intervals:
        text = describe_facts(variable, IntervalSet((interval,), missing.integer), domain)
        out.append(BandGap(interval, text, resolution, _reportable(interval, resolution)))
    return out


def _reportable(interval: Interval, resolution: Decimal | None) -> bool:
    """Whether a multiple of the resolution lies in the interval (True without a resolution)."""
    if resolution is None or resolution <= 0:
        return True
    steps = (interval.low / resolution).to_integral_value(rounding="ROUND_CEILING")
    value = steps * resolution
    if value == interval.low and not interval.low_closed:
        value += resolution
    return value < interval.high or (value == interval.high and interval.high_closed)


def criteria_region(block: m.Criteria, tables: Tables, translator: Translator | None = None) -> Region | None:
    """The cases where every criterion of a block holds (None when one cannot be read: L004)."""
    key = _criteria_key(block, tables)
    if key in _CRITERIA:
        return _CRITERIA[key]
    translator = translator or Translator(tables)
    found = EVERYTHING
    try:
        for criterion in block.criteria():
            found = translator.algebra.intersect(found, translator.region(criterion.condition))
        region: Region | None = found
    except Unresolvable:
        region = None
    if len(_CRITERIA) >= _SHAPES_SIZE:
        _CRITERIA.clear()
    _CRITERIA[key] = region
    return region


def _criteria_key(block: m.Criteria, tables: Tables) -> tuple[object, ...]:
    known = _KEYS.get(id(block))
    if known is not None and known[0] is block and known[1] == tables.fingerprint:
        return known[2]
    found = (tables.fingerprint, tuple(_condition_key(criterion.condition) for criterion in block.criteria()))
    _keep_key(block, tables, found)
    return found


# Criteria regions and criteria-against-table findings by what the block and the table say
# (bounded): the same `ANC >= 1.5 x10^9/L` / `platelets >= 100 x10^9/L` blocks and tables
# recur from sheet to sheet. Regions are never mutated.
_CRITERIA: dict[tuple[object, ...], Region | None] = {}
_CONFLICTS: dict[tuple[object, ...], tuple[tuple[int, str], ...]] = {}


def levels_of(protocol: m.Protocol, drug_id: str | None, name: str,
              items: Sequence[m.Item] | None = None) -> dict[int, m.DoseLevel]:
    """The dose levels a protocol declares for a drug (by id, or by name when unresolved).

    `items` are the protocol's items (or only its dose-level lists) when the caller has them:
    a check asks once per table, and walking the sheet each time made it tables × items.
    """
    out: dict[int, m.DoseLevel] = {}
    for item in protocol.all_items() if items is None else items:
        if isinstance(item, m.DoseLevels) and (item.drug_id == drug_id if drug_id else item.drug.value == name):
            for level in item.levels():
                out.setdefault(level.level, level)
    return out


FULL_DOSE_BLOCKERS = frozenset({"delay", "withhold", "discontinue"})


def full_dose(band: m.DoseBand) -> bool:
    """Whether a band gives the full dose now (at any occurrence): `100%` or `level 0`, without a delay or withhold."""
    return any(_full_dose(actions) for actions in band.action_lists())


def _full_dose(actions: tuple[m.DoseAction, ...]) -> bool:
    kinds = {a.kind for a in actions}
    if kinds & FULL_DOSE_BLOCKERS:
        return False
    return any((a.kind == "percent" and a.percent is not None and a.percent.value == 100)
               or (a.kind == "level" and a.level == 0) for a in actions)


def criteria_conflicts(block: m.Criteria, table: m.DoseModification, tables: Tables,
                       translator: Translator | None = None,
                       analysis: TableAnalysis | None = None) -> list[tuple[m.DoseBand, str]]:
    """Full-dose bands of a table for values the criteria do not let a cycle start with.

    `translator` and `analysis` (the table's, from `analyse_table`) reuse work already done.
    """
    bands = table.bands()
    full = tuple(full_dose(band) for band in bands)
    key = (_criteria_key(block, tables), _table_key(table, tables), full)
    outside = _CONFLICTS.get(key)
    if outside is None:
        outside = tuple(_outside_criteria(block, table, tables, full, translator, analysis))
        if len(_CONFLICTS) >= _SHAPES_SIZE:
            _CONFLICTS.clear()
        _CONFLICTS[key] = outside
    return [(bands[n], text) for n, text in outside]


def _outside_criteria(block: m.Criteria, table: m.DoseModification, tables: Tables, full: tuple[bool, ...],
                      translator: Translator | None, analysis: TableAnalysis | None) -> Iterator[tuple[int, str]]:
    """Each full-dose band (`full`: by row number) with the values it holds that the criteria exclude, in words:
    what the block and the table say decides it.
    """
    translator = translator or Translator(tables)
    region = criteria_region(block, tables, translator)
    analysis = analysis or analyse_table(table, tables, translator)
    if region is None or region.is_empty() or not analysis.resolved or analysis.variable is None:
        return
    variable = analysis.variable
    if variable not in region.variables():
        return
    allowed = translator.algebra.project(region, variable)
    domain = translator.domains[variable]
    for n, band in enumerate(table.bands()):
        if not full[n]:
            continue
        try:
            facts = translator.algebra.project(translator.region(band.condition), variable)
        except Unresolvable:
            continue
        assert isinstance(facts, IntervalSet) and isinstance(allowed, IntervalSet)
        outside = facts.difference(allowed)
        if not outside.is_empty():
            yield n, describe_facts(variable, outside, domain)
