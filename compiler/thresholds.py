"""Interval arithmetic over condition atoms, and the analysis of sibling decision branches.

A condition (`PD-L1 TPS >= 50% and not squamous`) is turned into a *region*: a union of
*boxes*, each box mapping a declared condition variable to the values it may take —
an `IntervalSet` (open/closed bounds, exact Decimals) for percent/number/integer
variables, a set of values for categorical ones. A variable absent from a box is
unconstrained. `and` intersects regions, `or` unites them, `not` complements them
within the declared domains (compiler/data/conditions.yaml), so every operation is
exact: no sampling, no floating point.

`analyse` walks a protocol, finds every group of sibling branches (the `when`/
`otherwise` children of one `decision:`, or a run of consecutive `when` lines in one
block, with their `otherwise`), computes the context each group lives in (enclosing
`when` branches and `only when` / `exclude when` restrictions) and reports, per group:
overlapping branches, threshold gaps per numeric variable, the remaining uncovered
combinations, unreachable branches and mixed biomarker scores. The L checks turn this
into diagnostics; the renderer can call `analyse` to mark gaps and overlaps on a
flowchart. PD-L1 TPS, CPS, IC and "PD-L1" without a score are different variables, so
their thresholds are never compared with each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from compiler import model as m
from compiler.conditions import find_flag, find_variable, variables
from compiler.labs import domain_key, lab_variables
from compiler.records import frozen
from compiler.tables import Tables

NUMERIC_KINDS = ("integer", "number", "percent")


# ---------------------------------------------------------------- intervals


@frozen(slots=True)
class Interval:
    """A non-empty interval of numbers with open or closed ends."""

    low: Decimal
    low_closed: bool
    high: Decimal
    high_closed: bool

    def is_empty(self) -> bool:
        """True when no number lies in the interval."""
        return self.low > self.high or (self.low == self.high and not (self.low_closed and self.high_closed))

    def contains(self, value: Decimal) -> bool:
        """Whether a number lies in the interval."""
        above = value > self.low or (value == self.low and self.low_closed)
        below = value < self.high or (value == self.high and self.high_closed)
        return above and below

    def meet(self, other: Interval) -> Interval:
        """The intersection (possibly empty: test with `is_empty`)."""
        if self.low > other.low:
            low, low_closed = self.low, self.low_closed
        elif other.low > self.low:
            low, low_closed = other.low, other.low_closed
        else:
            low, low_closed = self.low, self.low_closed and other.low_closed
        if self.high < other.high:
            high, high_closed = self.high, self.high_closed
        elif other.high < self.high:
            high, high_closed = other.high, other.high_closed
        else:
            high, high_closed = self.high, self.high_closed and other.high_closed
        return Interval(low, low_closed, high, high_closed)

    def minus(self, other: Interval) -> list[Interval]:
        """The parts of this interval outside `other` (0, 1 or 2 intervals)."""
        if self.meet(other).is_empty():
            return [self]
        left = self.meet(Interval(self.low, self.low_closed, other.low, not other.low_closed))
        right = self.meet(Interval(other.high, not other.high_closed, self.high, self.high_closed))
        return [part for part in (left, right) if not part.is_empty()]


def _integral(interval: Interval) -> Interval:
    """Closed integer bounds for an interval over the integers (may come out empty)."""
    low = interval.low.to_integral_value(rounding="ROUND_CEILING")
    if not interval.low_closed and low == interval.low:
        low += 1
    high = interval.high.to_integral_value(rounding="ROUND_FLOOR")
    if not interval.high_closed and high == interval.high:
        high -= 1
    return Interval(low, True, high, True)


@frozen(slots=True)
class IntervalSet:
    """A finite union of disjoint intervals, sorted; over the integers when `integer`."""

    intervals: tuple[Interval, ...]
    integer: bool = False

    @staticmethod
    def of(intervals: Iterable[Interval], integer: bool = False) -> IntervalSet:
        """Normalise: integer bounds where needed, drop empties, sort and merge."""
        parts = [(_integral(i) if integer else i) for i in intervals]
        if len(parts) <= 1:
            return IntervalSet(tuple(i for i in parts if not i.is_empty()), integer)
        parts = sorted((i for i in parts if not i.is_empty()), key=lambda i: (i.low, not i.low_closed))
        merged: list[Interval] = []
        for part in parts:
            if merged:
                last = merged[-1]
                touching = (part.low < last.high or (part.low == last.high and (last.high_closed or part.low_closed))
                            or (integer and part.low == last.high + 1))
                if touching:
                    if part.high > last.high or (part.high == last.high and part.high_closed):
                        merged[-1] = Interval(last.low, last.low_closed, part.high, part.high_closed)
                    continue
            merged.append(part)
        return IntervalSet(tuple(merged), integer)

    def is_empty(self) -> bool:
        """True when the set holds no number."""
        return not self.intervals

    def contains(self, value: Decimal) -> bool:
        """Whether a number is in the set (integers only, for an integer set)."""
        if self.integer and value != value.to_integral_value():
            return False
        return any(i.contains(value) for i in self.intervals)

    def union(self, other: IntervalSet) -> IntervalSet:
        """Set union."""
        return IntervalSet.of(self.intervals + other.intervals, self.integer)

    def intersection(self, other: IntervalSet) -> IntervalSet:
        """Set intersection."""
        return IntervalSet.of((a.meet(b) for a in self.intervals for b in other.intervals), self.integer)

    def difference(self, other: IntervalSet) -> IntervalSet:
        """The numbers in this set and not in `other`."""
        pieces = list(self.intervals)
        for cut in other.intervals:
            pieces = [rest for piece in pieces for rest in piece.minus(cut)]
        return IntervalSet.of(pieces, self.integer)

    def issubset(self, other: IntervalSet) -> bool:
        """Whether every number of this set is in `other`."""
        if self.integer != other.integer:
            return self.difference(other).is_empty()
        # Both are normalised (`of`): an interval of this set lies in `other` only when it lies in
        # one interval of it — between two of them there is always a number (an integer) missing.
        return all(any(_within(inner, outer) for outer in other.intervals) for inner in self.intervals)


def _within(inner: Interval, outer: Interval) -> bool:
    """Whether interval `inner` lies in interval `outer`."""
    above = outer.low < inner.low or (outer.low == inner.low and (outer.low_closed or not inner.low_closed))
    below = inner.high < outer.high or (inner.high == outer.high and (outer.high_closed or not inner.high_closed))
    return above and below


Facts = IntervalSet | frozenset[str]
Box = Mapping[str, Facts]


# ---------------------------------------------------------------- domains


@frozen
class Domain:
    """What a declared variable can be: an interval of numbers or a set of values."""

    name: str
    kind: str  # integer | number | percent | category
    numbers: IntervalSet | None = None
    values: frozenset[str] = frozenset()
    includes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    unit: str = ""
    score: str | None = None
    biomarker: str | None = None

    @property
    def numeric(self) -> bool:
        """True for percent, number and integer variables."""
        return self.numbers is not None

    def full(self) -> Facts:
        """Every value the variable can take."""
        return self.numbers if self.numbers is not None else self.values

    def expand(self, value: str) -> frozenset[str]:
        """A categorical value and the narrower values it includes (HER2-negative ⊇ HER2-low)."""
        return frozenset({value}) | self.includes.get(value, frozenset())


def domains(tables: Tables) -> dict[str, Domain]:
    """The declared condition variables as domains; a lab value has one domain per scale (unit)."""
    return dict(_domains(tables))


_DOMAINS: dict[str, dict[str, Domain]] = {}


def _domains(tables: Tables) -> dict[str, Domain]:
    """`domains`, built once per data fingerprint (shared: never mutate it)."""
    found = _DOMAINS.get(tables.fingerprint)
    if found is None:
        found = _DOMAINS[tables.fingerprint] = _build_domains(tables)
    return found


def _build_domains(tables: Tables) -> dict[str, Domain]:
    labs = lab_variables(tables)
    out: dict[str, Domain] = {}
    for name, spec in variables(tables).items():
        if name not in labs:
            out[name] = _domain(name, spec)
    for lab in labs.values():
        for scale in lab.scales:
            key = lab.key(scale)
            numbers = IntervalSet.of([Interval(scale.low, True, scale.high, True)], lab.kind == "integer")
            out[key] = Domain(key, lab.kind, numbers, unit=display_unit(scale.unit))
    return out


def display_unit(unit: str) -> str:
    """A lab unit as printed: `×10⁹/L`, `× ULN`, `mL/min`; a CTCAE grade has none."""
    return {"10^9/L": "×10⁹/L", "x ULN": "× ULN", "grade": "", "mL/min/1.73 m2": "mL/min/1,73 m²"}.get(unit, unit)


def _word(value: object) -> str:
    """A categorical value as text; YAML reads an unquoted yes/no as a boolean."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _domain(name: str, spec: Mapping[str, Any]) -> Domain:
    kind = str(spec.get("kind") or "category")
    score = spec.get("score")
    biomarker = spec.get("biomarker")
    if kind in NUMERIC_KINDS:
        low, high = (spec.get("range") or [0, 10**6])[:2]
        numbers = IntervalSet.of([Interval(Decimal(str(low)), True, Decimal(str(high)), True)], kind == "integer")
        unit = "%" if kind == "percent" else str(spec.get("unit") or "")
        return Domain(name, kind, numbers, unit=unit, score=None if score is None else str(score),
                      biomarker=None if biomarker is None else str(biomarker))
    values = frozenset(_word(v) for v in spec.get("values") or [])
    includes = {_word(k): frozenset(_word(x) for x in v) for k, v in (spec.get("includes") or {}).items()}
    optional = frozenset(_word(v) for v in spec.get("coverage_optional") or [])
    return Domain(name, "category", None, values, includes, optional)


