"""R: radiotherapy — fractionation arithmetic, dose per fraction, plausible schemes, the spinal
cord's limit, courses in parts and sites (R001-R008). Simultaneous integrated boosts and
organ-at-risk constraints (R009-R012) are `checks.radiotherapy_sib_oar`.

Every number (limits, schemes, α/β, organ limits) comes from compiler/data/rt_schemes.yaml
and compiler/data/oar_limits.yaml; the arithmetic is exact (compiler/radiobiology.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from compiler import model as m
from compiler.checks import Context
from compiler.diagnostics import Diagnostic, Severity, check
from compiler.radiobiology import (
    computable,
    course_parts,
    course_values,
    eqd2,
    exact,
    is_stereotactic,
    limits,
    shown,
    sib_values,
    sib_views,
    site_info,
    total_consistent,
    values_of,
)
from compiler.records import IdentityMemo
from compiler.tables import Tables, TablesMemo


def fractionations(context: Context) -> tuple[m.Fractionation, ...]:
    """Every `rt` line; a course in parts (`25 x 2 Gy + 5 x 2 Gy boost`) as one view per part, and
    (rt14) each simultaneous integrated boost as a view of its own (`sib_part` set).
    """
    return context.shared(_fractionations)


def _fractionations(context: Context) -> tuple[m.Fractionation, ...]:
    out: list[m.Fractionation] = []
    for item in _rt_lines(context):
        out.extend(course_parts(item) if len(item.parts) > 1 else (item,))
        out.extend(sib_views(item))
    return tuple(out)


def _rt_lines(context: Context) -> tuple[m.Fractionation, ...]:
    """Every `rt` line as written (found once per check run: each R rule reads them)."""
    return context.shared(_find_rt_lines)


def _find_rt_lines(context: Context) -> tuple[m.Fractionation, ...]:
    return tuple(item for item in context.of_type(m.Fractionation) if isinstance(item, m.Fractionation))


_SCHEMES: list[tuple[Tables, list[tuple[Mapping[str, Any], Fraction, Fraction]]]] = []


def _schemes(context: Context) -> list[tuple[Mapping[str, Any], Fraction, Fraction]]:
    """The schemes of rt_schemes.yaml with their fractions and dose per fraction as exact numbers
    (computed once per tables object).
    """
    tables = context.tables
    if not _SCHEMES or _SCHEMES[0][0] is not tables:
        _SCHEMES[:] = [(tables, [(s, exact(str(s["fractions"])), exact(str(s["dose_per_fraction_gy"])))
                                 for s in tables.rt_schemes.get("schemes") or []])]
    return _SCHEMES[0][1]


def gy_text(value: Fraction | Decimal) -> str:
    """A dose in Gy as the messages write it (at most two decimals, exact)."""
    return shown(value if isinstance(value, Fraction) else exact(value), 2)


def _scheme(item: m.Fractionation) -> str:
    n = item.fractions.text if item.fractions else "?"
    d = item.dose_per_fraction.text if item.dose_per_fraction else "?"
    return f"{n} × {d} Gy"


def _highest(item: m.Fractionation) -> tuple[Fraction | None, Fraction | None, Fraction | None]:
    """Highest fractions, dose per fraction and total a line allows (ranges: their upper ends)."""
    # Several rules ask for every line: the exact numbers are made once per line.
    return _HIGHEST.answer((item,), lambda: _highest_of(item))


_HIGHEST: IdentityMemo[tuple[Fraction | None, Fraction | None, Fraction | None]] = IdentityMemo(256)


def _highest_of(item: m.Fractionation) -> tuple[Fraction | None, Fraction | None, Fraction | None]:
    n = item.fractions_max or item.fractions
    d = item.dose_per_fraction_max or item.dose_per_fraction
    n_value = exact(n.value) if n else None
    d_value = exact(d.value) if d else None
    if item.total is not None:
        total: Fraction | None = exact(item.total.value)
    else:
        total = n_value * d_value if n_value is not None and d_value is not None else None
    return n_value, d_value, total


@check("R001", "fraction-arithmetic", Severity.ERROR, "n × d differs from the stated total, or n or d not positive")
def fraction_arithmetic(context: Context) -> Iterator[Diagnostic]:
    """What it checks: in `rt n x d Gy = total Gy`, the number of fractions times the dose
    per fraction equals the stated total; the fraction count is a positive whole number;
    the dose per fraction and the total are positive. A dose per fraction written with k
    decimals stands for any value within ±½·10⁻ᵏ Gy, so the rounded schemes clinicians
    write hold: 15 × 2,67 Gy = 40 Gy (40/15 = 2,666… Gy) passes, 5 × 4 Gy = 25 Gy does not.
    With ranges (`8-10 x 3 Gy = 24-30 Gy`) the total must lie within the range's products.
    A simultaneous integrated boost (`SIB 15 x 3,2 Gy = 48 Gy`) is checked the same way.
    The arithmetic is exact (Decimal/Fraction), never floating point.

    Why it matters: a total that does not match its fractions means one of the numbers is
    wrong, and nobody can tell which one the radiotherapist will plan.

    Example: `rt 5 x 4 Gy = 25 Gy`

    Use instead: `rt 5 x 4 Gy = 20 Gy` (or `rt 5 x 5 Gy = 25 Gy`)

    Source: RULES.md R001; START B (40 Gy in 15 fractions, 2,67 Gy written for 2,666… Gy).
    """
    for item in fractionations(context):
        for number in (item.fractions, item.fractions_max):
            if number is None:
                continue
            if number.value <= 0 or number.value != number.value.to_integral_value():
                yield fraction_arithmetic.at(number.span, f"fraction count {number.text} is not a positive whole number",
                                             "write the number of fractions, e.g. `5 x 4 Gy`")
        for number in (item.dose_per_fraction, item.dose_per_fraction_max, item.total):
            if number is not None and number.value <= 0:
                yield fraction_arithmetic.at(number.span, f"dose {number.text} Gy is not positive",
                                             "write the dose in Gy, greater than 0")
        n, d, total = item.fractions, item.dose_per_fraction, item.total
        if n is None or d is None or total is None or n.value <= 0 or d.value <= 0 or total.value <= 0:
            continue
        n_max = item.fractions_max or n
        d_max = item.dose_per_fraction_max or d
        if item.fractions_max is None and item.dose_per_fraction_max is None:
            holds = total_consistent(n.value, d.value, total.value)
        else:
            holds = (total_consistent(n.value, d.value, total.value) or total_consistent(n_max.value, d_max.value,
                                                                                          total.value)
                     or exact(n.value) * exact(d.value) <= exact(total.value) <= exact(n_max.value) * exact(d_max.value))
        if not holds:
            product = exact(n_max.value) * exact(d_max.value)  # n_max, d_max: n and d when no range is written
            yield fraction_arithmetic.at(total.span, f"{_scheme(item)} is {gy_text(product)} Gy, not {total.text} Gy",
                                         "correct the total or the fractionation")


def _accepted(n: Fraction, d: Fraction, context: Context) -> bool:
    return any(scheme.get("high_dose_per_fraction_accepted") and fractions == n and dose == d
               for scheme, fractions, dose in _schemes(context))


@check("R002", "high-dose-per-fraction", Severity.WARNING, "dose per fraction above 8 Gy outside a stereotactic technique")
def high_dose_per_fraction(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a dose per fraction above 8 Gy (rt_schemes.yaml
    `limits.conventional_max_dose_per_fraction_gy`) is written with a stereotactic technique
    (`technique SRS`, `SRT`, `SBRT`, `SABR`), unless the scheme is on the allow-list of
    accepted palliative schemes (`high_dose_per_fraction_accepted` in rt_schemes.yaml:
    17 Gy in 2 × 8,5 Gy a week apart and 10 Gy × 1 for chest palliation). A warning, not an
    error: such schemes are standard when delivered stereotactically.

    Why it matters: more than 8 Gy per fraction with a conventional technique risks severe
    late toxicity; a sheet that lists `4 x 12 Gy` without saying it is SBRT invites the
    wrong technique.

    Example: `rt 4 x 12 Gy site long`

    Use instead: `rt 4 x 12 Gy = 48 Gy site long, technique SBRT`

    Source: RULES.md R002; NCCN NSCLC, Principles of Radiation Therapy (palliative 17 Gy/2,
    10 Gy/1; SABR schemes); seed 002 (lung schemes without technique).
    """
    ceiling = limits(context.tables).get("conventional_max_dose_per_fraction_gy")
    if ceiling is None:
        return
    limit = exact(str(ceiling))
    for item in fractionations(context):
        n, d, _ = _highest(item)
        if d is None or d <= limit or is_stereotactic(item, context.tables):
            continue
        if n is not None and _accepted(n, d, context):
            continue
        number = item.dose_per_fraction_max or item.dose_per_fraction
        assert number is not None
        yield high_dose_per_fraction.at(number.span,
                                        f"{gy_text(d)} Gy per fraction (> {gy_text(limit)} Gy) without a stereotactic technique",
                                        "state the technique (`technique SBRT`/`SRT`/`SRS`) or check the scheme")


