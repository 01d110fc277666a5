"""Property tests for the exact arithmetic behind the L and R checks.

- fractionation: n × d consistency with rounding (R001);
- radiobiology: BED/EQD2 identities (R003);
- intervals and regions: gap and overlap sets are disjoint, branches + gaps cover the
  domain, intersection is symmetric, and the thresholds module agrees with brute-force
  evaluation of the same conditions over a grid of values (L001–L003).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import model as m
from compiler.radiobiology import bed, eqd2, exact, total_consistent
from compiler.source import Span
from compiler.tables import load
from compiler.thresholds import Interval, IntervalSet, Translator, analyse

SPAN = Span("test.protocol", 1, 1, 1, 2)
TABLES = load()
TRANSLATOR = Translator(TABLES)
ALGEBRA = TRANSLATOR.algebra

# ---------------------------------------------------------------- fractionation and radiobiology

doses = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("34"), places=2)
counts = st.integers(min_value=1, max_value=40)
alpha_betas = st.sampled_from([Decimal(x) for x in ("2", "3", "3.5", "10", "0.87")])


@given(counts, doses)
def test_exact_product_is_consistent(n: int, d: Decimal) -> None:
    assert total_consistent(Decimal(n), d, Decimal(n) * d)


@given(counts, doses, st.decimals(min_value=Decimal("0.01"), max_value=Decimal("20"), places=2), st.booleans())
def test_wrong_total_is_not_consistent(n: int, d: Decimal, error: Decimal, above: bool) -> None:
    # d written with 2 decimals may be off by 0.005 Gy per fraction, so by n × 0.005 Gy in total
    if error > Decimal(n) * Decimal("0.005"):
        total = Decimal(n) * d + (error if above else -error)
        assert not total_consistent(Decimal(n), d, total)
    whole = d.to_integral_value()
    if whole > 0:  # a whole number of Gy per fraction is exact
        assert not total_consistent(Decimal(n), whole, Decimal(n) * whole + error)


@given(counts, st.integers(min_value=1, max_value=90))
def test_rounded_dose_per_fraction_matches_its_total(n: int, total: int) -> None:
    d = (Decimal(total) / Decimal(n)).quantize(Decimal("0.01"))
    if d > 0:
        assert total_consistent(Decimal(n), d, Decimal(total))


def test_known_schemes() -> None:
    assert total_consistent(Decimal(15), Decimal("2.67"), Decimal(40))
    assert total_consistent(Decimal(8), Decimal("7.5"), Decimal(60))
    assert not total_consistent(Decimal(5), Decimal(4), Decimal(25))
    assert eqd2(Fraction(5), Fraction(4), Fraction(10)) == Fraction(70, 3)  # 23.33 Gy
    assert bed(Fraction(5), Fraction(4), Fraction(10)) == 28


@given(counts, doses, alpha_betas)
def test_eqd2_is_bed_over_relative_effectiveness_of_2_gy(n: int, d: Decimal, ab: Decimal) -> None:
    n_, d_, ab_ = Fraction(n), exact(d), exact(ab)
    assert eqd2(n_, d_, ab_) == bed(n_, d_, ab_) / (1 + 2 / ab_)
    assert bed(n_, d_, ab_) > n_ * d_


@given(counts, alpha_betas)
def test_eqd2_of_2_gy_fractions_is_the_physical_dose(n: int, ab: Decimal) -> None:
    assert eqd2(Fraction(n), Fraction(2), exact(ab)) == 2 * n


@given(counts, doses, doses, alpha_betas)
def test_eqd2_grows_with_dose_per_fraction(n: int, d1: Decimal, d2: Decimal, ab: Decimal) -> None:
    low, high = sorted((exact(d1), exact(d2)))
    assert eqd2(Fraction(n), low, exact(ab)) <= eqd2(Fraction(n), high, exact(ab))


# ---------------------------------------------------------------- intervals

points = st.integers(min_value=0, max_value=20).map(lambda k: Decimal(k) * 5)  # 0, 5, …, 100
GRID = [Decimal(k) / 4 for k in range(0, 401)]  # 0 to 100 by 0.25: between and on every bound


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    a, b = sorted((draw(points), draw(points)))
    return Interval(a, draw(st.booleans()), b, draw(st.booleans()))


interval_sets = st.lists(intervals(), max_size=4).map(IntervalSet.of)
DOMAIN = IntervalSet.of([Interval(Decimal(0), True, Decimal(100), True)])


@given(interval_sets, interval_sets)
def test_interval_set_operations_agree_with_membership(a: IntervalSet, b: IntervalSet) -> None:
    union, meet, diff = a.union(b), a.intersection(b), a.difference(b)
    for x in GRID:
        assert union.contains(x) == (a.contains(x) or b.contains(x))
        assert meet.contains(x) == (a.contains(x) and b.contains(x))
        assert diff.contains(x) == (a.contains(x) and not b.contains(x))
    assert meet == b.intersection(a)
    assert diff.intersection(b).is_empty()
    assert diff.union(meet) == a


@given(interval_sets)
def test_complement_partitions_the_domain(a: IntervalSet) -> None:
    inside = DOMAIN.intersection(a)
    outside = DOMAIN.difference(a)
    assert inside.intersection(outside).is_empty()
    assert inside.union(outside) == DOMAIN


@given(st.lists(intervals(), max_size=4))
def test_integer_sets_hold_integers_only(parts: list[Interval]) -> None:
    integer = IntervalSet.of(parts, integer=True)
    real = IntervalSet.of(parts)
    for k in range(0, 101):
        assert integer.contains(Decimal(k)) == real.contains(Decimal(k))
    assert not integer.contains(Decimal("2.5"))


# ---------------------------------------------------------------- conditions: regions vs brute force

OPS = ["<", "<=", ">", ">=", "=", "!="]
TPS_VALUES = [Decimal(x) for x in ("0", "1", "10", "49.5", "50", "100")]
LINES = [Decimal(x) for x in range(1, 11)]
HER2 = ["positive", "negative", "low", "ultralow"]
HISTOLOGY = ["squamous", "non-squamous", "adenocarcinoma", "small-cell"]


def number(value: Decimal) -> m.Number:
    return m.Number(value, str(value), SPAN)


@st.composite
def atoms(draw: st.DrawFn) -> m.Condition:
    kind = draw(st.sampled_from(["tps", "line", "her2", "histology", "flag"]))
    if kind == "tps":
        return m.Compare(SPAN, "PD-L1 TPS", SPAN, draw(st.sampled_from(OPS)), number(draw(st.sampled_from(TPS_VALUES))),
                         True, None)
    if kind == "line":
        return m.Compare(SPAN, "line", SPAN, draw(st.sampled_from(OPS)), number(draw(st.sampled_from(LINES))),
                         False, None)
    if kind == "her2":
        return m.Compare(SPAN, "HER2", SPAN, draw(st.sampled_from(["=", "!="])), None, False,
                         draw(st.sampled_from(HER2)))
    if kind == "histology":
        return m.Compare(SPAN, "histology", SPAN, "=", None, False, draw(st.sampled_from(HISTOLOGY)))
    return m.Flag(SPAN, draw(st.sampled_from(["HER2+", "HER2-", "squamous", "non-squamous", "HER2-low"])))


conditions = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        inner.map(lambda c: m.Not(SPAN, c)),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: m.All(SPAN, tuple(cs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: m.Any_(SPAN, tuple(cs))),
    ),
    max_leaves=6,
)

CASES = [
    {"PD-L1 TPS": tps, "line": line, "HER2": her2, "histology": histology}
    for tps in [Decimal(x) for x in ("0", "0.5", "1", "5", "10", "30", "49.5", "49.75", "50", "75", "100")]
    for line in (Decimal(1), Decimal(2), Decimal(5), Decimal(10))
    for her2 in HER2
    for histology in HISTOLOGY
]


def includes(variable: str, value: str) -> set[str]:
    return set(TRANSLATOR.domains[variable].expand(value))


def holds(condition: m.Condition, case: dict[str, Decimal | str]) -> bool:
    """Brute-force meaning of a condition for one concrete case."""
    if isinstance(condition, m.Not):
        return not holds(condition.operand, case)
    if isinstance(condition, m.All):
        return all(holds(c, case) for c in condition.operands)
    if isinstance(condition, m.Any_):
        return any(holds(c, case) for c in condition.operands)
    if isinstance(condition, m.Flag):
        meaning = {"HER2+": ("HER2", "positive"), "HER2-": ("HER2", "negative"), "HER2-low": ("HER2", "low"),
                   "squamous": ("histology", "squamous"), "non-squamous": ("histology", "non-squamous")}
        variable, value = meaning[condition.words]
        return case[variable] in includes(variable, value)
    assert isinstance(condition, m.Compare)
    variable = "PD-L1 TPS" if condition.variable == "PD-L1 TPS" else condition.variable
    actual = case[variable]
    if condition.word is not None:
        inside = actual in includes(variable, condition.word)
        return inside if condition.op == "=" else not inside
    assert condition.number is not None and isinstance(actual, Decimal)
    x, v = actual, condition.number.value
    return {"<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v, "=": x == v, "!=": x != v}[condition.op]


@settings(max_examples=150, deadline=None)
@given(conditions)
def test_regions_agree_with_brute_force(condition: m.Condition) -> None:
    region = TRANSLATOR.region(condition)
    complement = ALGEBRA.complement(region)
    for case in CASES:
        expected = holds(condition, case)
        assert ALGEBRA.member(region, case) == expected
        assert ALGEBRA.member(complement, case) == (not expected)


# ---------------------------------------------------------------- sibling branches: gaps and overlaps


def protocol_with(*branch_conditions: m.Condition) -> m.Protocol:
    whens = tuple(m.When(Span("t", i + 2, 1, i + 2, 5), (), c) for i, c in enumerate(branch_conditions))
    decision = m.Decision(Span("t", 1, 1, 1, 5), whens, None)
    section = m.Section("s", False, "S", "1", 1, SPAN, (decision,), ())
    return m.Protocol("t", "", m.Metadata(), (), (section,))


@st.composite
def tps_branch(draw: st.DrawFn) -> m.Condition:
    low, high = sorted((draw(st.sampled_from(TPS_VALUES)), draw(st.sampled_from(TPS_VALUES))))
    first = m.Compare(SPAN, "PD-L1 TPS", SPAN, draw(st.sampled_from([">", ">="])), number(low), True, None)
    second = m.Compare(SPAN, "PD-L1 TPS", SPAN, draw(st.sampled_from(["<", "<="])), number(high), True, None)
    return draw(st.sampled_from([first, second, m.All(SPAN, (first, second))]))


TPS_GRID = [{"PD-L1 TPS": x} for x in GRID]


@settings(max_examples=150, deadline=None)
@given(st.lists(tps_branch(), min_size=2, max_size=4))
def test_threshold_gaps_and_overlaps_agree_with_brute_force(branches: list[m.Condition]) -> None:
    (analysis,) = analyse(protocol_with(*branches), TABLES).decisions
    gap = analysis.threshold_gaps[0].uncovered if analysis.threshold_gaps else IntervalSet((), False)
    overlap = ALGEBRA.union(*(o.region for o in analysis.overlaps))
    union = ALGEBRA.union(*(TRANSLATOR.region(c) for c in branches))
    for case in TPS_GRID:
        x = case["PD-L1 TPS"]
        assert isinstance(x, Decimal)
        taken = sum(1 for c in branches if holds(c, case))
        assert gap.contains(x) == (taken == 0)  # a value is in the gap iff no branch takes it
        assert ALGEBRA.member(overlap, case) == (taken >= 2)  # in an overlap iff two branches do
        assert not (gap.contains(x) and ALGEBRA.member(union, case))  # gaps and branches are disjoint
        assert gap.contains(x) or ALGEBRA.member(union, case)  # together they cover the domain
    for o in analysis.overlaps:  # overlap is symmetric
        assert o.region == ALGEBRA.intersect(TRANSLATOR.region(o.second.condition),  # type: ignore[arg-type]
                                             TRANSLATOR.region(o.first.condition))  # type: ignore[arg-type]


def test_seed_002_gap_is_named() -> None:
    below = m.Compare(SPAN, "PD-L1", SPAN, "<", number(Decimal(1)), True, None)
    above = m.Compare(SPAN, "PD-L1", SPAN, ">", number(Decimal(10)), True, None)
    (analysis,) = analyse(protocol_with(below, above), TABLES).decisions
    assert [g.describe() for g in analysis.threshold_gaps] == ["PD-L1 1–10 %"]
    assert not analysis.overlaps


def test_different_scores_are_different_variables() -> None:
    tps = m.Compare(SPAN, "PD-L1 TPS", SPAN, ">=", number(Decimal(50)), True, None)
    cps = m.Compare(SPAN, "PD-L1 CPS", SPAN, ">=", number(Decimal(10)), False, None)
    (analysis,) = analyse(protocol_with(tps, cps), TABLES).decisions
    assert not analysis.threshold_gaps
    assert analysis.mixed_scores == (("PD-L1", ("PD-L1 CPS", "PD-L1 TPS")),)
