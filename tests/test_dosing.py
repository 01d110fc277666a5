"""Properties of the dose arithmetic in compiler.dosing (hypothesis), plus worked examples."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from compiler import dosing
from compiler.dosing import Schedule
from compiler.tables import load

TABLES = load()
CALVERT = dosing.calvert_parameters(TABLES)
assert CALVERT is not None

aucs = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(10), places=1)
gfrs = st.decimals(min_value=Decimal(0), max_value=Decimal(250), places=1)
doses = st.decimals(min_value=Decimal(0), max_value=Decimal(2000), places=2)
factors = st.decimals(min_value=Decimal("0.1"), max_value=Decimal(20), places=2)


def test_calvert_worked_examples() -> None:
    assert CALVERT is not None
    assert dosing.calvert_cap(Decimal(5), CALVERT) == Decimal(750)
    assert dosing.calvert_cap(Decimal(6), CALVERT) == Decimal(900)
    assert dosing.calvert_dose(Decimal(5), Decimal(90), CALVERT) == Decimal(575)


@given(aucs, aucs, gfrs)
def test_calvert_monotone_in_auc(a: Decimal, b: Decimal, gfr: Decimal) -> None:
    assert CALVERT is not None
    low, high = sorted((a, b))
    assert dosing.calvert_dose(low, gfr, CALVERT) <= dosing.calvert_dose(high, gfr, CALVERT)


@given(aucs, gfrs)
def test_calvert_capped_at_auc_times_150(auc: Decimal, gfr: Decimal) -> None:
    assert CALVERT is not None
    assert dosing.calvert_dose(auc, gfr, CALVERT) <= auc * 150
    assert dosing.calvert_cap(auc, CALVERT) == auc * 150


@given(aucs, gfrs, gfrs)
def test_calvert_monotone_in_gfr(auc: Decimal, a: Decimal, b: Decimal) -> None:
    assert CALVERT is not None
    low, high = sorted((a, b))
    assert dosing.calvert_dose(auc, low, CALVERT) <= dosing.calvert_dose(auc, high, CALVERT)


@given(doses, doses, factors)
def test_doxorubicin_equivalents_linear(a: Decimal, b: Decimal, factor: Decimal) -> None:
    assert dosing.doxorubicin_equivalent(a + b, factor) == (dosing.doxorubicin_equivalent(a, factor)
                                                            + dosing.doxorubicin_equivalent(b, factor))
    assert dosing.doxorubicin_equivalent(a, Decimal(1)) == a


@given(doses, st.integers(1, 28), st.integers(1, 40))
def test_cumulative_dose_is_a_product(dose: Decimal, per_cycle: int, cycles: int) -> None:
    assert dosing.cumulative_dose(dose, per_cycle, cycles) == dose * per_cycle * cycles
    assert dosing.cumulative_dose(dose, per_cycle, cycles + 1) >= dosing.cumulative_dose(dose, per_cycle, cycles)


def test_epirubicin_factor_and_limit_from_data() -> None:
    epirubicin = dosing.cumulative_limit(TABLES, "epirubicin")
    doxorubicin = dosing.cumulative_limit(TABLES, "doxorubicin")
    assert epirubicin is not None and doxorubicin is not None
    exposure = dosing.Exposure(epirubicin, Decimal(90), 1, 6)
    result = dosing.anthracycline_total([exposure], Decimal(0), False, doxorubicin)
    assert result.total == Decimal(540) * epirubicin.factor
    assert result.limit == epirubicin.limit_in_doxorubicin_equivalents(False)
    with_prior = dosing.anthracycline_total([exposure], Decimal(100), False, doxorubicin)
    assert with_prior.total == result.total + 100
    assert with_prior.limit is not None and result.limit is not None and with_prior.limit <= result.limit


@given(doses, st.integers(1, 30))
def test_cycles_to_reach_is_the_first_cycle_at_the_limit(per_cycle: Decimal, limit_units: int) -> None:
    if per_cycle <= 0:
        return
    limit = Decimal(limit_units * 10)
    cycles = dosing.cycles_to_reach(limit, per_cycle)
    assert cycles is not None
    assert per_cycle * cycles >= limit
    assert per_cycle * (cycles - 1) < limit


# ---------------------------------------------------------------- schedules and range look-up


def test_parse_frequency_data_conventions() -> None:
    (three_weekly,) = dosing.parse_frequency("q3w")
    assert three_weekly.spacing == (21, 21)
    (cdk,) = dosing.parse_frequency("days 1-21 q28d")
    assert cdk.is_daily and cdk.days == tuple(range(1, 22)) and cdk.cycle_days == (28, 28)
    (cape,) = dosing.parse_frequency("twice daily, days 1-14 q21d")
    assert cape.per_day == 2 and cape.administrations_per_cycle() == 28
    (gem,) = dosing.parse_frequency("days 1,8 q21d")
    assert gem.spacing == (7, 7) and gem.administrations_per_cycle() == 2
    weekly, days = dosing.parse_frequency("weekly or days 1,8 q21d")
    assert weekly.spacing == (7, 7) and days.days == (1, 8)
    loading, monthly = dosing.parse_frequency("days 1, 15, 29, then q4w")
    assert loading.spacing == (14, 14) and monthly.spacing == (28, 28)
    (zol,) = dosing.parse_frequency("q3w-q4w")
    assert zol.spacing == (21, 28)
    (half_year,) = dosing.parse_frequency("q6mo")
    assert half_year.spacing is not None and half_year.spacing[0] >= 168
    assert not dosing.parse_frequency("once per cycle")[0].known


ROUTES = sorted({str(r.route) for d in TABLES.drugs for r in dosing.dose_rows(TABLES, d)})
UNITS = sorted({str(r.unit) for d in TABLES.drugs for r in dosing.dose_rows(TABLES, d)})
DRUGS = sorted(d for d in TABLES.drugs if dosing.dose_rows(TABLES, d))
schedules = st.builds(
    Schedule,
    st.one_of(st.none(), st.integers(1, 3)),
    st.one_of(st.none(), st.tuples(st.integers(1, 60), st.integers(0, 30)).map(lambda t: (t[0], t[0] + t[1]))),
)


@given(st.sampled_from(DRUGS), st.one_of(st.none(), st.sampled_from(ROUTES)), st.sampled_from(UNITS), schedules)
def test_lookup_never_matches_another_unit_or_route(drug: str, route: str | None, unit: str,
                                                    schedule: Schedule) -> None:
    match = dosing.lookup(dosing.dose_rows(TABLES, drug), route, unit, schedule)
    for row in match.rows:
        assert row.unit == unit
        assert route is None or row.route == route
    if match.how == "none":
        assert not match.rows


@given(st.sampled_from(DRUGS), schedules)
def test_lookup_rows_are_compatible_unless_unmatched(drug: str, schedule: Schedule) -> None:
    for row in dosing.dose_rows(TABLES, drug):
        match = dosing.lookup(dosing.dose_rows(TABLES, drug), row.route, row.unit, schedule)
        assert match.how in ("exact", "schedule", "any", "unmatched")
        if match.how == "schedule":
            assert all(any(dosing.compatible(schedule, s) for s in r.schedules) for r in match.rows)


def test_lookup_prefers_the_schedule() -> None:
    rows = dosing.dose_rows(TABLES, "paclitaxel")
    weekly = dosing.lookup(rows, "IV", "mg/m2", Schedule(1, (7, 7)))
    assert weekly.how == "schedule" and weekly.usual_high is not None and weekly.usual_high < 175
    three_weekly = dosing.lookup(rows, "IV", "mg/m2", Schedule(1, (21, 21)))
    assert three_weekly.within_usual(Decimal(175)) and not three_weekly.within_usual(Decimal(80))


def test_renal_band_placement() -> None:
    table = dosing.renal_table(TABLES, "zoledronic_acid")
    assert table is not None
    bands = table[0]

    def dose(low: int | None, high: int | None) -> Decimal | None:
        band = dosing.renal_band(bands, None if low is None else Decimal(low), None if high is None else Decimal(high))
        assert band is not None
        return band.dose

    assert dose(60, None) == Decimal(4)
    assert dose(50, 60) == Decimal("3.5")
    assert dose(40, 50) == Decimal("3.3")
    assert dose(30, 40) == Decimal(3)
    assert dose(None, 30) is None


def test_per_product_reads_follow_the_tables_object() -> None:
    """Renal tables, Calvert parameters and a regimen's anthracyclines are read once per tables object: a
    hospital's overrides (another object) never see another's answers."""
    import dataclasses

    tables = load()
    assert dosing.renal_table(tables, "zoledronic_acid") is not None
    assert dosing.calvert_parameters(tables) is not None
    drugs = dict(tables.drugs)
    drugs["zoledronic_acid"] = {k: v for k, v in drugs["zoledronic_acid"].items() if k != "renal_adjustment"}
    drugs["carboplatin"] = {k: v for k, v in drugs["carboplatin"].items() if k != "calvert"}
    other = dataclasses.replace(tables, drugs=drugs)
    assert dosing.renal_table(other, "zoledronic_acid") is None
    assert dosing.calvert_parameters(other) is None
    assert dosing.renal_table(tables, "zoledronic_acid") is not None  # asked again of the first: read again
    with_anthracycline = [r for r in tables.regimens if dosing.regimen_has_cumulative(tables, r)]
    assert with_anthracycline
    drugs = {d: {k: v for k, v in e.items() if k != "cumulative"} for d, e in tables.drugs.items()}
    bare = dataclasses.replace(tables, drugs=drugs)
    assert not any(dosing.regimen_has_cumulative(bare, r) for r in with_anthracycline)


def test_spacing_of_days_is_remembered_with_the_same_answer() -> None:
    """The smallest gap between the days, remembered per days tuple, is the gap computed afresh."""
    from compiler import dosing

    for days, cycle in (((1, 8), (21, 21)), ((8, 1, 1), None), ((1,), (28, 28)), ((), None), ((1, 15, 29), None),
                        ((-7, 1), (21, 21)), (tuple(range(1, 22)), (28, 28))):
        dosing._GAPS.clear()
        first = dosing._spacing_of_days(days, cycle)
        again = dosing._spacing_of_days(days, cycle)
        ordered = sorted(set(days))
        gaps = [later - earlier for earlier, later in zip(ordered, ordered[1:], strict=False)]  # noqa: RUF007
        expected = (min(gaps), min(gaps)) if gaps else cycle
        assert first == again == expected, days
