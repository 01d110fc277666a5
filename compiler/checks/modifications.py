"""Pre-cycle criteria, dose-modification tables, dose levels and relative schedules (issue 14).

L007–L012: the bands of a `dose modification` table and the rows of a `criteria before
each cycle:` block, analysed with the interval algebra (compiler/modification.py).
D021–D024: the actions of a band (percentages, dose levels, doses). S011–S012: schedules
relative to another drug, and intervals longer than the cycle.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal

from compiler import model as m
from compiler.checks import Context
from compiler.checks.logic import translator
from compiler.diagnostics import Diagnostic, Related, Severity, check
from compiler.dosing import dose_rows, plain
from compiler.modification import TableAnalysis, analyse_table, criteria_conflicts, criteria_region, levels_of
from compiler.thresholds import number_text


def _tables(context: Context) -> list[TableAnalysis]:
    """Every dose-modification table of the protocol, analysed once per check run."""
    return context.memo("modifications.tables", _analyse_tables)


def _analyse_tables(context: Context) -> list[TableAnalysis]:
    found = translator(context)
    return [analyse_table(item, context.tables, found) for item in context.of_type(m.DoseModification)]


def _band_text(context: Context, band: m.DoseBand) -> str:
    line = context.source.line_text(band.span.line)
    return line[band.span.column - 1:band.span.end_column - 1].strip().lstrip("-*•–− ").split(":")[0]


def sheet_drugs(context: Context) -> set[str]:
    """Drug ids the sheet gives: drug lines and the drugs of its library regimens (once per check run:
    shared, do not change it).
    """
    return context.memo("modifications.sheet_drugs", _sheet_drugs)


def _sheet_drugs(context: Context) -> set[str]:
    found: set[str] = set()
    for item in context.of_types((m.DrugLine, m.RegimenLine)):
        if isinstance(item, m.DrugLine) and item.drug_id:
            found.add(item.drug_id)
        elif isinstance(item, m.RegimenLine) and item.regimen_id:
            entry = context.tables.regimens.get(item.regimen_id) or {}
            drugs = list(entry.get("drugs") or [])
            for phase in entry.get("phases") or []:
                drugs.extend(phase.get("drugs") or [])
            found.update(str(d.get("drug")) for d in drugs if d.get("drug"))
    return found


# ---------------------------------------------------------------- L: bands and criteria


@check("L007", "band-gap", Severity.WARNING, "dose-modification bands leave a gap")
def band_gap(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the bands of a `dose modification <drug> by <variable>:` table
    cover every value of the variable: no ANC, platelet count, bilirubin or CTCAE grade is
    left without a row. The bands are compared as exact numbers (`>= 1.5` and
    `1.0 to < 1.5` meet; `1.0 to 1.49` and `>= 1.5` leave the values between 1.49 and 1.5).
    The laboratory's reporting step (`resolution` in compiler/data/labs.yaml) is then
    used to say whether a reported value can fall in the gap: without a stated resolution
    (ANC is often computed from the leucocyte count and the neutrophil fraction) it can;
    with resolution 0.01 a gap between 1.49 and 1.5 holds no reported value. The gap is
    reported either way, and the message says which. Grades are integers: `grade 0-1`
    and `grade 2` leave no gap.

    Why it matters: a printed table whose bands end at 1.49 and start at 1.5 gives no
    instruction for an ANC of 1.495; a table that lists only grade 3 and 4 says nothing
    about grade 2. The nurse at the chair then has to guess.

    Example: `ANC 1.0 - 1.49: delay 1 week` above `ANC >= 1.5: 100%`

    Use instead: `ANC 1.0 to < 1.5: delay 1 week` (half-open bands that meet exactly)

    Source: issue 14 (a published ANC table with bands ending at 1.49 and starting at
    1.5); CTCAE v5.0 (grades); compiler/data/labs.yaml (domains, resolutions).
    """
    for analysis in _tables(context):
        for gap in analysis.gaps:
            if gap.reportable:
                hint = ("make the bands meet exactly: end one band with `< x` where the next starts with `>= x`"
                        if gap.resolution is None else
                        f"values at the laboratory's resolution ({number_text(gap.resolution)}) fall in it; "
                        "add a row or make the bands meet exactly")
                message = f"no row for {gap.text}"
            else:
                assert gap.resolution is not None
                message = (f"no row for {gap.text} (no value reported at resolution "
                           f"{number_text(gap.resolution)} falls in it)")
                hint = "write the bands so they meet exactly (`< x` / `>= x`): the table is then right at any resolution"
            yield band_gap.at(analysis.table.span, message, hint)


