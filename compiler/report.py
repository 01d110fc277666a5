"""Diagnostic output formats: human (rustc-like), JSON, SARIF 2.1.0."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from compiler import __version__
from compiler.diagnostics import REGISTRY, Diagnostic, Rule, Severity
from compiler.pipeline import Compiled

COLOURS = {"error": "\033[1;31m", "warning": "\033[1;33m", "info": "\033[1;36m", "bold": "\033[1m",
           "blue": "\033[1;34m", "reset": "\033[0m"}


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    return stream.isatty() and "NO_COLOR" not in os.environ


def summary(results: Sequence[Compiled], extra: Sequence[Diagnostic] = ()) -> dict[str, int]:
    """Counts of files and of unacknowledged findings per severity."""
    counts = {"files": len(results), "errors": 0, "warnings": 0, "infos": 0}
    for diagnostic in [d for r in results for d in r.diagnostics] + list(extra):
        if diagnostic.acknowledged is None:
            counts[{"error": "errors", "warning": "warnings", "info": "infos"}[diagnostic.severity.value]] += 1
    return counts


def human(results: Sequence[Compiled], extra: Sequence[Diagnostic], stream: TextIO, language: str = "en") -> None:
    """Print findings like rustc: header, location, source line, caret, help.

    `language` (nl or en) words the severities, labels and summary line and the
    messages the catalogue knows (compiler.i18n); `auto` speaks each sheet's own
    language and the summary in English. Codes are the same in every language.
    """
    from compiler import i18n

    colour = use_colour(stream)
    languages = {r.path: _sheet_language(r) for r in results}

    def c(name: str, text: str) -> str:
        return f"{COLOURS[name]}{text}{COLOURS['reset']}" if colour else text

    sources = {r.path: r.source for r in results}
    diagnostics = sorted([d for r in results for d in r.diagnostics] + list(extra), key=Diagnostic.sort_key)
    for d in diagnostics:
        lang = languages.get(d.span.file, "en") if language == "auto" else i18n.language_or_default(language)
        level = d.severity.value
        shown = i18n.severity(level, lang)
        tag = f"{i18n.word('acknowledged', lang)} " if d.acknowledged is not None else ""
        stream.write(f"{c(level, f'{tag}{shown}[{d.code}]')}{c('bold', ': ' + i18n.message(d.message, lang))}\n")
        stream.write(f"  {c('blue', '-->')} {d.span.file}:{d.span.line}:{d.span.column}\n")
        source = sources.get(d.span.file)
        if source is not None:
            text = source.line_text(d.span.line).replace("\t", " ")
            gutter = len(str(d.span.line))
            end = d.span.end_column if d.span.end_line == d.span.line else len(text) + 1
            width = max(1, end - d.span.column)
            stream.write(f"{' ' * gutter} {c('blue', '|')}\n")
            stream.write(f"{c('blue', str(d.span.line))} {c('blue', '|')} {text}\n")
            stream.write(f"{' ' * gutter} {c('blue', '|')} {' ' * (d.span.column - 1)}{c(level, '^' * width)}\n")
        if d.hint:
            stream.write(f"  {c('blue', '=')} {c('bold', i18n.word('help', lang))}: {i18n.message(d.hint, lang)}\n")
        if d.fix is not None:
            kind = i18n.word("fix" if d.fix.safe else "suggestion", lang)
            stream.write(f"  {c('blue', '=')} {kind}: {d.fix.title}\n")
        if d.acknowledged is not None:
            stream.write(f"  {c('blue', '=')} {i18n.word('acknowledged', lang)}: {d.acknowledged}\n")
        for related in d.related:
            where = f"{related.span.file}:{related.span.line}:{related.span.column}"
            stream.write(f"  {c('blue', '=')} {i18n.word('note', lang)}: {i18n.message(related.message, lang)} "
                         f"{i18n.word('at', lang)} {where}\n")
        stream.write("\n")
    counts = summary(results, extra)
    lang = "en" if language == "auto" else i18n.language_or_default(language)
    stream.write(i18n.word("checked", lang, files=counts["files"],
                           counts=i18n.counts(counts["errors"], counts["warnings"], counts["infos"], lang)) + "\n")


def _sheet_language(result: Compiled) -> str:
    if result.protocol is None or not result.protocol.meta.language:
        return "nl" if result.protocol is not None else "en"
    return result.protocol.meta.language if result.protocol.meta.language in ("nl", "en") else "nl"


def as_json(results: Sequence[Compiled], extra: Sequence[Diagnostic]) -> dict[str, Any]:
    """The stable JSON shape: diagnostics and summary."""
    diagnostics = sorted([d for r in results for d in r.diagnostics] + list(extra), key=Diagnostic.sort_key)
    return {"diagnostics": [d.to_json() for d in diagnostics], "summary": summary(results, extra)}


SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def as_sarif(results: Sequence[Compiled], extra: Sequence[Diagnostic], root: Path | None = None) -> dict[str, Any]:
    """SARIF 2.1.0 for code-scanning tools."""
    from compiler.checks import load_rules

    load_rules()  # results may all come from the cache, which does not import the rules
    rules = sorted(REGISTRY.values(), key=lambda r: r.code)
    index = {r.code: i for i, r in enumerate(rules)}
    sarif_results = []
    for d in sorted([d for r in results for d in r.diagnostics] + list(extra), key=Diagnostic.sort_key):
        path = Path(d.span.file)
        uri = path.as_uri() if path.is_absolute() else path.as_posix()
        region = {"startLine": d.span.line, "startColumn": d.span.column,
                  "endLine": d.span.end_line, "endColumn": max(d.span.end_column, d.span.column)}
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": SARIF_LEVEL[d.severity],
            "message": {"text": d.message + (f" — {d.hint}" if d.hint else "")},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}],
        }
        if d.fix is not None:
            fix_region = {"startLine": d.fix.span.line, "startColumn": d.fix.span.column,
                          "endLine": d.fix.span.end_line, "endColumn": d.fix.span.end_column}
            result["fixes"] = [{
                "description": {"text": d.fix.title},
                "artifactChanges": [{"artifactLocation": {"uri": uri},
                                     "replacements": [{"deletedRegion": fix_region,
                                                       "insertedContent": {"text": d.fix.replacement}}]}],
            }]
        if d.acknowledged is not None:
            result["suppressions"] = [{"kind": "inSource", "justification": d.acknowledged}]
        sarif_results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "protocolc",
                "version": __version__,
                "informationUri": "https://example.org/protocolc",
                "rules": [{
                    "id": r.code,
                    "name": "".join(part.capitalize() for part in r.name.split("-")),
                    "shortDescription": {"text": r.summary},
                    "fullDescription": {"text": r.doc.split("\n\n")[0] if r.doc else r.summary},
                    "help": {"text": r.doc or r.summary},
                    "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
                    "properties": {"family": r.family, "status": r.status},
                } for r in rules],
            }},
            "columnKind": "unicodeCodePoints",
            "results": sarif_results,
        }],
    }


def dump(data: Any, stream: TextIO) -> None:
    """Write JSON with a trailing newline."""
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def rule_severities(rule: Rule) -> list[str]:
    """Every severity a rule is emitted with: its registered one first, then those its check passes explicitly.

    Some rules grade a finding (C004: an error when the arm's conditions admit premenopausal
    women, a warning when they say nothing about menopause); the list shows both, so the
    catalogue never claims a single severity that the checker does not keep to.
    """
    import inspect
    import re

    found = [rule.severity.value]
    if rule.check is not None:
        try:
            source = inspect.getsource(rule.check)
        except (OSError, TypeError):
            source = ""
        levels = re.findall(r"Severity\.(ERROR|WARNING|INFO)", source)
        if "_severity(" in source:
            levels.append("WARNING")  # the dose rules' downgrade of an error whose reference is unverified
        for level in levels:
            if level.lower() not in found:
                found.append(level.lower())
    return found
