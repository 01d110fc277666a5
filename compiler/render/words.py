"""Words of the printed sheet in the document language: labels, numbers, doses, schedules.

Everything a reader sees that the author did not type (column headings, "elke 3 weken",
"Indien … :") is made here, so the templates only place text and never compose it.
The model keeps English keywords (`daily`, `every 3 weeks`); the sheet speaks the
document's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from compiler import model as m

if TYPE_CHECKING:
    from compiler.tables import Tables

LANGUAGES = ("nl", "en")

LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "criteria": "Voorwaarden vóór elke cyclus", "criterion": "Voorwaarde", "dose_modification": "Dosisaanpassing",
        "by": "volgens", "dose_levels": "Dosisniveaus", "level": "niveau", "band": "Waarde", "action": "Aanpassing",
        "delay": "uitstellen", "withhold": "onderbreken", "discontinue": "definitief stoppen",
        "of_dose": "van de dosis", "until_word": "tot", "from_day": "vanaf dag", "after_last": "na de laatste",
        "grade": "graad",
        "drug": "Geneesmiddel", "dose": "Dosis", "route": "Toediening", "schedule": "Schema",
        "notes": "Opmerkingen", "drug_table": "Geneesmiddelen",
        "id": "Id", "version": "Versie", "status": "Status", "owner": "Eigenaar", "author": "Auteur",
        "reviewer": "Nagelezen door", "approver": "Goedgekeurd door", "authored": "Opgesteld op",
        "approved": "Goedgekeurd op", "next_review": "Volgende herziening", "scope": "Toepassingsgebied",
        "references": "Referenties", "change_note": "Wijziging", "document_control": "Documentbeheer",
        "contents": "Inhoud", "note": "NOTA", "query": "Open vraag voor de reviewer",
        "query_blocks": "Deze vraag moet beantwoord zijn vóór goedkeuring.",
        "allowed": "Aanvaarde afwijking", "decision": "Beslissing", "if": "Indien", "otherwise": "Anders",
        "only_when": "Enkel indien", "exclude_when": "Niet indien", "preferably_with": "Bij voorkeur met", "not_with": "Niet samen met",
        "only_with": "Enkel in combinatie met", "then": "daarna",
        "prn": "ZN", "phase": "Fase", "followed_by": "Gevolgd door fase", "see": "zie", "and": "en", "or": "of",
        "not": "niet", "regimen": "Schema", "source": "Bron", "not_in_library": "niet in de schemabibliotheek",
        "not_in_formulary": "niet in het formularium", "rt": "Radiotherapie", "site": "op",
        "technique": "techniek", "per_week": "× per week", "up_to": "tot", "validation": "Validatie",
        "errors": "fouten", "warnings": "waarschuwingen", "infos": "meldingen", "no_findings": "Geen bevindingen.",
        "code": "Code", "line": "Regel", "severity": "Ernst", "message": "Melding", "hint": "Advies",
        "acknowledged": "aanvaard", "error": "fout", "warning": "waarschuwing", "info": "info",
        "validity": ("Is dit een geprinte versie? Dan is die enkel geldig als ze overeenstemt met de "
                     "elektronische versie op het procedureboek — versie {version}"),
        "page": "Pagina", "unverified": "niet geverifieerd",
        "draft": "CONCEPT", "review": "REVIEW", "approved_status": "GOEDGEKEURD", "superseded": "VERVANGEN",
        "retired": "INGETROKKEN", "loading": "oplaaddosis", "generated": "Gemaakt met protocolc",
        "flowchart": "Stroomschema", "not_covered": "niet gedekt", "overlaps": "overlapt bij",
        "open_question": "open vraag", "branches": "takken", "calendar": "Cycluskalender", "day": "Dag",
        "days_short": "dag", "dose_given": "toediening", "no_dose": "geen toediening",
        "own_interval": "eigen ritme, los van de cyclus", "legend": "● = toediening op die dag",
        "cycle_of": "cyclus {days} dagen", "repeat_weekly": "cyclus {days} dagen, {n}× weergegeven",
        "only_cycles": "alleen cyclus 1–{n}", "max_cycles": "max. {n} cycli", "cycle1": "cyclus 1",
        "timeline": "Verloop in weken", "week": "week", "weeks": "weken", "until_open": "→ tot progressie",
        "stop_at": "stop na {what}", "maintenance": "onderhoud", "rt_table": "Fractioneringsschema's",
        "rt_scheme": "n × d", "rt_total": "Totaal", "rt_site": "Plaats / techniek", "alpha_beta": "α/β",
        "lq_unreliable": "* LQ-model onbetrouwbaar boven {d} Gy per fractie: BED/EQD2 enkel ter indicatie",
        "gy": "Gy", "continuous_short": "continu", "ab_early": "tumor, vroege reactie", "ab_late": "late reactie",
        "ab_site": "α/β van de plaats", "ab_site_tissue": "zoals R003", "rt_part": "deel", "boost": "boost",
        "rt_course": "kuur", "sib": "SIB", "oar_constraint": "Dosisbeperking",
    },
    "en": {
        "criteria": "Criteria before each cycle", "criterion": "Criterion", "dose_modification": "Dose modification",
        "by": "by", "dose_levels": "Dose levels", "level": "level", "band": "Value", "action": "Action",
        "delay": "delay", "withhold": "withhold", "discontinue": "discontinue",
        "of_dose": "of the dose", "until_word": "until", "from_day": "from day", "after_last": "after the last",
        "grade": "grade",
        "drug": "Drug", "dose": "Dose", "route": "Route", "schedule": "Schedule", "notes": "Notes",
        "drug_table": "Drugs",
        "id": "Id", "version": "Version", "status": "Status", "owner": "Owner", "author": "Author",
        "reviewer": "Reviewed by", "approver": "Approved by", "authored": "Written on", "approved": "Approved on",
        "next_review": "Next review", "scope": "Scope", "references": "References", "change_note": "Change note",
        "document_control": "Document control", "contents": "Contents", "note": "Note",
        "query": "Open question for the reviewer",
        "query_blocks": "This question must be answered before approval.",
        "allowed": "Accepted deviation", "decision": "Decision", "if": "If", "otherwise": "Otherwise",
        "only_when": "Only if", "exclude_when": "Not if", "preferably_with": "Preferably with", "not_with": "Not with",
        "only_with": "Only in combination with", "then": "then",
        "prn": "PRN", "phase": "Phase", "followed_by": "Followed by phase", "see": "see", "and": "and", "or": "or",
        "not": "not", "regimen": "Regimen", "source": "Source", "not_in_library": "not in the regimen library",
        "not_in_formulary": "not in the formulary", "rt": "Radiotherapy", "site": "to",
        "technique": "technique", "per_week": "× per week", "up_to": "up to", "validation": "Validation",
        "errors": "errors", "warnings": "warnings", "infos": "notices", "no_findings": "No findings.",
        "code": "Code", "line": "Line", "severity": "Severity", "message": "Message", "hint": "Advice",
        "acknowledged": "accepted", "error": "error", "warning": "warning", "info": "info",
        "validity": ("Printed copy? It is valid only if it matches the electronic version in the "
                     "procedure book — version {version}"),
        "page": "Page", "unverified": "unverified",
        "draft": "DRAFT", "review": "REVIEW", "approved_status": "APPROVED", "superseded": "SUPERSEDED",
        "retired": "RETIRED", "loading": "loading dose", "generated": "Made with protocolc",
        "flowchart": "Flowchart", "not_covered": "not covered", "overlaps": "overlaps at",
        "open_question": "open question", "branches": "branches", "calendar": "Cycle calendar", "day": "Day",
        "days_short": "day", "dose_given": "dose", "no_dose": "no dose",
        "own_interval": "own interval, independent of the cycle", "legend": "● = dose on that day",
        "cycle_of": "{days}-day cycle", "repeat_weekly": "{days}-day cycle, shown {n}×",
        "only_cycles": "cycles 1–{n} only", "max_cycles": "max. {n} cycles", "cycle1": "cycle 1",
        "timeline": "Course in weeks", "week": "week", "weeks": "weeks", "until_open": "→ until progression",
        "stop_at": "stop after {what}", "maintenance": "maintenance", "rt_table": "Fractionation schemes",
        "rt_scheme": "n × d", "rt_total": "Total", "rt_site": "Site / technique", "alpha_beta": "α/β",
        "lq_unreliable": "* LQ model unreliable above {d} Gy per fraction: BED/EQD2 indicative only",
        "gy": "Gy", "continuous_short": "continuous", "ab_early": "tumour, early effects", "ab_late": "late effects",
        "ab_site": "α/β of the site", "ab_site_tissue": "as R003", "rt_part": "part", "boost": "boost",
        "rt_course": "course", "sib": "SIB", "oar_constraint": "Constraint",
    },
}

ROUTES = {
    "nl": {"po": "oraal", "IV": "IV", "IM": "IM", "subcut": "subcutaan", "intrathecal": "intrathecaal",
           "intravesical": "intravesicaal", "intrapleural": "intrapleuraal", "intraperitoneal": "intraperitoneaal",
           "intra-arterial": "intra-arterieel"},
    "en": {"po": "oral", "IV": "IV", "IM": "IM", "subcut": "subcut", "intrathecal": "intrathecal",
           "intravesical": "intravesical", "intrapleural": "intrapleural", "intraperitoneal": "intraperitoneal",
           "intra-arterial": "intra-arterial"},
}

# unit as stored in the model → as printed (never `U` or `µg`: both are ISMP error-prone abbreviations)
UNITS = {
    "nl": {"mg/m2": "mg/m²", "mcg/kg": "mcg/kg", "units": "eenheden", "mL": "mL"},
    "en": {"mg/m2": "mg/m²", "mcg/kg": "mcg/kg", "units": "units", "mL": "mL"},
}

PERIODS = {
    "nl": {"day": ("dag", "dagen"), "week": ("week", "weken"), "month": ("maand", "maanden"),
           "year": ("jaar", "jaar")},
    "en": {"day": ("day", "days"), "week": ("week", "weeks"), "month": ("month", "months"),
           "year": ("year", "years")},
}

FREQUENCIES = {
    "nl": {"daily": "dagelijks", "twice daily": "2x/dag", "three times daily": "3x/dag", "monthly": "maandelijks",
           "once": "eenmalig", "weekly": "wekelijks"},
    "en": {"daily": "daily", "twice daily": "twice daily", "three times daily": "three times daily",
           "monthly": "monthly", "once": "once", "weekly": "weekly"},
}

FORMS = {
    "nl": {"tablet": "tablet", "tablets": "tabletten", "capsule": "capsule", "capsules": "capsules",
           "syrup": "siroop", "oral solution": "drank", "injection": "injectie",
           "infusion solution": "infuusoplossing"},
    "en": {},
}

# words of `until …` and condition flags as the author writes them (English keywords) → Dutch
UNTIL = {"nl": {"progression": "progressie", "disease progression": "ziekteprogressie",
                "unacceptable toxicity": "onaanvaardbare toxiciteit",
                "progression or unacceptable toxicity": "progressie of onaanvaardbare toxiciteit",
                "toxicity": "toxiciteit"}}
FLAGS = {"nl": {"premenopausal": "premenopauzaal", "postmenopausal": "postmenopauzaal",
                "perimenopausal": "perimenopauzaal", "castrated": "na castratie", "squamous": "plaveiselcel",
                "non-squamous": "niet-plaveiselcel", "nonsquamous": "niet-plaveiselcel",
                "line": "lijn", "menopause": "menopauze", "pre": "pre", "post": "post"}}
TOLERANCE = {"nl": {"cord tolerance": "myelumtolerantie", "spinal cord tolerance": "myelumtolerantie",
                    "tolerance": "tolerantie"}}

STATUS_KEYS = {m.Status.DRAFT: "draft", m.Status.REVIEW: "review", m.Status.APPROVED: "approved_status",
               m.Status.SUPERSEDED: "superseded", m.Status.RETIRED: "retired"}
OPERATORS = {">=": "≥", "<=": "≤", "!=": "≠", "=": "=", "<": "<", ">": ">"}


def language_of(protocol: m.Protocol) -> str:
    """The document language (`nl` when missing or unknown: the sheets are Flemish)."""
    language = (protocol.meta.language or "nl").lower()
    return language if language in LANGUAGES else "nl"


def label(language: str, key: str) -> str:
    """A fixed label of the sheet in the document language."""
    return LABELS[language][key]


def status_label(language: str, status: m.Status | None) -> str:
    """DRAFT/CONCEPT, REVIEW, … in the document language (draft when missing)."""
    return LABELS[language][STATUS_KEYS[status or m.Status.DRAFT]]


def number(value: Decimal | float | int, language: str) -> str:
    """A number in the document's locale: `2,5` (nl), `2.5` (en); no thousands separator."""
    decimal = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(decimal.normalize(), "f") if decimal != decimal.to_integral_value() else str(int(decimal))
    return text.replace(".", ",") if language == "nl" else text


