"""`protocolc import`: an existing Word, PDF, HTML or text sheet becomes a draft protocol.

Stages, data flowing one way: `readers` (the format's lines and structure hints) →
`layout` (artefacts out, wrapped lines joined, headings and bullet levels) →
`recognise` (drug, regimen, RT, condition and decision lines as statements, guesses as
queries) → `draft` (the .protocol text) → the usual compiler (`check` findings). The
draft keeps every input line — as structure with the author's line beside it as a
comment, as prose, or as a comment for a removed print artefact — and the import proves
it (`ImportResult.lost` is empty) before anything is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compiler.importer.layout import BULLET, Artefact, Block, Layout, clean, layout
from compiler.importer.readers import ImportRefused, RawLine, read_document
from compiler.importer.recognise import Out, Recogniser, keyword_led
from compiler.tables import Tables

__all__ = ["ImportRefused", "ImportResult", "import_document", "import_lines", "target_name"]

_DUTCH = frozenset("de het een en van met bij voor niet indien wordt of op te zijn na dan als ook".split())
_ENGLISH = frozenset("the and of with for is when not to be after then as also on in".split())


@dataclass
class ImportResult:
    """A draft and what the import did to make it."""

    source: str
    draft: str
    lines_read: int
    statements: Counter[str] = field(default_factory=Counter)
    queries: int = 0
    prose_lines: int = 0
    artefacts: list[Artefact] = field(default_factory=list)
    invisible_removed: int = 0
    escaped: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)


def import_document(path: Path, tables: Tables | None = None) -> ImportResult:
    """Read a document and make its draft (nothing is written here)."""
    return import_lines(read_document(path), path.name, tables)


def import_lines(lines: Sequence[RawLine], source_name: str, tables: Tables | None = None) -> ImportResult:
    """The draft of already-read lines."""
    if tables is None:
        from compiler.tables import load

        tables = load()
    sheet = layout(lines)
    language = _language(sheet.blocks)
    result = ImportResult(source_name, "", sum(1 for line in lines if clean(line.text)[0]),
                          artefacts=sheet.artefacts, invisible_removed=sheet.invisible_removed)
    writer = _Draft(Recogniser(tables, language), result)
    body = writer.body(sheet.blocks)
    result.draft = _header(sheet, source_name, language, result) + body + _artefact_comments(sheet.artefacts)
    result.lost = _lost(lines, result.draft)
    return result


# ------------------------------------------------------------------ metadata


def target_name(path: Path) -> str:
    """The draft's file name for an input file."""
    return _slug(path.name) + ".protocol"


def _slug(name: str) -> str:
    text = unicodedata.normalize("NFKD", Path(name).stem)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "protocol"


def _language(blocks: Sequence[Block]) -> str:
    words = Counter(w for b in blocks for w in re.findall(r"[a-zà-ÿ]+", b.text.lower()))
    dutch = sum(words[w] for w in _DUTCH)
    english = sum(words[w] for w in _ENGLISH)
    return "en" if english > dutch else "nl"


def _header(sheet: Layout, source_name: str, language: str, result: ImportResult) -> str:
    nl = language == "nl"
    title = sheet.title or next((b.text for b in sheet.blocks if b.kind == "heading"), None)

    def placeholder(dutch: str, english: str) -> str:
        return f"[{dutch if nl else english}]"

    lines = [
        f"// {'Concept gemaakt door' if nl else 'Draft made by'} `protocolc import` "
        f"{'uit' if nl else 'from'} {_comment_safe(source_name)}: {result.lines_read} "
        f"{'regels gelezen' if nl else 'lines read'}.",
        f"// {'Elke bronregel staat hieronder: als structuur (met de originele regel als // bron-commentaar), als tekst, als query of als commentaar.' if nl else 'Every source line is below: as structure (with the original line as a // source comment), as text, as a query or as a comment.'}",  # noqa: E501
        f"id: {_slug(source_name)}",
        f"title: {title or placeholder('titel invullen', 'fill in title')}",
        f"version: {sheet.version or placeholder('versie invullen', 'fill in version')}",
        "status: draft",
        f"language: {language}",
        f"owner: {placeholder('dienst invullen', 'fill in department')}",
        f"author: {placeholder('naam auteur invullen', 'fill in author name')}",
        f"scope: {placeholder('toepassingsgebied invullen', 'fill in scope')}",
        f"next review: {placeholder('datum invullen', 'fill in date')}",
        f"reference: {_comment_safe(source_name)} ({'geïmporteerd bronbestand' if nl else 'imported source document'})",
        "",
    ]
    return "\n".join(lines) + "\n"