# ---------------------------------------------------------------- facts and regions


def meet_facts(a: Facts, b: Facts) -> Facts:
    """Intersection of two fact sets of one variable."""
    if isinstance(a, IntervalSet) and isinstance(b, IntervalSet):
        return a.intersection(b)
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return a & b
    raise TypeError("numeric and categorical facts do not mix")


def minus_facts(a: Facts, b: Facts) -> Facts:
    """Difference of two fact sets of one variable."""
    if isinstance(a, IntervalSet) and isinstance(b, IntervalSet):
        return a.difference(b)
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return a - b
    raise TypeError("numeric and categorical facts do not mix")


def join_facts(a: Facts, b: Facts) -> Facts:
    """Union of two fact sets of one variable."""
    if isinstance(a, IntervalSet) and isinstance(b, IntervalSet):
        return a.union(b)
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return a | b
    raise TypeError("numeric and categorical facts do not mix")


def facts_empty(facts: Facts) -> bool:
    """True when a fact set admits no value."""
    return facts.is_empty() if isinstance(facts, IntervalSet) else not facts


def facts_subset(a: Facts, b: Facts) -> bool:
    """Whether every value of `a` is in `b`."""
    if isinstance(a, IntervalSet) and isinstance(b, IntervalSet):
        return a.issubset(b)
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return a <= b
    raise TypeError("numeric and categorical facts do not mix")


@frozen
class Region:
    """A union of boxes over declared variables (empty tuple = nothing, `({},)` = everything)."""

    boxes: tuple[Box, ...]
    # Set by the algebra on what `simplify` (or a single box) produced: simplifying it again
    # gives the same boxes, so intersecting it with everything can return it as it is.
    simple: bool = field(default=False, compare=False, repr=False)

    def is_empty(self) -> bool:
        """True when no case lies in the region."""
        return not self.boxes

    def variables(self) -> set[str]:
        """The variables some box constrains."""
        return {v for box in self.boxes for v in box}


EVERYTHING = Region(({},), simple=True)
NOTHING = Region((), simple=True)
_OPERATION_MEMO_SIZE = 8192


def _algebra(tables: Tables) -> RegionAlgebra:
    """The region algebra of the data's domains, one per data fingerprint (its memo shared by every sheet)."""
    found = _ALGEBRAS.get(tables.fingerprint)
    if found is None:
        if len(_ALGEBRAS) >= 4:
            _ALGEBRAS.clear()
        found = _ALGEBRAS[tables.fingerprint] = RegionAlgebra(_domains(tables))
    return found


_ALGEBRAS: dict[str, RegionAlgebra] = {}