def number_range(low: Decimal | float | int, high: Decimal | float | int | None, language: str) -> str:
    """`400–800` or `400` (en dash for ranges)."""
    if high is None:
        return number(low, language)
    return f"{number(low, language)}–{number(high, language)}"


def unit(code: str, language: str) -> str:
    """A unit as printed: `mg/m²`, `mL`, `eenheden`."""
    return UNITS[language].get(code, code)


def dose(value: m.Dose, language: str) -> str:
    """`2,5 mg`, `75 mg/m²`, `400–800 mg`, `AUC 5`."""
    amount = number_range(value.amount.value, value.amount_max.value if value.amount_max else None, language)
    if value.unit.upper() == "AUC":
        return f"AUC {amount}"
    return f"{amount} {unit(value.unit, language)}"


def route(code: str, language: str) -> str:
    """A route label in the document language (`oraal`, `IV`, `subcutaan`)."""
    return ROUTES[language].get(code, code)


def period(count: int, unit_code: str, language: str) -> str:
    """`3 weken`, `1 dag`, `2 jaar`."""
    singular, plural = PERIODS[language].get(unit_code, (unit_code, unit_code))
    return f"{count} {singular if count == 1 else plural}"


def frequency(value: m.Frequency, language: str) -> str:
    """`dagelijks`, `2x/dag`, `wekelijks`, `elke 3 weken`, `elke 2–3 weken`."""
    words = FREQUENCIES[language]
    if value.kind != "every":
        return words.get(value.kind, value.text)
    interval = value.interval if value.interval is not None else 1  # `every 0 days` is shown as written
    unit_code = value.unit or "day"
    if value.interval_max is None and interval == 1:
        return words.get({"day": "daily", "week": "weekly", "month": "monthly"}.get(unit_code, ""),
                         ("elke " if language == "nl" else "every ") + PERIODS[language][unit_code][0])
    every = "elke" if language == "nl" else "every"
    if value.interval_max is not None:
        plural = PERIODS[language].get(unit_code, (unit_code, unit_code))[1]
        return f"{every} {interval}–{value.interval_max} {plural}"
    return f"{every} {period(interval, unit_code, language)}"


