"""FHIR R4 export: a checked protocol as a Bundle of a PlanDefinition and ActivityDefinitions.

The mapping (docs/fhir.md has the table):

- the protocol → `PlanDefinition` (type clinical-protocol) with its document control;
- sections, lead-in lines with a block, decisions and their branches → nested `action`s;
  a branch's condition → `condition` (kind applicability) with an `Expression` in CQL
  over the declared condition vocabulary and the condition in words, in the document's
  language, as `description`; `only when` / `exclude when` → conditions of the enclosing
  action;
- each drug administration (a drug line, or a drug of a library regimen, expanded) →
  one `ActivityDefinition` (kind MedicationRequest) with the drug (ATC, where
  compiler/data/atc.yaml has it, and the name) and one `Dosage` per phase (`sequence`
  1, 2 … for loading → maintenance), referenced from its action by
  `definitionCanonical`; cycle days → `timing-daysOfCycle` on that action, the cycle
  (length, number) → `timingTiming` of a parent cycle action (the KDN5 pattern).

Only the model is read (never the source text), so what is exported is what was checked.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from compiler import model as m
from compiler.arms import phase_override, phase_view
from compiler.conditions import find_flag, find_variable
from compiler.render import words as w
from compiler.source import Span
from compiler.tables import Tables

DEFAULT_BASE_URL = "https://example.org/protocolc/fhir"
ATC_FILE = Path(__file__).resolve().parent / "data" / "atc.yaml"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
DAYS_OF_CYCLE = "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
PLAN_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
ACTION_TYPE = "http://terminology.hl7.org/CodeSystem/action-type"
DOSE_PATH = "dosageInstruction[0].doseAndRate[0].doseQuantity"
DOSE_RATE_TYPE = "http://terminology.hl7.org/CodeSystem/dose-rate-type"

# SNOMED CT route codes (FHIR value set route-codes, SNOMED CT International edition).
ROUTES: dict[str, tuple[str, str]] = {
    "po": ("26643006", "Oral route"),
    "IV": ("47625008", "Intravenous route"),
    "IM": ("78421000", "Intramuscular route"),
    "subcut": ("34206005", "Subcutaneous route"),
}
# model unit → UCUM code. AUC: the target area under the curve (Calvert), mg·min/mL.
UCUM_UNITS: dict[str, str] = {
    "mg": "mg", "g": "g", "mcg": "ug", "mg/m2": "mg/m2", "mg/kg": "mg/kg", "mcg/kg": "ug/kg", "mL": "mL",
    "units": "[iU]", "mmol": "mmol", "MBq": "MBq", "AUC": "mg.min/mL",
}
PERIOD_UNITS = {"day": "d", "week": "wk", "month": "mo", "year": "a"}
DURATION_WORDS = {"day": "days", "week": "weeks", "month": "months", "year": "years"}
PER_DAY = {"daily": 1, "twice daily": 2, "three times daily": 3}
STATUS = {m.Status.DRAFT: "draft", m.Status.REVIEW: "draft", m.Status.APPROVED: "active",
          m.Status.SUPERSEDED: "retired", m.Status.RETIRED: "retired"}
NO_SPAN = Span("", 0, 0, 0, 0)
ID_CHARS = re.compile(r"[^A-Za-z0-9.-]+")

Json = dict[str, Any]


@functools.lru_cache(maxsize=1)
def atc_codes() -> dict[str, dict[str, str]]:
    """ATC codes by formulary drug id (compiler/data/atc.yaml)."""
    with ATC_FILE.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    drugs = data.get("drugs") or {}
    return {str(k): {"code": str(v["code"]), "display": str(v["display"])} for k, v in drugs.items()}


# ---------------------------------------------------------------- drug administrations


@dataclass(frozen=True)
class Administration:
    """One drug administration: a drug line, or a drug of a library regimen (expanded)."""

    drug_id: str | None
    name: str
    phases: tuple[m.Phase, ...]
    infusion: m.Infusion | None
    max_duration: m.Duration | None
    cycle_length: m.Duration | None = None  # the regimen's cycle when the drug has none of its own
    cycles: int | None = None  # the regimen's number of cycles
    frequency: m.Frequency | None = None  # the regimen line's frequency, when the drug states none
    source: str = ""  # "line 42" or "regimen EC75 (library)"
    line: m.DrugLine | None = None  # lang-b: the written line (administration details)


def _number(value: Any) -> m.Number:
    decimal = value if isinstance(value, Decimal) else Decimal(str(value))
    return m.Number(decimal, str(value), NO_SPAN)


def _library_dose(amount: Any, unit: str) -> m.Dose | None:
    if amount is None:
        return None
    if isinstance(amount, list):
        low, high = amount[0], amount[-1]
        return m.Dose(_number(low), _number(high) if high != low else None, unit, unit, NO_SPAN)
    return m.Dose(_number(amount), None, unit, unit, NO_SPAN)


def library_frequency(text: str | None) -> m.Frequency | None:
    """A regimens.yaml frequency (`daily`, `every 3 weeks`, `q3w`) as a model Frequency."""
    if not text:
        return None
    raw = str(text).strip().lower()
    if raw in ("daily", "twice daily", "three times daily", "once", "monthly"):
        return m.Frequency(raw, None, None, None, raw, NO_SPAN)
    if raw == "weekly":
        return m.Frequency("every", 1, None, "week", raw, NO_SPAN)
    match = re.fullmatch(r"every\s+([0-9]+)\s+(day|week|month|year)s?", raw)
    if match:
        return m.Frequency("every", int(match.group(1)), None, match.group(2), raw, NO_SPAN)
    match = re.fullmatch(r"q([0-9]+)(d|w|mo)", raw)
    if match:
        unit = {"d": "day", "w": "week", "mo": "month"}[match.group(2)]
        return m.Frequency("every", int(match.group(1)), None, unit, raw, NO_SPAN)
    return None


def _library_days(raw: Any) -> m.CycleDays | None:
    if not raw:
        return None
    days: list[int] = []
    for part in raw:
        bounds = [int(x) for x in str(part).split("-") if x.strip()]
        days.extend(range(bounds[0], bounds[-1] + 1) if len(bounds) == 2 else bounds)
    return m.CycleDays(tuple(days), ", ".join(str(p) for p in raw), NO_SPAN)


def _library_infusion(raw: Any) -> m.Infusion | None:
    if isinstance(raw, dict) and raw.get("first"):
        then = raw.get("then")
        return m.Infusion(int(raw["first"]), int(then) if then else None, False, NO_SPAN)
    if isinstance(raw, int) and raw:
        return m.Infusion(raw, None, False, NO_SPAN)
    return None


def library_administration(entry: dict[str, Any], regimen: dict[str, Any], line: m.RegimenLine,
                           tables: Tables, language: str, phase_cycles: int | None = None) -> Administration:
    """A drug of a library regimen as an administration, with the regimen line's overrides."""
    drug_id = str(entry.get("drug") or "")
    unit = str(entry.get("unit") or "")
    route = str(entry.get("route") or "")
    route_model = m.Route(route, route, NO_SPAN) if route else None
    days = _library_days(entry.get("days"))
    frequency = library_frequency(entry.get("frequency"))
    drug_cycles = entry.get("cycles") or phase_cycles
    maintenance = m.Phase(NO_SPAN, dose=_library_dose(entry.get("dose"), unit), route=route_model,
                          frequency=frequency, days=days, cycles=int(drug_cycles) if drug_cycles else None)
    phases = [maintenance]
    loading = entry.get("loading")
    if isinstance(loading, dict) and loading.get("dose") is not None:
        first = m.Phase(NO_SPAN, dose=_library_dose(loading["dose"], str(loading.get("unit") or unit)),
                        route=route_model, days=days, cycles=1)
        phases.insert(0, first)
    cycle_days = regimen.get("cycle_days")
    cycle = line.cycle_length or (m.Duration(int(cycle_days), "day", NO_SPAN) if cycle_days else None)
    cycles = line.cycles if line.cycles is not None else (int(regimen["cycles"]) if regimen.get("cycles") else None)
    max_duration = line.max_duration
    if max_duration is None and regimen.get("max_duration_months"):
        max_duration = m.Duration(int(regimen["max_duration_months"]), "month", NO_SPAN)
    known = drug_id in tables.drugs
    return Administration(drug_id if known else None, tables.drug_name(drug_id, language) if known else drug_id,
                          tuple(phases), _library_infusion(entry.get("infusion_min")), max_duration,
                          cycle_length=cycle, cycles=cycles, frequency=line.frequency,
                          source=f"regimen {line.name.value} (library)")