class RegionAlgebra:
    """Region operations over a fixed set of domains.

    `intersect`, `union` and `complement` keep their answers by the identity of their operands (each
    entry holds its operands, so an identity is never reused while it is kept). Regions are never
    mutated, and the regions of conditions are shared between sheets (`Translator`): the same
    context met with the same `only when` or `exclude when` recurs from sheet to sheet, and so,
    through this memo, do the regions derived from them.
    """

    def __init__(self, doms: Mapping[str, Domain]) -> None:
        self.domains = doms
        self._answers: dict[tuple[object, ...], tuple[object, Region]] = {}
        self._written: dict[int, tuple[Region, str]] = {}

    def _kept(self, key: tuple[object, ...], operands: object, answer: Region) -> Region:
        answers = self._answers
        if len(answers) >= _OPERATION_MEMO_SIZE:
            answers.clear()
        answers[key] = (operands, answer)
        return answer

    def box(self, constraints: Mapping[str, Facts]) -> Region:
        """A region of one box, dropping no-op constraints; empty when a constraint is."""
        out: dict[str, Facts] = {}
        for variable, facts in constraints.items():
            facts = meet_facts(facts, self.domains[variable].full())
            if facts_empty(facts):
                return NOTHING
            if not facts_subset(self.domains[variable].full(), facts):
                out[variable] = facts
        return Region((out,), simple=True)

    def _meet_boxes(self, a: Box, b: Box) -> Box | None:
        out = dict(a)
        for variable, facts in b.items():
            if variable in out:
                facts = meet_facts(out[variable], facts)
                if facts_empty(facts):
                    return None
            out[variable] = facts
        return out

    def intersect(self, a: Region, b: Region) -> Region:
        """Cases in both regions."""
        # Meeting every box with the unconstrained box copies it; simplifying a simplified region
        # changes nothing. Most contexts are "everything", so this is the common case.
        if a.simple and len(b.boxes) == 1 and not b.boxes[0]:
            return a
        if b.simple and len(a.boxes) == 1 and not a.boxes[0]:
            return b
        key = ("and", id(a), id(b))
        known = self._answers.get(key)
        if known is not None:
            return known[1]
        boxes = [box for x in a.boxes for y in b.boxes if (box := self._meet_boxes(x, y)) is not None]
        return self._kept(key, (a, b), self.simplify(boxes))

    def union(self, *regions: Region) -> Region:
        """Cases in any region."""
        if len(regions) == 1 and regions[0].simple:
            return regions[0]
        key = ("or", *map(id, regions))
        known = self._answers.get(key)
        if known is not None:
            return known[1]
        return self._kept(key, regions, self.simplify([box for region in regions for box in region.boxes]))

    def complement(self, region: Region) -> Region:
        """Cases outside the region (within the declared domains)."""
        key = ("not", id(region))
        known = self._answers.get(key)
        if known is not None:
            return known[1]
        return self._kept(key, region, self._complement(region))

    def _complement(self, region: Region) -> Region:
        result = EVERYTHING
        for box in region.boxes:
            outside = [{v: rest} for v, facts in box.items()
                       if not facts_empty(rest := minus_facts(self.domains[v].full(), facts))]
            result = self.intersect(result, Region(tuple(outside)))
            if result.is_empty():
                break
        return result

    def difference(self, a: Region, b: Region) -> Region:
        """Cases in `a` and not in `b`."""
        return self.intersect(a, self.complement(b))

    def contains_box(self, outer: Box, inner: Box) -> bool:
        """Whether box `inner` lies inside box `outer`."""
        for variable, facts in outer.items():
            if not facts_subset(inner.get(variable, self.domains[variable].full()), facts):
                return False
        return True

    def simplify(self, boxes: Iterable[Box]) -> Region:
        """Drop boxes inside other boxes; merge boxes that differ in one variable only."""
        work = [dict(b) for b in boxes]
        if len(work) <= 1:
            return Region(tuple(work), simple=True)  # nothing to drop or merge
        changed = True
        while changed:
            changed = False
            kept: list[dict[str, Facts]] = []
            for box in work:
                if any(self.contains_box(other, box) for other in kept):
                    changed = True
                    continue
                before = len(kept)
                kept = [other for other in kept if not self.contains_box(box, other)]
                changed = changed or len(kept) != before
                kept.append(box)
            work = kept
            for i, j in itertools.combinations(range(len(work)), 2):
                merged = self._merge(work[i], work[j])
                if merged is not None:
                    work = [b for k, b in enumerate(work) if k not in (i, j)] + [merged]
                    changed = True
                    break
        return Region(tuple(work), simple=True)

    def _merge(self, a: dict[str, Facts], b: dict[str, Facts]) -> dict[str, Facts] | None:
        keys = set(a) | set(b)
        differing = [v for v in keys if v not in a or v not in b or a[v] != b[v]]
        if len(differing) != 1:
            return None
        (variable,) = differing
        if variable not in a or variable not in b:
            return None  # one is unconstrained there: containment already handled it
        joined = join_facts(a[variable], b[variable])
        out = dict(a)
        if facts_subset(self.domains[variable].full(), joined):
            del out[variable]
        else:
            out[variable] = joined
        return out

    def written(self, region: Region) -> str:
        """`repr(region.boxes)`: the region as written (`1.50` is not `1.5`), kept as the answers are."""
        key = id(region)
        known = self._written.get(key)
        if known is not None:
            return known[1]
        text = repr(region.boxes)
        if len(self._written) >= _OPERATION_MEMO_SIZE:
            self._written.clear()
        self._written[key] = (region, text)
        return text

    def disjoint(self, region: Region) -> Region:
        """The same cases as boxes that do not overlap (for describing a region to a reader)."""
        out: list[Box] = []
        for box in region.boxes:
            pieces: list[Box] = [box]
            for earlier in out:
                pieces = [piece for current in pieces for piece in self._box_minus(current, earlier)]
            out.extend(pieces)
        return Region(tuple(out))

    def _box_minus(self, a: Box, b: Box) -> list[Box]:
        pieces: list[Box] = []
        current = dict(a)
        for variable, facts in b.items():
            mine = current.get(variable, self.domains[variable].full())
            outside = minus_facts(mine, facts)
            if not facts_empty(outside):
                pieces.append({**current, variable: outside})
            inside = meet_facts(mine, facts)
            if facts_empty(inside):
                return [a]
            current[variable] = inside
        return pieces

    def project(self, region: Region, variable: str) -> Facts:
        """The values of one variable that some case of the region takes."""
        full = self.domains[variable].full()
        result: Facts = IntervalSet((), full.integer) if isinstance(full, IntervalSet) else frozenset()
        for box in region.boxes:
            result = join_facts(result, box.get(variable, full))
        return result

    def member(self, region: Region, case: Mapping[str, Decimal | str]) -> bool:
        """Whether a concrete case (variable -> value) lies in the region; missing variables are free."""
        for box in region.boxes:
            inside = True
            for variable, facts in box.items():
                if variable not in case:
                    continue
                value = case[variable]
                if isinstance(facts, IntervalSet):
                    inside = isinstance(value, Decimal) and facts.contains(value)
                else:
                    inside = value in facts
                if not inside:
                    break
            if inside:
                return True
        return False