def _sib_text(item: m.Fractionation, context: Context) -> str:
    """rt14: `; SIB (tumorbed) 25 × 2.4 Gy = 60 Gy: BED …, EQD2 …` for each SIB of a line."""
    out = ""
    for sib, values in sib_values(item, context.tables):
        volume = f" ({sib.volume.value})" if sib.volume is not None else ""
        out += f"; SIB{volume} {values.summary()}"
        if values.lq_unreliable:
            out += ": LQ model unreliable"
    return out


@check("R003", "bed-eqd2", Severity.INFO, "BED and EQD2 of a fractionation")
def bed_eqd2(context: Context) -> Iterator[Diagnostic]:
    """What it checks: nothing is wrong — for every fractionation with one `n x d` the
    compiler computes and shows BED = n·d·(1 + d/(α/β)) and EQD2 = n·d·(d + α/β)/(2 + α/β)
    (one info per `rt` line; the same values go into the validation report). α/β comes
    from rt_schemes.yaml: 10 Gy (tumour, the default), 3,5 Gy where the site is breast,
    chest wall, regional nodes or tumour bed (START), 1,8 Gy where it is the prostate
    (CHHiP). A course in parts (`25 x 2 Gy + 5 x 2 Gy boost`) gets one info per part and
    one with the cumulative BED and EQD2 of the course; each simultaneous integrated boost
    (`SIB 15 x 3,2 Gy = 48 Gy (tumorbed)`) adds its own BED and EQD2, at the site's α/β, to
    its line's finding. Above 8 Gy per fraction or with a stereotactic technique the message adds that
    the linear-quadratic model is unreliable there.

    Why it matters: schemes with different fraction sizes can only be compared by their
    biological dose; showing it makes a typo (`5 x 40 Gy`) or an unusual scheme stand out.

    Example: `rt 5 x 4 Gy = 20 Gy site bot` → BED 28 Gy, EQD2 23,3 Gy (α/β 10 Gy)

    Use instead: nothing to change; this is information for the reviewer.

    Source: RULES.md R003; Fowler JF, Br J Radiol 1989;62:679-94; START (Haviland 2013) for
    breast α/β; Brenner 2008 and Kirkpatrick 2008 on the LQ model at high doses per fraction.
    """
    note = str(limits(context.tables).get("lq_note") or "the LQ model is unreliable at stereotactic doses per fraction")
    for item in fractionations(context):
        values = values_of(item, context.tables)
        if values is None:
            continue
        message = (f"BED {shown(values.bed)} Gy, EQD2 {shown(values.eqd2)} Gy "
                   f"(α/β {shown(values.alpha_beta.value)} Gy, {values.alpha_beta.tissue})")
        if values.lq_unreliable:
            message += f"; {gy_text(values.dose_per_fraction)} Gy per fraction: LQ model unreliable"
        if item.course_part is not None or item.sib_part is not None:
            continue  # one finding per course line (below), SIBs within their line's finding
        yield bed_eqd2.at(item.span, message + _sib_text(item, context), note if values.lq_unreliable else
                          "computed with the linear-quadratic model; α/β from compiler/data/rt_schemes.yaml")
    for course in _courses(context):  # lang-b: per part and cumulative, in one finding per course line
        summed = course_values(course, context.tables)
        if summed is None:
            continue
        parts = "; ".join(f"part {i}: BED {shown(v.bed)} Gy, EQD2 {shown(v.eqd2)} Gy"
                          for i, v in enumerate(summed.parts, start=1))
        unreliable = any(v.lq_unreliable for v in summed.parts)
        yield bed_eqd2.at(course.span, f"{parts}; {summed.summary()}{_sib_text(course, context)}",
                          note if unreliable else
                          "BED and EQD2 of the parts added up at the site's α/β (linear-quadratic model)")


