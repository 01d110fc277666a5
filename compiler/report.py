"""Diagnostic output formats: human (rustc-like), JSON, SARIF 2.1.0."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from compiler import __version__
from compiler.diagnostics import REGISTRY, Diagnostic, Rule, Severity

if TYPE_CHECKING:
    from compiler.pipeline import Compiled

# C0 controls but tab and newline, DEL, C1 controls (ESC starts ANSI/OSC sequences; 0x9b is
# a one-byte CSI), and the bidirectional overrides that reorder what a terminal shows.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """`text` with every control or bidi-override character written as a visible escape.

    Sheet text, file names and messages quoting them reach the terminal; an escape
    sequence in a sheet must be shown, not obeyed (it could retitle the window, hide
    lines or rewrite what was printed before).
    """
    return UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                      text)


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

    safe = terminal_safe
    sources = {r.path: r.source for r in results}
    diagnostics = sorted([d for r in results for d in r.diagnostics] + list(extra), key=Diagnostic.sort_key)
    for d in diagnostics:
        lang = languages.get(d.span.file, "en") if language == "auto" else i18n.language_or_default(language)
        level = d.severity.value
        shown = i18n.severity(level, lang)
        tag = f"{i18n.word('acknowledged', lang)} " if d.acknowledged is not None else ""
        stream.write(f"{c(level, f'{tag}{shown}[{d.code}]')}{c('bold', ': ' + safe(i18n.message(d.message, lang)))}\n")
        stream.write(f"  {c('blue', '-->')} {safe(d.span.file)}:{d.span.line}:{d.span.column}\n")
        source = sources.get(d.span.file)
        if source is not None:
            raw = source.line_text(d.span.line).replace("\t", " ")
            gutter = len(str(d.span.line))
            end = d.span.end_column if d.span.end_line == d.span.line else len(raw) + 1
            # the caret is measured on the escaped text, so it stays under the escaped span
            indent = len(safe(raw[: d.span.column - 1]))
            width = max(1, len(safe(raw[d.span.column - 1 : end - 1])))
            stream.write(f"{' ' * gutter} {c('blue', '|')}\n")
            stream.write(f"{c('blue', str(d.span.line))} {c('blue', '|')} {safe(raw)}\n")
            stream.write(f"{' ' * gutter} {c('blue', '|')} {' ' * indent}{c(level, '^' * width)}\n")
        if d.hint:
            stream.write(f"  {c('blue', '=')} {c('bold', i18n.word('help', lang))}: {safe(i18n.message(d.hint, lang))}\n")
        if d.fix is not None:
            kind = i18n.word("fix" if d.fix.safe else "suggestion", lang)
            stream.write(f"  {c('blue', '=')} {kind}: {safe(d.fix.title)}\n")
        if d.acknowledged is not None:
            stream.write(f"  {c('blue', '=')} {i18n.word('acknowledged', lang)}: {safe(d.acknowledged)}\n")
        for related in d.related:
            where = f"{safe(related.span.file)}:{related.span.line}:{related.span.column}"
            stream.write(f"  {c('blue', '=')} {i18n.word('note', lang)}: {safe(i18n.message(related.message, lang))} "
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
    sarif_results = _sarif_results(sorted([d for r in results for d in r.diagnostics] + list(extra),
                                          key=Diagnostic.sort_key), index)
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


def _sarif_results(diagnostics: Sequence[Diagnostic], index: dict[str, int]) -> list[dict[str, Any]]:
    """The SARIF results of sorted diagnostics; `index`: each rule's place in the tool's rule list."""
    sarif_results = []
    for d in diagnostics:
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
    return sarif_results


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


# ---------------------------------------------------------------- per-file blocks
#
# A warm `check` prints from the cache without rebuilding diagnostics: each output
# format is cut into one block per file (its diagnostics, rendered exactly as the whole
# document renders them) and a frame. `document` joins blocks into the same bytes as
# `dump(as_json(...))`, `dump(as_sarif(...))` or `human(...)` on a stream without colour.
# This holds when every diagnostic of a file is located in that file and the files'
# blocks are joined in path order: the documents sort by (file, line, column, code).

FORMATS = ("json", "sarif", "human")


def _indented(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def indented_json(value: Any, prefix: str) -> str:
    """`_indented(json.dumps(value, indent=2, ensure_ascii=False), prefix)`, the same characters.

    `json.dumps` with an indent runs the encoder's pure-Python path, the dearest part of a
    file's block; this writes the same layout directly (a JSON string never holds a raw
    newline, so every line break is the layout's). A value of a type it does not know is
    left to `json.dumps`.
    """
    parts: list[str] = [prefix]
    try:
        _encode(value, "\n" + prefix, parts)
    except _Unknown:
        return _indented(json.dumps(value, indent=2, ensure_ascii=False), prefix)
    return "".join(parts)


class _Unknown(Exception):
    """A value `indented_json` leaves to `json.dumps`."""


_KEYS: dict[str, str] = {}  # a key's JSON text (the keys are the few fixed names of the formats)


def _encode(value: Any, newline: str, parts: list[str]) -> None:
    """Append the JSON text of `value` (indent 2) whose lines after the first start with `newline`."""
    kind = type(value)
    if kind is str:
        parts.append(_string(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is dict:
        if not value:
            parts.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _Unknown
            text = _KEYS.get(key)
            if text is None:
                text = _string(key) + ": "
                if len(_KEYS) < 256:
                    _KEYS[key] = text
            parts.append(separator)
            parts.append(text)
            _encode(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            parts.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            parts.append(separator)
            _encode(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "]")
    else:  # floats (nan, infinity), subclasses: as json writes them
        raise _Unknown


_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes a string with


def block(fmt: str, result: Compiled, extra: Sequence[Diagnostic] = ()) -> str:
    """The share of one file in a document of format `fmt` (without colour)."""
    diagnostics = sorted([*result.diagnostics, *extra], key=Diagnostic.sort_key)
    if fmt == "json":
        return ",\n".join(indented_json(d.to_json(), "    ") for d in diagnostics)
    if fmt == "sarif":
        from compiler.checks import load_rules

        load_rules()  # as `as_sarif`: the rule indices are those of every registered rule
        index = {code: i for i, code in enumerate(sorted(REGISTRY))}
        return ",\n".join(indented_json(r, "        ") for r in _sarif_results(diagnostics, index))
    import io

    stream = io.StringIO()
    human([result], list(extra), stream)
    text = stream.getvalue()
    return text[: text.rindex("checked ")]  # without the summary line


def sarif_frame() -> tuple[str, str]:
    """The SARIF document around its results (the tool and its rules)."""
    text = json.dumps(as_sarif([], []), indent=2, ensure_ascii=False)
    head, tail = text.rsplit('"results": []', 1)
    return head + '"results": [', "\n      ]" + tail


def document(fmt: str, blocks: Sequence[str], counts: dict[str, int], frame: tuple[str, str] | None = None) -> str:
    """A whole output document from the files' blocks (in path order) and the counts."""
    import io

    stream = io.StringIO()
    write_document(fmt, blocks, counts, stream, frame)
    return stream.getvalue()