def line_administration(line: m.DrugLine, tables: Tables, language: str,
                        regimen: m.RegimenLine | None = None) -> Administration:
    """A drug line as an administration (inside an inline regimen, its cycle data apply)."""
    name = tables.drug_name(line.drug_id, language) if line.drug_id else line.name.value
    return Administration(line.drug_id, name, line.phases, line.infusion, line.max_duration,
                          cycle_length=regimen.cycle_length if regimen else None,
                          cycles=regimen.cycles if regimen else None,
                          frequency=regimen.frequency if regimen else None,
                          source=f"line {line.span.line}", line=line)


# ---------------------------------------------------------------- dosage


def _quantity(value: Decimal, unit: str) -> Json:
    out: Json = {"value": _json_number(value), "unit": unit}
    code = UCUM_UNITS.get(unit)
    if code is not None:
        out["system"] = UCUM
        out["code"] = code
    return out


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _duration(value: m.Duration) -> Json:
    return {"value": value.value, "unit": DURATION_WORDS.get(value.unit, value.unit), "system": UCUM,
            "code": PERIOD_UNITS[value.unit]}


def route_concept(code: str, language: str) -> Json:
    """The route as a CodeableConcept: SNOMED CT where the code is confirmed, text always."""
    concept: Json = {"text": code}
    if code in ROUTES:
        snomed, display = ROUTES[code]
        concept["coding"] = [{"system": SNOMED, "code": snomed, "display": display}]
    return concept


def administrations_per_cycle(phase: m.Phase, frequency: m.Frequency | None, cycle: m.Duration | None) -> int:
    """How many administrations one cycle of this phase holds (for `count`)."""
    per_day = PER_DAY.get(frequency.kind, 1) if frequency is not None else 1
    if phase.days is not None:
        return len(phase.days.days) * per_day
    if phase.on_off is not None:
        return phase.on_off[0] * per_day
    if frequency is not None and frequency.kind in PER_DAY and cycle is not None and cycle.unit == "day":
        return cycle.value * per_day
    return 1