@check("R004", "implausible-scheme", Severity.WARNING, "scheme not in the site's plausible set")
def implausible_scheme(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a fractionation whose `site` names a known site (Dutch or English:
    bot/bone, wervelkolom/spinaal/spine, RM-compressie/cord compression, hersenen/brain,
    pancranieel/whole brain, long/lung, thorax/chest, ovaria/ovaries, borst/breast — the
    `sites` table of rt_schemes.yaml) uses one of the schemes listed for that site's
    indications (`schemes`: fractions and dose per fraction, each sourced — seed 002's own
    list, ASTRO bone and brain guidelines, SCORAD, RTOG 0915/0236/0813, NCCN NSCLC, START,
    FAST-Forward). Lines without a site, with a site the table does not know, or with
    ranges are not checked.

    Why it matters: a scheme outside the usual set for its site is either a deliberate local
    choice (then acknowledge it with `allow R004 "…"`) or a slip in a number.

    Example: `rt 5 x 5 Gy = 25 Gy site bot`

    Use instead: `rt 5 x 4 Gy = 20 Gy site bot` (or `allow R004 "reason"`)

    Source: compiler/data/rt_schemes.yaml (each scheme with its source); RULES.md R004.
    """
    schemes = _schemes(context)
    for item in fractionations(context):
        if item.site is None or not computable(item) or item.course_part is not None or item.sib_part is not None:
            continue  # the parts of a course (a boost) and SIBs are judged by R007/R011, not against whole schemes
        info = site_info(item.site.value, context.tables)
        if not info.indications:
            continue
        assert item.fractions is not None and item.dose_per_fraction is not None
        n, d = exact(item.fractions.value), exact(item.dose_per_fraction.value)
        plausible = _plausible(context.tables, schemes, info.indications)
        if any(f == n and g == d for f, g in plausible):
            continue
        listed = sorted(set(plausible))
        shown_list = ", ".join(f"{shown(a)} × {gy_text(b)}" for a, b in listed)
        yield implausible_scheme.at(item.span, f"{_scheme(item)} is not a usual scheme for {item.site.value} "
                                    f"({', '.join(info.indications)})",
                                    f"usual: {shown_list} Gy; or acknowledge a local scheme with `allow R004 \"…\"`")


_PLAUSIBLE: TablesMemo[tuple[str, ...], list[tuple[Fraction, Fraction]]] = TablesMemo(1024)


def _plausible(tables: Tables, schemes: list[tuple[Mapping[str, Any], Fraction, Fraction]],
               indications: tuple[str, ...]) -> list[tuple[Fraction, Fraction]]:
    """The schemes (fractions, dose per fraction) of any of the indications, in table order (once per
    tables object and set of indications: every rt line of a site walked the whole scheme table).
    """
    known = _PLAUSIBLE.answers(tables)
    found = known.get(indications)
    if found is None:
        found = [(f, g) for s, f, g in schemes if str(s.get("indication")) in indications]
        known[indications] = found
    return found


def cord_limits(context: Context) -> Mapping[str, Any]:
    """The spinal cord's entry of oar_limits.yaml ({} when the table has none)."""
    found: Mapping[str, Any] = context.tables.oar_limits.get("spinal_cord") or {}
    return found


@check("R005", "cord-tolerance", Severity.WARNING, "cord limit without a number, or spinal cord dose above its limit")
def cord_tolerance(context: Context) -> Iterator[Diagnostic]:
    """What it checks: (1) a dose limit written without a number — `rt up to <text>`, e.g.
    seed 002's "tot myelumtolerantie" (warning); (2) the spinal cord EQD2 (α/β 2 Gy) above
    45 Gy (warning) where the dose is the cord's: a conventionally fractionated field on the
    spine (site wervelkolom/spinal/vertebra/cord compression, no stereotactic technique: the
    cord lies in the field and receives about the prescribed dose) or a line whose site is
    the cord itself (`site myelum`); (3) a stated stereotactic cord dose (`site myelum`,
    technique SBRT/SRT/SRS, 1–5 fractions) above the HyTEC point maximum: 14,0 Gy (12,4–14,0)
    in 1 fraction, 17,0 in 2, 20,3 in 3, 23,0 in 4, 25,3 Gy in 5 (error). The prescription of
    a spine SBRT line is the target dose, not the cord dose, and is not checked against
    HyTEC. All numbers are in compiler/data/oar_limits.yaml.

    Why it matters: radiation myelopathy is irreversible; "up to tolerance" without a number
    leaves the limit to memory, and the older TG-101 limits are more lenient than HyTEC.

    Example: `rt up to myelumtolerantie`; `rt 3 x 7,5 Gy = 22,5 Gy site myelum, technique SBRT`

    Use instead: `rt 3 x 9 Gy = 27 Gy site wervelkolom, technique SBRT` with
    `note: myelum Dmax ≤ 20,3 Gy in 3 fracties (HyTEC)`

    Source: Sahgal A et al., Int J Radiat Oncol Biol Phys 2021;110:124-36 (HyTEC spinal cord);
    Kirkpatrick JP et al., Int J Radiat Oncol Biol Phys 2010;76(3 Suppl):S42-9 (QUANTEC);
    RULES.md R005.
    """
    cord = cord_limits(context)
    conventional = cord.get("conventional") or {}
    warn_at = conventional.get("eqd2_warning_gy")
    alpha_beta = cord.get("alpha_beta_gy")
    point_max = {int(e["fractions"]): e for e in (cord.get("sbrt_point_max") or {}).get("limits") or []}
    for item in fractionations(context):
        if item.tolerance is not None:
            yield cord_tolerance.at(item.span, f"dose limit without a number: `up to {item.tolerance.value}`",
                                    "state the scheme (n x d Gy) and the limit in Gy, e.g. cord Dmax 20,3 Gy in "
                                    "3 fractions (HyTEC) or cord EQD2 ≤ 45 Gy")
            continue
        if item.site is None or not computable(item) or item.sib_part is not None:
            continue  # a SIB is a boost target inside the field, not a cord dose
        organs = site_info(item.site.value, context.tables).organs
        cord_itself = "spinal cord" in organs and "spine" not in organs
        in_field = "spine" in organs and not is_stereotactic(item, context.tables)
        assert item.fractions is not None and item.dose_per_fraction is not None
        n, d = exact(item.fractions.value), exact(item.dose_per_fraction.value)
        stereotactic = is_stereotactic(item, context.tables)
        if cord_itself and stereotactic and int(n) in point_max:
            entry = point_max[int(n)]
            limit = exact(str(entry["dmax_gy"]))
            if n * d > limit:
                low = entry.get("dmax_low_gy")
                shown_limit = f"{gy_text(exact(str(low)))}–{gy_text(limit)}" if low is not None else gy_text(limit)
                yield cord_tolerance.at(item.span,
                                        f"spinal cord {gy_text(n * d)} Gy in {shown(n)} fraction(s) is above the HyTEC "
                                        f"point maximum {shown_limit} Gy",
                                        "lower the cord dose; HyTEC (Sahgal 2021) de novo limits, 1–5 % myelopathy risk",
                                        severity=Severity.ERROR)
            continue
        if (cord_itself or in_field) and warn_at is not None and alpha_beta is not None:
            value = eqd2(n, d, exact(str(alpha_beta)))
            if value > exact(str(warn_at)):
                yield cord_tolerance.at(item.span,
                                        f"spinal cord EQD2 {shown(value)} Gy (α/β {alpha_beta} Gy) is above "
                                        f"{warn_at} Gy", "check the cord dose (QUANTEC: < 1 % myelopathy at 54 Gy in "
                                        "2 Gy fractions); shield or reduce the cord dose and state the limit")


@check("R006", "implausible-dose", Severity.ERROR, "external-beam dose per fraction above 34 Gy or total above 90 Gy")
def implausible_dose(context: Context) -> Iterator[Diagnostic]:
    """What it checks: an external-beam fractionation with a dose per fraction above 34 Gy
    (the highest standard single fraction, lung SBRT, RTOG 0915) or a total physical dose
    above 90 Gy (above dose-escalated prostate schemes of 86,4 Gy) — both limits in
    rt_schemes.yaml `limits`. The total is the stated one, else n × d (ranges: their upper
    ends). Brachytherapy (`technique brachytherapy`) is out of scope until it is modelled.

    Why it matters: such a dose is not a scheme but a typo — a misplaced decimal or the
    total written as the dose per fraction (`5 x 20 Gy` for 5 × 4 = 20 Gy).

    Example: `rt 5 x 40 Gy`

    Use instead: `rt 5 x 4 Gy = 20 Gy`

    Source: RULES.md R006; Videtic 2015 (RTOG 0915, 34 Gy × 1); Zelefsky 2006 (86,4 Gy).
    """
    table = limits(context.tables)
    per_limit, total_limit = table.get("max_dose_per_fraction_gy"), table.get("max_total_gy")
    for item in fractionations(context):
        if item.technique is not None and "brachy" in item.technique.value.lower():
            continue
        _, d, total = _highest(item)
        if per_limit is not None and d is not None and d > exact(str(per_limit)):
            yield implausible_dose.at(item.span, f"{gy_text(d)} Gy per fraction is above {per_limit} Gy",
                                      "check the dose per fraction (total written as the dose per fraction?)")
        elif total_limit is not None and total is not None and total > exact(str(total_limit)):
            yield implausible_dose.at(item.span, f"total {gy_text(total)} Gy is above {total_limit} Gy",
                                      "check the number of fractions and the dose per fraction")
    for course in _rt_lines(context):  # lang-b: the total of a course in parts
        if len(course.parts) < 2 or total_limit is None:
            continue
        if course.technique is not None and "brachy" in course.technique.value.lower():
            continue
        summed = sum((exact(p.fractions.value) * exact(p.dose_per_fraction.value) for p in course.parts), Fraction(0))
        if summed > exact(str(total_limit)):
            yield implausible_dose.at(course.span, f"course total {gy_text(summed)} Gy is above {total_limit} Gy",
                                      "check the parts of the course")


# ---------------------------------------------------------------- lang-b: courses in parts (issue 14 item 5)


def _courses(context: Context) -> Iterator[m.Fractionation]:
    for item in _rt_lines(context):
        if len(item.parts) > 1:
            yield item


@check("R007", "course-arithmetic", Severity.ERROR, "the parts of a radiotherapy course do not add up to its total")
def course_arithmetic(context: Context) -> Iterator[Diagnostic]:
    """What it checks: in a course written in parts — `rt 25 x 1,8 Gy + 19 x 2 Gy = 83 Gy`,
    `rt 25 x 2 Gy (borst) + 5 x 2 Gy boost (tumorbed) = 60 Gy` — the stated total is the
    sum of the parts (n₁·d₁ + n₂·d₂ …, each dose per fraction standing for ±½ of its last
    written decimal, as in R001). The arithmetic is exact. Each part is also checked on its
    own by R001 (positive whole count, positive dose), R002 (dose per fraction), R003
    (BED/EQD2, with the course's cumulative values) and R006, and the course total by R006.

    Why it matters: a course total that is not the sum of its phases means one of the
    numbers is wrong — 25 × 1,8 + 19 × 2 is 83 Gy; "= 85 Gy" leaves the planner to guess
    which part was meant.

    Example: `rt 25 x 1,8 Gy + 19 x 2 Gy = 85 Gy`

    Use instead: `rt 25 x 1,8 Gy + 19 x 2 Gy = 83 Gy`

    Source: RULES.md R001 (fractionation arithmetic), applied per phase and to the course
    total; ICRU Report 83 (prescription per phase and cumulative).
    """
    for course in _courses(context):
        # a part with no positive whole count or dose is R001's (each part is checked as a scheme)
        bad = any(p.fractions.value <= 0 or p.fractions.value != p.fractions.value.to_integral_value()
                  or p.dose_per_fraction.value <= 0 for p in course.parts)
        if bad or course.total is None:
            continue
        low = high = Fraction(0)
        for part in course.parts:
            exponent = part.dose_per_fraction.value.as_tuple().exponent
            places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
            half = Fraction(1, 2 * 10**places) if places else Fraction(0)
            count, dose = exact(part.fractions.value), exact(part.dose_per_fraction.value)
            low, high = low + count * (dose - half), high + count * (dose + half)
        total = exact(course.total.value)
        if not low <= total <= high:
            summed = sum((exact(p.fractions.value) * exact(p.dose_per_fraction.value) for p in course.parts),
                         Fraction(0))
            terms = " + ".join(f"{p.fractions.text} × {p.dose_per_fraction.text}" for p in course.parts)
            yield course_arithmetic.at(course.total.span, f"{terms} Gy is {gy_text(summed)} Gy, not {course.total.text} Gy",
                                       "correct the total or one of the parts")


@check("R008", "site-not-in-table", Severity.WARNING, "radiotherapy site not in the site table")
def site_not_in_table(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the `site` of an `rt` line names a site of the sourced site table
    (rt_schemes.yaml `sites`, Dutch and English words: bot/bone, wervelkolom/spine,
    hersenen/brain, long/lung, thorax/chest, borst/breast, thoraxwand/chest wall,
    oksel/axilla and other regional nodes, tumorbed/tumour bed, prostaat/prostate,
    ovaria/ovaries …). A site the table does not know gets the default α/β (10 Gy) for
    BED/EQD2 and no plausibility check (R004), so the line warns.

    Why it matters: the α/β, the plausible schemes and the organ limits all hang on the
    site; a misspelt or unknown site silently switches them off — prostate at α/β 10 Gy
    instead of 1,8 Gy understates the EQD2 of a hypofractionated scheme by a fifth.

    Example: `rt 20 x 3 Gy = 60 Gy site prostatte`

    Use instead: `rt 20 x 3 Gy = 60 Gy site prostaat` (or add the site, with its source,
    to rt_schemes.yaml)

    Source: compiler/data/rt_schemes.yaml `sites` and `alpha_beta` (each with its source).
    """
    for item in _rt_lines(context):
        if item.site is None:
            continue
        info = site_info(item.site.value, context.tables)
        if not info.indications and not info.organs:
            yield site_not_in_table.at(item.site.span, f"site `{item.site.value}` is not in the site table",
                                       "use a site of rt_schemes.yaml `sites` (e.g. borst, thoraxwand, oksel, long, "
                                       "prostaat, bot); BED/EQD2 use the default α/β until then")
