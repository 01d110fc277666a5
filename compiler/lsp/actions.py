"""Code actions from the fixes the checks carry, and formatting through the formatter.

Safe fixes (notation, spelling of a name) are preferred quick fixes; unsafe ones (a dose
or a schedule) are offered for review but never preferred, so no editor applies them
on its own. "Fix all safe findings" applies every safe fix, like `protocolc check --fix`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from compiler.diagnostics import Diagnostic, Fix
from compiler.lsp.analysis import Analysis
from compiler.source import SourceFile, Span

Range = tuple[int, int, int, int]


@dataclass(frozen=True)
class Edit:
    """Replace a 0-based range of the document with new text."""

    range: Range
    new_text: str


@dataclass(frozen=True)
class Action:
    """A code action: its title, the diagnostics it answers, its edits, and whether it is preferred."""

    title: str
    kind: str  # "quickfix" | "source.fixAll"
    diagnostics: tuple[Diagnostic, ...]
    edits: tuple[Edit, ...]
    preferred: bool


def _range(span: Span) -> Range:
    return span.line - 1, span.column - 1, span.end_line - 1, span.end_column - 1


def _overlaps(span: Span, wanted: Range) -> bool:
    start, end = (span.line - 1, span.column - 1), (span.end_line - 1, span.end_column - 1)
    return start <= (wanted[2], wanted[3]) and (wanted[0], wanted[1]) <= end


def _edit(fix: Fix) -> Edit:
    return Edit(_range(fix.span), fix.replacement)


def code_actions(analysis: Analysis, wanted: Range) -> list[Action]:
    """Quick fixes for the findings overlapping a range, then "fix all safe findings" when there are any."""
    out: list[Action] = []
    for diagnostic in analysis.diagnostics:
        fix = diagnostic.fix
        if fix is None or diagnostic.acknowledged is not None or not _overlaps(diagnostic.span, wanted):
            continue
        title = f"{fix.title} ({diagnostic.code})" if fix.safe else f"Review: {fix.title} ({diagnostic.code}, not applied automatically)"
        out.append(Action(title, "quickfix", (diagnostic,), (_edit(fix),), fix.safe))
    safe = _non_overlapping([d for d in analysis.diagnostics if d.fix is not None and d.fix.safe and d.acknowledged is None])
    if safe and any(a.preferred for a in out):
        out.append(Action("Fix all safe findings (protocolc check --fix)", "source.fixAll", tuple(safe),
                          tuple(_edit(d.fix) for d in safe if d.fix is not None), False))
    return out


def _non_overlapping(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    chosen: list[Diagnostic] = []
    last_end: tuple[int, int] = (-1, -1)
    seen: set[tuple[Range, str]] = set()
    for diagnostic in sorted(diagnostics, key=lambda d: _range(d.fix.span) if d.fix else (0, 0, 0, 0)):
        assert diagnostic.fix is not None
        rng = _range(diagnostic.fix.span)
        if (rng, diagnostic.fix.replacement) in seen or (rng[0], rng[1]) < last_end:
            continue
        seen.add((rng, diagnostic.fix.replacement))
        chosen.append(diagnostic)
        last_end = (rng[2], rng[3])
    return chosen


FORMATTER_MODULE = "compiler.fmt"


def _formatter_module() -> ModuleType | None:
    try:
        return importlib.import_module(FORMATTER_MODULE)
    except ImportError:
        return None


def formatted_text(path: str, text: str) -> str | None:
    """The formatter's canonical layout of a text; None when there is no formatter or it refuses the text.

    Uses `compiler.fmt.format_source(SourceFile)` (or `format_text(path, bytes)`), whose
    result carries `.text`; the formatter's `FormatError` (text it cannot format without
    changing its meaning) means "no edits".
    """
    module = _formatter_module()
    if module is None:
        return None
    refused: type[BaseException] = getattr(module, "FormatError", ValueError)
    by_source: Callable[[SourceFile], object] | None = getattr(module, "format_source", None)
    by_bytes: Callable[[str, bytes], object] | None = getattr(module, "format_text", None)
    try:
        if by_source is not None:
            result = by_source(SourceFile.from_text(path, text))
        elif by_bytes is not None:
            result = by_bytes(path, text.encode("utf-8"))
        else:
            return None
    except refused:
        return None
    formatted = getattr(result, "text", result)
    return formatted if isinstance(formatted, str) else None


def formatter_available() -> bool:
    """Whether `compiler/fmt.py` is there."""
    return _formatter_module() is not None


def format_edits(analysis: Analysis) -> list[Edit]:
    """One whole-document edit with the formatted text; none when already formatted or not formattable.

    The formatter is not run on a document that does not parse: formatting must never
    change meaning, and half-typed text has none yet.
    """
    if analysis.protocol is None:
        return []
    formatted = formatted_text(analysis.compiled.path, analysis.text.replace("\r\n", "\n"))
    if formatted is None or formatted == analysis.text:
        return []
    last = len(analysis.lines) - 1
    return [Edit((0, 0, last, len(analysis.line(last))), formatted)]
