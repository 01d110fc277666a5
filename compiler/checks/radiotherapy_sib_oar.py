"""R: simultaneous integrated boosts and organ-at-risk constraints (rt14) — a SIB whose parts do
not add up (R011), a constraint looser than its sourced limit (R009), one the table cannot
read (R010), and one without a sourced limit for its course (R012).

Every limit comes from compiler/data/oar_limits.yaml with its source; the arithmetic is exact
(compiler/radiobiology.py); the spinal cord's entry and the way doses are written are
`checks.radiotherapy`'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

from compiler import model as m
from compiler.checks import Context
from compiler.checks.radiotherapy import cord_limits, gy_text
from compiler.diagnostics import Diagnostic, Severity, check
from compiler.radiobiology import (
    base_scheme,
    eqd2,
    exact,
    is_stereotactic,
    oar_organ,
    shown,
)

# ---------------------------------------------------------------- rt14: SIB and organ-at-risk constraints


@check("R011", "sib-arithmetic", Severity.ERROR,
       "a simultaneous integrated boost with other fractions than its base, or not above the base dose")
def sib_arithmetic(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a simultaneous integrated boost written on an rt line —
    `rt 25 x 2 Gy (borst) = 50 Gy, SIB 25 x 2,4 Gy = 60 Gy (tumorbed), site borst` — is given
    in the same fractions as the base volume (a course in parts: its first part, the phase the
    SIB is delivered with), with a higher dose per fraction than the base, and the line has a
    base scheme (`n x d Gy`, no range). The SIB's own `n × d = total` is R001's (the same
    rounding rule), its dose per fraction R002's and R006's, its BED/EQD2 R003's.

    Why it matters: a SIB is delivered in the same sessions as the base volume; a SIB with
    another number of fractions is a sequential boost written as a SIB (or a slip in a
    number), and a SIB dose per fraction at or below the base is no boost at all — the planner
    cannot tell which number was meant.

    Example: `rt 15 x 2,4 Gy = 36 Gy, SIB 8 x 2 Gy = 16 Gy (tumorbed), site borst`

    Use instead: `rt 15 x 2,4 Gy = 36 Gy, SIB 15 x 3,2 Gy = 48 Gy (tumorbed), site borst`
    (IMPORT HIGH), or a sequential boost: `rt 15 x 2,67 Gy + 8 x 2 Gy boost (tumorbed) = 56 Gy`

    Source: ICRU Report 83 (prescription per target volume); Coles CE et al., Lancet
    2023;401:2124-37 (IMPORT HIGH: 36 Gy to the whole breast, 40 Gy to the partial breast and
    a 48 or 53 Gy SIB to the tumour bed, all in 15 fractions, against 40 Gy in 15 fractions
    with a sequential 16 Gy in 8 fractions boost).
    """
    for item in context.of_type(m.Fractionation):
        if not isinstance(item, m.Fractionation) or not item.sib:
            continue
        base = base_scheme(item)
        if base is None:
            yield sib_arithmetic.at(item.sib[0].span, "a SIB needs a base scheme (`n x d Gy`) on its line",
                                    "write the base volume's fractions and dose per fraction before the SIB")
            continue
        n, d = base
        problems: list[tuple[m.Number, str]] = []  # one finding per line, naming every slip
        for sib in item.sib:
            if sib.fractions.value != n.value:
                problems.append((sib.fractions, f"SIB in {sib.fractions.text} fractions, base volume in {n.text}"))
            if sib.dose_per_fraction.value <= d.value:
                problems.append((sib.dose_per_fraction, f"SIB {sib.dose_per_fraction.text} Gy per fraction is not "
                                 f"above the base {d.text} Gy"))
        if problems:
            yield sib_arithmetic.at(problems[0][0].span, "; ".join(text for _, text in problems),
                                    "a SIB is given in the base volume's fractions at a higher dose per fraction; "
                                    "a boost in other fractions is sequential: `+ n x d Gy boost (…)`")


_UPPER = {"<", "≤"}


def _readable(item: m.OarConstraint) -> bool:
    """A volume metric in % or cc, a dose metric in Gy (else R010)."""
    return item.unit in (("%", "cc") if item.dose_level is not None else ("Gy",))


