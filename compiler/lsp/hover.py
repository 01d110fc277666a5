"""Hover: what the formulary, the regimen library and the radiobiology say about the thing under the cursor."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from compiler import model as m
from compiler.checks import load_rules
from compiler.diagnostics import REGISTRY
from compiler.lsp import lines as text
from compiler.lsp.analysis import Analysis
from compiler.radiobiology import course_values, sib_values, values_of
from compiler.source import Span
from compiler.tables import Tables


def _inside(span: Span, line: int, column: int) -> bool:
    """Whether a 0-based cursor lies in a span (end inclusive: the cursor may sit right after a word)."""
    return (span.line - 1, span.column - 1) <= (line, column) <= (span.end_line - 1, span.end_column - 1)


def _number(value: Any, language: str) -> str:
    """A number (or a `[low, high]` range) as the document writes it: `2,5` in Dutch, `2.5` in English."""
    if isinstance(value, (list, tuple)):
        return "–".join(_number(v, language) for v in value)
    try:
        shown = format(Decimal(str(value)).normalize(), "f")
    except InvalidOperation:
        return str(value)
    return shown.replace(".", ",") if language == "nl" else shown


def _unit(unit: str) -> str:
    return {"mg/m2": "mg/m²"}.get(unit, unit)


def drug_markdown(drug_id: str, tables: Tables, language: str = "nl") -> str:
    """The hover text of a drug: generic name, class, dose ranges with sources, look-alikes."""
    entry = tables.drugs.get(drug_id, {})
    name = tables.drug_name(drug_id, "en")
    local = tables.drug_name(drug_id, language)
    title = name if local == name else f"{name} ({local})"
    out = [f"**{title}**"]
    brands = [str(b) for b in entry.get("brands") or []]
    if brands:
        out.append(f"Brands: {', '.join(brands)}")
    classes = [str(((tables.classes.get(str(c)) or {}).get("names") or {}).get("en") or c)
               for c in entry.get("classes") or []]
    if classes:
        out.append(f"Class: {', '.join(classes)}")
    if entry.get("product"):
        out.append(f"Product: {entry['product']}")
    doses = list(entry.get("doses") or [])
    if doses:
        out.append("")
        out.append("| route | usual | max | frequency | setting |")
        out.append("|---|---|---|---|---|")
        for row in doses:
            usual = row.get("usual") or []
            unit = _unit(str(row.get("unit") or ""))
            if usual and usual[0] == usual[-1]:
                usual_text = f"{_number(usual[0], language)} {unit}"
            elif usual:
                usual_text = f"{_number(usual[0], language)}–{_number(usual[-1], language)} {unit}"
            else:
                usual_text = "—"
            maximum = f"{_number(row['max'], language)} {unit}" if row.get("max") is not None else "—"
            flag = " (unverified)" if row.get("unverified") else ""
            out.append(f"| {row.get('route') or '—'} | {usual_text} | {maximum}{flag} | {row.get('frequency') or '—'} "
                       f"| {str(row.get('setting') or '').replace('|', '/')} |")
        out.append("")
        sources = list(dict.fromkeys(str(row.get("source")) for row in doses if row.get("source")))
        out.extend(f"Source: {source}" for source in sources)
    if entry.get("dose_formula"):
        out.append(f"Dose formula: {entry['dose_formula']}")
    warnings = list(_look_alikes(drug_id, tables))
    if warnings:
        out.append("")
        out.extend(f"⚠ {warning}" for warning in warnings)
    return "\n".join(out)


def _look_alikes(drug_id: str, tables: Tables) -> Iterator[str]:
    for entry in tables.tallman:
        if entry.get("drug") == drug_id:
            pairs = [str(p) for p in entry.get("pair") or []]
            shown = [next((str(e.get("tallman")) for e in tables.tallman if e.get("drug") == p), p) for p in pairs]
            yield (f"look-alike name: {entry.get('tallman')} vs {', '.join(shown)} (tall-man letters; "
                   f"{entry.get('source_ref') or entry.get('source') or ''})")
    products = [tables.drug_name(str(p), "en") for p in tables.drugs.get(drug_id, {}).get("look_alike") or []]
    if products:
        yield f"do not confuse with: {', '.join(products)} (different products, not interchangeable)"


def regimen_markdown(regimen_id: str, tables: Tables, language: str = "nl") -> str:
    """The hover text of a library regimen: its drug lines, cycle and source."""
    entry = tables.regimens.get(regimen_id, {})
    titles = entry.get("title") or {}
    out = [f"**regimen {(entry.get('names') or [regimen_id])[0]}** — {titles.get(language) or titles.get('en') or ''}"]
    cycle = []
    if entry.get("cycle_days"):
        cycle.append(f"cycle {entry['cycle_days']} days")
    if entry.get("cycles"):
        cycle.append(f"{entry['cycles']} cycles")
    if entry.get("until_progression"):
        cycle.append("until progression")
    if entry.get("max_duration_months"):
        cycle.append(f"max {entry['max_duration_months']} months")
    if cycle:
        out.append(", ".join(cycle))
    out.append("")
    phases = entry.get("phases") or [{"name": None, "drugs": entry.get("drugs") or []}]
    for phase in phases:
        if phase.get("name"):
            cycles = f" ({phase['cycles']} cycles)" if phase.get("cycles") else ""
            out.append(f"*{phase['name']}*{cycles}")
        for drug in phase.get("drugs") or []:
            out.append(f"- {_regimen_drug(drug, tables, language)}")
    if entry.get("source"):
        out.append("")
        out.append(f"Source: {entry['source']}")
    if entry.get("unverified"):
        out.append("⚠ marked unverified in the regimen library")
    return "\n".join(out)


def _regimen_drug(drug: dict[str, Any], tables: Tables, language: str) -> str:
    parts = [tables.drug_name(str(drug.get("drug")), "en")]
    if drug.get("dose") is not None:
        parts.append(f"{_number(drug['dose'], language)} {_unit(str(drug.get('unit') or ''))}".strip())
    if drug.get("route"):
        parts.append(str(drug["route"]))
    days = drug.get("days") or []
    if days:
        parts.append(("day " if len(days) == 1 else "days ") + ", ".join(str(d) for d in days))
    if drug.get("frequency"):
        parts.append(str(drug["frequency"]))
    if drug.get("infusion_min"):
        parts.append(f"infusion {drug['infusion_min']} min")
    line = " ".join(parts)
    return f"{line} ({drug['note']})" if drug.get("note") else line


def fractionation_markdown(item: m.Fractionation, tables: Tables) -> str | None:
    """Total dose, BED and EQD2 of a fractionation (None when it has no single n × d)."""
    sibs = [f"SIB{f' ({s.volume.value})' if s.volume else ''}: {v.summary()}"
            for s, v in sib_values(item, tables)]  # rt14
    course = course_values(item, tables)
    if course is not None:  # lang-b: a course in parts: each part and the cumulative values
        lines = [f"part {i}: {v.summary()}" for i, v in enumerate(course.parts, start=1)]
        return "\n\n".join([f"**{course.summary()}**", *lines, *sibs])
    values = values_of(item, tables)
    if values is None:
        return None
    out = [f"**{values.summary()}**", *sibs]
    if values.alpha_beta.source:
        out.append(f"α/β: {values.alpha_beta.source}")
    if values.lq_unreliable:
        out.append("⚠ the linear-quadratic model is unreliable at this dose per fraction (stereotactic): "
                   "BED and EQD2 are indicative only")
    return "\n\n".join(out)


def rule_markdown(code: str) -> str | None:
    """The documentation of a rule code (as `protocolc explain`)."""
    load_rules()
    rule = REGISTRY.get(code.upper())
    if rule is None:
        return None
    return f"**{rule.code} {rule.name}** ({rule.severity.value}): {rule.summary}\n\n{rule.doc}"


def _items(protocol: m.Protocol) -> Iterator[m.Item]:
    yield from protocol.all_items()


def hover(analysis: Analysis, tables: Tables, line: int, column: int) -> tuple[str, tuple[int, int, int, int]] | None:
    """Markdown and the 0-based range it describes, for the cursor at (line, column)."""
    protocol = analysis.protocol
    if protocol is not None:
        for item in _items(protocol):
            found = _hover_item(item, analysis, tables, line, column)
            if found is not None:
                return found
    return _hover_text(analysis, tables, line, column)


def _range(span: Span) -> tuple[int, int, int, int]:
    return span.line - 1, span.column - 1, span.end_line - 1, span.end_column - 1


def _hover_item(item: m.Item, analysis: Analysis, tables: Tables, line: int,
                column: int) -> tuple[str, tuple[int, int, int, int]] | None:
    if isinstance(item, m.DrugLine) and item.drug_id in tables.drugs:
        for part in (item.name, item.brand):
            if part is not None and _inside(part.span, line, column):
                return drug_markdown(item.drug_id, tables, analysis.language), _range(part.span)
    elif isinstance(item, m.RegimenLine) and _inside(item.name.span, line, column):
        if item.regimen_id in tables.regimens:
            return regimen_markdown(item.regimen_id, tables, analysis.language), _range(item.name.span)
    elif isinstance(item, m.Fractionation) and item.span.line - 1 == line and _inside(item.span, line, column):
        markdown = fractionation_markdown(item, tables)
        if markdown is not None:
            return markdown, _range(item.span)
    elif isinstance(item, m.Allow) and _inside(item.code.span, line, column):
        doc = rule_markdown(item.code.value)
        if doc is not None:
            return doc, _range(item.code.span)
    return None


def _hover_text(analysis: Analysis, tables: Tables, line: int,
                column: int) -> tuple[str, tuple[int, int, int, int]] | None:
    """Fallbacks from the line text, for when the document does not parse."""
    source = analysis.line(line)
    name = text.drug_name(source, tables)
    if name is not None and name.drug_id is not None and name.start <= column <= name.end:
        return drug_markdown(name.drug_id, tables, analysis.language), (line, name.start, line, name.end)
    stmt = text.statement(source)
    if text.keyword(stmt.body) == "allow":
        word = text.word_at(source, column, r"\b[A-Z][0-9]{3}\b")
        if word is not None:
            doc = rule_markdown(word[2])
            if doc is not None:
                return doc, (line, word[0], line, word[1])
    return None
