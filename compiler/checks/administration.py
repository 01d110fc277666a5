"""Administration details of drug lines (issue 14 item 2): timing relative to another
drug, as-needed use, diluent and concentration.

The rules read `DrugLine.timing`, `.as_needed`, `.daily_max` and `.diluent`; the
concentration ranges and diluents come from `compiler/data/administration.yaml`, each
row with its product-information source.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, arm_layout
from compiler.checks.schedule import drug_lines, line_name
from compiler.diagnostics import Diagnostic, Severity, check

MASS_TO_MG = {"mg": Decimal(1), "g": Decimal(1000), "mcg": Decimal("0.001")}
PER_BODY = {"mg/m2": "bsa_m2", "mg/kg": "weight_kg"}


def _member(lay: a.Layout, index: int) -> a.Member | None:
    return next((mb for mb in lay.members if mb.node == index and mb.line is not None), None)


def _matches(context: Context, member: a.Member, target_id: str) -> bool:
    if member.drug_id is None:
        return False
    if target_id.startswith("class:"):
        return target_id[len("class:"):] in context.tables.drug_classes(member.drug_id)
    return member.drug_id == target_id


@check("C011", "timing-target-not-in-arm", Severity.ERROR,
       "a drug timed before or after a drug that is not given with it")
def timing_target_not_in_arm(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a drug line timed relative to another drug (`30 min before
    paclitaxel`, `1 hour before chemotherapy`, `after carboplatin`) names a drug — or a
    class such as `chemotherapy` — that is given in the same arm (the same regimen, or
    the same block of bare lines; see `compiler/arms.py`), and not the drug itself.

    Why it matters: a premedication timed to a drug the patient does not receive on that
    day is either a copy-paste slip (the premedication of another regimen) or a missing
    line; the nurse cannot schedule "30 minutes before paclitaxel" without paclitaxel.

    Example: `regimen "docetaxel"` / `drug docetaxel 75 mg/m2 IV …` / `drug dexamethasone
    20 mg IV 30 min before paclitaxel`

    Use instead: name the drug of the arm (`30 min before docetaxel`), or put the
    premedication under the regimen it belongs to.

    Source: ASCO/ONS chemotherapy administration safety standards (2016): every order
    states the sequence of administration of the drugs of the regimen.
    """
    lay = arm_layout(context)
    for index, line in drug_lines(context):
        timing = line.timing
        if timing is None:
            continue
        where = timing.target.span
        if timing.target_id is None:
            yield timing_target_not_in_arm.at(
                where, f"{line_name(context, line)}: `{timing.relation} {timing.target.value}` names no known drug or class",
                "write the generic name of a drug of this regimen, or a class such as `chemotherapy`")
            continue
        if line.drug_id is not None and timing.target_id == line.drug_id:
            yield timing_target_not_in_arm.at(where, f"{line_name(context, line)} is timed relative to itself",
                                              "name the drug it is given before or after")
            continue
        member = _member(lay, index)
        if member is None:
            continue
        arm = lay.arm(member)
        if not any(_matches(context, partner, timing.target_id) for partner in arm.partners):
            yield timing_target_not_in_arm.at(
                where, f"{line_name(context, line)} is given {timing.relation} {timing.target.value}, "
                       "which is not given with it",
                "put the line in the regimen (or block) of that drug, or name a drug of its own arm")


