"""D: what a dose needs around it on the sheet — the renal adjustment table a label gives
(D030), a bone-modifying agent's product, calcium and vitamin D and dental check (D031), and
no protocol-wide body-surface-area cap (D032).

The numbers come from `compiler/data/formulary.yaml` (`renal_adjustment`, a product's
`supportive` and `prerequisites`); the dosed phases are `checks.dosed`'s. The texts these rules search are found
once per check run, and each search is asked first of a folded, joined text (most sheets
hold none of the words).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from typing import Any

from compiler import dosing
from compiler import model as m
from compiler.checks import _FOLDS_TO_ASCII, Context
from compiler.checks.dosed import (
    CRCL_VARIABLES,
    LineInfo,
    amount_text,
    compares,
    drug_name,
    layout,
    line_conditions,
    phase_doses,
    products_of,
    renal_band_for,
    statement_of,
    unverified_note,
)
from compiler.diagnostics import Diagnostic, Fix, Severity, check
from compiler.dosing import plain
from compiler.lazyre import LazyPattern, lazy
from compiler.resolve import normalise  # remembered per name: the same variables and names recur
from compiler.tables import Tables, TablesMemo

RENAL_WORDS = lazy(r"crcl|creatinine|creatinine ?klaring|nierfunctie|nierinsuffici|renal|kidney|klaring|egfr",
                   re.IGNORECASE)
CALCIUM_WORDS = re.compile(r"calcium|kalk", re.IGNORECASE)
VITAMIN_D_WORDS = re.compile(r"vitamine?\s*-?\s*d|colecalciferol|cholecalciferol", re.IGNORECASE)
DENTAL_WORDS = re.compile(r"tandsanering|tandarts|tandheelkund|dental|dentist|mondhygi|gebit|kaakosteonecrose|"
                          r"osteonecrosis of the jaw|osteonecrose van de kaak|\bONJ\b", re.IGNORECASE)
# What every match of each pattern above holds, in lower case (keep in step with the pattern).
RENAL_LITERALS = ("crcl", "creatinine", "nierfunctie", "nierinsuffici", "renal", "kidney", "klaring", "egfr")
CALCIUM_LITERALS = ("calcium", "kalk")
VITAMIN_D_LITERALS = ("vitamin", "calciferol")
DENTAL_LITERALS = ("tand", "dent", "mondhygi", "gebit", "kaakosteonecrose", "osteonecros", "onj")
INDICATION_WORDS: dict[str, LazyPattern] = {
    "bone metastases": lazy(r"bot\s*-?\s*metast|botmeta|bone\s+metast|skeletal\s+metast|skeletmetast|"
                            r"ossale\s+metast|osseous\s+metast", re.IGNORECASE),
}
BSA_CAP = lazy(  # rare: asked only of a text `_may_cap` lets through
    r"(?:\b(?:max(?:imum|imaal|\.)?|cap(?:ped)?|begrens\w*|afgetopt|plafond|tot ten hoogste|hoogstens|niet meer dan|"
    r"not more than|at most|limit(?:ed)?)\b[^.\n]{0,40}?\b\d+(?:[.,]\d+)?\s*m(?:²|2|\^2)(?![A-Za-z0-9/]))"
    r"|(?:\b(?:BSA|LO|body surface|lichaamsoppervlak\w*)\b[^.\n]{0,40}?\b(?:max|cap|begrens|afgetopt|plafond)\w*)",
    re.IGNORECASE)
# What every match of BSA_CAP holds (lower case): a limit word and m²; or a BSA word and a cap word.
# Every match holds one of BSA_CAP_WORDS (the stems are among them).
BSA_CAP_WORDS = ("max", "cap", "begrens", "afgetopt", "plafond", "tot ten hoogste", "hoogstens", "niet meer dan",
                 "not more than", "at most", "limit")
BSA_UNITS = ("m²", "m2", "m^2")
BSA_WORDS = ("bsa", "lo", "body surface", "lichaamsoppervlak")
BSA_CAP_STEMS = ("max", "cap", "begrens", "afgetopt", "plafond")


def _may_cap(lowered: str | None) -> bool:
    """False only when BSA_CAP cannot match a text of this folded form (most prose: no regex for it): when it
    holds no limit word with a unit (`max … m²`) and no cap stem with a BSA word (`BSA … begrensd`).
    """
    if lowered is None:
        return True
    # A word absent (most words, most sheets) is a read of the whole text: the three units first (most prose
    # has none). With a unit, a limit word decides alone: every stem is a limit word, so a stem with a BSA
    # word has one too (tests/test_dose_texts.py).
    if any(u in lowered for u in BSA_UNITS):
        return any(w in lowered for w in BSA_CAP_WORDS)
    return any(w in lowered for w in BSA_CAP_STEMS) and any(w in lowered for w in BSA_WORDS)


# ---------------------------------------------------------------- D030 renal


def _all_texts(context: Context) -> tuple[tuple[m.Item, str], ...]:
    """Every prose, note and query text, in sheet order (found once per check run: D030, D031 and D032 read them)."""
    return context.shared(_find_texts)


def _find_texts(context: Context) -> tuple[tuple[m.Item, str], ...]:
    out: list[tuple[m.Item, str]] = []
    append, prose, note_or_query = out.append, m.Prose, (m.Note, m.Query)
    for item in context.of_types((m.Prose, m.Note, m.Query)):
        if isinstance(item, prose):
            append((item, item.text))
        elif isinstance(item, note_or_query) and item.text is not None:
            append((item, item.text.value))
    return tuple(out)


def _texts(context: Context, kinds: tuple[type[m.Item], ...]) -> list[tuple[m.Item, str]]:
    return [(item, text) for item, text in _all_texts(context) if isinstance(item, kinds)]


def _fold(text: str) -> str | None:
    """The text with its ASCII letters lowered: a lower-case ASCII literal (or `m²`) occurs in it wherever it
    occurs in `checks.folded(text)`, at the same place; None where `folded` gives None.

    `str.lower` goes character by character through the Unicode tables for a text with an `é` or a `≥`;
    the UTF-8 round trip runs at memory speed. Outside ASCII only İ and the Kelvin sign lower to an ASCII
    letter, and `folded` refuses both.
    """
    if text.isascii():
        return text.lower()
    if any(char in text for char in _FOLDS_TO_ASCII):
        return None
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def _holding(texts: Sequence[str], literals: tuple[str, ...]) -> list[int]:
    """The indexes of the texts, ascending, whose folded form may hold one of the lower-case `literals`
    (every text when folding cannot tell).

    The texts are folded and searched joined, once: no literal holds a newline, so a hit lies in one text,
    and most sheets hold no literal at all (one search of each instead of a loop over the texts).
    """
    joined = "\n".join(texts)
    lowered = _fold(joined)
    if lowered is None or len(lowered) != len(joined):
        return list(range(len(texts)))
    starts: list[int] = []
    at = 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    found: set[int] = set()
    for word in literals:
        hit = lowered.find(word)
        while hit >= 0:
            index = bisect.bisect_right(starts, hit) - 1
            found.add(index)
            hit = lowered.find(word, starts[index] + len(texts[index]) + 1)
    return sorted(found)


def _candidates(texts: Sequence[str], literals: tuple[str, ...]) -> list[str]:
    """The texts whose folded form may hold one of the lower-case `literals` (every match of their pattern does)."""
    return [texts[index] for index in _holding(texts, literals)]


def _has_crcl_condition(context: Context) -> bool:
    for item in context.of_types((m.When, m.OnlyWhen, m.ExcludeWhen)):
        if isinstance(item, (m.When, m.OnlyWhen, m.ExcludeWhen)):
            for atom in m.condition_atoms(item.condition):
                if isinstance(atom, m.Compare) and normalise(atom.variable) in CRCL_VARIABLES:
                    return True
    return False


@check("D030", "renal-adjustment", Severity.WARNING, "renal dose adjustment table missing or not followed")
def renal_adjustment(context: Context) -> Iterator[Diagnostic]:
    """What it checks: for a product whose label has a renal adjustment table (formulary
    `renal_adjustment`: zoledronic acid 4 mg at CrCl > 60, 3,5 mg at 50-60, 3,3 mg at
    40-49, 3 mg at 30-39, not recommended < 30 mL/min), the protocol states how to adjust:
    a `decision:` (or `when`/`only when`) on CrCl, or a `note:`/`query:` that mentions
    renal function or creatinine clearance. Free prose is not enough (the table is
    what is expected). Under a `when CrCl …` branch, the dose must be the table's dose
    for that band, and a band the label does not recommend must not hold a dose.

    Why it matters: zoledronic acid is nephrotoxic; the label reduces the dose from the
    first infusion by creatinine clearance, and a missing table is a missing instruction.

    Example: `drug zoledronic acid 4 mg IV every 4 weeks` with no CrCl decision

    Use instead: add `decision: dosis volgens creatinineklaring` with `when CrCl > 60:`
    … `drug zoledronic acid 4 mg IV`, `when CrCl >= 50 and CrCl <= 60:` … 3,5 mg, and
    so on (see the emmaus protocol, section ondersteunende therapie).

    Source: Zometa EU SmPC section 4.2 (renal impairment table); Zometa US PI Table 1.
    """
    tables = context.tables
    stated: list[bool] = []  # a CrCl condition or a note about renal function: looked for once, when needed

    def adjusted() -> bool:
        if not stated:
            stated.append(_has_crcl_condition(context)
                          or any(RENAL_WORDS.search(text) for text in
                                 _candidates([text for _, text in _texts(context, (m.Note, m.Query))], RENAL_LITERALS)))
        return stated[0]

    reported: set[str] = set()
    for pd in phase_doses(context):
        table = dosing.renal_table(tables, pd.drug_id)
        if table is None:
            continue
        bands, source, unverified = table
        renal = renal_band_for(context, pd)
        if renal is not None:
            band = renal[0]
            if band.dose is None:
                below = next((b.low for b in bands if b.dose is not None and b.low > band.low), band.low)
                yield renal_adjustment.at(pd.dose.span, f"{drug_name(context, pd.drug_id)} is not recommended at CrCl "
                                          f"below {plain(below)} mL/min{unverified_note(unverified)}",
                                          f"remove the dose from this branch ({source})")
            elif band.dose != pd.high:
                yield renal_adjustment.at(pd.dose.span, f"{drug_name(context, pd.drug_id)} {amount_text(pd.dose)} at CrCl "
                                          f"{plain(band.low)}{'+' if band.high is None else '-' + plain(band.high)} mL/min: "
                                          f"the label's dose is {plain(band.dose)} mg{unverified_note(unverified)}",
                                          f"use {plain(band.dose)} mg ({source})",
                                          Fix(pd.dose.span, f"{plain(band.dose)} mg", f"use {plain(band.dose)} mg"))
            continue
        if pd.drug_id in reported or adjusted():
            continue
        reported.add(pd.drug_id)
        shown = "; ".join(f"CrCl {plain(b.low)}{'+' if b.high is None else '-' + plain(b.high)}: "
                          f"{plain(b.dose) + ' mg' if b.dose is not None else 'not recommended'}" for b in bands)
        yield renal_adjustment.at(pd.info.line.name.span, f"{drug_name(context, pd.drug_id)} without its renal adjustment "
                                  f"table{unverified_note(unverified)}",
                                  f"add a `decision:` on CrCl with the label's doses ({shown}; {source})")


# ---------------------------------------------------------------- D031 bone-modifying agents


_NEEDS: TablesMemo[tuple[str, str, str], bool] = TablesMemo(10_000)


def _product_needs(tables: Tables, drug_id: str, wanted: str, field: str) -> bool:
    """Whether a product's `field` list names `wanted` (asked for every line, twice): once per tables object."""
    known = _NEEDS.answers(tables)
    key = (drug_id, wanted, field)
    found = known.get(key)
    if found is None:
        found = known[key] = any(wanted in str(x) for x in tables.drugs[drug_id].get(field) or [])
    return found


