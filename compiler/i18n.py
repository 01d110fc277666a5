"""protocolc's own words (findings, the validation report, verify) in Dutch and English.

The English text written in the code is the source and the `en` version; `nl` comes from
this catalogue. A word missing from the catalogue is shown in English rather than
failing. Diagnostic codes are never translated (D002 is D002 in every language).

Diagnostic messages are composed with numbers and names in the checks; the most
frequent ones are translated by pattern (`MESSAGES`), the others stay English, with the
document's decimal mark in either case ("19,5 Gy" in a Dutch report).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from compiler.lazyre import LazyPattern, lazy

LANGUAGES = ("nl", "en")

# framing words: key → text per language (the `en` text is also the key's meaning)
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "error": "error", "warning": "warning", "info": "info",
        "acknowledged": "acknowledged", "help": "help", "fix": "fix",
        "suggestion": "suggestion (not applied automatically)", "note": "note", "at": "at",
        "errors_n": "{n} error(s)", "warnings_n": "{n} warning(s)", "infos_n": "{n} info(s)",
        "checked": "checked {files} file(s): {counts}", "found": "found {n}",
        "no_protocols": "no protocols found in {paths}",
        # validation report
        "report_title": "Validation report", "report_made": "Made on {today} with protocolc {version} (data {data}).",
        "identity": "Identity", "file": "File", "id": "Id", "version": "Version", "status": "Status",
        "source_sha": "SHA-256 of the source", "findings": "Findings", "line": "Line", "code": "Code",
        "severity": "Severity", "finding": "Finding", "what_to_do": "What to do", "no_findings": "No findings.",
        "accepted": "Accepted deviations (with justification)", "justification": "Justification", "none": "None.",
        "queries": "Open questions for the reviewer", "line_n": "line {n}",
        "queries_block": "Open questions block approval.", "computed": "Computed values", "subject": "Subject",
        "value": "Value", "approval": "Approval", "checked_by": "Checked by (function)", "date": "Date",
        "signature": "Signature", "data_used": "Data used", "data_file": "Data file",
        "last_reviewed": "Last reviewed", "rules": "Rules",
        # verify
        "current": "current", "superseded": "superseded", "unknown": "unknown", "withdrawn": "withdrawn",
        "retired": "retired", "mismatch": "mismatch", "approved": "approved", "review": "review", "draft": "draft",
        "altered": "altered", "version_policy": "version policy",
    },
    "nl": {
        "error": "fout", "warning": "waarschuwing", "info": "info",
        "acknowledged": "aanvaard", "help": "advies", "fix": "correctie",
        "suggestion": "suggestie (niet automatisch toegepast)", "note": "noot", "at": "op",
        "errors_n": "{n} fout(en)", "warnings_n": "{n} waarschuwing(en)", "infos_n": "{n} melding(en)",
        "checked": "{files} bestand(en) gecontroleerd: {counts}", "found": "{n} gevonden",
        "no_protocols": "geen protocollen gevonden in {paths}",
        "report_title": "Validatierapport", "report_made": "Opgemaakt op {today} met protocolc {version} "
                                                          "(gegevens {data}).",
        "identity": "Identiteit", "file": "Bestand", "id": "Id", "version": "Versie", "status": "Status",
        "source_sha": "SHA-256 van de bron", "findings": "Bevindingen", "line": "Regel", "code": "Code",
        "severity": "Ernst", "finding": "Bevinding", "what_to_do": "Wat te doen", "no_findings": "Geen bevindingen.",
        "accepted": "Aanvaarde afwijkingen (met verantwoording)", "justification": "Verantwoording", "none": "Geen.",
        "queries": "Open vragen voor de reviewer", "line_n": "regel {n}",
        "queries_block": "Open vragen blokkeren de goedkeuring.", "computed": "Berekende waarden",
        "subject": "Onderwerp", "value": "Waarde", "approval": "Goedkeuring",
        "checked_by": "Nagekeken door (functie)", "date": "Datum", "signature": "Handtekening",
        "data_used": "Gebruikte gegevens", "data_file": "Gegevensbestand", "last_reviewed": "Laatst nagekeken",
        "rules": "Regels",
        "current": "actueel", "superseded": "vervangen", "unknown": "onbekend", "withdrawn": "ingetrokken",
        "retired": "ingetrokken", "mismatch": "komt niet overeen", "approved": "goedgekeurd", "review": "review",
        "draft": "concept", "altered": "gewijzigd", "version_policy": "versiebeleid",
    },
}

# the most visible diagnostic messages, by pattern (English source → Dutch)
MESSAGES: list[tuple[LazyPattern, str]] = [  # compiled when a Dutch message is first asked for
    (lazy(r"^open review query: (?P<text>.*)$", re.DOTALL), "open vraag voor de reviewer: {text}"),
    (lazy(r"^thresholds leave a gap: not covered: (?P<text>.*)$"), "drempels laten een gat: niet gedekt: {text}"),
    (lazy(r"^(?P<drug>.+): no menopausal status stated and no ovarian suppression$"),
     "{drug}: geen menopauzale status vermeld en geen ovariële suppressie"),
    (lazy(r"^(?P<what>.+) without a planned number of cycles: (?P<rest>.*)$"),
     "{what} zonder gepland aantal cycli: {rest}"),
    (lazy(r"^(?P<what>.+) threshold without its scoring method$"), "{what}-drempel zonder scoringsmethode"),
    (lazy(r"^dose limit without a number: (?P<text>.*)$"), "dosislimiet zonder getal: {text}"),
    (lazy(r"^eligibility for chemotherapy or immunotherapy without a performance-status criterion$"),
     "geschiktheid voor chemotherapie of immunotherapie zonder criterium voor de algemene toestand"),
    (lazy(r"^(?P<drug>.+): no DPD deficiency testing stated before a fluoropyrimidine$"),
     "{drug}: geen DPD-deficiëntietest vermeld vóór een fluoropyrimidine"),
    (lazy(r"^decision does not cover: (?P<text>.*)$"), "beslissing dekt niet: {text}"),
    (lazy(r"^BED (?P<bed>\S+) Gy, EQD2 (?P<eqd2>\S+) Gy \(α/β (?P<ab>\S+) Gy, tumour \(most, early effects\)\)"
          r"(?P<rest>.*)$", re.DOTALL),
     "BED {bed} Gy, EQD2 {eqd2} Gy (α/β {ab} Gy, tumor (meeste, vroege reacties)){rest}"),
    (lazy(r"^(?P<what>.+) is below the usual (?P<usual>.+?)(?P<rest> \(.*)?$"),
     "{what} ligt onder de gebruikelijke {usual}{rest}"),
    (lazy(r"^(?P<what>.+) is above the usual (?P<usual>.+?)(?P<rest> \(.*)?$"),
     "{what} ligt boven de gebruikelijke {usual}{rest}"),
    (lazy(r"^`monthly`: calendar month or every 4 weeks\?$"), "`monthly`: kalendermaand of elke 4 weken?"),
    # the version policy (diff, release)
    (lazy(r"^clinical change with a minor raise (?P<old>\S+) → (?P<new>\S+): a clinical change needs "
          r"a major version \((?P<major>\S+)\)$"),
     "klinische wijziging met een kleine verhoging {old} → {new}: een klinische wijziging vraagt een nieuwe "
     "hoofdversie ({major})"),
    (lazy(r"^editorial changes only, yet a major raise (?P<old>\S+) → (?P<new>\S+): (?P<minor>\S+) would do$"),
     "enkel redactionele wijzigingen, toch een hoofdversie {old} → {new}: {minor} volstaat"),
    (lazy(r"^(?P<old>\S+) → (?P<new>\S+) fits the clinical change$"), "{old} → {new} past bij de klinische wijziging"),
    (lazy(r"^(?P<old>\S+) → (?P<new>\S+) fits the editorial change$"),
     "{old} → {new} past bij de redactionele wijziging"),
    (lazy(r"^(?P<old>\S+) → (?P<new>\S+) fits the no change$"), "{old} → {new}: geen wijziging"),
    (lazy(r"^version (?P<new>\S+) is not above (?P<old>\S+)$"), "versie {new} is niet hoger dan {old}"),
    (lazy(r"^version (?P<new>\S+) cannot be compared with (?P<old>\S+)$"),
     "versie {new} is niet te vergelijken met {old}"),
    # hints
    (lazy(r"^resolve it with the reviewer, then remove the query line$"),
     "los ze op met de reviewer en verwijder dan de query-regel"),
    (lazy(r"^add a branch for these (?:values|cases), or an `otherwise:`(?P<rest>.*)$"),
     "voeg een tak toe voor deze waarden, of een `otherwise:`{rest}"),
    (lazy(r"^add `only when postmenopausal or castrated`, or give an LHRH agonist in the same arm$"),
     "voeg `only when postmenopausal or castrated` toe, of geef een LHRH-agonist in dezelfde arm"),
    (lazy(r"^computed with the linear-quadratic model; (?P<rest>.*)$"),
     "berekend met het lineair-kwadratisch model; {rest}"),
    (lazy(r"^state the number of cycles \(`6 cycles`\) or a maximum cumulative dose in the protocol$"),
     "vermeld het aantal cycli (`6 cycles`) of een maximale cumulatieve dosis in het protocol"),
]
DECIMAL_POINT = lazy(r"(?<=\d)\.(?=\d)")  # Dutch output only


def language_or_default(language: str | None) -> str:
    """A supported language (`en` for anything else)."""
    return language if language in LANGUAGES else "en"


def word(key: str, language: str, **values: object) -> str:
    """A framing word or sentence in a language (English when the catalogue lacks it)."""
    table: Mapping[str, str] = WORDS.get(language, WORDS["en"])
    text = table.get(key) or WORDS["en"].get(key, key)
    return text.format(**values) if values else text


def severity(level: str, language: str) -> str:
    """`error`/`warning`/`info` in a language (`fout`, `waarschuwing`, `info`)."""
    return word(level, language)


def decimal_mark(text: str, language: str) -> str:
    """Numbers in a language's notation: `19.5 Gy` → `19,5 Gy` in Dutch."""
    return DECIMAL_POINT.sub(",", text) if language == "nl" else text


def message(text: str, language: str, numbers: bool = True) -> str:
    """A diagnostic message (or hint) in a language: translated when the catalogue knows it, its numbers localised.

    `numbers=False` for texts whose dotted numbers are version numbers (`1.0 → 1.1`), never decimals.
    """
    if language == "nl":
        for pattern, template in MESSAGES:
            found = pattern.match(text)
            if found is not None:
                text = template.format(**{k: v or "" for k, v in found.groupdict().items()})
                break
    return decimal_mark(text, language) if numbers else text


def counts(errors: int, warnings: int, infos: int, language: str) -> str:
    """`0 error(s), 2 warning(s), 1 info(s)` in a language."""
    return ", ".join((word("errors_n", language, n=errors), word("warnings_n", language, n=warnings),
                      word("infos_n", language, n=infos)))