def _metric(item: m.OarConstraint) -> str:
    """`Dmax`, `Dmean` or `V20` (the dose level as a plain number)."""
    if item.dose_level is not None:
        return f"V{shown(exact(item.dose_level.value), 2)}"
    return "Dmax" if item.metric.value.lower() == "dmax" else "Dmean"


def _constraints(context: Context) -> Iterator[tuple[m.OarConstraint, m.Fractionation | None]]:
    """Every constraint line with the rt line it stands under (None when not under one); found once per
    check run (four rules ask; each walked every item).
    """
    return iter(context.shared(_find_constraints))


def _find_constraints(context: Context) -> list[tuple[m.OarConstraint, m.Fractionation | None]]:
    if not context.of_type(m.Fractionation):  # no rt line (an rt line in a bullet is among the items too)
        return [(item, None) for item in context.of_type(m.OarConstraint)]
    return list(_walk_constraints(context))


def _walk_constraints(context: Context) -> Iterator[tuple[m.OarConstraint, m.Fractionation | None]]:
    claimed: set[int] = set()
    for item in context.items:
        line = item.content if isinstance(item, m.Bullet) else item
        if not isinstance(line, m.Fractionation):
            continue
        for child in (*line.children, *(item.children if item is not line else ())):
            if isinstance(child, m.OarConstraint) and id(child) not in claimed:
                claimed.add(id(child))
                yield child, line
    for item in context.of_type(m.OarConstraint):
        if isinstance(item, m.OarConstraint) and id(item) not in claimed:
            yield item, None


def _applies(row: Mapping[str, Any], line: m.Fractionation) -> bool:
    """Whether a sourced limit's fractionation (`applies_to`) is the course's: every part's dose per
    fraction in the range and, where the source names one, the number of fractions.
    """
    applies = row.get("applies_to") or {}
    schemes = [(exact(p.fractions.value), exact(p.dose_per_fraction.value)) for p in line.parts] \
        if len(line.parts) > 1 else []
    if not schemes:
        base = base_scheme(line)
        if base is None:
            return False
        schemes = [(exact(base[0].value), exact(base[1].value))]
    low, high = (exact(str(v)) for v in applies.get("dose_per_fraction_gy") or [0, 0])
    if not all(low <= d <= high for _, d in schemes):
        return False
    wanted = applies.get("fractions")
    return wanted is None or sum(n for n, _ in schemes) == exact(str(wanted))


def _context_text(row: Mapping[str, Any]) -> str:
    applies = row.get("applies_to") or {}
    low, high = applies.get("dose_per_fraction_gy") or [0, 0]
    per = f"{low} Gy" if low == high else f"{low}–{high} Gy"
    fractions = applies.get("fractions")
    return f"{fractions} × {per}" if fractions else f"{per} per fraction"


def _total_fractions(line: m.Fractionation) -> Fraction | None:
    if len(line.parts) > 1:
        return sum((exact(p.fractions.value) for p in line.parts), Fraction(0))
    base = base_scheme(line)
    return exact(base[0].value) if base is not None else None


def _looser(item: m.OarConstraint, limit: Fraction) -> bool:
    return exact(item.value.value) > limit


def _hytec(item: m.OarConstraint, line: m.Fractionation, context: Context) -> Iterator[Diagnostic]:
    """The stereotactic cord point maximum (HyTEC) for `constraint myelum Dmax` under an SBRT line."""
    table = {int(e["fractions"]): e for e in (cord_limits(context).get("sbrt_point_max") or {}).get("limits") or []}
    n = _total_fractions(line)
    if n is None or int(n) not in table:
        return
    entry = table[int(n)]
    limit = exact(str(entry["dmax_gy"]))
    if _looser(item, limit):
        yield oar_limit.at(item.value.span, f"{item.organ.value} Dmax {item.op} {item.value.text} Gy in {shown(n)} "
                           f"fraction(s) is looser than the HyTEC point maximum {gy_text(limit)} Gy",
                           "HyTEC (Sahgal 2021) de novo SBRT limit, 1–5 % myelopathy risk "
                           "(compiler/data/oar_limits.yaml)", severity=Severity.ERROR)


def _sourced(context: Context) -> list[Mapping[str, Any]]:
    rows: list[Mapping[str, Any]] = (context.tables.oar_limits.get("constraints") or {}).get("limits") or []
    return rows


