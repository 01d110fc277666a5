"""D: dose — ranges, basis, whole-cycle vs daily, carboplatin cap, cumulative anthracyclines,
dose-dense intervals and loading patterns (renal adjustment, bone-modifying agents and BSA
capping: `checks.dose_context`).

Every number comes from `compiler/data/formulary.yaml` (dose rows, `loading`,
`cumulative`, `calvert`); the arithmetic lives in `compiler.dosing` so the report and the
renderer can show the same computed values, and each dosed phase's rows and verdict are
`checks.dosed`'s. Where a finding rests only on data rows marked `unverified: true`, a
borderline error is reported as a warning and the message says that the reference is
unverified; a gross error stays an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from compiler import dosing
from compiler import model as m
from compiler.arms import other_phase_lines, phase_override
from compiler.checks import Context
from compiler.checks.dosed import (
    GROSS_HARD,
    LibraryLine,
    PhaseDose,
    amount_text,
    compares,
    dose_fix,
    drug_name,
    is_gross,
    laid_out,
    layout,
    library_conditions,
    line_conditions,
    phase_doses,
    products_of,
    rows_unverified,
    softened_severity,
    sources_text,
    statement_of,
    stepped_for_use,
    unverified_note,
    use_words,
    value_text,
)
from compiler.diagnostics import Diagnostic, Fix, Severity, check
from compiler.dosing import plain
from compiler.lazyre import lazy
from compiler.records import frozen
from compiler.source import Span
from compiler.tables import Tables, TablesMemo

FLAT, PER_M2, PER_KG, AUC = "as a flat dose", "per m²", "per kg", "by AUC"
BASIS = {"mg": FLAT, "g": FLAT, "mcg": FLAT, "units": FLAT, "mg/m2": PER_M2, "mg/kg": PER_KG, "mcg/kg": PER_KG,
         "AUC": AUC}

PRIOR_ANTHRACYCLINE = lazy(r"prior.*(anthracycl|antracycl|doxorubicin)|eerder.*(antracycl|doxorubicine)|"
                           r"cumulative.*(anthracycl|doxorubicin)", re.IGNORECASE)


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
            pd.dose.span, f"{drug_name(context, pd.drug_id)} {amount_text(pd.dose)} is above the usual "
                          f"{value_text(high, pd.dose.unit)}{use_words(rows)}{unverified_note(rows_unverified(rows))}",
            f"usual: {usual} ({sources_text(rows)}); correct the dose or acknowledge it with `allow D001 \"…\"`",
            dose_fix(pd, high, f"use the usual {value_text(high, pd.dose.unit)}"))


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
            unverified = rows_unverified(rows)
            times = f" ({plain((pd.high / hard).quantize(Decimal('0.1')))}×)" if gross else ""
            yield dose_above_maximum.at(
                pd.dose.span, f"{drug_name(context, pd.drug_id)} {amount_text(pd.dose)} is above the maximum "
                              f"{value_text(hard, pd.dose.unit)} per administration{times}{unverified_note(unverified, gross)}",
                f"maximum from: {', '.join(r.describe() for r in rows)} ({sources_text(rows)})",
                dose_fix(pd, hard, f"use at most {value_text(hard, pd.dose.unit)}"),
                severity=softened_severity(Severity.ERROR, unverified, gross))
        elif gross and usual is not None:
            rows = tuple(r for r in pd.match.rows if r.usual is not None)
            yield dose_above_maximum.at(
                pd.dose.span, f"{drug_name(context, pd.drug_id)} {amount_text(pd.dose)} is "
                              f"{plain((pd.high / usual).quantize(Decimal('0.1')))}× the usual maximum "
                              f"{value_text(usual, pd.dose.unit)}{unverified_note(rows_unverified(rows), True)}",
                f"usual: {', '.join(r.describe() for r in rows)} ({sources_text(rows)}); a dose five times the usual "
                "maximum is an error whatever the label's hard limit",
                dose_fix(pd, usual, f"use the usual {value_text(usual, pd.dose.unit)}"))
    yield from _gross_for_every_product(context)


def _gross_for_every_product(context: Context) -> Iterator[Diagnostic]:
    """D002 for a line whose name means several products (`denosumab 1200 mg`): gross for each of them."""
    for info in layout(context):
        line = info.line
        if line.drug_id is not None or line.resolved_by != "ambiguous-product":
            continue
        products = products_of(context, line)
        for phase in line.phases:
            dose = phase.dose
            if dose is None or not products:
                continue
            route = phase.route.code if phase.route is not None else (line.route.code if line.route else None)
            schedule = dosing.schedule_of_phase(phase)
            value = (dose.amount_max or dose.amount).value
            matches = [dosing.lookup(dosing.dose_rows(context.tables, p), route, dose.unit, schedule) for p in products]
            if all(x.how != "none" and is_gross(value, x.hard_max, x.usual_high) for x in matches):
                names = " or ".join(drug_name(context, p) for p in products)
                yield dose_above_maximum.at(dose.span, f"{line.name.value} {amount_text(dose)} is a gross overdose for "
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
            pd.dose.span, f"{drug_name(context, pd.drug_id)} {amount_text(pd.dose)} is below the usual "
                          f"{value_text(low, pd.dose.unit)}{use_words(rows)}{unverified_note(rows_unverified(rows))}",
            f"usual: {', '.join(r.describe() for r in rows)} ({sources_text(rows)}); state the intended dose or the reason "
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
        unverified = rows_unverified(by_route)
        yield wrong_dose_basis.at(
            pd.dose.span, f"{drug_name(context, pd.drug_id)} {pd.route or ''} is dosed {' or '.join(sorted(b for b in bases if b))}"
                          f", not {BASIS[pd.dose.unit]}{unverified_note(unverified, True)}".replace("  ", " "),
            f"write the dose in {units} ({sources_text(by_route)})")


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
        unverified = rows_unverified(result.rows)
        yield whole_cycle_as_daily.at(
            pd.dose.span, f"{drug_name(context, pd.drug_id)} {amount_text(pd.dose)}: {result.detail}{unverified_note(unverified, True)}",
            f"write the dose per administration; formulary: {', '.join(r.describe() for r in result.rows)} "
            f"({sources_text(result.rows)})")


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
            pd.dose.span, f"{drug_name(context, pd.drug_id)} {amount_text(pd.dose)} × {per_day} a day = "
                          f"{value_text(total, pd.dose.unit)} a day, above the daily maximum {value_text(limit, pd.dose.unit)}"
                          f"{unverified_note(rows_unverified(rows), True)}",
            f"daily maximum from: {', '.join(r.describe() for r in rows)} ({sources_text(rows)})")


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
            pd.dose.span, f"carboplatin {amount_text(pd.dose)} is above the Calvert cap {plain(cap)} mg for the "
                          f"{how} AUC {plain(auc)} ({formula}){unverified_note(parameters.unverified, pd.high >= cap * GROSS_HARD)}",
            f"write the target AUC (`AUC {plain(auc)}`) and let the pharmacy compute mg with GFR capped at "
            f"{plain(parameters.gfr_cap)} mL/min; or use at most {plain(cap)} mg ({parameters.source})",
            Fix(pd.dose.span, f"AUC {plain(auc)}", f"write AUC {plain(auc)}", safe=False),
            severity=softened_severity(Severity.ERROR, parameters.unverified, pd.high >= cap * GROSS_HARD))


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
        for compare in compares(condition):
            if PRIOR_ANTHRACYCLINE.search(compare.variable) and compare.number is not None \
                    and compare.op in ("<", "<=", "≤"):
                return compare.number.value
    return None


def _regimen_children_conditions(regimen: m.RegimenLine) -> list[m.Condition]:
    return [c.condition for c in (statement_of(x) for x in regimen.children) if isinstance(c, (m.OnlyWhen, m.When))]


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
        prior = _prior(line_conditions(first.info))
        yield ArmExposure(first.info.line.span, "this arm", tuple(planned), tuple(unplanned),
                          frozenset(line.drug_id for line in first.info.arm if line.drug_id), prior or Decimal(0),
                          prior is not None)
    for written, phase, levels in _library_regimen_lines(context):
        if not dosing.regimen_has_cumulative(tables, written.regimen_id or ""):
            continue  # no anthracycline in it (most regimens): nothing below would be planned
        entry = tables.regimens.get(written.regimen_id or "")
        if not entry or any(isinstance(statement_of(c), m.DrugLine) for c in written.children):
            continue
        # lang-b: a library regimen in a phase takes the phase's count
        info_regimen = phase_override(written, phase) if phase is not None else written
        exposures, open_ended, drug_ids = _library_exposures(tables, info_regimen.regimen_id or "", info_regimen.cycles)
        if exposures or open_ended:
            prior = _prior(library_conditions(levels) + _regimen_children_conditions(info_regimen))
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


def _library_regimen_lines(context: Context) -> list[LibraryLine]:
    """Each library regimen line with the phase it is written in (if any) and the conditions around it."""
    if not any(isinstance(item, m.RegimenLine) and item.regimen_id is not None for item in context.of_type(m.RegimenLine)):
        return []  # no library regimen: no need to walk the sheet for the conditions around one
    return laid_out(context.protocol)[2]


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
            name = drug_name(context, limit.drug_id)
            yield anthracycline_cumulative_dose.at(
                arm.span, f"{name} {plain(dose)} mg/m² without a planned number of cycles: the lifetime limit "
                          f"{plain(cap)} mg/m² is reached at cycle {cycles}{prior_text}{unverified_note(limit.unverified)}",
                "state the number of cycles (`6 cycles`) or a maximum cumulative dose in the protocol",
                severity=Severity.WARNING)
        if not arm.exposures or arm.unplanned:
            continue
        reduced = any(x in arm.drug_ids for e in arm.exposures for x in e.limit.reduced_with)
        result = dosing.anthracycline_total(arm.exposures, arm.prior, reduced, doxorubicin)
        if result.limit is None or result.fraction is None or result.fraction < Decimal("0.8"):
            continue
        parts = " + ".join(f"{drug_name(context, e.limit.drug_id)} {plain(e.per_administration)} mg/m² × "
                           f"{e.administrations_per_cycle * e.cycles} × {plain(e.limit.factor)}" for e in result.exposures)
        above = result.total > result.limit
        percent = (result.fraction * 100).quantize(Decimal(1))
        reducers = sorted({x for e in result.exposures for x in e.limit.reduced_with} & arm.drug_ids)
        reduced_text = f" (reduced: with {', '.join(reducers)})" if reduced else ""
        message = (f"planned cumulative anthracycline dose {plain(result.total.quantize(Decimal('0.1')))} mg/m² "
                   f"doxorubicin-equivalents ({parts}) is {percent} % of the limit {plain(result.limit)} mg/m²"
                   f"{reduced_text}{prior_text}{unverified_note(result.unverified, True if above else None)}")
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
        unverified = rows_unverified(result.rows)
        yield dose_dense.at(
            pd.dose.span, f"{drug_name(context, pd.drug_id)} {amount_text(pd.dose)}: {result.detail}{unverified_note(unverified, False)}",
            f"give the usual interval ({', '.join(r.describe() for r in result.rows)}) or justify it with "
            "`allow D012 \"…\"` under the line", severity=softened_severity(Severity.ERROR, unverified))


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
            if stepped_for_use(line) or line.as_needed is not None:
                continue  # a first dose then smaller doses as needed is the symptom schedule (loperamide 4 → 2 mg)
            if len(dosed) > 1 and dosed[0].dose is not None and dosed[1].dose is not None \
                    and dosed[0].dose.unit == dosed[1].dose.unit and dosed[0].dose.amount.value > dosed[1].dose.amount.value:
                yield loading_pattern.at(dosed[0].dose.span, f"{drug_name(context, line.drug_id)} has no loading dose: "
                                         f"{amount_text(dosed[0].dose)} then {amount_text(dosed[1].dose)}",
                                         f"give the fixed dose throughout ({entry.get('source') or 'SmPC'})")
            continue
        if not dosed:
            continue
        name = drug_name(context, line.drug_id)
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
                    first.dose.span, f"{name} {amount_text(first.dose)} without the loading dose "
                                     f"{plain(dosing.dec(pattern['dose']))} {unit}",
                    f"write `{plain(dosing.dec(pattern['dose']))} {unit} … then {amount_text(first.dose)} …`; "
                    f"for continuing treatment acknowledge with `allow D020 \"…\"` ({entry.get('source') or 'SmPC'})")
            continue
        second = dosed[1]
        assert second.dose is not None
        if second.dose.unit != unit:
            continue
        later = second.dose.amount.value
        if later > value:
            yield loading_pattern.at(second.dose.span, f"{name} maintenance {amount_text(second.dose)} is above the "
                                     f"loading dose {amount_text(first.dose)}",
                                     f"loading → maintenance: {_describe_patterns(patterns, unit)}")
            continue
        expected = [p for p in patterns if p.get("then") is not None and dosing.dec(p["then"]) == later]
        if expected and all(dosing.dec(p["dose"]) != value for p in expected):
            yield loading_pattern.at(first.dose.span, f"{name} loading dose {amount_text(first.dose)} does not fit the "
                                     f"maintenance {amount_text(second.dose)}",
                                     f"loading → maintenance: {_describe_patterns(patterns, unit)}")


def _describe_patterns(patterns: Sequence[dict[str, Any]], unit: str) -> str:
    return "; ".join(f"{plain(dosing.dec(p['dose']))} → {plain(dosing.dec(p['then']))} {unit} {p.get('interval') or ''}".strip()
                     for p in patterns if p.get("then") is not None)
