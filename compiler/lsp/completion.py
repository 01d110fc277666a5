"""Completion from the line being typed: drug names, units, routes, frequencies, regimens, ids, metadata, conditions.

Each proposal is a `Proposal` (label, text to insert, detail, the 0-based columns it
replaces on the cursor's line); the server turns them into LSP completion items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from compiler.checks import load_rules
from compiler.conditions import variables
from compiler.diagnostics import REGISTRY
from compiler.lsp import lines as text
from compiler.lsp.analysis import Analysis
from compiler.tables import Tables, normalise

METADATA_KEYS = ("id", "title", "version", "status", "language", "owner", "author", "reviewer", "approver", "authored",
                 "approved", "next review", "scope", "reference", "change note")
METADATA_VALUES = {"status": ("draft", "review", "approved", "superseded", "retired"), "language": ("nl", "en")}
UNITS = ("mg", "g", "mcg", "mg/m2", "mg/kg", "mcg/kg", "mL", "units", "mmol", "MBq")
ROUTES = ("po", "IV", "IM", "subcut", "intrathecal", "intravesical", "intrapleural", "intraperitoneal", "intra-arterial")
FREQUENCIES = ("daily", "twice daily", "three times daily", "weekly", "every 2 weeks", "every 3 weeks", "every 4 weeks",
               "every 28 days", "every 3-4 weeks", "every 6 months", "once")
SCHEDULE_PARTS = ("days 1, 8, 15", "days 1-21", "day 1", "cycle 21 days", "cycle 28 days", "6 cycles", "continuous",
                  "until progression", "for 1 year", "max 2 years", "infusion 30 min", "infusion 1-2 hours", "then", "tablet",
                  "capsule", "for antiemetic", "for premedication", "with radiotherapy", "in the evening", "before chemotherapy")
KEYWORDS = ("drug ", "regimen ", "rt ", "when ", "otherwise:", "decision: ", "only when ", "exclude when ",
            "preferably with ", "only with ", "note: ", "query: ", "allow ",
            "criteria before each cycle:", "dose levels ", "dose modification ", "phase ", "followed by phase ",
            "constraint ")
OPERATORS = ("<", "<=", "=", ">=", ">", "!=")
UNIT_TOKEN = re.compile(r"(mg/m2|mg/m²|mg/kg|mcg/kg|mcg|mg|g|mL|ml|units?|mmol|MBq)$")
ROUTE_TOKEN = re.compile(r"(po|IV|IM|subcut|SC|intrathecal|intravesical|intrapleural|intraperitoneal|intra-arterial)$",
                         re.IGNORECASE)


@dataclass(frozen=True)
class Proposal:
    """One completion: what is shown, what is inserted over [start, end) of the cursor's line."""

    label: str
    insert: str
    kind: str
    detail: str = ""
    documentation: str = ""
    start: int = 0
    end: int = 0
    filter_text: str | None = None
    sort: str = ""


def complete(analysis: Analysis, tables: Tables, line: int, column: int) -> list[Proposal]:
    """The proposals for the cursor at a 0-based (line, column)."""
    source = analysis.line(line)
    before = source[:column]
    ref = text.section_ref_at(source, column)
    if ref is not None and ref[0] < column:
        return _section_ids(analysis, ref[0] + 1, column)
    if text.in_metadata(analysis.lines, line):
        return _metadata(analysis, before, column)
    stmt = text.statement(source)
    if column < stmt.body_start:
        return []
    body = source[stmt.body_start:column]
    word = re.search(r"[^\s,]*$", body)
    word_start = column - (len(word.group(0)) if word else 0)
    keyword = text.keyword(body)
    if keyword is None:
        return [Proposal(k.strip(), k, "keyword", start=word_start, end=column) for k in KEYWORDS] if " " not in body else []
    if keyword == "drug":
        return _drug_line(analysis, tables, source, column, word_start)
    if keyword == "regimen":
        return _regimens(tables, body, column)
    if keyword in ("when", "only when", "exclude when"):
        return _condition(tables, body, column, word_start)
    if keyword == "allow":
        return _codes(body, column, word_start)
    if keyword in ("only with", "preferably with", "not with"):
        return _drug_names(tables, word_start, column, with_brand=False)
    if keyword == "constraint" and not re.search(r"\s(dmax|dmean|v\d)", body, re.IGNORECASE):
        return _organs(tables, word_start, column)
    return []