def compress_days(days: Sequence[int]) -> str:
    """`1, 8, 15` or `1–21` (runs of three or more days become ranges)."""
    parts: list[str] = []
    index = 0
    values = list(days)
    while index < len(values):
        end = index
        while end + 1 < len(values) and values[end + 1] == values[end] + 1:
            end += 1
        if end - index >= 2:
            parts.append(f"{_day(values[index])} – {_day(values[end])}" if values[index] < 0
                         else f"{values[index]}–{values[end]}")
        else:
            parts.extend(_day(v) for v in values[index:end + 1])
        index = end + 1
    return ", ".join(parts)


def _day(value: int) -> str:
    """A cycle day; a day before day 1 with a minus sign (`−7`)."""
    return f"−{-value}" if value < 0 else str(value)


def cycle_days(days: Sequence[int], language: str) -> str:
    """`dag 1, 8, 15` (nl) / `days 1, 8, 15` (en)."""
    word = "dag" if language == "nl" else ("day" if len(days) == 1 else "days")
    return f"{word} {compress_days(days)}"


def until(text: str, language: str) -> str:
    """`tot progressie` / `until progression`."""
    words = UNTIL.get(language, {}).get(text.strip().lower(), text.strip())
    return f"tot {words}" if language == "nl" else f"until {words}"


