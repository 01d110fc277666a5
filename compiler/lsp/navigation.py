"""Go to definition, find references and the outline, for `§id` cross-references and regimens."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from compiler import model as m
from compiler.lsp import lines as text
from compiler.lsp.analysis import Analysis
from compiler.tables import DATA_DIR, Tables, normalise

Range = tuple[int, int, int, int]


@dataclass(frozen=True)
class Target:
    """A location: a file (None: the document itself) and a 0-based range."""

    path: Path | None
    range: Range


@dataclass(frozen=True)
class Symbol:
    """An outline entry: a section (with its subsections) or a statement in it."""

    name: str
    detail: str
    kind: str
    range: Range
    selection: Range
    children: tuple[Symbol, ...] = ()


def _sections(analysis: Analysis) -> dict[str, Range]:
    """Section id → the range of its heading."""
    if analysis.protocol is not None:
        return {s.id: (s.span.line - 1, s.span.column - 1, s.span.line - 1, len(analysis.line(s.span.line - 1)))
                for s in analysis.protocol.all_sections()}
    return {h.id: (h.line, 0, h.line, len(analysis.line(h.line))) for h in text.headings(analysis.lines) if h.id}


def _refs(analysis: Analysis, section_id: str) -> list[Range]:
    out: list[Range] = []
    for index, line in enumerate(analysis.lines):
        for match in text.SECTION_REF.finditer(line):
            if match.group(1) == section_id:
                out.append((index, match.start(), index, match.end()))
    return out


def _regimen_lines(analysis: Analysis) -> list[m.RegimenLine]:
    if analysis.protocol is None:
        return []
    return [i for i in analysis.protocol.all_items() if isinstance(i, m.RegimenLine)]


def _regimen_at(analysis: Analysis, line: int, column: int) -> m.RegimenLine | None:
    for item in _regimen_lines(analysis):
        span = item.name.span
        if span.line - 1 == line and span.column - 1 <= column <= span.end_column - 1:
            return item
    return None


def _key(item: m.RegimenLine) -> str:
    return item.regimen_id or normalise(item.name.value.strip('"'))


def _name_range(item: m.RegimenLine) -> Range:
    span = item.name.span
    return span.line - 1, span.column - 1, span.end_line - 1, span.end_column - 1


@functools.lru_cache(maxsize=1)
def _library_lines() -> dict[str, int]:
    """Regimen id → 0-based line of its entry in regimens.yaml."""
    out: dict[str, int] = {}
    path = DATA_DIR / "regimens.yaml"
    try:
        content = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for index, line in enumerate(content):
        match = re.match(r"^  ([^\s#][^:]*):\s*$", line)
        if match is not None:
            out.setdefault(match.group(1).strip().strip('"'), index)
    return out


def definition(analysis: Analysis, tables: Tables, line: int, column: int) -> list[Target]:
    """Where the `§id` or regimen under the cursor is defined."""
    source = analysis.line(line)
    ref = text.section_ref_at(source, column)
    if ref is not None and ref[2]:
        found = _sections(analysis).get(ref[2])
        return [Target(None, found)] if found else []
    item = _regimen_at(analysis, line, column)
    if item is None:
        return []
    if item.children and any(isinstance(c, m.DrugLine) or (isinstance(c, m.Bullet) and isinstance(c.content, m.DrugLine))
                             for c in item.children):
        return [Target(None, _name_range(item))]
    if item.regimen_id is not None and item.regimen_id in _library_lines():
        row = _library_lines()[item.regimen_id]
        return [Target(DATA_DIR / "regimens.yaml", (row, 2, row, 2 + len(item.regimen_id)))]
    return []


def references(analysis: Analysis, line: int, column: int, include_declaration: bool = True) -> list[Range]:
    """Every use of the `§id`, section or regimen under the cursor in the document."""
    source = analysis.line(line)
    sections = _sections(analysis)
    ref = text.section_ref_at(source, column)
    section_id = ref[2] if ref is not None and ref[2] else None
    if section_id is None:
        section_id = next((sid for sid, r in sections.items() if r[0] == line), None)
    if section_id is not None:
        out = _refs(analysis, section_id)
        if include_declaration and section_id in sections:
            out.insert(0, sections[section_id])
        return out
    item = _regimen_at(analysis, line, column)
    if item is None:
        return []
    return [_name_range(r) for r in _regimen_lines(analysis) if _key(r) == _key(item)]


def _statement_symbols(items: tuple[m.Item, ...]) -> list[Symbol]:
    out: list[Symbol] = []
    for item in items:
        inner = item.content if isinstance(item, m.Bullet) and item.content is not None else item
        span = inner.span
        rng: Range = (span.line - 1, span.column - 1, span.end_line - 1, span.end_column - 1)
        if isinstance(inner, m.DrugLine):
            out.append(Symbol(inner.name.value, "drug", "drug", rng, rng))
        elif isinstance(inner, m.RegimenLine):
            out.append(Symbol(f"regimen {inner.name.value}", "regimen", "regimen", rng, rng))
        elif isinstance(inner, m.Decision):
            out.append(Symbol(f"decision: {inner.title.value if inner.title else ''}", "decision", "decision", rng, rng))
        elif isinstance(inner, m.Fractionation):
            out.append(Symbol("rt", "fractionation", "fractionation", rng, rng))
        out.extend(_statement_symbols(item.children))
    return out


def symbols(analysis: Analysis) -> list[Symbol]:
    """The outline: sections nested by level, with their drug lines, regimens, decisions and fractionations."""
    protocol = analysis.protocol
    if protocol is None:
        return _text_symbols(analysis)
    starts = sorted(s.span.line - 1 for s in protocol.all_sections())
    last = max(len(analysis.lines) - 1, 0)

    def build(section: m.Section) -> Symbol:
        start = section.span.line - 1
        nested = [build(sub) for sub in section.subsections]
        end = _section_end(section, starts, last)
        heading: Range = (start, 0, start, len(analysis.line(start)))
        children = tuple(_statement_symbols(section.items)) + tuple(nested)
        return Symbol(f"{section.number} {section.title}".strip(), section.id, "section",
                      (start, 0, end, len(analysis.line(end))), heading, children)

    return [build(s) for s in protocol.sections]


def _section_end(section: m.Section, starts: list[int], last: int) -> int:
    """The last line of a section, subsections included: the line before the next section that is not inside it."""
    inside = {s.span.line - 1 for s in _descendants(section)}
    start = section.span.line - 1
    later = [s for s in starts if s > start and s not in inside]
    return (later[0] - 1) if later else last


def _descendants(section: m.Section) -> list[m.Section]:
    out = [section]
    for sub in section.subsections:
        out.extend(_descendants(sub))
    return out


def _text_symbols(analysis: Analysis) -> list[Symbol]:
    found = text.headings(analysis.lines)
    out: list[Symbol] = []
    for index, heading in enumerate(found):
        end = found[index + 1].line - 1 if index + 1 < len(found) else max(len(analysis.lines) - 1, 0)
        rng: Range = (heading.line, 0, heading.line, len(analysis.line(heading.line)))
        out.append(Symbol(heading.title or "(untitled)", heading.id or "", "section",
                          (heading.line, 0, end, len(analysis.line(end))), rng))
    return out