def _comment_safe(text: str) -> str:
    return " ".join(text.replace("//", "/ /").split())


def _artefact_comments(artefacts: Sequence[Artefact]) -> str:
    if not artefacts:
        return ""
    lines = ["", "// Printresten, verwijderd uit de tekst (regel: tekst):"]
    lines += [f"// r.{a.line} ({a.why}): {_comment_safe(a.text)}" for a in artefacts]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the body


class _Draft:
    """Writes the blocks as protocol lines with their nesting."""

    def __init__(self, recogniser: Recogniser, result: ImportResult) -> None:
        self.recogniser = recogniser
        self.result = result
        self.out: list[str] = []

    def body(self, blocks: Sequence[Block]) -> str:
        if not blocks or blocks[0].kind != "heading":
            self.out.append("# " + (Path(self.result.source).stem or "Protocol"))
        label_open = False
        anchor = False
        depth = 0
        for block in blocks:
            if block.kind == "heading":
                if block.text != block.original:
                    self._source_comment(block, 0)
                self.out.append("#" * block.level + " " + _escape_heading(block.text))
                label_open, anchor, depth = False, False, 0
                continue
            if block.kind == "line":
                if block.is_condition and label_open:
                    depth = 1
                else:
                    label_open = block.is_label
                    anchor = True
                    depth = 0
            else:
                wanted = block.level if anchor else block.level - 1
                depth = min(wanted, depth + 1)
            self._block(block, depth, label_open, condition_line=block.kind == "line" and label_open and depth == 1)
        return "\n".join(self.out) + "\n"

    def _block(self, block: Block, depth: int, under_label: bool, condition_line: bool) -> None:
        reading = self.recogniser.read(block.text, under_label, condition_line)
        bullet = "- " if block.kind == "bullet" else ""
        if reading.kept_as_prose or not reading.lines:
            self._prose(block, depth, bullet)
            self._lines(reading.lines, depth + 1, "")
            line_condition = self.recogniser.line_condition(block.text) if block.kind == "line" else None
            if line_condition:
                self._lines([Out(line_condition, 0, "condition")], depth + 1, "")
            return
        self._source_comment(block, depth)
        self._lines(reading.lines, depth, bullet)

    def _prose(self, block: Block, depth: int, bullet: str) -> None:
        self.result.prose_lines += 1
        text = block.text.replace("//", "/ /")
        if (keyword_led(text) and not re.match(r"^(?:note|nota|query):", text, re.IGNORECASE)) or text.startswith("#"):
            # The author's sentence starts with one of the language's keywords: kept as a note,
            # so that it is not read as a statement.
            self.result.escaped.append(block.lines[0])
            text = "note: " + text
        self.out.append("  " * depth + bullet + text)

    def _source_comment(self, block: Block, depth: int) -> None:
        original = block.original.split("\n")
        label = "bron" if self.recogniser.language == "nl" else "source"
        for i, line in enumerate(original):
            number = block.lines[i] if i < len(block.lines) else block.lines[-1]
            self.out.append("  " * depth + f"// {label} r.{number}: {_comment_safe(line)}")

    def _lines(self, lines: Sequence[Out], depth: int, bullet: str) -> None:
        """Reading lines at their depth below `depth`; the block's own level keeps its bullet."""
        for line in lines:
            self._count(line)
            prefix = bullet if line.depth == 0 and not line.text.startswith("- ") else ""
            self.out.append("  " * (depth + line.depth) + prefix + line.text)

    def _count(self, line: Out) -> None:
        if line.kind == "query":
            self.result.queries += 1
        elif line.kind == "prose":
            self.result.prose_lines += 1
        else:
            self.result.statements[line.kind] += 1


def _escape_heading(text: str) -> str:
    return text.replace("{", "(").replace("}", ")").replace("//", "/ /")


# ------------------------------------------------------------------ nothing lost


def _lost(lines: Sequence[RawLine], draft: str) -> list[int]:
    """Input lines whose text is not in the draft (must be none)."""
    haystack = " ".join(draft.replace("/ /", "//").split())
    lost: list[int] = []
    for line in lines:
        text, _ = clean(line.text)
        bullet = BULLET.match(text)
        if bullet and text not in haystack:
            text = bullet.group("rest")
        if text and text not in haystack and not _split_kept(text, haystack):
            lost.append(line.number)
    return lost


def _split_kept(text: str, haystack: str) -> bool:
    """A line whose trailing page number was taken off as an artefact."""
    match = re.match(r"^(?P<body>.*?)\s*(?P<page>\d{1,3}\s*/\s*\d{1,3})$", text)
    return bool(match and match.group("body") in haystack and match.group("page") in haystack)
