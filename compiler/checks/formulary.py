"""F: formulary — drug names, brands, abbreviations, units and routes."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compiler import model as m
from compiler.checks import Context
from compiler.diagnostics import Diagnostic, Fix, Severity, check
from compiler.dosing import allowed_routes, allowed_units
from compiler.resolve import normalise  # remembered per name: the same names recur
from compiler.suggest import closest
from compiler.tables import NameHit, Tables, TablesMemo
from compiler.tables import _cache_dir as tables_cache_dir

KNOWN_UNITS = {"mg", "g", "mcg", "mg/m2", "mg/kg", "mcg/kg", "AUC", "units", "mL", "mmol", "MBq"}


def drug_lines(context: Context) -> tuple[m.DrugLine, ...]:
    """Every drug line of the protocol (found once per check run: every F rule reads them)."""
    return context.shared(_drug_lines)


def _drug_lines(context: Context) -> tuple[m.DrugLine, ...]:
    return tuple(item for item in context.of_type(m.DrugLine) if isinstance(item, m.DrugLine))


def _generic(context: Context, drug_id: str) -> str:
    return context.tables.drug_name(drug_id, "en")


@check("F001", "unknown-drug", Severity.ERROR, "drug name not in the formulary")
def unknown_drug(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every drug line names a drug the formulary knows — by generic name
    (English or Dutch spelling), brand, or a listed abbreviation.

    Why it matters: a misspelled name ("Zolendronaat") is either a typo or a different
    drug; the compiler cannot check dose, route or schedule of a drug it does not know,
    and the nurse reading the sheet should not have to guess either.

    Example: `drug zolendronaat 4 mg IV every 4 weeks`

    Use instead: `drug zoledronic acid 4 mg IV every 4 weeks` (or the Dutch
    `zoledroninezuur`); if the drug is new, add it to the formulary with its source.

    Source: ISMP Guidelines for Standard Order Sets (2010): use generic names; seed 002.
    """
    for line in drug_lines(context):
        if line.drug_id is not None or line.resolved_by in ("ambiguous", "ambiguous-product"):
            continue
        suggestion = closest(normalise(line.name.value), context.tables.names)
        if suggestion is not None:
            ids = context.tables.names[suggestion].drug_ids
            target = _generic(context, ids[0]) if len(ids) == 1 else suggestion
            hint = f"did you mean {target}?"
            fix = Fix(line.name.span, target, f"replace with {target}", safe=True) if len(ids) == 1 else None
        else:
            hint, fix = "check the spelling, or add the drug to the formulary with its source", None
        yield unknown_drug.at(line.name.span, f"unknown drug `{line.name.value}`", hint, fix)