def cycles(count: int, language: str) -> str:
    """`6 cycli` / `6 cycles`."""
    if language == "nl":
        return f"{count} {'cyclus' if count == 1 else 'cycli'}"
    return f"{count} {'cycle' if count == 1 else 'cycles'}"


def cycle_length(value: m.Duration, language: str) -> str:
    """`cyclus 28 dagen` / `28-day cycle`."""
    if language == "nl":
        return f"cyclus {period(value.value, value.unit, language)}"
    return f"{value.value}-{value.unit} cycle"


def max_duration(value: m.Duration, language: str) -> str:
    """`max. 2 jaar` / `max. 2 years`."""
    return f"max. {period(value.value, value.unit, language)}"


def phase_schedule(phase: m.Phase, language: str) -> str:
    """The schedule of one phase in words: `dag 1–21, dagelijks, cyclus 28 dagen`."""
    parts: list[str] = []
    if phase.days is not None:
        parts.append(cycle_days(phase.days.days, language))
    if phase.frequency is not None:
        parts.append(frequency(phase.frequency, language))
    if phase.on_off is not None:
        on, off = phase.on_off
        parts.append(f"{on} dagen op, {off} dagen af" if language == "nl" else f"{on} days on, {off} days off")
    if phase.cycle_length is not None:
        parts.append(cycle_length(phase.cycle_length, language))
    if phase.continuous:
        parts.append("continu" if language == "nl" else "continuously")
    if phase.cycles is not None:
        parts.append(cycles(phase.cycles, language))
    if phase.for_duration is not None:
        parts.append(("gedurende " if language == "nl" else "for ")
                     + period(phase.for_duration.value, phase.for_duration.unit, language))
    if phase.start_day is not None:
        parts.append(start_day(phase.start_day, language))
    if phase.until_after is not None:
        end = phase.until_after
        parts.append(relative_end(end, end.drug.value, language))
    elif phase.until is not None:
        parts.append(until(phase.until.value, language))
    if phase.time is not None:
        parts.append(time_of_day(phase.time, language))
    if phase.use is not None:
        parts.append(use(phase.use, language))
    return ", ".join(parts)