def write_document(fmt: str, blocks: Iterable[str], counts: dict[str, int], stream: TextIO,
                   frame: tuple[str, str] | None = None) -> None:
    """Write `document(fmt, blocks, counts, frame)` to `stream` block by block (the blocks may be read lazily)."""
    gathered = _Gathered(stream)
    _write_document(fmt, blocks, counts, gathered, frame)
    gathered.flush()


class _Gathered:
    """A text stream's writes gathered into pieces of at least `PIECE` characters: with PYTHONUNBUFFERED
    set (as CI systems and containers often do) each write to standard output is a system call, two per
    file of a book.
    """

    PIECE = 1 << 16

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= self.PIECE:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.stream.write("".join(self.parts))
            self.parts, self.size = [], 0


def _write_document(fmt: str, blocks: Iterable[str], counts: dict[str, int], stream: _Gathered,
                    frame: tuple[str, str] | None) -> None:
    body = (b for b in blocks if b)
    first = next(body, None)
    if fmt == "human":
        if first is not None:
            stream.write(first)
        for text in body:
            stream.write(text)
        parts = [f"{counts['errors']} error(s)", f"{counts['warnings']} warning(s)", f"{counts['infos']} info(s)"]
        stream.write(f"checked {counts['files']} file(s): " + ", ".join(parts) + "\n")
        return
    if fmt == "sarif":
        head, tail = frame or sarif_frame()
        if first is None:
            stream.write(head + "]" + tail[len("\n      ]"):] + "\n")
            return
        stream.write(head + "\n" + first)
        for text in body:
            stream.write(",\n" + text)
        stream.write(tail + "\n")
        return
    summary_text = _indented(json.dumps(counts, indent=2, ensure_ascii=False), "  ").lstrip(" ")
    stream.write('{\n  "diagnostics": ')
    if first is None:
        stream.write("[]")
    else:
        stream.write("[\n" + first)
        for text in body:
            stream.write(",\n" + text)
        stream.write("\n  ]")
    stream.write(',\n  "summary": ' + summary_text + "\n}\n")