# ---------------------------------------------------------------- conditions -> regions


class Unresolvable(Exception):
    """A condition names an unknown variable, flag or out-of-domain value (reported by L004)."""


def atoms(condition: m.Condition) -> Iterator[m.Flag | m.Compare]:
    """The flags and comparisons of a condition."""
    if isinstance(condition, (m.All, m.Any_)):
        for operand in condition.operands:
            yield from atoms(operand)
    elif isinstance(condition, m.Not):
        yield from atoms(condition.operand)
    elif isinstance(condition, (m.Flag, m.Compare)):
        yield condition


class Translator:
    """Conditions of one protocol to regions."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.domains = _domains(tables)
        self.algebra = _algebra(tables)
        # Memos by object identity; each entry keeps its condition alive so an id is never reused.
        self._regions: dict[int, tuple[m.Condition, Region | None]] = {}
        self._variables: dict[int, tuple[m.Condition, frozenset[str]]] = {}
        self._keys: dict[int, tuple[m.Condition, tuple[object, ...] | None]] = {}

    def key_of(self, condition: m.Condition) -> tuple[object, ...] | None:
        """`condition_key` of a condition, once per condition (its region, its variables and the group
        shapes ask for it).
        """
        cached = self._keys.get(id(condition))
        if cached is None:
            cached = self._keys[id(condition)] = (condition, condition_key(condition))
        return cached[1]

    def variables_of(self, condition: m.Condition) -> set[str]:
        """The declared variables a condition mentions (unknown ones left out)."""
        return set(self.frozen_variables_of(condition))

    def frozen_variables_of(self, condition: m.Condition) -> frozenset[str]:
        """`variables_of`, as the memo keeps it (shared: no copy)."""
        cached = self._variables.get(id(condition))
        if cached is None:
            key = self.key_of(condition)
            memo = _CONDITION_VARIABLES.setdefault(self.tables.fingerprint, {})
            found = memo.get(key) if key is not None else None
            if found is None:
                found = frozenset(self._variables_of(condition))
                if key is not None:
                    if len(memo) >= _ATOM_MEMO_SIZE:
                        memo.clear()
                    memo[key] = found
            cached = self._variables[id(condition)] = (condition, found)
        return cached[1]

    def _variables_of(self, condition: m.Condition) -> set[str]:
        found: set[str] = set()
        for atom in atoms(condition):
            if isinstance(atom, m.Compare):
                variable = self.variable_of(atom)
                if variable is not None:
                    found.add(variable)
            else:
                found.update((find_flag(atom.words, self.tables) or {}).keys())
        return found

    def region(self, condition: m.Condition) -> Region:
        """The cases where a condition holds; raises Unresolvable for what L004 reports."""
        cached = self._regions.get(id(condition))
        if cached is None:
            cached = self._regions[id(condition)] = (condition, self._shared_region(condition))
        if cached[1] is None:
            raise Unresolvable(type(condition).__name__)
        return cached[1]

    def _shared_region(self, condition: m.Condition) -> Region | None:
        """The region (None: unresolvable), shared by every protocol checked with the same data:
        `HER2+ and ER+` or `PD-L1 TPS >= 50% and not squamous` recur from sheet to sheet.
        """
        if isinstance(condition, (m.Flag, m.Compare)):
            key: tuple[object, ...] | None = None  # _atom shares it already
        else:
            key = self.key_of(condition)
        memo = _CONDITION_REGIONS.setdefault(self.tables.fingerprint, {})
        if key is not None and key in memo:
            return memo[key]
        try:
            found: Region | None = self._region(condition)
        except Unresolvable:
            found = None
        if key is not None:
            if len(memo) >= _ATOM_MEMO_SIZE:
                memo.clear()
            memo[key] = found
        return found

    def _region(self, condition: m.Condition) -> Region:
        if isinstance(condition, (m.Flag, m.Compare)):
            return self._atom(condition)
        algebra = self.algebra
        if isinstance(condition, m.All):
            result = EVERYTHING
            for operand in condition.operands:
                result = algebra.intersect(result, self.region(operand))
            return result
        if isinstance(condition, m.Any_):
            return algebra.union(*(self.region(operand) for operand in condition.operands))
        if isinstance(condition, m.Not):
            return algebra.complement(self.region(condition.operand))
        raise Unresolvable(type(condition).__name__)

    def _atom(self, atom: m.Flag | m.Compare) -> Region:
        """A flag's or comparison's region, shared by every protocol checked with the same data."""
        memo = _ATOM_REGIONS.setdefault(self.tables.fingerprint, {})
        key = atom_key(atom)
        if key not in memo:
            if len(memo) >= _ATOM_MEMO_SIZE:
                memo.clear()
            try:
                memo[key] = self._atom_region(atom)
            except Unresolvable:
                memo[key] = None
        found = memo[key]
        if found is None:
            raise Unresolvable(type(atom).__name__)
        return found

    def _atom_region(self, condition: m.Flag | m.Compare) -> Region:
        algebra = self.algebra
        if isinstance(condition, m.Flag):
            meaning = find_flag(condition.words, self.tables)
            if meaning is None or any(v not in self.domains for v in meaning):
                raise Unresolvable(condition.words)
            return algebra.box({v: self._value_set(self.domains[v], value) for v, value in meaning.items()})
        return self._compare(condition)

    def _value_set(self, domain: Domain, word: str) -> frozenset[str]:
        for value in domain.values:
            if value.lower() == word.lower():
                return domain.expand(value)
        raise Unresolvable(word)

    def variable_of(self, atom: m.Compare) -> str | None:
        """The analysis variable of a comparison: the declared variable, or a lab value's scale."""
        variable = find_variable(atom.variable, self.tables)
        if variable is None:
            return None
        if variable in lab_variables(self.tables):
            return domain_key(self.tables, variable, atom.unit.value if atom.unit else None, atom.percent)
        return None if atom.unit is not None else variable

    def _compare(self, atom: m.Compare) -> Region:
        variable = self.variable_of(atom)
        if variable is None or variable not in self.domains:
            raise Unresolvable(atom.variable)
        domain = self.domains[variable]
        if domain.numbers is not None:
            if atom.number is None:
                raise Unresolvable(atom.variable)
            value = atom.number.value
            full = domain.numbers
            if not (full.intervals[0].low <= value <= full.intervals[-1].high):
                raise Unresolvable(atom.variable)  # outside the domain: L004
            return self.algebra.box({variable: compare_set(full, atom.op, value)})
        if atom.word is None or atom.op not in ("=", "!="):
            raise Unresolvable(atom.variable)
        values = self._value_set(domain, atom.word)
        return self.algebra.box({variable: values if atom.op == "=" else domain.values - values})