@check("L008", "band-overlap", Severity.ERROR, "dose-modification bands overlap")
def band_overlap(context: Context) -> Iterator[Diagnostic]:
    """What it checks: no value of the table's variable falls in two bands of one
    `dose modification` table (`ANC >= 1.0: 75%` and `ANC >= 1.5: 100%` both hold at 2.0).
    Bounds are exact: `< 1.5` and `>= 1.5` meet without overlap.

    Why it matters: a printed table has no precedence between its rows; a patient whose
    value lies in two bands gets two instructions, one of them a dose reduction.

    Example: `ANC >= 1.0: 75%` and `ANC >= 1.5: 100%`

    Use instead: `ANC >= 1.5: 100%` and `ANC 1.0 to < 1.5: 75%`

    Source: issue 14 (a published table with overlapping bands); the same exact interval
    analysis as L001.
    """
    for analysis in _tables(context):
        for overlap in analysis.overlaps:
            yield band_overlap.at(
                overlap.second.span,
                f"band `{_band_text(context, overlap.second)}` overlaps `{_band_text(context, overlap.first)}` "
                f"for {overlap.text}",
                "make the bands exclusive (`>= x` in one row, `< x` in the next)",
                related=(Related(overlap.first.span, "the other band"),))


@check("L009", "band-unreachable", Severity.ERROR, "dose-modification band that can never apply")
def band_unreachable(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every band of a `dose modification` table can apply on its own: a
    band that is empty (`ANC 1.5 to < 1.0`) or lies entirely inside an earlier band (a
    repeated or narrower row) is reported.

    Why it matters: a row that can never be the one that applies is a typo in a bound or a
    forgotten row; its action is never given, or is given together with another.

    Example: `ANC < 1.5: 75%` followed by `ANC < 1.0: discontinue`

    Use instead: `ANC 1.0 to < 1.5: 75%` and `ANC < 1.0: discontinue`

    Source: issue 14; the exact interval analysis of compiler/thresholds.py.
    """
    for analysis in _tables(context):
        for band, holder in analysis.unreachable:
            if holder is None:
                yield band_unreachable.at(band.span, f"band `{_band_text(context, band)}` holds no value",
                                          "check the order of the bounds")
            else:
                yield band_unreachable.at(band.span, f"band `{_band_text(context, band)}` lies inside "
                                          f"`{_band_text(context, holder)}`",
                                          "narrow the earlier band so each value has exactly one row",
                                          related=(Related(holder.span, "the band that already covers it"),))


@check("L010", "criteria-contradiction", Severity.ERROR,
       "pre-cycle criteria that can never all hold, or that a full-dose band contradicts")
def criteria_contradiction(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the rows of a `criteria before each cycle:` block can all hold at
    once (`ANC >= 1.5 x10^9/L` and `ANC < 1.0 x10^9/L` cannot), and no band of a
    dose-modification table on the same sheet gives the full dose (`100%` or `level 0`,
    without `delay` or `withhold`) for values of the same variable the criteria do not
    let a cycle start with (criteria `ANC >= 1.5`, table `ANC 1.0 to < 1.5: 100%`).

    Why it matters: criteria that contradict each other mean no cycle can ever start;
    usually a comparison is reversed or two sources were merged. A table that gives the
    full dose where the criteria say "do not start" leaves the nurse with two opposite
    instructions for the same blood count.

    Example: `ANC >= 1.5 x10^9/L` and `ANC < 1.0 x10^9/L` in one block; criteria
    `ANC >= 1.5 x10^9/L` with `ANC 1.0 to < 1.5: 100%`

    Use instead: one threshold per value: `ANC >= 1.5 x10^9/L`; `ANC 1.0 to < 1.5: delay 1 week`

    A table `by nadir ANC` reads the lowest value of the previous cycle, not the value
    before this cycle, so its bands are not compared with the criteria (pemetrexed: full
    dose at a nadir ANC >= 0.5, a new cycle only from ANC >= 1.5).

    Source: issue 14; compiler/data/labs.yaml (domains).
    """
    blocks = [item for item in context.of_type(m.Criteria) if isinstance(item, m.Criteria)]
    if not blocks:
        return
    shared = translator(context)
    for item in blocks:
        region = criteria_region(item, context.tables, shared)
        if region is not None and region.is_empty():
            yield criteria_contradiction.at(item.span, "these criteria can never all hold",
                                            "check the comparisons: one of them is probably reversed")
    analyses = {id(found.table): found for found in _tables(context)}
    for table in (item for item in context.of_type(m.DoseModification) if isinstance(item, m.DoseModification) and not item.nadir):
        for block in blocks:
            for band, text in criteria_conflicts(block, table, context.tables, shared, analyses[id(table)]):
                yield criteria_contradiction.at(
                    band.span, f"band `{_band_text(context, band)}` gives the full dose for {text}, "
                    "where the criteria before each cycle do not let a cycle start",
                    "delay or withhold in this band, or change the criteria",
                    related=(Related(block.span, "the criteria"),))


@check("L011", "band-variable-mismatch", Severity.ERROR,
       "a band compares another variable or unit than its table")
def band_variable_mismatch(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every band of `dose modification <drug> by <variable> (<unit>):`
    compares that variable on that scale. A row may leave the variable out (`>= 1.5:`) or
    write `grade` for a CTCAE grade; a row that compares another value (`platelets` in an
    ANC table) or another unit (`µmol/L` in a `× ULN` table) is reported.

    Why it matters: the bands of one table must partition one value; a foreign row makes
    gaps and overlaps impossible to judge and usually belongs to another table.

    Example: `dose modification paclitaxel by ANC:` with a row `platelets < 100: delay 1 week`

    Use instead: a second table `dose modification paclitaxel by platelets (x10^9/L):`

    Source: issue 14; compiler/data/labs.yaml (variables and scales).
    """
    for analysis in _tables(context):
        for band, other in analysis.mismatched:
            yield band_variable_mismatch.at(
                band.span, f"band `{_band_text(context, band)}` compares {other}, "
                f"not the table's {analysis.variable or 'variable'}",
                "move the row to a table of its own variable")


@check("L012", "modified-drug-not-on-sheet", Severity.WARNING,
       "dose modification or dose levels for a drug the sheet does not give")
def modified_drug_not_on_sheet(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the drug of a `dose modification` table or a `dose levels` list is
    a formulary drug that the sheet gives (a drug line, or a drug of a library regimen).

    Why it matters: a reduction table for a drug the sheet does not give is a copy from
    another protocol or a misspelt name; the table the sheet needs is then missing.

    Example: `dose modification docetaxel by ANC:` on a paclitaxel sheet

    Use instead: `dose modification paclitaxel by ANC:`

    Source: issue 14.
    """
    for item in context.of_types((m.DoseModification, m.DoseLevels)):
        if isinstance(item, (m.DoseModification, m.DoseLevels)):
            if item.drug_id is None:
                yield modified_drug_not_on_sheet.at(item.drug.span, f"unknown drug `{item.drug.value}`",
                                                    "write the generic name as on the drug line")
            elif item.drug_id not in sheet_drugs(context):
                yield modified_drug_not_on_sheet.at(item.drug.span, f"{item.drug.value} is not given on this sheet",
                                                    "check the drug name, or add its drug line or regimen")


# ---------------------------------------------------------------- D: band actions and dose levels


@check("D021", "modification-percentage", Severity.ERROR, "dose percentage of 0 % or less, or above 100 %")
def modification_percentage(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a percentage in a dose-modification table lies above 0 % and at most
    100 % of the planned dose.

    Why it matters: a dose modification reduces or keeps the dose; `0%` is a withheld
    dose (write `withhold`), and `150%` is an escalation no reduction table gives —
    usually `75` and `50` swapped with `175`/`150` or a missing decimal.

    Example: `ANC 1.0 to < 1.5: 175%`

    Use instead: `ANC 1.0 to < 1.5: 75%`, or `withhold`

    Source: issue 14.
    """
    for item in context.of_type(m.DoseBand):
        if isinstance(item, m.DoseBand):
            for action in item.all_actions():
                if action.kind == "percent" and action.percent is not None:
                    value = action.percent.value
                    if value <= 0 or value > 100:
                        yield modification_percentage.at(action.span, f"{number_text(value)}% of the dose",
                                                         "a reduction lies between 0 and 100 %; "
                                                         "for no dose write `withhold`")


def _level_lists(context: Context, table: m.DoseModification) -> list[m.DoseLevels]:
    """The `dose levels` lists that may belong to a table's drug (of its id, or of its name), in sheet order:
    indexed once per check run, so that many tables do not each go through every list.
    """
    by_id, by_name = context.memo("modifications.level_lists", _index_level_lists)
    return by_id.get(table.drug_id, []) if table.drug_id else by_name.get(table.drug.value, [])


def _index_level_lists(context: Context) -> tuple[dict[str, list[m.DoseLevels]], dict[str, list[m.DoseLevels]]]:
    by_id: dict[str, list[m.DoseLevels]] = {}
    by_name: dict[str, list[m.DoseLevels]] = {}
    for item in context.of_type(m.DoseLevels):
        if item.drug_id is not None:
            by_id.setdefault(item.drug_id, []).append(item)
        by_name.setdefault(item.drug.value, []).append(item)
    return by_id, by_name


@check("D022", "dose-level-undefined", Severity.ERROR, "dose level without a dose")
def dose_level_undefined(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every `level -1` in a dose-modification table is defined in a
    `dose levels <drug>:` list of the same drug, and every such list defines level 0 (the
    starting dose).

    Why it matters: "dose level −2" means a dose only the list gives; without the list
    (or with a list that stops at −1) nobody can tell which dose to give.

    Example: `ANC < 1.0: level -2` with a list that has levels 0 and −1

    Use instead: add `level -2: 135 mg/m2` to `dose levels paclitaxel:`

    Source: issue 14.
    """
    for item in context.of_types((m.DoseModification, m.DoseLevels)):
        if isinstance(item, m.DoseModification):
            levels = levels_of(context.protocol, item.drug_id, item.drug.value, _level_lists(context, item))
            for band in item.bands():
                for action in band.all_actions():
                    if action.kind == "level" and action.level is not None and action.level not in levels:
                        yield dose_level_undefined.at(action.span, f"dose level {action.level} of "
                                                      f"{item.drug.value} is not defined",
                                                      f"add `level {action.level}: <dose>` to "
                                                      f"`dose levels {item.drug.value}:`")
        elif isinstance(item, m.DoseLevels) and 0 not in {level.level for level in item.levels()}:
            yield dose_level_undefined.at(item.span, f"dose levels of {item.drug.value} without level 0",
                                          "start the list with `level 0: <starting dose>`")


@check("D023", "dose-levels-order", Severity.ERROR,
       "dose levels not decreasing, in different units, or level 0 not the sheet's dose")
def dose_levels_order(context: Context) -> Iterator[Diagnostic]:
    """What it checks: in a `dose levels <drug>:` list every lower level has a lower dose
    than the level above it, in the same unit (level 0 175 mg/m², −1 150 mg/m², −2 135 mg/m²),
    no level is given twice, and level 0 is a dose the sheet's drug line for that drug
    gives (when the sheet has a drug line in that unit).

    Why it matters: a reduction level with the same or a higher dose than the level above
    is a transcription slip that turns a reduction into an escalation; a level 0 that is
    not the sheet's starting dose means the levels were copied from another schedule.

    Example: `level 0: 175 mg/m2` / `level -1: 185 mg/m2`; `level 0: 175 mg/m2` with
    `drug paclitaxel 80 mg/m2 IV weekly`

    Use instead: `level -1: 150 mg/m2`; the levels of the weekly schedule

    Source: issue 14.
    """
    lists = context.of_type(m.DoseLevels)
    if not lists:
        return  # most sheets: no dose levels, so no need for the doses of their drug lines
    given = _sheet_doses(context)
    for item in lists:
        if not isinstance(item, m.DoseLevels):
            continue
        seen: dict[int, m.DoseLevel] = {}
        for level in item.levels():
            if level.level in seen:
                yield dose_levels_order.at(level.span, f"level {level.level} is given twice",
                                           "keep one dose per level",
                                           related=(Related(seen[level.level].span, "first given here"),))
                continue
            seen[level.level] = level
        ordered = sorted(seen.values(), key=lambda lv: -lv.level)
        for upper, lower in itertools.pairwise(ordered):
            if upper.dose.unit != lower.dose.unit:
                yield dose_levels_order.at(lower.dose.span, f"level {lower.level} in {lower.dose.unit}, "
                                           f"level {upper.level} in {upper.dose.unit}", "give every level in one unit")
            elif lower.dose.amount.value >= upper.dose.amount.value:
                yield dose_levels_order.at(lower.dose.span, f"level {lower.level} "
                                           f"({plain(lower.dose.amount.value)} {lower.dose.unit}) is not below "
                                           f"level {upper.level} ({plain(upper.dose.amount.value)} {upper.dose.unit})",
                                           "each lower level has a lower dose")
        start = seen.get(0)
        doses = given.get(item.drug_id or "", set())
        if start is not None and item.drug_id is not None:
            same_unit = {value for unit, value in doses if unit == start.dose.unit}
            if same_unit and start.dose.amount.value not in same_unit:
                shown = ", ".join(f"{plain(v)} {start.dose.unit}" for v in sorted(same_unit))
                yield dose_levels_order.at(start.dose.span, f"level 0 ({plain(start.dose.amount.value)} "
                                           f"{start.dose.unit}) is not the dose of the sheet's {item.drug.value} "
                                           f"line ({shown})", "level 0 is the starting dose on the drug line")


def _sheet_doses(context: Context) -> dict[str, set[tuple[str, Decimal]]]:
    """The doses the sheet's drug lines give, per drug id: (unit, amount)."""
    out: dict[str, set[tuple[str, Decimal]]] = {}
    for item in context.of_type(m.DrugLine):
        if isinstance(item, m.DrugLine) and item.drug_id:
            for phase in item.phases:
                if phase.dose is not None:
                    out.setdefault(item.drug_id, set()).add((phase.dose.unit, phase.dose.amount.value))
    return out


def _above_max(context: Context, drug_id: str | None, dose: m.Dose) -> Decimal | None:
    """The label maximum a dose exceeds for every formulary row in its unit (None: within, or no data)."""
    if drug_id is None:
        return None
    rows = [r for r in dose_rows(context.tables, drug_id) if r.unit == dose.unit]
    maxima = [r.max for r in rows if r.max is not None]
    if not rows or len(maxima) != len(rows):
        return None
    highest = max(maxima)
    return highest if dose.amount.value > highest else None


@check("D024", "modified-dose-above-maximum", Severity.ERROR, "dose level or modified dose above the label maximum")
def modified_dose_above_maximum(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the dose of a `dose levels` row, and a dose written as the action of
    a band (`grade 2: 150 mg/m2`), is not above the formulary's hard maximum per
    administration for the drug in that unit (the same maximum as D002).

    Why it matters: a dose level is given as written on the sheet; a level above the
    label maximum is as dangerous as a drug line above it, and it is easier to miss.

    Example: `dose levels paclitaxel:` with `level 0: 1750 mg/m2`

    Use instead: `level 0: 175 mg/m2`

    Source: compiler/data/formulary.yaml (per-product `max`, each row sourced).
    """
    for item in context.of_types((m.DoseModification, m.DoseLevels)):
        if isinstance(item, m.DoseLevels):
            for level in item.levels():
                highest = _above_max(context, item.drug_id, level.dose)
                if highest is not None:
                    yield modified_dose_above_maximum.at(
                        level.dose.span, f"level {level.level} of {item.drug.value}: "
                        f"{plain(level.dose.amount.value)} {level.dose.unit} is above the maximum "
                        f"{plain(highest)} {level.dose.unit}", "check the dose against the label")
        elif isinstance(item, m.DoseModification):
            for band in item.bands():
                for action in band.all_actions():
                    if action.dose is None:
                        continue
                    highest = _above_max(context, item.drug_id, action.dose)
                    if highest is not None:
                        yield modified_dose_above_maximum.at(
                            action.span, f"{item.drug.value} {plain(action.dose.amount.value)} {action.dose.unit} "
                            f"is above the maximum {plain(highest)} {action.dose.unit}",
                            "check the dose against the label")


# ---------------------------------------------------------------- S: relative ends, long intervals


def _reduction_schedules(context: Context, drug_id: str | None) -> list[dict[str, object]]:
    """The label's dose-reduction schedules of a drug (administration.yaml `dose_reductions`)."""
    table = (context.tables.administration or {}).get("dose_reductions") or {}
    return list(table.get(drug_id or "") or [])


def _steps(row: dict[str, object]) -> list[Decimal]:
    return [Decimal(str(v)) for v in row.get("levels") or []]  # type: ignore[attr-defined]


def _off_schedule(item: m.DoseLevels, rows: list[dict[str, object]]) -> Iterator[tuple[m.DoseLevel, str, dict[str, object]]]:
    """(level, problem, schedule) for each level that is not the label's step at that level."""
    levels = {level.level: level for level in item.levels()}
    start = levels.get(0)
    if start is None:
        return
    in_unit = [r for r in rows if r.get("unit") == start.dose.unit]
    if not in_unit:
        return
    row = next((r for r in in_unit if _steps(r)[0] == start.dose.amount.value), None)
    if row is None:
        starts = " or ".join(f"{plain(_steps(r)[0])} {start.dose.unit}" for r in in_unit)
        yield start, (f"level 0 of {item.drug.value} is {plain(start.dose.amount.value)} {start.dose.unit}; "
                      f"the label's reduction schedule starts at {starts}"), in_unit[0]
        return
    steps = _steps(row)
    for number in sorted((n for n in levels if n < 0), reverse=True):
        level = levels[number]
        expected = steps[-number] if -number < len(steps) else None
        if expected is None:
            yield level, (f"level {number} of {item.drug.value}: the label has no step below "
                          f"{plain(steps[-1])} {start.dose.unit} (level {1 - len(steps)}): discontinue"), row
        elif level.dose.unit != start.dose.unit or level.dose.amount.value != expected:
            yield level, (f"level {number} of {item.drug.value} is {plain(level.dose.amount.value)} "
                          f"{level.dose.unit}; the label's step {-number} is {plain(expected)} {start.dose.unit}"), row


@check("D027", "dose-level-off-label", Severity.ERROR, "dose level that is not the label's reduction step")
def dose_level_off_label(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the levels of a `dose levels <drug>:` list follow the label's
    dose-reduction schedule, where one is recorded: level 0 is a starting dose of the
    schedule, level -1 its first reduction, level -2 its second, and no level lies below
    the last step (the label says discontinue there). Trastuzumab deruxtecan 5.4, 4.4,
    3.2 mg/kg; trastuzumab emtansine 3.6, 3, 2.4 mg/kg; palbociclib 125, 100, 75 mg;
    ribociclib 600, 400, 200 mg (early breast cancer 400, 200 mg); abemaciclib 150, 100,
    50 mg. A schedule read from an unverified row is a warning.

    Why it matters: a reduction step is given as written, cycle after cycle; a step taken
    from another product (trastuzumab emtansine's 3 mg/kg on a trastuzumab deruxtecan
    sheet) or below the label's last step is a dosing error that no range check catches,
    because the dose itself is a plausible one.

    Example: `dose levels trastuzumab deruxtecan:` with `level -1: 3.6 mg/kg`

    Use instead: `level -1: 4.4 mg/kg` (or, for a deliberate local schedule,
    `allow D027 "<reason>"`)

    Source: compiler/data/administration.yaml `dose_reductions` (Enhertu SmPC 4.2; Kadcyla,
    Ibrance, Kisqali and Verzenio US PI 2.2; each row sourced).
    """
    for item in context.of_type(m.DoseLevels):
        if not isinstance(item, m.DoseLevels):
            continue
        for level, problem, row in _off_schedule(item, _reduction_schedules(context, item.drug_id)):
            yield dose_level_off_label.at(
                level.dose.span, problem, f"source: {row.get('source')}",
                severity=Severity.WARNING if row.get("unverified") else Severity.ERROR)


@check("S011", "relative-end-drug", Severity.ERROR, "end relative to a drug the sheet does not give")
def relative_end_drug(context: Context) -> Iterator[Diagnostic]:
    """What it checks: an end written relative to another drug (`until 21 days after the
    last pemetrexed`) names a formulary drug that the sheet gives.

    Why it matters: folic acid and vitamin B12 continue until three weeks after the last
    pemetrexed; if the sheet names a drug it does not give (or misspells it), the stop
    date cannot be worked out.

    Example: `drug folic acid 400 mcg po daily from day -7 until 21 days after the last pemetrexd`

    Use instead: `… until 21 days after the last pemetrexed` on a sheet that gives pemetrexed

    Source: pemetrexed (Alimta) SmPC section 4.2 (folic acid from 7 days before the first
    dose until 21 days after the last dose).
    """
    for item in context.of_type(m.DrugLine):
        if not isinstance(item, m.DrugLine):
            continue
        for phase in item.phases:
            end = phase.until_after
            if end is None:
                continue
            if end.drug_id is None:
                yield relative_end_drug.at(end.drug.span, f"unknown drug `{end.drug.value}`",
                                           "write the generic name of the drug the end refers to")
            elif end.drug_id not in sheet_drugs(context):
                yield relative_end_drug.at(end.drug.span, f"{end.drug.value} is not given on this sheet",
                                           "check the name, or add the drug line or regimen")


@check("S012", "interval-not-whole-cycles", Severity.WARNING,
       "interval longer than the cycle that is not a whole number of cycles")
def interval_not_whole_cycles(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a drug given less often than the cycle (`every 9 weeks` in a
    21-day cycle) has an interval that is a whole number of cycles, so it always falls on
    the same cycle day (every 3rd cycle). `every 4 weeks` in a 21-day cycle is reported.

    Why it matters: an interval that is not a whole number of cycles drifts through the
    cycle (day 1, then day 8 of cycle 2, day 15 of cycle 3 …), which no day list or
    calendar on the sheet shows; the order set gets it wrong.

    Example: `drug zoledronic acid 4 mg IV every 4 weeks, cycle 21 days`

    Use instead: `every 3 weeks` (each cycle), `every 6 weeks` (every 2nd cycle), or
    `every 12 weeks`, on day 1

    Source: issue 14 (a drug every 9 weeks inside 21-day cycles).
    """
    for item in context.of_type(m.DrugLine):
        if not isinstance(item, m.DrugLine):
            continue
        for phase in item.phases:
            frequency, cycle = phase.frequency, phase.cycle_length
            if frequency is None or cycle is None or frequency.interval_max is not None:
                continue
            interval = frequency.interval_days()
            cycle_days = cycle.value * {"day": 1, "week": 7}.get(cycle.unit, 0)
            if interval is None or not cycle_days or interval <= cycle_days or interval % cycle_days == 0:
                continue
            yield interval_not_whole_cycles.at(
                frequency.span, f"every {interval} days in a {cycle_days}-day cycle drifts through the cycle",
                f"give an interval of a whole number of cycles (e.g. every {cycle_days * (interval // cycle_days)} "
                f"or {cycle_days * (interval // cycle_days + 1)} days)")