USES = {
    "nl": {"antiemetic": "als anti-emeticum", "premedication": "als premedicatie", "replacement": "als substitutie",
           "chemoradiation": "met radiotherapie", "loading": "als oplaaddosis", "maintenance": "als onderhoud",
           "adjuvant": "adjuvant", "neoadjuvant": "neoadjuvant", "metastatic": "bij gemetastaseerde ziekte"},
    "en": {"antiemetic": "as antiemetic", "premedication": "as premedication", "replacement": "as replacement",
           "chemoradiation": "with radiotherapy", "loading": "as loading dose", "maintenance": "as maintenance",
           "adjuvant": "adjuvant", "neoadjuvant": "neoadjuvant", "metastatic": "for metastatic disease"},
}
TIMES_OF_DAY = {
    "nl": {"morning": "'s ochtends", "afternoon": "'s middags", "evening": "'s avonds", "night": "voor het slapengaan",
           "before chemotherapy": "vóór de chemotherapie", "after chemotherapy": "na de chemotherapie"},
    "en": {"morning": "in the morning", "afternoon": "in the afternoon", "evening": "in the evening", "night": "at bedtime",
           "before chemotherapy": "before chemotherapy", "after chemotherapy": "after chemotherapy"},
}


def use(value: str, language: str) -> str:
    """`als anti-emeticum` / `as antiemetic`: what a dose is for."""
    return USES.get(language, USES["en"]).get(value, value)


def time_of_day(value: str, language: str) -> str:
    """`'s avonds` / `in the evening`."""
    return TIMES_OF_DAY.get(language, TIMES_OF_DAY["en"]).get(value, value)


def infusion(value: m.Infusion, language: str) -> str:
    """`infuus 30 min`, `infuus eerst 60 min, daarna 30-90 min`, `infuus 1-2 uur`, `infuus min. 90 min`."""
    noun = "infuus" if language == "nl" else "infusion"
    first = _time_range(value.first_range(), value.hours, language)
    then = value.then_range()
    if then is not None:
        later = _time_range(then, value.hours, language)
        if language == "nl":
            return f"{noun} eerst {first}, daarna {later}"
        return f"{noun} first {first}, then {later}"
    if value.at_least:
        return f"{noun} {'min.' if language == 'nl' else 'at least'} {first}"
    if value.at_most:
        return f"{noun} max. {first}"
    return f"{noun} {first}"


def _time_range(bounds: tuple[int, int], hours: bool, language: str) -> str:
    """`30 min`, `30-90 min`, `3 uur`, `1-2 hours`: one time or a range in the unit it was written in."""
    low, high = bounds
    if low == high:
        return _minutes(low, hours, language)
    if hours and low % 60 == 0 and high % 60 == 0:
        return f"{low // 60}-{_minutes(high, hours, language)}"
    return f"{low}-{high} min"


# ---------------------------------------------------------------- lang-b: administration details

FLUIDS = {
    "nl": {"sodium chloride": "natriumchloride", "glucose": "glucose", "water for injections": "water voor injecties"},
    "en": {"sodium chloride": "sodium chloride", "glucose": "glucose", "water for injections": "water for injections"},
}
METHODS = {"nl": {"push": "IV-push", "bolus": "bolus", "slow push": "trage IV-push"},
           "en": {"push": "IV push", "bolus": "bolus", "slow push": "slow IV push"}}


def _minutes(value: int, hours: bool, language: str) -> str:
    """`30 min`, or `3 uur` / `3 hours` when written in hours (and whole hours)."""
    if hours and value % 60 == 0:
        count = value // 60
        return f"{count} uur" if language == "nl" else f"{count} hour{'s' if count != 1 else ''}"
    return f"{value} min"