_NEEDING: TablesMemo[tuple[str, str], frozenset[str]] = TablesMemo(64)


def _needing(tables: Tables, wanted: str, field: str) -> frozenset[str]:
    """The products whose `field` list names `wanted` (`_product_needs` of every product), once per tables object:
    D031 asks it of every line of every sheet, and few products need anything.
    """
    known = _NEEDING.answers(tables)
    found = known.get((wanted, field))
    if found is None:
        found = known[(wanted, field)] = frozenset(d for d in tables.drugs if _product_needs(tables, d, wanted, field))
    return found


_NO_DEFAULT: TablesMemo[str, list[dict[str, Any]]] = TablesMemo(4)


def _groups_without_default(tables: Tables) -> list[dict[str, Any]]:
    """The product groups without a default product (D031 reads them for every sheet), once per tables object."""
    known = _NO_DEFAULT.answers(tables)
    found = known.get("")
    if found is None:
        found = known[""] = [g for g in tables.product_groups.values() if g.get("default") is None]
    return found


def _indication_text(context: Context, info: LineInfo) -> str:
    meta = context.protocol.meta
    parts = [meta.title.value if meta.title else "", meta.scope.value if meta.scope else ""]
    if info.section is not None:
        parts.append(info.section.title)
        for item in info.section.items:
            statement = statement_of(item)
            if isinstance(statement, m.Prose):
                parts.append(statement.text)
            elif isinstance(statement, m.Note) and statement.text is not None:
                parts.append(statement.text.value)
    for ancestor in info.ancestors:
        if isinstance(ancestor, m.Prose):
            parts.append(ancestor.text)
    for condition in line_conditions(info):
        for compare in compares(condition):
            if compare.word in ("yes", "ja"):
                parts.append(compare.variable)
    return " ".join(parts)