def _limits_for(context: Context, organ: str, metric: str, unit: str) -> list[Mapping[str, Any]]:
    """The sourced limits of one organ, metric and unit (every fractionation)."""
    return [r for r in _sourced(context) if r.get("organ") == organ and str(r.get("metric")) == metric
            and str(r.get("unit")) == unit]


def _comparable(context: Context) -> Iterator[tuple[m.OarConstraint, m.Fractionation, str, str, bool]]:
    """Constraints R009 and R012 judge (a known organ, an upper limit, a readable unit, under an rt
    line): each with its line, organ, metric and whether it is a stereotactic cord Dmax (HyTEC).
    """
    for item, line in _constraints(context):
        organ = oar_organ(item.organ.value, context.tables)
        if line is None or organ is None or item.op not in _UPPER or not _readable(item):
            continue
        metric = _metric(item)
        hytec = organ == "spinal cord" and metric == "Dmax" and is_stereotactic(line, context.tables)
        yield item, line, organ, metric, hytec


@check("R009", "oar-limit", Severity.WARNING, "organ-at-risk constraint looser than its sourced limit")
def oar_limit(context: Context) -> Iterator[Diagnostic]:
    """What it checks: an organ-at-risk constraint under an rt line — `constraint long V20 <
    35 %`, `constraint hart Dmean < 26 Gy`, `constraint myelum Dmax < 50 Gy` — is at least
    as strict as the sourced limit for that organ and metric in compiler/data/oar_limits.yaml
    (QUANTEC 2010 Table 1; RTOG 0617 lung V20 ≤ 37 % and mean lung dose ≤ 20 Gy; CHHiP
    anorectal limits for 60 Gy in 20 fractions; HyTEC for a stereotactic cord). Stricter is
    fine. A limit is applied only to the fractionation its source states it for: QUANTEC's
    are for conventional fractionation (1,8–2 Gy per fraction, every part of the course),
    the CHHiP limits for 20 × 3 Gy; the base volume's scheme decides, a SIB does not change
    the course's fractionation. A spinal-cord Dmax stated for another fractionation is
    converted to EQD2 at α/β 2 Gy (the HyTEC convention, the only conversion the sources
    support) and compared with the limit's EQD2; a cord Dmax under a stereotactic line of
    1–5 fractions is compared with the HyTEC point maximum (error). Other limits for another
    fractionation are not applied (R012 says so). Warnings unless the data row says error.

    Why it matters: a constraint on the sheet that is looser than the published one lets a
    plan pass that the source would reject — V20 < 40 % where RTOG 0617 planned to ≤ 37 %.

    Example: `rt 30 x 2 Gy = 60 Gy site long` with `  constraint long V20 < 40 %`

    Use instead: `  constraint long V20 < 37 %` (or stricter, as the local protocol says)

    Source: Marks LB et al., Int J Radiat Oncol Biol Phys 2010;76(3 Suppl):S10-9 (QUANTEC
    Table 1); Bradley JD et al., Lancet Oncol 2015 (RTOG 0617); Wilkins A et al., Int J
    Radiat Oncol Biol Phys 2020 (CHHiP anorectum); Sahgal A et al. 2021 (HyTEC).
    """
    for item, line, organ, metric, hytec in _comparable(context):
        if hytec:
            yield from _hytec(item, line, context)
            continue
        for row in _limits_for(context, organ, metric, item.unit):
            limit = exact(str(row["value"]))
            severity = Severity.ERROR if row.get("severity") == "error" else Severity.WARNING
            source = str(row.get("cite") or row.get("source") or "")
            shown_limit = f"{metric} ≤ {gy_text(limit)} {row['unit']}"
            if _applies(row, line):
                if _looser(item, limit):
                    yield oar_limit.at(item.value.span, f"{item.organ.value} {item.metric.value} {item.op} "
                                       f"{item.value.text} {item.unit} is looser than {shown_limit} "
                                       f"({source}; {row.get('endpoint')})",
                                       f"write the sourced limit or a stricter one; limit for "
                                       f"{_context_text(row)}", severity=severity)
                continue
            ab = row.get("eqd2_alpha_beta_gy")
            n = _total_fractions(line)
            if ab is None or metric != "Dmax" or n is None or n <= 0:
                continue
            stated = exact(item.value.value)
            value = eqd2(n, stated / n, exact(str(ab)))
            if value > limit:
                yield oar_limit.at(item.value.span, f"{item.organ.value} Dmax {item.value.text} Gy in {shown(n)} "
                                   f"fractions is EQD2 {shown(value)} Gy (α/β {ab} Gy), above {shown_limit} in "
                                   f"{_context_text(row)} ({source})",
                                   "lower the stated cord limit; converted with the HyTEC α/β convention",
                                   severity=severity)