def timing_target(value: m.RelativeTiming, tables: Tables | None, language: str) -> str:
    """The drug or class a line is timed to, by its name in the document language."""
    target_id = value.target_id or ""
    if tables is not None and target_id.startswith("class:"):
        names = (tables.classes.get(target_id[len("class:"):]) or {}).get("names") or {}
        return str(names.get(language) or value.target.value)
    if tables is not None and target_id in tables.drugs:
        return tables.drug_name(target_id, language)
    return value.target.value


def relative_timing(value: m.RelativeTiming, target: str, language: str) -> str:
    """`30 min vóór PACLItaxel`, `na CARBOplatine`, `1 hour before chemotherapy`."""
    relation = {"nl": {"before": "vóór", "after": "na"}, "en": {"before": "before", "after": "after"}}[language]
    word = relation.get(value.relation, value.relation)
    if value.offset_min is None:
        return f"{word} {target}"
    hours = value.offset_text is not None and not value.offset_text.rstrip().lower().endswith(("min", "minute",
                                                                                               "minutes"))
    bounds = (value.offset_min, value.offset_max if value.offset_max is not None else value.offset_min)
    return f"{_time_range(bounds, hours, language)} {word} {target}"


def as_needed(value: m.AsNeeded, limit: m.DailyMax | None, language: str) -> str:
    """`zo nodig bij nausea, max. 3x/dag` / `as needed for nausea, max. 3 times a day`."""
    text = "zo nodig" if language == "nl" else "as needed"
    if value.reason is not None:
        text += (" bij " if language == "nl" else " for ") + value.reason.value
    if limit is not None:
        text += ", " + daily_max(limit, language)
    return text


def daily_max(value: m.DailyMax, language: str) -> str:
    """`max. 3x/dag`, `max. 16 mg/dag` / `max. 3 times a day`, `max. 16 mg a day`."""
    if value.dose is not None:
        return f"max. {dose(value.dose, language)}{'/dag' if language == 'nl' else ' a day'}"
    return f"max. {value.times}x/dag" if language == "nl" else f"max. {value.times} times a day"


def diluent(value: m.Diluent, language: str) -> str:
    """`in 250 mL natriumchloride 0,9 %` / `in 250 mL sodium chloride 0.9 %`."""
    fluid = FLUIDS[language].get(value.fluid, value.fluid)
    text = f"in {number(value.volume.value, language)} {unit(value.volume_unit, language)} {fluid}"
    if value.strength is not None:
        text += f" {number(value.strength.value, language)} %"
    return text


def method(value: m.Text, language: str) -> str:
    """`IV-push`, `bolus`."""
    return METHODS[language].get(value.value, value.value)


def form(value: m.Form, language: str) -> str:
    """`siroop (500 mg/5 mL)`, `tablet`."""
    name = FORMS[language].get(value.name.lower(), value.name)
    if value.concentration is None:
        return name
    amount, amount_unit, volume, volume_unit = value.concentration
    return (f"{name} ({number(amount.value, language)} {unit(amount_unit, language)}/"
            f"{number(volume.value, language)} {unit(volume_unit, language)})")


def joined(parts: Iterable[str], language: str, conjunction: str = "or") -> str:
    """`a, b of c` / `a, b or c`."""
    items = [p for p in parts if p]
    if len(items) <= 1:
        return "".join(items)
    word = LABELS[language][conjunction]
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def condition(value: m.Condition, language: str, nested: bool = False) -> str:
    """A condition in readable form: `PD-L1 TPS ≥ 50 % en lijn 1`, `HER2+`, `niet premenopauzaal`."""
    flags = FLAGS.get(language, {})
    if isinstance(value, m.Flag):
        return flags.get(value.words.lower()) or _declared_flag_label(value.words, language) or value.words
    if isinstance(value, m.Compare):
        variable = flags.get(value.variable.lower(), value.variable)
        if value.number is not None:
            shown = number(value.number.value, language) + (" %" if value.percent else "")
            if value.unit is not None:
                shown += " " + lab_unit(value.unit.value)
        else:
            shown = flags.get((value.word or "").lower(), value.word or "")
        if value.variable.lower() == "line" and value.op == "=":
            return f"{variable} {shown}"
        if value.op == "=" and value.word is not None and value.variable.lower() == "menopause":
            word = f"{value.word.lower()}menopausal"
            return flags.get(word, word)
        return f"{variable} {OPERATORS.get(value.op, value.op)} {shown}"
    if isinstance(value, m.Not):
        return f"{LABELS[language]['not']} {condition(value.operand, language, True)}"
    if isinstance(value, (m.All, m.Any_)):
        word = LABELS[language]["and" if isinstance(value, m.All) else "or"]
        text = f" {word} ".join(condition(op, language, True) for op in value.operands)
        return f"({text})" if nested else text
    return ""