_ATOM_MEMO_SIZE = 8192
# Regions of flags and comparisons by what they say (not where), per data fingerprint: the
# same `HER2+` or `ANC >= 1.5 x10^9/L` recurs in every sheet. Regions are never mutated.
_ATOM_REGIONS: dict[str, dict[tuple[object, ...], Region | None]] = {}


# Regions of whole conditions (and/or/not of atoms) by what they say, as _ATOM_REGIONS.
_CONDITION_REGIONS: dict[str, dict[tuple[object, ...], Region | None]] = {}
# The declared variables a condition mentions, by what it says, as _ATOM_REGIONS.
_CONDITION_VARIABLES: dict[str, dict[tuple[object, ...], frozenset[str]]] = {}
_KEY_NODES = 64  # a longer condition is translated each time (its key would cost as much at every level)


def condition_key(condition: m.Condition) -> tuple[object, ...] | None:
    """Everything a condition's region depends on (None for a condition of more than _KEY_NODES nodes)."""
    return _key(condition, [_KEY_NODES])


def _key(node: m.Condition, budget: list[int]) -> tuple[object, ...] | None:
    """`condition_key` of a node, spending `budget` (a module function: a nested one calling itself
    would leave a reference cycle per call for the collector).
    """
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(node, (m.Flag, m.Compare)):
        return atom_key(node)
    if isinstance(node, m.Not):
        inner = _key(node.operand, budget)
        return None if inner is None else ("not", inner)
    if isinstance(node, (m.All, m.Any_)):
        parts: list[tuple[object, ...]] = []
        for operand in node.operands:
            part = _key(operand, budget)
            if part is None:
                return None
            parts.append(part)
        return ("all" if isinstance(node, m.All) else "any", tuple(parts))
    return None


def atom_key(atom: m.Flag | m.Compare) -> tuple[object, ...]:
    """Everything a flag's or comparison's region depends on (numbers as written: `1.50` is not `1.5`)."""
    if isinstance(atom, m.Flag):
        return ("flag", atom.words)
    number = None if atom.number is None else str(atom.number.value)
    unit = None if atom.unit is None else atom.unit.value
    return ("compare", atom.variable, atom.op, number, atom.percent, atom.word, unit)


def compare_set(full: IntervalSet, op: str, value: Decimal) -> IntervalSet:
    """The numbers of a domain for which `x op value` holds."""
    low = full.intervals[0].low
    high = full.intervals[-1].high
    shapes = {
        "<": Interval(low, True, value, False),
        "<=": Interval(low, True, value, True),
        ">": Interval(value, False, high, True),
        ">=": Interval(value, True, high, True),
        "=": Interval(value, True, value, True),
    }
    if op == "!=":
        return full.difference(IntervalSet.of([shapes["="]], full.integer))
    if op not in shapes:
        raise Unresolvable(op)
    return full.intersection(IntervalSet.of([shapes[op]], full.integer))


# ---------------------------------------------------------------- describing regions