@check("F002", "brand-without-generic", Severity.WARNING, "brand name used without the generic name")
def brand_without_generic(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a drug is named by its generic name; a brand may follow in
    parentheses, and must then be a brand of that same drug.

    Why it matters: brands differ between countries and over time (biosimilars), and a
    brand alone hides which molecule — and which product — is meant.

    Example: `drug Femara 2,5 mg po daily`

    Use instead: `drug letrozole (Femara) 2,5 mg po daily`

    Source: ISMP Guidelines for Standard Order Sets (2010); WHO INN programme.
    """
    tables = context.tables
    for line in drug_lines(context):
        if line.drug_id is None:
            continue
        if line.resolved_by == "brand":
            generic = _generic(context, line.drug_id)
            replacement = f"{generic} ({line.name.value})"
            yield brand_without_generic.at(
                line.name.span, f"brand name `{line.name.value}` used without the generic name",
                f"write `{replacement}`", Fix(line.name.span, replacement, f"write {replacement}", safe=True))
        if line.brand is not None:
            hit = tables.names.get(normalise(line.brand.value))
            if hit is None or line.drug_id not in hit.drug_ids:
                brands = ", ".join(tables.drugs[line.drug_id].get("brands") or []) or "none listed"
                yield brand_without_generic.at(
                    line.brand.span, f"`{line.brand.value}` is not a brand of {_generic(context, line.drug_id)}",
                    f"known brands: {brands}; check that name and brand are the same product",
                    severity=Severity.ERROR)
    for _, name, word, ids, _ in regimen_jargon(context, ("brand",)):
        yield brand_without_generic.at(name.span, f"brand name `{word}` in the regimen name `{name.value}`",
                                       f"name the regimen by its generic drugs ({_meaning(context, ids)})")


@check("F003", "drug-abbreviation", Severity.WARNING, "abbreviation or jargon used as a drug name")
def drug_abbreviation(context: Context) -> Iterator[Diagnostic]:
    """What it checks: drug names are spelled out; abbreviations and ward jargon (MTX,
    TDM1, Adria, Pembro, 5-FU, "Taxol") are flagged — as errors where ISMP lists them as
    dangerous or where they are ambiguous ("TC": docetaxel–cyclophosphamide or
    paclitaxel–carboplatin).

    Why it matters: MTX has been read as mitoxantrone; T-DM1 (trastuzumab emtansine)
    dosed as trastuzumab is a ten-fold error in the other direction.

    Example: `drug MTX 2,5 mg po twice daily`

    Use instead: `drug methotrexate 2,5 mg po twice daily`

    Source: ISMP List of Error-Prone Abbreviations, Symbols, and Dose Designations (2021).
    """
    tables = context.tables
    for line in drug_lines(context):
        if line.resolved_by == "ambiguous-product":
            products = _group_members(context, line.name.value)
            shown = " or ".join(f"{_generic(context, p)} ({', '.join(tables.drugs[p].get('brands') or [p])})" for p in products)
            yield drug_abbreviation.at(
                line.name.span, f"`{line.name.value}` names more than one product: {shown}",
                "name the product, or give the dose and route that identify it (e.g. 120 mg subcut)",
                severity=Severity.ERROR)
            continue
        if line.resolved_by not in ("abbreviation", "ambiguous"):
            continue
        hit = tables.names.get(normalise(line.name.value))
        if hit is None:
            continue
        severity = Severity.ERROR if (hit.severity == "error" or len(hit.drug_ids) != 1) else Severity.WARNING
        if len(hit.drug_ids) == 1:
            generic = _generic(context, hit.drug_ids[0])
            yield drug_abbreviation.at(
                line.name.span, f"abbreviation `{line.name.value}` for {generic}",
                f"spell the generic name: `{generic}`" + (f" ({hit.note})" if hit.note else ""),
                Fix(line.name.span, generic, f"replace with {generic}", safe=True), severity=severity)
        else:
            meanings = " or ".join(_generic(context, d) if d in tables.drugs else d.replace("_", " ")
                                   for d in hit.drug_ids)
            yield drug_abbreviation.at(
                line.name.span, f"ambiguous abbreviation `{line.name.value}`: {meanings}",
                "name the drugs explicitly", severity=Severity.ERROR)
    for regimen, name, word, ids, level in regimen_jargon(context, ("abbreviation",)):
        ambiguous = len(ids) != 1
        library = {str(d.get("drug")) for d in (tables.regimens.get(regimen.regimen_id or "") or {}).get("drugs") or []}
        if ambiguous and len(set(ids) & library) == 1:
            continue  # the library entry names the product (`cyclophosphamide-liposomal doxorubicin` is Myocet)
        yield drug_abbreviation.at(
            name.span, f"{'ambiguous ' if ambiguous else ''}abbreviation `{word}` in the regimen name `{name.value}`: "
                       f"{_meaning(context, ids)}",
            "name the regimen by its generic drugs", severity=Severity.ERROR if ambiguous or level == "error"
            else Severity.WARNING)


def _group_members(context: Context, name: str) -> list[str]:
    key = normalise(name)
    for group in context.tables.product_groups.values():
        if key in [normalise(str(n)) for n in group.get("names") or []]:
            return [str(x) for x in group.get("members") or [] if str(x) in context.tables.drugs]
    return []


@check("F004", "unit-not-allowed", Severity.ERROR, "dose unit not allowed for this drug")
def unit_not_allowed(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the dose unit (and basis) is one the formulary allows for the drug:
    mg/m² for a drug dosed by body surface, mg/kg for weight-based antibodies, AUC for
    carboplatin only, flat mg for oral endocrine therapy.

    Why it matters: "trastuzumab 6 mg" or "carboplatin AUC" confusions are tenfold and
    hundredfold dosing errors.

    Example: `drug letrozole 2,5 mg/m2 po daily`

    Use instead: `drug letrozole 2,5 mg po daily`. A volume is accepted for a liquid whose
    strength is stated: `drug … 10 mL po daily, syrup (100 mg/5 mL)`.

    Source: the drug's SmPC, section 4.2 (cited per drug in formulary.yaml).
    """
    units = allowed_units(context.tables)
    for line in drug_lines(context):
        if line.drug_id is None:
            continue
        allowed = units[line.drug_id]
        for phase in line.phases:
            dose = phase.dose
            if dose is None or dose.unit not in KNOWN_UNITS or not allowed or dose.unit in allowed:
                continue
            concentration = line.form.concentration if line.form is not None else None
            if dose.unit == "mL" and concentration is not None and concentration[1] in allowed:
                continue  # a volume of a liquid with a stated strength converts to an allowed unit
            shown = ", ".join(allowed)
            yield unit_not_allowed.at(
                dose.span, f"{_generic(context, line.drug_id)} is not dosed in {dose.unit_text}",
                f"the formulary allows: {shown}")


@check("F005", "route-not-allowed", Severity.ERROR, "route not allowed for this product")
def route_not_allowed(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the route is one the product is given by: fulvestrant IM, not po;
    letrozole po, not IV; trastuzumab IV and trastuzumab SC are separate products.

    Why it matters: a wrong route is a never event (intrathecal vinca alkaloids) or gives
    the wrong product (subcutaneous dose written for an IV-only formulation).

    Example: `drug fulvestrant 500 mg po every 4 weeks`

    Use instead: `drug fulvestrant 500 mg IM on days 1, 15, 29 then every 28 days`

    Source: the product's SmPC, sections 4.2 and 6.6 (cited per drug in formulary.yaml).
    """
    routes = allowed_routes(context.tables)
    for line in drug_lines(context):
        if line.drug_id is None:
            continue
        allowed = routes[line.drug_id]
        for phase in line.phases:
            route = phase.route
            if route is None or not allowed or route.code in allowed:
                continue
            yield route_not_allowed.at(
                route.span, f"{_generic(context, line.drug_id)} is not given {route.text}",
                "routes for this product: " + ", ".join(allowed))


@check("F006", "unknown-unit", Severity.ERROR, "unknown dose unit")
def unknown_unit(context: Context) -> Iterator[Diagnostic]:
    """What it checks: dose units are among mg, g, mcg, mg/m2, mg/kg, mcg/kg, AUC, units,
    mL, mmol, MBq (with their accepted spellings: mg/m², µg → mcg, IU → units).

    Why it matters: an unknown unit cannot be checked against the dose range.

    Example: `drug letrozole 2,5 milligram po daily`

    Use instead: `drug letrozole 2,5 mg po daily`

    Source: UCUM; ISMP error-prone dose designations.
    """
    for line in drug_lines(context):
        for phase in line.phases:
            if phase.dose is not None and phase.dose.unit not in KNOWN_UNITS:
                yield unknown_unit.at(phase.dose.span, f"unknown unit `{phase.dose.unit_text}`",
                                      "use mg, g, mcg, mg/m2, mg/kg, AUC, units or mL")


@check("F007", "look-alike-pair", Severity.INFO, "look-alike drug names in one protocol")
def look_alike_pair(context: Context) -> Iterator[Diagnostic]:
    """What it checks: two drugs of a known look-alike pair (CISplatin and CARBOplatin,
    DOXOrubicin and DAUNOrubicin, vinBLAStine and vinCRIStine, DOCEtaxel and PACLItaxel)
    appear in the same protocol.

    Why it matters: look-alike names are swapped at ordering and dispensing; tall-man
    lettering (which the renderer always applies) and a second look reduce the risk.

    Example: a protocol naming both cisplatin and carboplatin.

    Use instead: keep both if intended; double-check every line.

    Source: FDA Name Differentiation Project; ISMP list of drug names with tall man letters.
    """
    first_line: dict[str, m.DrugLine] = {}
    for line in drug_lines(context):
        if line.drug_id is not None:
            first_line.setdefault(line.drug_id, line)
    if len(first_line) < 2:
        return  # one drug (or none): no pair
    reported: set[frozenset[str]] = set()
    for drug, other, pair in _tallman_pairs(context.tables):
        if drug in first_line and other in first_line and pair not in reported:
            reported.add(pair)
            later = max(first_line[drug], first_line[other], key=lambda x: x.span)
            yield look_alike_pair.at(
                later.name.span, f"look-alike names in one protocol: {drug} and {other}",
                "double-check each line; the printed sheet uses tall-man letters")


_TALLMAN: list[tuple[Tables, tuple[tuple[str, str, frozenset[str]], ...]]] = []


def _tallman_pairs(tables: Tables) -> tuple[tuple[str, str, frozenset[str]], ...]:
    """Every look-alike pair of the tall-man table, in table order, listed once per tables object."""
    if not _TALLMAN or _TALLMAN[0][0] is not tables:
        pairs = tuple((str(entry.get("drug")), str(other), frozenset((str(entry.get("drug")), str(other))))
                      for entry in tables.tallman for other in entry.get("pair") or [])
        _TALLMAN[:] = [(tables, pairs)]
    return _TALLMAN[0][1]


ATC_FILE = Path(__file__).resolve().parent.parent / "data" / "atc.yaml"


@functools.lru_cache(maxsize=1)
def _atc_data() -> dict[str, Any]:
    """compiler/data/atc.yaml, parsed once per process.

    Read from a JSON copy in the user cache, keyed by the file's content hash, as the
    tables are (compiler/tables.py): parsing the YAML cost more than checking a sheet.
    """
    raw = ATC_FILE.read_bytes()
    copy = tables_cache_dir() / f"atc-{hashlib.sha256(raw).hexdigest()[:16]}.json"
    try:
        cached: dict[str, Any] = json.loads(copy.read_text(encoding="utf-8"))
        return cached
    except (OSError, ValueError):
        pass
    import yaml

    data = yaml.load(raw.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    try:
        from compiler.fsutil import write_text_atomic

        write_text_atomic(copy, json.dumps(data, default=str))
    except OSError:
        pass
    return dict(data)


@functools.lru_cache(maxsize=1)
def substance_codes() -> dict[str, str]:
    """Written substance name (normalised) → ATC code, from compiler/data/atc.yaml.

    The substance of every coded formulary drug (its ATC display) and the names of the
    `other_substances` that must never be read as another drug (hydroxocobalamin).
    """
    data = _atc_data()
    index: dict[str, str] = {}
    for entry in (data.get("drugs") or {}).values():
        index[normalise(str(entry["display"]))] = str(entry["code"])
    for name, entry in (data.get("other_substances") or {}).items():
        for written in [name, *(entry.get("names") or [])]:
            index[normalise(str(written))] = str(entry["code"])
    return index


def drug_atc(drug_id: str) -> str | None:
    """The ATC code of a formulary drug (atc.yaml), if it has one."""
    return _atc_by_id().get(drug_id)


@functools.lru_cache(maxsize=1)
def _atc_by_id() -> dict[str, str]:
    return {str(k): str(v["code"]) for k, v in (_atc_data().get("drugs") or {}).items()}


@check("F008", "name-of-another-substance", Severity.ERROR, "a written name maps to a drug of another substance")
def name_of_another_substance(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the name written on a drug line (or its brand) is the name of the
    substance it resolves to. A written name that is known (compiler/data/atc.yaml) as a
    substance with another ATC code at the 5th level than the drug it resolved to — an
    alias in a hospital's formulary override, or a data slip — is an error, because the
    sheet would print and export another substance than the author wrote.

    Why it matters: `hydroxocobalamin` was printed and exported as "vitamin B12
    (cyanocobalamin)" with cyanocobalamin's ATC code: another substance, another dose
    schedule, silently.

    Example: a formulary alias `hydroxocobalamin` under cyanocobalamin, and
    `drug hydroxocobalamin 1000 mcg IM every 9 weeks`.

    Use instead: a formulary entry of its own for hydroxocobalamin (ATC B03BA03), or
    `drug cyanocobalamin 1000 mcg IM every 9 weeks` if cyanocobalamin is meant.

    Source: WHO ATC/DDD Index (substance = ATC 5th level); ISMP: wrong-drug errors from
    name confusion.
    """
    substances = substance_codes()
    for item in drug_lines(context):
        if item.drug_id is None:
            continue
        own = drug_atc(item.drug_id)
        if own is None:
            continue
        for written in (item.name, item.brand):
            if written is None:
                continue
            code = substances.get(normalise(written.value))
            if code is not None and code != own:
                yield name_of_another_substance.at(
                    written.span, f"`{written.value}` is another substance ({code}) than "
                                  f"{context.tables.drug_name(item.drug_id, 'en')} ({own})",
                    "write the substance that is meant; a different substance needs its own formulary entry")


def regimen_jargon(context: Context, how: tuple[str, ...]) -> Iterator[tuple[m.RegimenLine, m.Text, str, tuple[str, ...], str | None]]:
    """(regimen line, its name, the jargon word, what it means, severity) for brands or abbreviations in regimen names.

    `Endoxan-MTX`, `Adria mono`, `Taxol weekly`, `TC weekly`: a regimen name is read like a
    drug name, word by word (hyphens, `+` and `/` separate words).
    """
    for item, whole, hits in context.shared(_regimen_names):
        if whole is not None and whole.how in how:
            yield item, item.name, item.name.value.strip('"'), whole.drug_ids, whole.severity
            continue
        hit = next((h for h in hits if h[1].how in how), None)
        if hit is not None:
            yield item, item.name, hit[0], hit[1].drug_ids, hit[1].severity


def _regimen_names(context: Context) -> list[tuple[m.RegimenLine, NameHit | None, list[tuple[str, NameHit]]]]:
    """Each regimen line with what its whole name means and, when that is not jargon, the names read in it
    word by word (F002 and F003 both ask; read once).
    """
    out: list[tuple[m.RegimenLine, NameHit | None, list[tuple[str, NameHit]]]] = []
    for item in context.of_type(m.RegimenLine):
        if not isinstance(item, m.RegimenLine):
            continue
        whole, hits = _read_name(context.tables, item.name.value)
        out.append((item, whole, list(hits)))
    return out


_NAMES_READ: TablesMemo[str, tuple[NameHit | None, tuple[tuple[str, NameHit], ...]]] = TablesMemo(4096)


def _read_name(tables: Tables, name: str) -> tuple[NameHit | None, tuple[tuple[str, NameHit], ...]]:
    """What a regimen name means whole, and the names read in it word by word; once per name and data set
    (the same regimen names recur from sheet to sheet).
    """
    known = _NAMES_READ.answers(tables)
    found = known.get(name)
    if found is not None:
        return found
    words = [w for w in re.split(r"[\s\-+/,()\"]+", name) if w]
    whole = tables.names.get(normalise(name))
    hits: list[tuple[str, NameHit]] = []
    index = 0
    while index < len(words):  # longest name first: `sacituzumab govitecan` is one name, not `sacituzumab`
        for size in range(min(4, len(words) - index), 0, -1):
            written = " ".join(words[index:index + size])
            hit = tables.names.get(normalise(written))
            if hit is not None:
                break
        if hit is not None:
            hits.append((written, hit))
        index += size if hit is not None else 1
    found = (whole, tuple(hits))
    if len(name) <= 200:  # sheet words: the memo is bounded, and long ones are never kept
        known[name] = found
    return found


def _meaning(context: Context, ids: tuple[str, ...]) -> str:
    tables = context.tables
    return " or ".join(_generic(context, d) if d in tables.drugs else
                       (tables.regimens.get(d[8:], {}).get("title", {}).get("en") or d[8:].replace("_", " "))
                       if d.startswith("regimen:")
                       else d.replace("_", " ") for d in ids)