def lab_unit(text: str) -> str:
    """A lab unit as printed: `×10⁹/L`, `× ULN`, `mL/min/1,73 m²` (other units as written)."""
    compact = text.replace(" ", "").replace("×", "x").replace("⁹", "^9")
    if compact.lower() in ("x10^9/l", "10^9/l") or compact == "G/L":
        return "×10⁹/L"
    if compact.lower() in ("xuln", "uln"):
        return "× ULN"
    return text.replace("m^2", "m²").replace("m2", "m²").replace("1.73", "1,73")


def _declared_flag_label(words: str, language: str) -> str | None:
    """The label of a yes/no condition variable a flag stands for (`visceral-crisis` →
    "bedreigende viscerale ziekte"), from conditions.yaml.
    """
    from compiler.conditions import find_flag, variables
    from compiler.tables import load

    tables = load()
    meaning = find_flag(words, tables)
    if meaning is None or len(meaning) != 1:
        return None
    (variable, answer), = meaning.items()
    if answer != "yes":
        return None
    labels = variables(tables).get(variable, {}).get("label") or {}
    found = labels.get(language) or labels.get("en")
    return str(found) if found else None


def tolerance(text: str, language: str) -> str:
    """`myelumtolerantie` for `cord tolerance` (nl); the text as written otherwise."""
    return TOLERANCE.get(language, {}).get(text.strip().lower(), text.strip())


_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    """Collapse runs of white space."""
    return _SPACE.sub(" ", text).strip()


# ---------------------------------------------------------------- lang-b: radiotherapy courses

LATERALITY = {"nl": {"left": "links", "right": "rechts", "bilateral": "bilateraal", "links": "links",
                     "rechts": "rechts", "bilateraal": "bilateraal", "dubbelzijdig": "bilateraal"},
              "en": {"left": "left", "right": "right", "bilateral": "bilateral", "links": "left", "rechts": "right",
                     "bilateraal": "bilateral", "dubbelzijdig": "bilateral"}}


def rt_part(value: m.RtPart, language: str) -> str:
    """`5 × 2 Gy boost (tumorbed)`."""
    text = f"{number(value.fractions.value, language)} × {number(value.dose_per_fraction.value, language)} Gy"
    if value.boost:
        text += " boost"
    if value.volume is not None:
        text += f" ({value.volume.value})"
    return text


def rt_course(value: m.Fractionation, language: str) -> str:
    """`25 × 2 Gy (borst) + 5 × 2 Gy boost (tumorbed) = 60 Gy`: the parts and the course total."""
    text = " + ".join(rt_part(p, language) for p in value.parts)
    total = value.total.value if value.total is not None else sum(
        (p.fractions.value * p.dose_per_fraction.value for p in value.parts), Decimal(0))
    return f"{text} = {number(total, language)} Gy"


def rt_sib(value: m.RtSib, language: str) -> str:
    """rt14: `SIB 25 × 2,4 Gy = 60 Gy (tumorbed)` (the total n × d when not written)."""
    total = value.total.value if value.total is not None else value.fractions.value * value.dose_per_fraction.value
    text = (f"SIB {number(value.fractions.value, language)} × {number(value.dose_per_fraction.value, language)} Gy"
            f" = {number(total, language)} Gy")
    if value.volume is not None:
        text += f" ({value.volume.value})"
    return text


def oar_constraint(value: m.OarConstraint, language: str) -> str:
    """rt14: `long V20 < 35%`, `myelum Dmax ≤ 50 Gy` (decimal comma in Dutch; `%` as the formatter writes it)."""
    unit = value.unit if value.unit == "%" else f" {value.unit}"
    return f"{value.organ.value} {value.metric.value} {value.op} {number(value.value.value, language)}{unit}"


def laterality(value: m.Text, language: str) -> str:
    """`links` / `left`."""
    return LATERALITY[language].get(value.value.lower(), value.value)


# ---------------------------------------------------------------- lab criteria and dose modification


def occurrence(number: int, and_later: bool, language: str) -> str:
    """`1e keer`, `3e en volgende keren` / `1st occurrence`, `3rd and later occurrences`."""
    if language == "nl":
        return f"{number}e en volgende keren" if and_later else f"{number}e keer"
    ordinal = f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number, 'th') }"
    return f"{ordinal} and later occurrences" if and_later else f"{ordinal} occurrence"