def administrations(phase: m.Phase, frequency: m.Frequency | None, cycle: m.Duration | None, cycles: int) -> int:
    """How many administrations `cycles` cycles of this phase hold.

    A drug given at an interval longer than the cycle (`every 9 weeks` in 21-day cycles)
    is given once per interval, not once per cycle: 6 cycles of 21 days (126 days) hold
    2 administrations (days 1 and 64), not 6.
    """
    interval = frequency.interval_days() if frequency is not None and frequency.kind == "every" else None
    cycle_days = cycle.value * {"day": 1, "week": 7}.get(cycle.unit, 0) if cycle is not None else 0
    if interval and cycle_days and interval > cycle_days and frequency is not None \
            and frequency.interval_max is None:
        return -(-cycles * cycle_days // interval)
    return cycles * administrations_per_cycle(phase, frequency, cycle)


# Times of day with an HL7 EventTiming code (`before chemotherapy` has none: it stays in the dosage text).
EVENT_TIMING = {"morning": "MORN", "afternoon": "AFT", "evening": "EVE", "night": "HS"}


def _repeat(phase: m.Phase, admin: Administration, index: int) -> Json:
    repeat: Json = {}
    frequency = phase.frequency or admin.frequency
    cycle = phase.cycle_length or admin.cycle_length
    if phase.on_off is not None and cycle is None:
        cycle = m.Duration(sum(phase.on_off), "day", NO_SPAN)
    if frequency is not None:
        if frequency.kind in PER_DAY:
            repeat.update(frequency=PER_DAY[frequency.kind], period=1, periodUnit="d")
        elif frequency.kind == "every" and frequency.unit in PERIOD_UNITS:
            repeat.update(frequency=1, period=frequency.interval or 1, periodUnit=PERIOD_UNITS[frequency.unit])
            if frequency.interval_max is not None:
                repeat["periodMax"] = frequency.interval_max
        elif frequency.kind == "monthly":
            repeat.update(frequency=1, period=1, periodUnit="mo")
        elif frequency.kind == "once":
            repeat["count"] = 1
    elif phase.continuous or phase.on_off is not None:
        repeat.update(frequency=1, period=1, periodUnit="d")
    elif phase.days is not None and cycle is not None and cycle.unit in PERIOD_UNITS:
        repeat.update(frequency=len(phase.days.days), period=cycle.value, periodUnit=PERIOD_UNITS[cycle.unit])
    cycles = phase.cycles if phase.cycles is not None else admin.cycles
    if not repeat and phase.days is None and phase.cycles is None and index < len(admin.phases) - 1:
        repeat["count"] = 1  # a phase before `then` without a schedule of its own: the loading dose, once
    elif cycles is not None and "count" not in repeat:
        repeat["count"] = administrations(phase, frequency, cycle, cycles)
    bounds = phase.for_duration or admin.max_duration
    if bounds is not None and bounds.unit in PERIOD_UNITS:
        repeat["boundsDuration"] = _duration(bounds)
    if phase.time in EVENT_TIMING:
        repeat["when"] = [EVENT_TIMING[phase.time]]
    infusion = admin.infusion
    if infusion is not None and infusion.at_most:
        pass  # a maximum alone has no R4 Timing form (durationMax needs a duration): see dosage()
    elif infusion is not None:
        repeat.update(_infusion_timing(infusion, index, len(admin.phases)))
        repeat["durationUnit"] = "min"
    return repeat


def _infusion_timing(infusion: m.Infusion, index: int, phases: int) -> Json:
    """`duration` and, for a range (`infusion 1-2 hours`) or a first/later pair, `durationMax`.

    A line whose phases are loading then maintenance gives each phase its own time; on a
    single phase the later time is the usual one and the longest time is the maximum.
    """
    first, then = infusion.first_range(), infusion.then_range()
    if then is not None and phases > 1:
        low, high = first if index == 0 else then
    elif then is not None:
        return {"duration": then[0], "durationMax": max(first[1], then[1])}
    else:
        low, high = first
    return {"duration": low, "durationMax": high} if high != low else {"duration": low}


def dosage_text(admin: Administration, phase: m.Phase, language: str, tables: Tables | None = None) -> str:
    """The phase in words, in the document's language (as the sheet prints it)."""
    parts = [admin.name]
    if phase.dose is not None:
        parts.append(w.dose(phase.dose, language))
    if phase.route is not None:
        parts.append(w.route(phase.route.code, language))
    schedule = w.phase_schedule(phase, language)
    if schedule:
        parts.append(schedule)
    text = " ".join(parts)
    extra = []
    line = admin.line
    if line is not None and line.as_needed is not None:
        extra.append(w.as_needed(line.as_needed, line.daily_max, language))
    elif line is not None and line.daily_max is not None:
        extra.append(w.daily_max(line.daily_max, language))
    if line is not None and line.timing is not None:
        extra.append(w.relative_timing(line.timing, w.timing_target(line.timing, tables, language), language))
    if line is not None and line.method is not None:
        extra.append(w.method(line.method, language))
    if admin.infusion is not None:
        extra.append(w.infusion(admin.infusion, language))
    if line is not None and line.diluent is not None:
        extra.append(w.diluent(line.diluent, language))
    if admin.max_duration is not None:
        extra.append(w.max_duration(admin.max_duration, language))
    return ", ".join([text, *extra])


def dosage(admin: Administration, phase: m.Phase, index: int, language: str, tables: Tables) -> Json:
    """One Dosage: dose (UCUM), route (SNOMED CT), timing.repeat, sequence."""
    out: Json = {"sequence": index + 1, "text": dosage_text(admin, phase, language, tables)}
    repeat = _repeat(phase, admin, index)
    if repeat:
        out["timing"] = {"repeat": repeat}
    route = phase.route or next((p.route for p in admin.phases if p.route is not None), None)
    if route is not None:
        out["route"] = route_concept(route.code, language)
    dose = phase.dose
    if dose is not None:
        rate: Json = {"type": {"coding": [{"system": DOSE_RATE_TYPE, "code": "ordered", "display": "Ordered"}]}}
        if dose.amount_max is not None:
            rate["doseRange"] = {"low": _quantity(dose.amount.value, dose.unit),
                                 "high": _quantity(dose.amount_max.value, dose.unit)}
        else:
            rate["doseQuantity"] = _quantity(dose.amount.value, dose.unit)
        out["doseAndRate"] = [rate]
    if admin.line is not None:
        _administration_details(out, admin.line, language)
    cumulative = (tables.drugs.get(admin.drug_id or "") or {}).get("cumulative") or {}
    if cumulative.get("limit_mg_m2"):
        out["maxDosePerLifetime"] = _quantity(Decimal(str(cumulative["limit_mg_m2"])), "mg/m2")
    return out


# ---------------------------------------------------------------- lang-b: administration details


def _administration_details(out: Json, line: m.DrugLine, language: str) -> None:
    """PRN, daily maximum, push/bolus, maximum infusion time and diluent on a Dosage (docs/fhir.md).

    - as needed: `asNeededCodeableConcept` (text = the reason) or `asNeededBoolean`;
    - `up to 3 times daily`: timing.repeat frequency 1, frequencyMax 3 per 1 d;
      `max 16 mg per day`: `maxDosePerPeriod` 16 mg / 1 d;
    - push / bolus: `method` (text);
    - `infusion max 3 hours` and the diluent: `additionalInstruction` (text), because R4
      Timing cannot hold a maximum duration without a duration, and Dosage has no diluent.
    """
    if line.as_needed is not None:
        if line.as_needed.reason is not None:
            out["asNeededCodeableConcept"] = {"text": line.as_needed.reason.value}
        else:
            out["asNeededBoolean"] = True
    limit = line.daily_max
    if limit is not None and limit.times is not None:
        repeat = out.setdefault("timing", {}).setdefault("repeat", {})
        repeat.setdefault("frequency", 1)
        repeat.update(frequencyMax=limit.times, period=1, periodUnit="d")
    if limit is not None and limit.dose is not None and limit.dose.unit != "AUC":
        unit = "mg" if limit.dose.unit in ("mg/day", "mg/dag", "mg/d") else limit.dose.unit
        out["maxDosePerPeriod"] = {"numerator": _quantity(limit.dose.amount.value, unit),
                                   "denominator": {"value": 1, "unit": "d", "system": UCUM, "code": "d"}}
    if line.method is not None:
        out["method"] = {"text": w.method(line.method, language)}
    instructions: list[Json] = []
    if line.infusion is not None and line.infusion.at_most:
        instructions.append({"text": w.infusion(line.infusion, language)})
    if line.diluent is not None:
        instructions.append({"text": w.diluent(line.diluent, language)})
    if instructions:
        out["additionalInstruction"] = instructions


RELATIONSHIP = {"before": "before-start", "after": "after-end"}


def related_action(timing: m.RelativeTiming, target_action_id: str) -> Json:
    """`30 min before paclitaxel` → relatedAction before-start with offsetDuration 30 min.

    A range (`30-60 min before paclitaxel`) gives offsetRange 30-60 min.
    """
    related: Json = {"actionId": target_action_id, "relationship": RELATIONSHIP[timing.relation]}
    if timing.offset_min is not None and timing.offset_max is not None and timing.offset_max != timing.offset_min:
        related["offsetRange"] = {"low": _minutes_quantity(timing.offset_min),
                                  "high": _minutes_quantity(timing.offset_max)}
    elif timing.offset_min is not None:
        related["offsetDuration"] = _minutes_quantity(timing.offset_min)
    return related


def _minutes_quantity(value: int) -> Json:
    return {"value": value, "unit": "min", "system": UCUM, "code": "min"}


# ---------------------------------------------------------------- conditions


def _cql_word(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ucum_lab_unit(text: str) -> str:
    """A lab unit as a UCUM unit string for a CQL quantity (`10*9/L`, `umol/L`); × ULN as `{ULN}`."""
    compact = text.replace(" ", "").replace("×", "x").replace("⁹", "^9").replace("μ", "u").replace("µ", "u")
    if compact.lower() in ("x10^9/l", "10^9/l") or compact == "G/L":
        return "10*9/L"
    if compact.lower() in ("xuln", "uln"):
        return "{ULN}"
    if compact.lower().startswith("ml/min/1"):
        return "mL/min/{1.73_m2}"
    return compact


def cql(condition: m.Condition, tables: Tables) -> str:
    """The condition in CQL over named definitions, one name per concept.

    With the data tables, a variable is written by its canonical name (`QTcF` and `QTc`
    are one definition, `"QTc"`) and a flag by what it stands for (`HR+` is
    `"HR" = 'positive'`), so two sheets that spell a concept differently export the same
    expression; words the tables do not know stay as written.
    """
    if isinstance(condition, m.Flag):
        meaning = find_flag(condition.words, tables)
        if not meaning:
            return _identifier(condition.words)
        parts = [f"{_identifier(variable)} = {_cql_word(value)}" for variable, value in meaning.items()]
        return parts[0] if len(parts) == 1 else " and ".join(f"({p})" for p in parts)
    if isinstance(condition, m.Compare):
        if condition.number is not None:
            value = str(condition.number.value) + (" '%'" if condition.percent else "")
            if condition.unit is not None:
                value += " '" + ucum_lab_unit(condition.unit.value) + "'"
        else:
            value = _cql_word(condition.word or "")
        variable = find_variable(condition.variable, tables) or condition.variable
        return f"{_identifier(variable)} {condition.op} {value}"
    if isinstance(condition, m.Not):
        return f"not ({cql(condition.operand, tables)})"
    if isinstance(condition, m.All):
        return " and ".join(f"({cql(c, tables)})" for c in condition.operands)
    if isinstance(condition, m.Any_):
        return " or ".join(f"({cql(c, tables)})" for c in condition.operands)
    raise TypeError(f"unknown condition {type(condition).__name__}")


def start_condition(expression: str, description: str) -> Json:
    """An action condition of kind start: what must hold before the action (a cycle) begins."""
    return {"kind": "start",
            "expression": {"description": description, "language": "text/cql", "expression": expression}}


def stop_condition(expression: str, description: str) -> Json:
    """An action condition of kind stop."""
    return {"kind": "stop",
            "expression": {"description": description, "language": "text/cql", "expression": expression}}


def applicability(expression: str, description: str) -> Json:
    """An action condition of kind applicability."""
    return {"kind": "applicability",
            "expression": {"description": description, "language": "text/cql", "expression": expression}}


def _dynamic_value(action: m.DoseAction, levels: dict[int, m.Dose]) -> Json | None:
    """The dose a band sets on the MedicationRequest made from the drug's ActivityDefinition."""
    if action.kind == "percent" and action.percent is not None:
        factor = action.percent.value / 100
        return {"path": DOSE_PATH + ".value",
                "expression": {"description": f"{action.percent.value}% of the planned dose",
                               "language": "text/cql", "expression": f'"Planned dose".value * {factor}'}}
    dose = action.dose if action.kind == "dose" else levels.get(action.level) if action.level is not None else None
    if dose is None or dose.unit == "AUC":
        return None
    unit = UCUM_UNITS.get(dose.unit, dose.unit)
    return {"path": DOSE_PATH,
            "expression": {"description": f"{dose.amount.value} {dose.unit}", "language": "text/cql",
                           "expression": f"{dose.amount.value} '{unit}'"}}


# ---------------------------------------------------------------- plan definition


@dataclass
class _Exporter:
    protocol: m.Protocol
    tables: Tables
    language: str
    base: str
    pid: str
    status: str
    activities: list[Json] = field(default_factory=list)
    administrations: list[tuple[Administration, Json]] = field(default_factory=list)
    action_ids: int = 0  # lang-b: ids given to actions that a relatedAction points at
    levels: dict[str, dict[int, m.Dose]] = field(default_factory=dict)  # drug id (or name) -> dose levels

    def activity(self, admin: Administration) -> str:
        """Add the ActivityDefinition of an administration; return its canonical URL."""
        number = len(self.activities) + 1
        ident = f"{self.pid[:52]}-drug-{number}"
        url = f"{self.base}/ActivityDefinition/{ident}"
        product: Json = {"text": admin.name}
        code = atc_codes().get(admin.drug_id or "")
        if code is not None:
            product["coding"] = [{"system": "http://www.whocc.no/atc", "code": code["code"],
                                  "display": code["display"]}]
        resource: Json = {
            "resourceType": "ActivityDefinition", "id": ident, "url": url,
            "identifier": [{"system": f"{self.base}/drug-administration", "value": ident}],
            "title": admin.name, "status": self.status, "kind": "MedicationRequest", "intent": "proposal",
            "productCodeableConcept": product,
            "dosage": [dosage(admin, phase, i, self.language, self.tables) for i, phase in enumerate(admin.phases)],
            "description": f"{self.pid}, {admin.source}",
        }
        if self.protocol.meta.version is not None:
            resource["version"] = str(self.protocol.meta.version)
        if self.protocol.meta.language:
            resource["language"] = self.protocol.meta.language
        self.activities.append(resource)
        self.administrations.append((admin, resource))
        return url

    def drug_action(self, admin: Administration) -> Json:
        url = self.activity(admin)
        action: Json = {"title": admin.name, "textEquivalent": "; ".join(
            d["text"] for d in self.activities[-1]["dosage"]), "definitionCanonical": url}
        days = next((p.days.days for p in admin.phases if p.days is not None), None)
        if days is None:
            on_off = next((p.on_off for p in admin.phases if p.on_off is not None), None)
            days = tuple(range(1, on_off[0] + 1)) if on_off else None
        if days:
            action["extension"] = [{"url": DAYS_OF_CYCLE,
                                    "extension": [{"url": "day", "valueInteger": d} for d in days]}]
        for phase in admin.phases:
            end = phase.until_after
            if end is not None:
                name = self.tables.drug_name(end.drug_id, self.language) if end.drug_id else end.drug.value
                action.setdefault("condition", []).append(stop_condition(
                    f'Today() > "Last administration: {name}" + {end.days()} days',
                    w.relative_end(end, name, self.language)))
        cycle = next((p.cycle_length for p in admin.phases if p.cycle_length is not None), None)
        if cycle is None and any(p.on_off for p in admin.phases):
            on_off_pair = next(p.on_off for p in admin.phases if p.on_off is not None)
            cycle = m.Duration(sum(on_off_pair), "day", NO_SPAN)
        cycles = next((p.cycles for p in admin.phases if p.cycles is not None), None)
        if days and cycle is not None and admin.cycle_length is None:
            return self.cycle_action(cycle, cycles, [action])
        return action

    def cycle_action(self, cycle: m.Duration, cycles: int | None, children: list[Json]) -> Json:
        """The KDN5 cycle: repeat.duration = cycle length, count = number of cycles."""
        repeat: Json = {"duration": cycle.value, "durationUnit": PERIOD_UNITS[cycle.unit]}
        text = w.cycle_length(cycle, self.language)
        if cycles is not None:
            repeat["count"] = cycles
            text += ", " + w.cycles(cycles, self.language)
        return {"title": text, "textEquivalent": text, "timingTiming": {"repeat": repeat},
                "selectionBehavior": "all", "action": children}

    def regimen_action(self, line: m.RegimenLine) -> Json:
        entry = self.tables.regimens.get(line.regimen_id or "") if line.regimen_id else None
        written = [c for c in _statements(line.children) if isinstance(c, m.DrugLine)]
        drug_actions: list[Json] = []
        conditions: list[Json] = []
        phases = [c for c in _statements(line.children) if isinstance(c, m.PhaseLine)]
        if phases:
            return self.phased_regimen_action(line, phases)
        if written:
            for child in written:
                drug_actions.append(self.drug_action(line_administration(child, self.tables, self.language, line)))
            self.relate(list(zip(written, drug_actions, strict=True)))
        elif entry is not None:
            for drug in entry.get("drugs") or []:
                drug_actions.append(self.drug_action(
                    library_administration(drug, entry, line, self.tables, self.language)))
            for phase in entry.get("phases") or []:
                phase_cycles = int(phase["cycles"]) if phase.get("cycles") else None
                for drug in phase.get("drugs") or []:
                    drug_actions.append(self.drug_action(library_administration(
                        drug, entry, line, self.tables, self.language, phase_cycles)))
        for item in line.children:
            conditions.extend(self.constraint(item))
        title = line.name.value
        if entry is not None:
            titles = entry.get("title") or {}
            title = str(titles.get(self.language) or titles.get("en") or title)
        action: Json = {"title": line.name.value, "textEquivalent": title, "selectionBehavior": "all",
                        "action": drug_actions}
        cycle = line.cycle_length
        if cycle is None and entry is not None and entry.get("cycle_days"):
            cycle = m.Duration(int(entry["cycle_days"]), "day", NO_SPAN)
        cycles = line.cycles if line.cycles is not None else (
            int(entry["cycles"]) if entry is not None and entry.get("cycles") else None)
        if cycle is not None and cycle.unit in PERIOD_UNITS and drug_actions:
            action["action"] = [self.cycle_action(cycle, cycles, drug_actions)]
        if conditions:
            action["condition"] = conditions
        return action

    def phased_regimen_action(self, line: m.RegimenLine, phases: list[m.PhaseLine]) -> Json:
        """lang-b: a regimen in phases: one nested action per phase, each with its own cycle
        action, the phases in order (`relatedAction` after-end of the previous phase).
        """
        phase_actions: list[Json] = []
        previous_id: str | None = None
        for phase in phases:
            view = phase_view(line, phase)
            written = [c for c in _statements(phase.children) if isinstance(c, m.DrugLine)]
            drug_actions = [self.drug_action(line_administration(child, self.tables, self.language, view))
                            for child in written]
            self.relate(list(zip(written, drug_actions, strict=True)))
            for nested in (c for c in _statements(phase.children) if isinstance(c, m.RegimenLine)):
                drug_actions.append(self.regimen_action(phase_override(nested, phase)))  # a library regimen
            self.action_ids += 1
            phase_id = f"phase-{self.action_ids}"
            text = phase.name.value
            if view.cycle_length is not None:
                text += ": " + w.cycle_length(view.cycle_length, self.language)
                if view.cycles is not None:
                    text += ", " + w.cycles(view.cycles, self.language)
            action: Json = {"id": phase_id, "title": phase.name.value, "textEquivalent": text,
                            "selectionBehavior": "all", "action": drug_actions}
            if phase.cycle_length is not None and phase.cycle_length.unit in PERIOD_UNITS and written:
                action["action"] = [self.cycle_action(phase.cycle_length, phase.cycles, drug_actions)]
            if previous_id is not None:
                action["relatedAction"] = [{"actionId": previous_id, "relationship": "after-end"}]
            conditions = [c for item in phase.children for c in self.constraint(item)]
            if conditions:
                action["condition"] = conditions
            phase_actions.append(action)
            previous_id = phase_id
        result: Json = {"title": line.name.value, "textEquivalent": line.name.value, "selectionBehavior": "all",
                        "action": phase_actions}
        conditions = [c for item in line.children for c in self.constraint(item)]
        if conditions:
            result["condition"] = conditions
        if line.max_duration is not None and line.max_duration.unit in PERIOD_UNITS:
            result["timingDuration"] = _duration(line.max_duration)
        return result

    def constraint(self, item: m.Item) -> list[Json]:
        if isinstance(item, m.OnlyWhen):
            return [applicability(cql(item.condition, self.tables), w.label(self.language, "only_when") + " "
                                  + w.condition(item.condition, self.language))]
        if isinstance(item, m.ExcludeWhen):
            return [applicability(f"not ({cql(item.condition, self.tables)})", w.label(self.language, "exclude_when") + " "
                                  + w.condition(item.condition, self.language))]
        if isinstance(item, m.Criteria):
            label = w.label(self.language, "criteria")
            return [start_condition(cql(c.condition, self.tables), f"{label}: {w.condition(c.condition, self.language)}")
                    for c in item.criteria()]
        return []

    # ------------------------------------------------------------ dose modification (docs/fhir.md)
    def modification_action(self, table: m.DoseModification) -> Json:
        """A table as a logical group of band actions: condition (applicability) → dynamicValue on the dose."""
        labels = w.LABELS[self.language]
        title = f"{labels['dose_modification']} {table.drug.value}"
        if table.variable is not None:
            title += f" {labels['by']} {'nadir ' if table.nadir else ''}{table.variable.value}"
        canonical = next((resource["url"] for admin, resource in self.administrations
                          if table.drug_id is not None and admin.drug_id == table.drug_id), None)
        levels = self.levels.get(table.drug_id or table.drug.value, {})
        bands: list[Json] = []
        for band in table.bands():
            band_words = w.band(band.condition, self.language, False)
            action: Json = {"title": band_words,
                            "condition": [applicability(cql(band.condition, self.tables), w.condition(band.condition,
                                                                                         self.language))]}
            occurrences = band.occurrences()
            if not occurrences:
                action.update(self.band_actions(band.actions, levels, canonical))
            else:
                # one child per occurrence row, chosen by how often the band has applied
                children = [self.occurrence_action(o, levels, canonical) for o in occurrences]
                action["textEquivalent"] = "; ".join(f"{c['title']}: {c['textEquivalent']}" for c in children)
                action["groupingBehavior"] = "logical-group"
                action["selectionBehavior"] = "exactly-one"
                action["action"] = children
            bands.append(action)
        out: Json = {"title": title, "textEquivalent": title, "groupingBehavior": "logical-group",
                     "selectionBehavior": "exactly-one", "action": bands}
        return out

    def occurrence_action(self, occurrence: m.Occurrence, levels: dict[int, m.Dose], canonical: str | None) -> Json:
        words = w.occurrence(occurrence.number, occurrence.and_later, self.language)
        op = ">=" if occurrence.and_later else "="
        action: Json = {"title": words,
                        "condition": [applicability(f'"occurrence" {op} {occurrence.number}', words)]}
        action.update(self.band_actions(occurrence.actions, levels, canonical))
        return action

    def band_actions(self, band_actions: tuple[m.DoseAction, ...], levels: dict[int, m.Dose],
                     canonical: str | None) -> Json:
        """textEquivalent, code, dynamicValue and type of one list of band actions."""
        actions = [w.dose_action(a, self.language, w.dose(levels[a.level], self.language)
                                 if a.level is not None and a.level in levels else None) for a in band_actions]
        out: Json = {"textEquivalent": w.sequence(band_actions, actions, self.language)}
        codes = [{"text": a.kind} for a in band_actions if a.kind != "then"]
        if codes:
            out["code"] = codes
        dynamic = [value for a in band_actions if (value := _dynamic_value(a, levels)) is not None]
        if dynamic and canonical is not None:
            out["definitionCanonical"] = canonical
            out["dynamicValue"] = dynamic
        if any(a.kind == "discontinue" for a in band_actions):
            out["type"] = {"coding": [{"system": ACTION_TYPE, "code": "remove", "display": "Remove"}]}
        elif dynamic:
            out["type"] = {"coding": [{"system": ACTION_TYPE, "code": "update", "display": "Update"}]}
        return out

    def levels_action(self, item: m.DoseLevels) -> Json:
        labels = w.LABELS[self.language]
        title = f"{labels['dose_levels']} {item.drug.value}"
        rows = [f"{labels['level']} {lv.level}: {w.dose(lv.dose, self.language)}" for lv in item.levels()]
        self.levels[item.drug_id or item.drug.value] = {lv.level: lv.dose for lv in item.levels()}
        return {"title": title, "textEquivalent": "\n".join(rows)}

    def items(self, items: tuple[m.Item, ...]) -> tuple[list[Json], list[str], list[Json]]:
        """Child actions, prose lines (for textEquivalent) and conditions of a block."""
        actions: list[Json] = []
        texts: list[str] = []
        conditions: list[Json] = []
        decision_branches: list[m.Condition] = []
        timed: list[tuple[m.DrugLine, Json]] = []  # lang-b: drug actions of this block, for relatedAction
        for item in items:
            content = item.content if isinstance(item, m.Bullet) else item
            children = item.children
            if content is None:
                continue
            conditions.extend(self.constraint(content))
            if isinstance(content, m.When):
                decision_branches.append(content.condition)
                actions.append(self.branch(content.condition, content.children))
            elif isinstance(content, m.Otherwise):
                actions.append(self.otherwise(decision_branches, content.children))
            elif isinstance(content, m.Decision):
                actions.append(self.decision(content))
            elif isinstance(content, m.DrugLine):
                action = self.drug_action(line_administration(content, self.tables, self.language))
                own = content.children + (children if content is not item else ())  # a bullet's block, once
                extra = [c for child in own for c in self.constraint(child)]
                if extra:
                    action["condition"] = extra
                actions.append(action)
                timed.append((content, action))
            elif isinstance(content, m.RegimenLine):
                action = self.regimen_action(dataclass_with_children(content, children))
                actions.append(action)
            elif isinstance(content, m.Fractionation):
                rt_action: Json = {"title": "rt", "textEquivalent": _fractionation_text(content, self.language)}
                sub: list[Json] = []
                if len(content.parts) > 1:  # lang-b: the parts of a course, in order
                    sub = [{"title": f"rt {i}", "textEquivalent": w.rt_part(p, self.language)}
                           for i, p in enumerate(content.parts, start=1)]
                # rt14: each SIB volume (delivered in the base volume's sessions) as a child action
                sub += [{"title": f"SIB {i}", "textEquivalent": w.rt_sib(sib, self.language)}
                        for i, sib in enumerate(content.sib, start=1)]
                if sub:
                    rt_action["action"] = sub
                oar = [c for c in (*content.children, *(children if content is not item else ()))
                       if isinstance(c, m.OarConstraint)]
                if oar:  # rt14: the organ-at-risk constraints of the course, as written
                    rt_action["description"] = (f"{w.label(self.language, 'oar_constraint')}: "
                                                + "; ".join(w.oar_constraint(c, self.language) for c in oar))
                actions.append(rt_action)
            elif isinstance(content, m.DoseLevels):
                actions.append(self.levels_action(content))
            elif isinstance(content, m.DoseModification):
                actions.append(self.modification_action(content))
            elif isinstance(content, m.Prose) and children:
                sub_actions, sub_texts, sub_conditions = self.items(children)
                action = {"title": content.text}
                if sub_texts:
                    action["textEquivalent"] = "\n".join(sub_texts)
                if sub_conditions:
                    action["condition"] = sub_conditions
                if sub_actions:
                    action["action"] = sub_actions
                    if sum(1 for a in sub_actions if "definitionCanonical" in a or "selectionBehavior" in a) > 1:
                        action["selectionBehavior"] = "any"
                actions.append(action)
            elif isinstance(content, m.Prose):
                texts.append(content.text)
            elif isinstance(content, m.Note) and content.text is not None:
                texts.append(f"{w.label(self.language, 'note')}: {content.text.value}")
            if not isinstance(content, (m.Prose, m.RegimenLine, m.DrugLine, m.When, m.Otherwise, m.Decision,
                                        m.Criteria, m.DoseModification, m.DoseLevels)) \
                    and children:
                sub_actions, sub_texts, _ = self.items(children)
                actions.extend(sub_actions)
                texts.extend(sub_texts)
        self.relate(timed)
        return actions, texts, conditions

    def relate(self, timed: list[tuple[m.DrugLine, Json]]) -> None:
        """lang-b: a line timed to a drug of its block gets a relatedAction to that drug's action."""
        for line, action in timed:
            timing = line.timing
            if timing is None or timing.target_id is None:
                continue
            target = next((a for other, a in timed if other is not line and self.is_target(other, timing.target_id)),
                          None)
            if target is None:
                continue
            if "id" not in target:
                self.action_ids += 1
                target["id"] = f"drug-action-{self.action_ids}"
            action.setdefault("relatedAction", []).append(related_action(timing, str(target["id"])))

    def is_target(self, line: m.DrugLine, target_id: str) -> bool:
        if line.drug_id is None:
            return False
        if target_id.startswith("class:"):
            return target_id[len("class:"):] in self.tables.drug_classes(line.drug_id)
        return line.drug_id == target_id

    def branch(self, condition: m.Condition, children: tuple[m.Item, ...]) -> Json:
        sub_actions, texts, conditions = self.items(children)
        description = w.label(self.language, "if") + " " + w.condition(condition, self.language)
        action: Json = {"title": description,
                        "condition": [applicability(cql(condition, self.tables), description), *conditions]}
        if texts:
            action["textEquivalent"] = "\n".join(texts)
        if sub_actions:
            action["action"] = sub_actions
        return action

    def otherwise(self, siblings: list[m.Condition], children: tuple[m.Item, ...]) -> Json:
        sub_actions, texts, conditions = self.items(children)
        label = w.label(self.language, "otherwise")
        expression = "not (" + " or ".join(f"({cql(c, self.tables)})" for c in siblings) + ")" if siblings else "true"
        action: Json = {"title": label, "condition": [applicability(expression, label), *conditions]}
        if texts:
            action["textEquivalent"] = "\n".join(texts)
        if sub_actions:
            action["action"] = sub_actions
        return action

    def decision(self, item: m.Decision) -> Json:
        sub_actions, texts, conditions = self.items(item.children)
        has_otherwise = any(isinstance(c.content if isinstance(c, m.Bullet) else c, m.Otherwise)
                            for c in item.children)
        title = item.title.value if item.title is not None else w.label(self.language, "decision")
        action: Json = {"title": title, "groupingBehavior": "logical-group",
                        "selectionBehavior": "exactly-one" if has_otherwise else "at-most-one"}
        if texts:
            action["textEquivalent"] = "\n".join(texts)
        if conditions:
            action["condition"] = conditions
        if sub_actions:
            action["action"] = sub_actions
        return action

    def section(self, section: m.Section) -> Json:
        actions, texts, conditions = self.items(section.items)
        action: Json = {"prefix": section.number, "title": section.title}
        if texts:
            action["textEquivalent"] = "\n".join(texts)
        if conditions:
            action["condition"] = conditions
        children = actions + [self.section(s) for s in section.subsections]
        if children:
            action["action"] = children
        return action

    def plan(self) -> Json:
        meta = self.protocol.meta
        url = f"{self.base}/PlanDefinition/{self.pid}"
        plan: Json = {
            "resourceType": "PlanDefinition", "id": self.pid, "url": url,
            "identifier": [{"system": f"{self.base}/protocol-id", "value": meta.id.value if meta.id else self.pid}],
            "name": _computable_name(self.pid),
            "type": {"coding": [{"system": PLAN_TYPE, "code": "clinical-protocol", "display": "Clinical Protocol"}]},
            "status": self.status,
        }
        if meta.version is not None:
            plan["version"] = str(meta.version)
        if meta.title is not None:
            plan["title"] = meta.title.value
        if meta.language:
            plan["language"] = meta.language
        changed = meta.approved or meta.authored
        if changed is not None:
            plan["date"] = changed.isoformat()
        if meta.owner is not None:
            plan["publisher"] = meta.owner.value
        if meta.scope is not None:
            plan["description"] = meta.scope.value
            plan["usage"] = meta.scope.value
        if meta.change_note is not None:
            plan["purpose"] = meta.change_note.value
        if meta.approved is not None:
            plan["approvalDate"] = meta.approved.isoformat()
            if meta.status == m.Status.APPROVED:
                plan["lastReviewDate"] = meta.approved.isoformat()
        if meta.next_review is not None:
            period: Json = {"end": meta.next_review.isoformat()}
            if meta.approved is not None:
                period["start"] = meta.approved.isoformat()
            plan["effectivePeriod"] = period
        for key, text in (("author", meta.author), ("reviewer", meta.reviewer), ("endorser", meta.approver)):
            if text is not None:
                plan[key] = [{"name": text.value}]
        if meta.references:
            plan["relatedArtifact"] = [_related(ref.value) for ref in meta.references]
        actions, texts, conditions = self.items(self.protocol.preamble)
        actions.extend(self.section(s) for s in self.protocol.sections)
        if conditions or texts:
            preamble: Json = {"title": self.protocol.meta.title.value if self.protocol.meta.title else self.pid}
            if texts:
                preamble["textEquivalent"] = "\n".join(texts)
            if conditions:
                preamble["condition"] = conditions
            actions.insert(0, preamble)
        if actions:
            plan["action"] = actions
        return plan


def dataclass_with_children(line: m.RegimenLine, children: tuple[m.Item, ...]) -> m.RegimenLine:
    """A regimen line that also holds the block of the bullet it sits in."""
    if not children or children == line.children:
        return line
    return m.RegimenLine(line.span, (*line.children, *children), line.name, line.quoted, line.cycle_length,
                         line.cycles, line.until, line.max_duration, line.frequency, line.regimen_id)


def _statements(items: tuple[m.Item, ...]) -> Iterator[m.Item]:
    for item in items:
        if isinstance(item, m.Bullet):
            if item.content is not None:
                yield item.content
        else:
            yield item


def _fractionation_text(item: m.Fractionation, language: str) -> str:
    if item.up_to:
        target = item.tolerance.value if item.tolerance else (
            f"{w.number(item.total.value, language)} Gy" if item.total else "")
        return f"{w.label(language, 'rt')}: {w.label(language, 'up_to')} {target}"
    parts = []
    if item.parts:
        parts.append(w.rt_course(item, language))  # lang-b: a course in parts
    elif item.fractions is not None and item.dose_per_fraction is not None:
        parts.append(f"{w.number(item.fractions.value, language)} × "
                     f"{w.number(item.dose_per_fraction.value, language)} Gy")
    if item.total is not None and not item.parts:
        parts[-1:] = [f"{parts[-1]} = {w.number(item.total.value, language)} Gy"] if parts else []
    parts.extend(w.rt_sib(sib, language) for sib in item.sib)  # rt14
    if item.site is not None:
        parts.append(f"{w.label(language, 'site')} {item.site.value}")
    if item.technique is not None:
        parts.append(f"{w.label(language, 'technique')} {item.technique.value}")
    if item.laterality is not None:
        parts.append(w.laterality(item.laterality, language))
    return f"{w.label(language, 'rt')}: " + ", ".join(parts)


def _related(reference: str) -> Json:
    link = re.search(r"https?://\S+", reference)
    out: Json = {"type": "citation", "citation": reference}
    if link:
        out["url"] = link.group(0).rstrip(".,;)")
    return out


def _computable_name(pid: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", pid)
    name = "".join(word[:1].upper() + word[1:] for word in words) or "Protocol"
    return name if name[0].isalpha() else "P" + name


def fhir_id(text: str) -> str:
    """A FHIR resource id from a protocol id (letters, digits, `-`, `.`; at most 64)."""
    return ID_CHARS.sub("-", text).strip("-")[:64] or "protocol"


@dataclass(frozen=True)
class Export:
    """A protocol's Bundle and the administrations it exported (for tests and reports)."""

    bundle: Json
    administrations: tuple[tuple[Administration, Json], ...]


def export_protocol(protocol: m.Protocol, tables: Tables, base_url: str = DEFAULT_BASE_URL) -> Export:
    """The FHIR R4 Bundle (type collection) of a resolved, checked protocol."""
    meta = protocol.meta
    pid = fhir_id(meta.id.value if meta.id is not None else Path(protocol.path).stem)
    status = STATUS.get(meta.status, "unknown") if meta.status is not None else "unknown"
    base = base_url.rstrip("/")
    exporter = _Exporter(protocol, tables, meta.language or "nl", base, pid, status)
    plan = exporter.plan()
    entries = [{"fullUrl": plan["url"], "resource": plan}]
    entries.extend({"fullUrl": a["url"], "resource": a} for a in exporter.activities)
    bundle: Json = {"resourceType": "Bundle", "id": pid, "type": "collection", "entry": entries}
    return Export(bundle, tuple(exporter.administrations))