@check("S013", "as-needed-without-maximum", Severity.ERROR, "an as-needed (PRN) drug without a maximum per day")
def as_needed_without_maximum(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a drug line given as needed (`as needed`, `as needed for nausea`,
    `if nausea`) states its maximum per day: `up to 3 times daily`, `max 3 doses per day`
    or `max 16 mg per day`. The reason runs to the next comma: `if nausea, up to 3 times
    daily`.

    Why it matters: a PRN order without a daily maximum lets the patient (or the ward)
    repeat the dose without limit; every PRN order on a chemotherapy sheet carries one.

    Example: `drug metoclopramide 10 mg po if nausea`

    Use instead: `drug metoclopramide 10 mg po if nausea, up to 3 times daily`

    Source: ISMP Guidelines for Standard Order Sets (2010): PRN orders state the
    indication and the maximum frequency or daily dose.
    """
    for _, line in drug_lines(context):
        if line.as_needed is None or line.daily_max is not None:
            continue
        reason = line.as_needed.reason
        hint = "add `up to 3 times daily` or `max 16 mg per day` after a comma"
        if reason is not None and any(w in reason.value.lower() for w in ("max", "up to", "times")):
            hint = "end the reason with a comma: `if nausea, up to 3 times daily` (the reason runs to the comma)"
        yield as_needed_without_maximum.at(line.as_needed.span, f"{line_name(context, line)} as needed without a maximum "
                                           "per day", hint)


def _mg_range(context: Context, dose: m.Dose) -> tuple[Decimal, Decimal] | None:
    low = dose.amount.value
    high = dose.amount_max.value if dose.amount_max is not None else low
    if dose.unit in MASS_TO_MG:
        factor = MASS_TO_MG[dose.unit]
        return low * factor, high * factor
    key = PER_BODY.get(dose.unit)
    if key is None:
        return None
    body = (context.tables.administration.get("body_size") or {}).get(key)
    if not body:
        return None
    smallest, largest = (Decimal(str(x)) for x in body)
    return low * smallest, high * largest


def _row(context: Context, line: m.DrugLine) -> Mapping[str, Any] | None:
    rows = context.tables.administration.get("concentrations") or {}
    row = rows.get(line.drug_id or "")
    return row if isinstance(row, Mapping) else None


def _mg_ml(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():f} mg/mL"


@check("D025", "concentration-outside-range", Severity.ERROR,
       "final concentration of an infusion outside the product's range")
def concentration_outside_range(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a drug line with a diluent and volume (`in 250 mL sodium chloride
    0,9 %`) gives a final concentration (dose ÷ volume) inside the range the product
    information states: paclitaxel 0.3–1.2 mg/mL, docetaxel at most 0.74 mg/mL,
    carboplatin at least 0.5 mg/mL. A dose per m² or per kg is converted over a wide adult
    body-size range (`body_size` in the data file); the finding is reported only when the
    concentration is outside the range for every body size in it. Drugs without a row
    are not judged.

    Why it matters: paclitaxel and docetaxel above their maximum concentration can
    precipitate in the bag; a volume that is much too large or too small for the dose
    usually means the dose or the bag of another regimen was copied.

    Example: `drug paclitaxel 175 mg/m2 IV every 3 weeks, in 100 mL sodium chloride 0,9 %`

    Use instead: `in 500 mL sodium chloride 0,9 %` (175 mg/m² at 1.3–2.6 m² in 500 mL is
    0.46–0.91 mg/mL).

    Source: administration.yaml `concentrations` (paclitaxel: NCI DTP pharmaceutical
    information for Taxol; docetaxel: product information, 0.74 mg/mL; carboplatin: US
    prescribing information, as low as 0.5 mg/mL), per product.
    """
    for _, line in drug_lines(context):
        diluent = line.diluent
        row = _row(context, line) if diluent is not None else None
        if diluent is None or row is None or diluent.volume_unit != "mL" or diluent.volume.value <= 0:
            continue
        for phase in line.phases:
            if phase.dose is None:
                continue
            mg = _mg_range(context, phase.dose)
            if mg is None:
                continue
            low, high = (x / diluent.volume.value for x in mg)
            minimum, maximum = row.get("min_mg_ml"), row.get("max_mg_ml")
            problem = None
            if maximum is not None and low > Decimal(str(maximum)):
                problem = f"at least {_mg_ml(low)}, above the maximum {maximum} mg/mL"
            elif minimum is not None and high < Decimal(str(minimum)):
                problem = f"at most {_mg_ml(high)}, below the minimum {minimum} mg/mL"
            if problem is not None:
                severity = Severity.WARNING if row.get("unverified") else Severity.ERROR
                yield concentration_outside_range.at(
                    diluent.span, f"{line_name(context, line)} in {diluent.volume.text} mL: concentration {problem}",
                    f"choose a volume that gives a concentration in range; source: {row.get('source')}",
                    severity=severity)
                break


@check("D026", "diluent-not-compatible", Severity.ERROR, "diluent not named by the product information")
def diluent_not_compatible(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the diluent of a drug line (`in 250 mL glucose 5 %`) is one the
    product information names for that drug. Only drugs with a row in
    administration.yaml are judged (paclitaxel, docetaxel, carboplatin: sodium chloride
    0.9 % or glucose 5 %; trastuzumab deruxtecan: glucose 5 % only; trastuzumab: sodium
    chloride 0.9 % only).

    Why it matters: a drug diluted in a fluid its product information does not name may
    be unstable or precipitate (oxaliplatin in sodium chloride is the classic case); the
    pharmacy prepares what the sheet says.

    Example: `drug docetaxel 75 mg/m2 IV every 3 weeks, in 250 mL water for injections`

    Use instead: `in 250 mL sodium chloride 0,9 %`

    Source: administration.yaml `diluents` (product information of each drug, section 6.6
    or its preparation section).
    """
    for _, line in drug_lines(context):
        diluent = line.diluent
        row = _row(context, line) if diluent is not None else None
        if diluent is None or row is None or not row.get("diluents"):
            continue
        allowed = [str(x) for x in row["diluents"]]
        if diluent.fluid not in allowed:
            yield diluent_not_compatible.at(
                diluent.span, f"{line_name(context, line)} in {diluent.fluid_text}: not a diluent its product information "
                              "names", f"use {' or '.join(allowed)}; source: {row.get('source')}")