def band(value: m.Condition, language: str, grade: bool) -> str:
    """A band of a dose-modification table: `≥ 1,5`, `1,0 – < 1,5`, `graad 2`, `graad 0–1`."""
    prefix = LABELS[language]["grade"] + " " if grade else ""
    if isinstance(value, m.Compare) and value.number is not None:
        shown = number(value.number.value, language) + (" %" if value.percent else "")
        if value.op == "=":
            return prefix + shown
        return f"{prefix}{OPERATORS.get(value.op, value.op)} {shown}"
    if isinstance(value, m.All) and len(value.operands) == 2:
        low, high = value.operands
        if isinstance(low, m.Compare) and isinstance(high, m.Compare) and low.number and high.number:
            a, b = number(low.number.value, language), number(high.number.value, language)
            if grade and high.op == "<=" and low.op == ">=":
                return f"{prefix}{a}–{b}"
            upper = b if high.op == "<=" else f"{OPERATORS.get(high.op, high.op)} {b}"
            # `> 2,5 – 5`: a CTCAE band whose lower bound is not included
            lower = a if low.op == ">=" else f"{OPERATORS.get(low.op, low.op)} {a}"
            return f"{prefix}{lower} – {upper}"
    return condition(value, language)


def dose_action(value: m.DoseAction, language: str, level_dose: str | None = None) -> str:
    """One action of a band in words: `75 % van de dosis`, `niveau −1 (150 mg/m²)`, `uitstellen 1 week`."""
    labels = LABELS[language]
    if value.kind == "percent" and value.percent is not None:
        return f"{number(value.percent.value, language)} % {labels['of_dose']}"
    if value.kind == "level" and value.level is not None:
        shown = f"{labels['level']} {str(value.level).replace('-', '−')}"
        return f"{shown} ({level_dose})" if level_dose else shown
    if value.kind == "dose" and value.dose is not None:
        return dose(value.dose, language)
    if value.kind == "delay":
        text = labels["delay"]
        if value.delay is not None:
            text += " " + period(value.delay.value, value.delay.unit, language)
        if value.until is not None:
            text += f" {labels['until_word']} {value.until.value}"
        return text
    if value.kind == "then":
        return labels["then"]
    return labels.get(value.kind, value.kind)


def start_day(day: int, language: str) -> str:
    """`vanaf dag −7`."""
    return f"{LABELS[language]['from_day']} {str(day).replace('-', '−')}"


def relative_end(value: m.RelativeEnd, drug_name: str, language: str) -> str:
    """`tot 21 dagen na de laatste pemetrexed`."""
    labels = LABELS[language]
    return f"{labels['until_word']} {period(value.amount, value.unit, language)} {labels['after_last']} {drug_name}"


def sequence(actions: Sequence[m.DoseAction], texts: Sequence[str], language: str) -> str:
    """The actions of a band joined as written: `delay 1 week, then level −1`."""
    parts: list[str] = []
    pending = False
    for action, text in zip(actions, texts, strict=True):
        if action.kind == "then":
            pending = True
            continue
        parts.append(f"{LABELS[language]['then']} {text}" if pending else text)
        pending = False
    return ", ".join(parts)


# ---------------------------------------------------------------- printed sheet: control block, footer, contents
# (kept as a block of its own: labels of the title block and the running footer)
SHEET_WORDS: dict[str, dict[str, str]] = {
    "nl": {"to_approve": "Te keuren door", "printed": "afgedrukt", "valid_until": "geldig tot",
           "links": "Documenten", "book": "Procedureboek", "pdf": "PDF (A4)", "report": "Validatierapport",
           "history": "Versiegeschiedenis",
           "current_version": ("Dit is versie {version}. Heeft u een afdruk met een ander versienummer, dan is die "
                               "afdruk niet meer geldig."),
           "outdated": "Uw afdruk (versie {printed}) is niet meer geldig: de geldige versie is {version}.",
           "superseded_page": "Deze versie ({version}) is vervangen en niet meer geldig.",
           "go_current": "Naar de geldige versie"},
    "en": {"to_approve": "To be approved by", "printed": "printed", "valid_until": "valid until",
           "links": "Documents", "book": "Procedure book", "pdf": "PDF (A4)", "report": "Validation report",
           "history": "Version history",
           "current_version": ("This is version {version}. A printed copy with another version number is no "
                               "longer valid."),
           "outdated": "Your printed copy (version {printed}) is no longer valid: the valid version is {version}.",
           "superseded_page": "This version ({version}) has been superseded and is no longer valid.",
           "go_current": "Go to the valid version"},
}
for _language, _words in SHEET_WORDS.items():
    LABELS[_language].update(_words)