@check("D031", "bone-modifying-agent", Severity.ERROR, "denosumab product, supplementation or dental check")
def bone_modifying_agent(context: Context) -> Iterator[Diagnostic]:
    """What it checks: three things for bone-modifying agents, from the formulary:

    - product and interval (error): a product excluded for an indication
      (`excluded_indications`: Prolia 60 mg is not for bone metastases) in a protocol
      or section that is about that indication (its title, scope, section text or a
      condition on `bone metastases`); and a dose whose interval belongs to the other
      product of its name group (denosumab 120 mg every 6 months: Xgeva's dose at
      Prolia's interval);
    - calcium and vitamin D (warning): a product whose `supportive` list holds
      calcium_vitamin_d needs a drug line for it, or a note, query or prose line that
      names both calcium and vitamin D (an open `query:` counts: it is already X006);
    - dental check (warning): a product whose `prerequisites` name a dental examination
      needs a line that mentions it (tandsanering, tandarts, dental, kaakosteonecrose,
      osteonecrosis of the jaw).

    Each supportive finding is reported once per protocol, at the first line needing it.

    Why it matters: Prolia's 60 mg every 6 months undertreats bone metastases; Xgeva's
    120 mg every 6 months is neither product. Hypocalcaemia and osteonecrosis of the jaw
    are the label's main risks and are prevented by supplementation and a dental check.

    Example: `drug denosumab 60 mg subcut every 6 months` in a bone-metastases section

    Use instead: `drug denosumab (Xgeva) 120 mg subcut every 4 weeks`, with
    `drug calcium + vitamine D3 500 mg po daily` and a line "Tandsanering vóór de start".

    Source: Xgeva and Prolia EU SmPCs sections 4.1, 4.2 and 4.4; Zometa EU SmPC 4.4.
    """
    tables = context.tables
    infos = layout(context)
    ids = {info.line.drug_id for info in infos}
    unresolved = None in ids  # (a line without a product: an ambiguous product name may be among them)
    present = {drug_id for drug_id in ids if drug_id}

    def texts(literals: tuple[str, ...]) -> list[str]:  # read only when a line needs supplementation or a dental check
        return _candidates([text for _, text in _all_texts(context)], literals)

    groups = _groups_without_default(tables)
    # One finding per line (the fixture runner and the editor key findings by line and code).
    found: dict[int, tuple[m.DrugLine, list[str], list[str], Severity]] = {}

    def add(line: m.DrugLine, message: str, hint: str, severity: Severity) -> None:
        entry = found.setdefault(id(line), (line, [], [], severity))
        entry[1].append(message)
        entry[2].append(hint)
        if severity.rank < entry[3].rank:
            found[id(line)] = (line, entry[1], entry[2], severity)

    for pd in phase_doses(context):
        entry = tables.drugs[pd.drug_id]
        for indication in entry.get("excluded_indications") or []:
            pattern = INDICATION_WORDS.get(str(indication))
            if pattern is not None and pattern.search(_indication_text(context, pd.info)):
                add(pd.info.line, f"{drug_name(context, pd.drug_id)} is not a treatment for {indication}",
                    str(entry.get("excluded_indications_note") or f"use the product licensed for {indication}"),
                    Severity.ERROR)
        if pd.match.how != "unmatched":
            continue
        for group in groups:
            members = [str(x) for x in group.get("members") or []]
            for other in (x for x in members if pd.drug_id in members and x != pd.drug_id):
                theirs = dosing.lookup(dosing.dose_rows(tables, other), pd.route, pd.dose.unit, pd.schedule)
                if theirs.how in ("exact", "schedule"):
                    add(pd.info.line, f"{amount_text(pd.dose)} is the dose of {drug_name(context, pd.drug_id)} but the "
                                      f"interval is that of {drug_name(context, other)}",
                        f"{drug_name(context, pd.drug_id)}: {', '.join(r.describe() for r in pd.rows)}; "
                        f"{drug_name(context, other)}: {', '.join(r.describe() for r in theirs.rows)} "
                        f"({group.get('source') or 'SmPC'})", Severity.ERROR)
    missing: list[tuple[str, str, list[LineInfo]]] = []

    def needs(info: LineInfo, wanted: str, field: str, needing: frozenset[str]) -> bool:
        line = info.line
        if line.drug_id is not None:  # (`products_of` is the product itself, when the formulary has it)
            return line.drug_id in needing
        if line.resolved_by != "ambiguous-product":
            return False  # (no product: `products_of` is empty)
        products = products_of(context, line)
        return bool(products) and all(_product_needs(tables, p, wanted, field) for p in products)

    calcium = _needing(tables, "calcium_vitamin_d", "supportive")
    dental = _needing(tables, "dental", "prerequisites")
    # (no line asked about when no product of the sheet needs it and every line has its product: most sheets)
    need_calcium = [] if "calcium_vitamin_d" in present or (not unresolved and calcium.isdisjoint(present)) else \
        [i for i in infos if needs(i, "calcium_vitamin_d", "supportive", calcium)]
    if need_calcium and any(CALCIUM_WORDS.search(t) and VITAMIN_D_WORDS.search(t)
                            for t in _candidates(texts(CALCIUM_LITERALS), VITAMIN_D_LITERALS)):
        need_calcium = []
    need_dental = [] if not unresolved and dental.isdisjoint(present) else \
        [i for i in infos if needs(i, "dental", "prerequisites", dental)]
    if need_dental and any(DENTAL_WORDS.search(t) for t in texts(DENTAL_LITERALS)):
        need_dental = []
    if need_calcium:
        missing.append(("calcium and vitamin D supplementation",
                        "add `drug calcium en vitamine D 500 mg po daily` (at least 500 mg calcium and 400 units "
                        "vitamin D daily unless hypercalcaemic; Xgeva EU SmPC 4.2)", need_calcium))
    if need_dental:
        missing.append(("a dental check before the start",
                        "add a line such as `Tandsanering en tandheelkundig onderzoek vóór de start "
                        "(kaakosteonecrose)`", need_dental))
    for what, hint, needing in missing:
        names = ", ".join(dict.fromkeys(drug_name(context, i.line.drug_id) if i.line.drug_id else i.line.name.value
                                        for i in needing))
        add(needing[0].line, f"{names} without {what}", hint, Severity.WARNING)
    for line, messages, hints, severity in found.values():
        yield bone_modifying_agent.at(line.name.span, "; ".join(messages), "; ".join(hints), severity=severity)