def number_text(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros."""
    text = format(value.normalize(), "f")
    return text


def describe_interval(interval: Interval, domain: Domain) -> str:
    """`1–10`, `< 1`, `≥ 50`, `> 1 and < 10`, relative to the domain's bounds."""
    assert domain.numbers is not None
    low_end = domain.numbers.intervals[0].low
    high_end = domain.numbers.intervals[-1].high
    a, b = number_text(interval.low), number_text(interval.high)
    if interval.low == interval.high:
        return f"= {a}"
    if interval.low == low_end and interval.low_closed:
        return f"{'≤' if interval.high_closed else '<'} {b}"
    if interval.high == high_end and interval.high_closed:
        return f"{'≥' if interval.low_closed else '>'} {a}"
    if interval.low_closed and interval.high_closed:
        return f"{a}–{b}"
    return f"{'≥' if interval.low_closed else '>'} {a} and {'≤' if interval.high_closed else '<'} {b}"


def _same(text: str) -> str:
    return text


def describe_facts(variable: str, facts: Facts, domain: Domain,
                   name: Callable[[str], str] = _same, value: Callable[[str], str] = _same) -> str:
    """One variable's constraint in words: `PD-L1 1–10 %`, `histology = squamous`.

    `name` and `value` word variables and values (the renderer passes the document's
    language; diagnostics keep the data's English names).
    """
    if isinstance(facts, IntervalSet):
        unit = f" {domain.unit}" if domain.unit else ""
        parts = [describe_interval(i, domain) for i in facts.intervals]
        return f"{name(variable)} {' or '.join(parts)}{unit}"
    leaves = sorted(facts)
    # name a broad value once instead of its narrower values (`HER2 = negative`, not `negative, low, ultralow`)
    for broad, narrow in domain.includes.items():
        if broad in facts and narrow <= facts:
            leaves = [v for v in leaves if v not in narrow]
    return f"{name(variable)} = {' or '.join(value(v) for v in leaves)}"


def describe_region(region: Region, doms: Mapping[str, Domain], only: Iterable[str] | None = None,
                    name: Callable[[str], str] = _same, value: Callable[[str], str] = _same) -> str:
    """A region in words, boxes separated by `;` (only the given variables when `only`)."""
    wanted = set(only) if only is not None else None
    parts: list[str] = []
    for box in region.boxes:
        words = [describe_facts(v, box[v], doms[v], name, value) for v in sorted(box, key=str.lower)
                 if wanted is None or v in wanted]
        text = " and ".join(words) if words else "any case"
        if text not in parts:
            parts.append(text)
    return "; ".join(parts)


# ---------------------------------------------------------------- decision analysis


@frozen
class Branch:
    """One sibling branch: a `when` (with its region) or the `otherwise`."""

    item: m.Item
    condition: m.Condition | None
    region: Region | None
    variables: frozenset[str] = frozenset()

    @property
    def is_otherwise(self) -> bool:
        """True for the `otherwise:` branch."""
        return self.condition is None


@frozen
class Overlap:
    """Two sibling branches that both apply to some cases."""

    first: Branch
    second: Branch
    region: Region
    thresholds: tuple[str, ...]  # numeric variables both branches compare (L001) — empty: L002


@frozen
class ThresholdGap:
    """Values of one numeric variable that no sibling threshold covers."""

    variable: str
    uncovered: IntervalSet
    domain: Domain

    def describe(self) -> str:
        """`PD-L1 1–10 %`."""
        return describe_facts(self.variable, self.uncovered, self.domain)


@frozen
class DecisionAnalysis:
    """What the analysis found for one group of sibling branches."""

    anchor: m.Item
    decision: m.Decision | None
    branches: tuple[Branch, ...]
    context: Region
    resolved: bool
    overlaps: tuple[Overlap, ...] = ()
    threshold_gaps: tuple[ThresholdGap, ...] = ()
    uncovered: Region = NOTHING
    unreachable: tuple[Branch, ...] = ()
    otherwise_unreachable: bool = False
    mixed_scores: tuple[tuple[str, tuple[str, ...]], ...] = ()  # biomarker, the variables compared
    variables: tuple[str, ...] = ()


@frozen
class Contradiction:
    """A `when` or `only when` that can never hold (alone, or within its context)."""

    item: m.Item
    condition: m.Condition
    alone: bool


@dataclass
class Analysis:
    """Everything `analyse` found in one protocol."""

    decisions: list[DecisionAnalysis] = field(default_factory=list)
    contradictions: list[Contradiction] = field(default_factory=list)
    domains: Mapping[str, Domain] = field(default_factory=dict)


def statement(item: m.Item) -> m.Item:
    """The statement an item stands for (a bullet's content, else the item)."""
    if isinstance(item, m.Bullet) and item.content is not None:
        return item.content
    return item


def analyse(protocol: m.Protocol, tables: Tables, translator: Translator | None = None,
            items: Sequence[m.Item] | None = None) -> Analysis:
    """Analyse every group of sibling branches of a protocol (for the L checks and the renderer).

    `translator` (of the same tables) shares its translated conditions with other analyses;
    `items` is `protocol.all_items()` when the caller already has it, or any list of its items that
    holds every `when`, `only when` and `exclude when` of it (only those are read from it).
    """
    return _Analyser(protocol, translator or Translator(tables), items).run()


def analyse_restrictions(only_when: Sequence[m.OnlyWhen], exclude_when: Sequence[m.ExcludeWhen],
                         translator: Translator) -> Analysis | None:
    """`analyse` of a protocol that has no `when`, `otherwise` or `decision` (the caller has counted them),
    given its `only when` and `exclude when` lines; None when `analyse` has to walk the protocol.

    Without branches there is no group to analyse, and only an `only when` can be found
    contradictory. A single one is found so exactly when its condition is empty, or when it misses
    its context: everything less some of the `exclude when` regions (those the walk meets before it
    in its block or above it), which cannot happen when it keeps a case outside all of them. Most
    sheets have one eligibility line and no branch: walking every block for it cost more than the
    rest of the analysis.
    """
    result = Analysis(domains=translator.domains)
    if not only_when:
        return result
    if len(only_when) > 1:
        return None
    (node,) = only_when
    try:
        region = translator.region(node.condition)
    except Unresolvable:
        return result
    if region.is_empty():
        result.contradictions.append(Contradiction(node, node.condition, True))
        return result
    rest = region
    for exclude in exclude_when:
        try:
            excluded = translator.region(exclude.condition)
        except Unresolvable:
            continue
        if not excluded.is_empty():
            rest = translator.algebra.difference(rest, excluded)
    return result if not rest.is_empty() else None


_CONDITIONAL = (m.When, m.Otherwise, m.OnlyWhen, m.ExcludeWhen, m.Decision)


class _Analyser:
    def __init__(self, protocol: m.Protocol, translator: Translator, items: Sequence[m.Item] | None = None) -> None:
        self.protocol = protocol
        self.translator = translator
        self.algebra = self.translator.algebra
        self.result = Analysis(domains=self.translator.domains)
        self._items = items
        self._mentioned: dict[str, set[str]] | None = None
        self._conditionals: dict[int, bool] = {}  # by id: the protocol keeps every item alive during the analysis

    def mentioned(self, variable: str) -> set[str]:
        """The values of a categorical variable some `when`, `only when` or `exclude when` of the protocol
        names (found at the first question: only variables with `coverage_optional` values ask).
        """
        found = self._mentioned
        if found is None:
            found = self._mentioned = {}
            for item in self.protocol.all_items() if self._items is None else self._items:
                if isinstance(item, (m.When, m.OnlyWhen, m.ExcludeWhen)):
                    try:
                        region = self.translator.region(item.condition)
                    except Unresolvable:
                        continue
                    for box in region.boxes:
                        for name, facts in box.items():
                            if isinstance(facts, frozenset):
                                found.setdefault(name, set()).update(facts)
        return found.get(variable, set())

    def run(self) -> Analysis:
        context = self.block(self.protocol.preamble, EVERYTHING, None)
        for section in self.protocol.sections:
            self.section(section, context)
        return self.result

    def section(self, section: m.Section, context: Region) -> None:
        inner = self.block(section.items, context, None)
        for sub in section.subsections:
            self.section(sub, inner)

    def region_or_none(self, condition: m.Condition) -> Region | None:
        try:
            return self.translator.region(condition)
        except Unresolvable:
            return None

    def block(self, items: tuple[m.Item, ...], context: Region, decision: m.Decision | None) -> Region:
        """Walk a block; return the context its `only when`/`exclude when` lines establish."""
        if not items or not any(map(self.conditional, items)):
            return context  # no branch, condition or decision in it or below it: nothing to analyse, context unchanged
        nodes = [item.content if isinstance(item, m.Bullet) and item.content is not None else item for item in items]
        for node in nodes:
            if isinstance(node, m.OnlyWhen):
                region = self.region_or_none(node.condition)
                if region is None:
                    continue
                if region.is_empty():
                    self.result.contradictions.append(Contradiction(node, node.condition, True))
                elif self.algebra.intersect(region, context).is_empty():
                    self.result.contradictions.append(Contradiction(node, node.condition, False))
                else:
                    context = self.algebra.intersect(context, region)
            elif isinstance(node, m.ExcludeWhen):
                region = self.region_or_none(node.condition)
                if region is not None and not region.is_empty():
                    remaining = self.algebra.difference(context, region)
                    if not remaining.is_empty():
                        context = remaining
        groups = self.groups(items, decision is not None, nodes)
        branch_contexts: dict[int, Region] = {}
        for group in groups:
            analysis = self.group(group, context, decision)
            for branch in analysis.branches:
                if not branch.item.children:
                    branch_contexts[id(branch.item)] = context  # a branch, but nothing below it takes its context
                elif branch.is_otherwise:
                    taken = self.algebra.union(*(b.region for b in analysis.branches if b.region is not None))
                    branch_contexts[id(branch.item)] = self.algebra.difference(context, taken) \
                        if analysis.resolved else context
                elif branch.region is not None:
                    branch_contexts[id(branch.item)] = self.algebra.intersect(context, branch.region)
        for item, node in zip(items, nodes, strict=True):
            child_context = context
            if id(item) in branch_contexts:
                child_context = branch_contexts[id(item)]
            elif isinstance(node, m.When):
                region = self.region_or_none(node.condition)
                if region is not None:
                    self.check_alone(item, node.condition, region, context)
                    child_context = self.algebra.intersect(context, region)
            elif not item.children or not self.conditional(item):
                continue  # no branch at or below it: nothing to analyse (asking here spares walking into it)
            if not item.children:
                continue  # nothing below it to analyse
            if isinstance(node, m.Decision):
                self.block(item.children, child_context, node)
            elif child_context.is_empty():
                continue  # unreachable: reported once, not again for everything inside
            else:
                self.block(item.children, child_context, None)
        return context

    def conditional(self, item: m.Item) -> bool:
        """Whether the item, or an item below it, is a `when`, `otherwise`, `only when`, `exclude when` or decision
        (once per item: the walk asks for every block).
        """
        known = self._conditionals.get(id(item))
        if known is None:
            node = item.content if isinstance(item, m.Bullet) and item.content is not None else item  # statement()
            known = isinstance(node, _CONDITIONAL) or (bool(item.children) and any(map(self.conditional, item.children)))
            self._conditionals[id(item)] = known
        return known

    def check_alone(self, item: m.Item, condition: m.Condition, region: Region, context: Region) -> None:
        if region.is_empty():
            self.result.contradictions.append(Contradiction(item, condition, True))
        elif self.algebra.intersect(region, context).is_empty():
            self.result.contradictions.append(Contradiction(item, condition, False))

    @staticmethod
    def groups(items: tuple[m.Item, ...], is_decision: bool,
               nodes: Sequence[m.Item] | None = None) -> list[list[m.Item]]:
        """Sibling groups: every when/otherwise of a decision; else runs of consecutive whens (+ otherwise).

        `nodes` are the items' statements, when the caller has them.
        """
        statements = [statement(item) for item in items] if nodes is None else nodes
        branches = [item for item, node in zip(items, statements, strict=True)
                    if isinstance(node, (m.When, m.Otherwise))]
        if is_decision:
            return [branches] if branches else []
        out: list[list[m.Item]] = []
        run: list[m.Item] = []
        for item, node in zip(items, statements, strict=True):
            if isinstance(node, m.When):
                run.append(item)
                continue
            if isinstance(node, m.Otherwise):
                run.append(item)
            if run and (len(run) > 1):
                out.append(run)
            run = []
        if len(run) > 1:
            out.append(run)
        return out

    def group(self, members: list[m.Item], context: Region, decision: m.Decision | None) -> DecisionAnalysis:
        branches: list[Branch] = []
        whens: list[Branch] = []
        has_otherwise = False
        translator = self.translator
        for item in members:
            node = item.content if isinstance(item, m.Bullet) and item.content is not None else item  # statement()
            if isinstance(node, m.When):
                branch = Branch(item, node.condition, self.region_or_none(node.condition),
                                translator.frozen_variables_of(node.condition))
                whens.append(branch)
            else:
                branch = Branch(item, None, None)
                has_otherwise = True
            branches.append(branch)
        anchor: m.Item = decision if decision is not None else members[0]
        used = sorted(set().union(*(b.variables for b in whens)) if whens else set(), key=str.lower)
        mixed = self.mixed_scores(whens)
        resolved = all(b.region is not None for b in whens)
        if not resolved:
            analysis = DecisionAnalysis(anchor, decision, tuple(branches), context, False, mixed_scores=mixed,
                                        variables=tuple(used))
            self.result.decisions.append(analysis)
            return analysis
        key = self.shape_key(whens, has_otherwise, context, used)
        shape = _GROUP_SHAPES.get(key) if key is not None else None
        if shape is None:
            shape = self.shape(whens, has_otherwise, context, used)
            if key is not None:
                if len(_GROUP_SHAPES) >= _GROUP_MEMO_SIZE:
                    _GROUP_SHAPES.clear()
                _GROUP_SHAPES[key] = shape
        unreachable = tuple(whens[i] for i in shape.unreachable)
        for branch in unreachable:
            assert branch.region is not None and branch.condition is not None
            self.result.contradictions.append(Contradiction(branch.item, branch.condition, branch.region.is_empty()))
        overlaps = tuple(Overlap(whens[i], whens[j], both, shared) for i, j, both, shared in shape.overlaps)
        analysis = DecisionAnalysis(
            anchor, decision, tuple(branches), context, True, overlaps, shape.gaps, shape.uncovered, unreachable,
            shape.otherwise_unreachable, mixed, tuple(used))
        self.result.decisions.append(analysis)
        return analysis

    def shape_key(self, whens: list[Branch], has_otherwise: bool, context: Region,
                  used: list[str]) -> tuple[object, ...] | None:
        """Everything a group's shape depends on: what its branches say (in order), whether it has an
        `otherwise`, its context as written (`1.50` is not `1.5`) and the optional values the sheet names;
        None when a condition or the context is too large to keep.
        """
        conditions: list[tuple[object, ...]] = []
        for branch in whens:
            assert branch.condition is not None
            found = self.translator.key_of(branch.condition)
            if found is None:
                return None
            conditions.append(found)
        written = self.algebra.written(context)
        if len(written) > 2_000:
            return None
        domains = self.translator.domains
        named = tuple(frozenset(self.mentioned(v) & domains[v].optional) if domains[v].optional else frozenset()
                      for v in used)
        return (self.translator.tables.fingerprint, tuple(conditions), has_otherwise, written, named)

    def shape(self, whens: list[Branch], has_otherwise: bool, context: Region, used: list[str]) -> _GroupShape:
        """What the analysis finds for a group of branches, with the branches as positions in `whens`."""
        algebra = self.algebra
        regions = [algebra.intersect(b.region, context) for b in whens if b.region is not None]
        unreachable = tuple(i for i, r in enumerate(regions) if r.is_empty())
        overlaps: list[tuple[int, int, Region, tuple[str, ...]]] = []
        for (i, a), (j, b) in itertools.combinations(enumerate(whens), 2):
            both = algebra.intersect(regions[i], regions[j])
            if not both.is_empty():
                shared = tuple(sorted(v for v in a.variables & b.variables if self.translator.domains[v].numeric))
                overlaps.append((i, j, both, shared))
        covered = algebra.union(*regions)
        outside = algebra.difference(context, covered)
        uncovered = outside
        gaps: list[ThresholdGap] = []
        if not has_otherwise:
            for variable in used:
                domain = self.translator.domains[variable]
                if not domain.numeric or sum(1 for b in whens if variable in b.variables) < 2:
                    continue
                full = algebra.project(context, variable)
                reached = algebra.project(covered, variable)
                assert isinstance(full, IntervalSet) and isinstance(reached, IntervalSet)
                missing = full.difference(reached)
                if not missing.is_empty():
                    gaps.append(ThresholdGap(variable, missing, domain))
                    uncovered = algebra.difference(uncovered, algebra.box({variable: missing}))
            uncovered = self.optional_values_removed(uncovered, used)
        else:
            uncovered = NOTHING
        return _GroupShape(unreachable, tuple(overlaps), tuple(gaps), algebra.disjoint(uncovered),
                           has_otherwise and outside.is_empty())

    def optional_values_removed(self, region: Region, used: list[str]) -> Region:
        """Drop `coverage_optional` values the protocol never names (small-cell in an NSCLC sheet)."""
        for variable in used:
            domain = self.translator.domains[variable]
            if not domain.optional:
                continue
            unnamed = domain.optional - self.mentioned(variable)
            if unnamed:
                region = self.algebra.intersect(region, self.algebra.box({variable: domain.values - unnamed}))
        return region

    def mixed_scores(self, whens: list[Branch]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        by_marker: dict[str, set[str]] = {}
        for branch in whens:
            for variable in branch.variables:
                marker = self.translator.domains[variable].biomarker
                if marker is not None:
                    by_marker.setdefault(marker, set()).add(variable)
        return tuple((marker, tuple(sorted(found))) for marker, found in sorted(by_marker.items()) if len(found) > 1)


@frozen
class _GroupShape:
    """A group's findings with its `when` branches as positions (kept across sheets: no items in it)."""

    unreachable: tuple[int, ...]
    overlaps: tuple[tuple[int, int, Region, tuple[str, ...]], ...]
    gaps: tuple[ThresholdGap, ...]
    uncovered: Region
    otherwise_unreachable: bool


_GROUP_MEMO_SIZE = 4096
# Group shapes by what the group says and where it stands (see `_Analyser.shape_key`): the same
# decisions (`when HER2+` / `otherwise`) recur from sheet to sheet. Regions are never mutated.
_GROUP_SHAPES: dict[tuple[object, ...], _GroupShape] = {}


@frozen
class DecisionMark:
    """A finding of the analysis in plain words, for marking a flowchart (renderer)."""

    kind: str  # gap | overlap | uncovered | unreachable
    line: int  # the decision (gap, uncovered) or the branch (overlap, unreachable)
    text: str
    other_line: int | None = None


def decision_marks(protocol: m.Protocol, tables: Tables) -> list[DecisionMark]:
    """Gaps, overlaps, uncovered cases and unreachable branches of every decision, in words.

    `kind` is `gap` (a threshold interval no branch covers, `PD-L1 1–10 %`), `overlap` (two
    branches both apply; `other_line` is the first), `uncovered` (combinations no branch
    covers) or `unreachable`. The same analysis feeds L001–L003.
    """
    found = analyse(protocol, tables)
    marks: list[DecisionMark] = []
    for analysis in found.decisions:
        if not analysis.resolved:
            continue
        line = analysis.anchor.span.line
        marks.extend(DecisionMark("gap", line, gap.describe()) for gap in analysis.threshold_gaps)
        for overlap in analysis.overlaps:
            marks.append(DecisionMark("overlap", overlap.second.item.span.line,
                                      describe_region(overlap.region, found.domains, analysis.variables),
                                      overlap.first.item.span.line))
        if not analysis.uncovered.is_empty():
            marks.append(DecisionMark("uncovered", line,
                                      describe_region(analysis.uncovered, found.domains, analysis.variables)))
    marks.extend(DecisionMark("unreachable", c.item.span.line, "never taken") for c in found.contradictions)
    return marks