@check("R010", "oar-unknown", Severity.WARNING, "organ-at-risk constraint the table cannot read")
def oar_unknown(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a `constraint` line names an organ of the organ table in
    compiler/data/oar_limits.yaml (Dutch and English: long/lung, hart/heart,
    oesofagus/oesophagus, myelum/spinal cord, hersenen/brain, hersenstam/brainstem, rectum,
    anorectum, blaas/bladder …), is an upper limit (`<` or `≤`), gives a volume metric
    (`V20`) in % or cc and a dose metric (`Dmax`, `Dmean`) in Gy, and stands under an rt
    line (the course it constrains).

    Why it matters: a misspelt organ, a constraint written the wrong way round or one that
    belongs to no course is silently left unchecked — the sheet looks safer than it is.

    Example: `  constraint lnog V20 < 35 %`

    Use instead: `  constraint long V20 < 35 %`, indented under its `rt` line

    Source: compiler/data/oar_limits.yaml `constraints.organs`.
    """
    for item, line in _constraints(context):
        if oar_organ(item.organ.value, context.tables) is None:
            yield oar_unknown.at(item.organ.span, f"organ `{item.organ.value}` is not in the organ table",
                                 "use an organ of oar_limits.yaml (e.g. long, hart, oesofagus, myelum, rectum)")
        elif item.op not in _UPPER:
            yield oar_unknown.at(item.span, f"`{item.op}`: an organ-at-risk constraint is an upper limit",
                                 "write `<` or `≤`, e.g. `constraint long V20 < 35%`")
        elif item.unit not in (("%", "cc") if item.dose_level is not None else ("Gy",)):
            wanted = "% or cc" if item.dose_level is not None else "Gy"
            yield oar_unknown.at(item.value.span, f"{item.metric.value} in {item.unit}: write it in {wanted}",
                                 "V<dose> is a volume (`V20 < 35%`), Dmax and Dmean a dose (`Dmax < 50 Gy`)")
        elif line is None:
            yield oar_unknown.at(item.span, "constraint not under an rt line: no course to check it against",
                                 "indent the constraint under the `rt` line it belongs to")


@check("R012", "oar-not-checked", Severity.INFO, "organ-at-risk constraint without a sourced limit for its course")
def oar_not_checked(context: Context) -> Iterator[Diagnostic]:
    """What it checks: nothing is wrong — a constraint under an rt line for which the data has
    no sourced limit (that organ and metric, in that unit), or only limits for another
    fractionation that may not be converted (a QUANTEC V20 under 5 × 5,2 Gy), is reported as
    not checked, with the fractionation the source's limits hold for.

    Why it matters: a reviewer sees which constraints the compiler vouched for (R009 silent)
    and which stand on the sheet's own authority.

    Example: `rt 5 x 5,2 Gy = 26 Gy site borst` with `  constraint long V20 < 30 %`

    Use instead: nothing to change; name the constraint's source on the sheet.

    Source: compiler/data/oar_limits.yaml (each limit with its fractionation and source).
    """
    for item, line, organ, metric, hytec in _comparable(context):
        if hytec:
            continue  # HyTEC, R009
        rows = _limits_for(context, organ, metric, item.unit)
        if not rows:
            yield oar_not_checked.at(item.span, f"{item.organ.value} {item.metric.value} ({item.unit}): no sourced "
                                     "limit in the data; not checked", "name the constraint's source on the sheet")
        elif not any(_applies(r, line) or (r.get("eqd2_alpha_beta_gy") is not None and metric == "Dmax")
                     for r in rows):
            contexts = ", ".join(dict.fromkeys(_context_text(r) for r in rows))
            yield oar_not_checked.at(item.span, f"{item.organ.value} {item.metric.value}: the sourced limits hold "
                                     f"for {contexts}, not for this course; not checked",
                                     "a limit for one fractionation is not applied to another without a "
                                     "sourced conversion")