# ---------------------------------------------------------------- D032 BSA cap


@check("D032", "bsa-cap", Severity.WARNING, "protocol-wide body-surface-area cap")
def bsa_cap(context: Context) -> Iterator[Diagnostic]:
    """What it checks: prose or a note that caps the body surface area used for dosing
    ("BSA max 2,0 m²", "lichaamsoppervlakte begrenzen tot 2 m²", "capped at 2.0 m2").

    Why it matters: ASCO recommends full weight-based doses in obese patients; a blanket
    BSA cap underdoses curative chemotherapy. Capping belongs to individual, documented
    decisions (e.g. toxicity), not to the protocol.

    Example: `Dosering: lichaamsoppervlakte maximaal 2,0 m².`

    Use instead: dose on actual body weight; state individual reductions for toxicity.

    Source: Griggs JJ et al. J Clin Oncol 2021;39:2037-48 (ASCO guideline update,
    appropriate chemotherapy dosing for obese adults).
    """
    texts = _texts(context, (m.Prose, m.Note))
    raw = [text for _, text in texts]
    if not _may_cap(_fold("\n".join(raw))):
        return  # the words a cap needs are not in the texts together, so in none of them
    for index in _holding(raw, BSA_CAP_WORDS):  # (in sheet order)
        item, text = texts[index]
        if not _may_cap(_fold(text)):
            continue
        match = BSA_CAP.search(text)
        if match is None:
            continue
        yield bsa_cap.at(item.span, f"body-surface-area cap: `{match.group(0).strip()}`",
                         "dose on actual body weight (ASCO 2021); record individual caps as patient decisions")