def _organs(tables: Tables, start: int, column: int) -> list[Proposal]:
    """rt14: the organs of an organ-at-risk constraint (oar_limits.yaml `constraints.organs`)."""
    out: list[Proposal] = []
    for entry in (tables.oar_limits.get("constraints") or {}).get("organs") or []:
        for word in entry.get("words") or []:
            out.append(Proposal(str(word), f"{word} ", "organ", detail=str(entry.get("organ") or ""),
                                start=start, end=column))
    return out


def _section_ids(analysis: Analysis, start: int, column: int) -> list[Proposal]:
    if analysis.protocol is not None:
        sections = [(s.id, f"{s.number} {s.title}") for s in analysis.protocol.all_sections()]
    else:
        sections = [(h.id, h.title) for h in text.headings(analysis.lines) if h.id]
    return [Proposal(sid, sid, "reference", detail=title, start=start, end=column)
            for sid, title in sections if sid]


def _metadata(analysis: Analysis, before: str, column: int) -> list[Proposal]:
    key, colon, value = before.partition(":")
    if colon:
        options = METADATA_VALUES.get(key.strip().lower(), ())
        start = column - len(value.lstrip())
        return [Proposal(v, v, "value", start=start, end=column) for v in options]
    present = {line.partition(":")[0].strip().lower() for line in analysis.lines if ":" in line}
    return [Proposal(k, f"{k}: ", "field", start=0, end=column, detail="metadata")
            for k in METADATA_KEYS if k == "reference" or k not in present]


def _drug_names(tables: Tables, start: int, column: int, with_brand: bool = True) -> list[Proposal]:
    out: list[Proposal] = []
    for drug_id, entry in tables.drugs.items():
        name = tables.drug_name(drug_id, "en")
        classes = ", ".join(str(((tables.classes.get(str(c)) or {}).get("names") or {}).get("en") or c)
                            for c in entry.get("classes") or [])
        out.append(Proposal(name, name, "drug", detail=classes, start=start, end=column, sort=f"0{name}"))
        local = tables.drug_name(drug_id, "nl")
        if local != name:
            out.append(Proposal(local, local, "drug", detail=f"{name} (Dutch spelling)", start=start, end=column,
                                sort=f"1{local}"))
        if with_brand:
            for brand in entry.get("brands") or []:
                out.append(Proposal(f"{brand} → {name}", f"{name} ({brand})", "brand", detail=f"brand of {name}",
                                    start=start, end=column, filter_text=str(brand), sort=f"2{brand}"))
    return out


def _drug_line(analysis: Analysis, tables: Tables, source: str, column: int, word_start: int) -> list[Proposal]:
    name = text.drug_name(source, tables)
    if name is None or name.drug_id is None or column <= name.end:
        start = name.start if name is not None else word_start
        return _drug_names(tables, start, column)
    entry = tables.drugs[name.drug_id]
    brand = re.match(r"\s*\([^)]*\)?", source[name.end:word_start])
    done = re.findall(r"[^\s,()]+", source[name.end + (brand.end() if brand else 0):word_start])
    previous = done[-1] if done else ""
    tokens = done
    drug = tables.drug_name(name.drug_id, "en")
    if re.fullmatch(r"[0-9]+(?:[.,][0-9]+)?(?:[-–][0-9]+(?:[.,][0-9]+)?)?", previous):
        units = [u for u in entry.get("units") or UNITS if u != "AUC"] or list(UNITS)
        return [Proposal(u, u, "unit", detail=f"unit allowed for {drug}", start=word_start, end=column) for u in units]
    if UNIT_TOKEN.fullmatch(previous):
        routes = list(entry.get("routes") or ROUTES)
        return [Proposal(r, r, "route", detail=f"route allowed for {drug}", start=word_start, end=column) for r in routes]
    if ROUTE_TOKEN.fullmatch(previous) or previous.lower() in ("daily", "weekly"):
        usual = [str(row.get("frequency")) for row in entry.get("doses") or [] if row.get("frequency")]
        frequencies = list(dict.fromkeys(list(FREQUENCIES) + list(SCHEDULE_PARTS)))
        out = [Proposal(f, f, "frequency", start=word_start, end=column, sort=f"1{i:03}") for i, f in enumerate(frequencies)]
        for text_ in dict.fromkeys(usual):
            out.append(Proposal(text_, text_, "frequency", detail=f"usual for {drug} (formulary)", start=word_start,
                                end=column, sort=f"0{text_}"))
        return out
    if not tokens:
        return _doses(analysis, tables, name.drug_id, word_start, column)
    return [Proposal(p, p, "frequency", start=word_start, end=column) for p in SCHEDULE_PARTS]


def _doses(analysis: Analysis, tables: Tables, drug_id: str, start: int, column: int) -> list[Proposal]:
    """The usual doses of a drug as `<dose> <unit> <route> <frequency>` starts."""
    out: list[Proposal] = []
    comma = analysis.language == "nl"
    for row in tables.drugs[drug_id].get("doses") or []:
        usual = row.get("usual") or []
        if not usual:
            continue
        value = str(usual[0]).removesuffix(".0")
        if comma:
            value = value.replace(".", ",")
        unit = str(row.get("unit") or "")
        dose = f"AUC {value}" if unit == "AUC" else f"{value} {unit}"
        phrase = f"{dose} {row.get('route') or ''}".strip()
        out.append(Proposal(phrase, phrase, "dose", detail=f"{row.get('frequency') or ''}; {row.get('source') or ''}",
                            start=start, end=column))
    return list({p.label: p for p in out}.values())


def _regimens(tables: Tables, body: str, column: int) -> list[Proposal]:
    match = re.match(r"regimen\s+", body, re.IGNORECASE)
    start = column - len(body) + (match.end() if match else len(body))
    out: list[Proposal] = []
    for regimen_id, entry in tables.regimens.items():
        name = written_name(regimen_id, entry, tables)
        written = f'"{name}"' if re.search(r"[\s+]", name) else name
        title = entry.get("title") or {}
        out.append(Proposal(name, written, "regimen", detail=str(title.get("en") or ""),
                            documentation=f"Source: {entry.get('source') or ''}", start=start, end=column,
                            filter_text=written))
    return out


def written_name(regimen_id: str, entry: dict[str, Any], tables: Tables) -> str:
    """The name to write for a library regimen: the first of its names without a brand or an abbreviation in it."""
    names = [str(n) for n in entry.get("names") or []] or [regimen_id]
    for name in names:
        words = normalise(name).split()
        if all(tables.names.get(w) is None or tables.names[w].how in ("generic", "alias") for w in words):
            return name
    return names[0]


def _condition(tables: Tables, body: str, column: int, word_start: int) -> list[Proposal]:
    declared = variables(tables)
    compare = re.search(r"([A-Za-z][\w -]*?)\s*(<=|>=|!=|[<>=≤≥≠])\s*([^\s]*)$", body)
    if compare is not None:
        name = compare.group(1).strip()
        key = next((v for v in declared if v.lower() == name.lower() or name.lower().endswith(v.lower())), None)
        values = [str(v).lower() if isinstance(v, bool) else str(v) for v in (declared.get(key) or {}).get("values") or []] if key else []
        return [Proposal(v, v, "value", detail=key or "", start=column - len(compare.group(3)), end=column) for v in values]
    out = [Proposal(name, name, "variable", detail=str(((entry or {}).get("label") or {}).get("en") or ""),
                    start=word_start, end=column) for name, entry in declared.items()]
    for flag, meaning in (tables.conditions.get("flags") or {}).items():
        detail = ", ".join(f"{k} = {v}" for k, v in (meaning or {}).items())
        out.append(Proposal(str(flag), str(flag), "flag", detail=detail, start=word_start, end=column))
    out.extend(Proposal(op, op, "operator", start=word_start, end=column, sort="9") for op in ("and", "or", "not"))
    return out


def _codes(body: str, column: int, word_start: int) -> list[Proposal]:
    if re.search(r"allow\s+\S+\s", body, re.IGNORECASE):
        return []
    load_rules()
    return [Proposal(rule.code, f'{rule.code} "', "code", detail=rule.summary, documentation=rule.doc,
                     start=word_start, end=column) for rule in sorted(REGISTRY.values(), key=lambda r: r.code)]
