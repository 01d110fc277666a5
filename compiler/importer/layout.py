"""Layout: physical lines → logical blocks (headings, bullets with levels, prose), print artefacts out.

The rules here depend only on a line's text and on the format's hints, never on blank
lines or indentation (a PDF has neither), so the same sheet gives the same blocks from
Word, PDF, HTML or text. Every input line ends up in exactly one block or in the list of
removed artefacts, with its input line number, so nothing is lost.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from compiler.importer.readers import RawLine

# Bullet markers as Word's "save as text" and PDF extraction write them; the level is
# the usual Word order (• − first, o second, ▪ third).
BULLET_LEVELS: dict[str, int] = {
    "•": 1, "●": 1, "−": 1, "–": 1, "-": 1, "*": 1, "·": 1, "➢": 1, "►": 1, "✓": 1, "\uf0b7": 1, "\uf0d8": 1,
    "o": 2, "◦": 2, "○": 2, "\uf06f": 2,
    "▪": 3, "■": 3, "§": 3, "\uf0a7": 3,
}
BULLET = re.compile("^(?P<mark>[•●−–\\-*·➢►✓◦○▪■§\uf0b7\uf0d8\uf06f\uf0a7]|o(?=\\s))\\s+(?P<rest>\\S.*)$")
_CAPS_HEADING = re.compile(r"^(?P<num>\d{1,2})\.?\s+(?P<title>[A-ZÀ-Þ][A-ZÀ-Þ0-9 ,&/'’()\-–]*[A-ZÀ-Þ)])\s*:?$")
_NUMBERED_HEADING = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2})*)\.?\s+(?P<title>[A-ZÀ-Þ][^.!?]{0,70}?)\s*:?$")
_PAGE_NUMBER = re.compile(r"^(?:(?:pagina|page|blz\.?|p\.)\s*)?\d{1,3}\s*(?:/|van|of)\s*\d{1,3}$|^(?:pagina|page)\s*\d{1,3}$",
                          re.IGNORECASE)
_TRAILING_PAGE_NUMBER = re.compile(r"\s{2,}\d{1,3}\s*/\s*\d{1,3}\s*$")
_PRINT_NOTICE = re.compile(
    r"geprinte versie|afgedrukte versie|printed (?:copy|version)|enkel geldig als|alleen geldig als|only valid if"
    r"|elektronische versie op het procedureboek|electronic version",
    re.IGNORECASE)
_FOOTER_VERSION = re.compile(r"^(?P<title>.*?)\s*\b(?:versie|version)\s*:\s*(?P<version>.+?)\s*$", re.IGNORECASE)
_CONDITION_LEAD = re.compile(r"^(?:indien|enkel bij|alleen bij|uitsluitend bij|bij voorkeur met|enkel met|alleen met|"
                             r"only when|only with|preferably with|if)\b", re.IGNORECASE)
_RT_ONLY = re.compile(r"^\(?\s*\d+(?:[.,]\d+)?\s*[x×]\s*\d+(?:[.,]\d+)?\s*Gy\b[^a-z]*(?:\b(?:of|or|en|and)\b\s*\d+(?:[.,]"
                      r"\d+)?\s*[x×]\s*\d+(?:[.,]\d+)?\s*Gy\b[^a-z]*)*\)?$", re.IGNORECASE)
_CONTINUES = re.compile(r"(?:[,\-(]|\b(?:of|en|and|or|met|door|bij|van|wegens|in|op|voor|de|het|een|the|to|with))$",
                        re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Artefact:
    """A print artefact removed from the body: page number, running footer, printed-copy notice."""

    line: int
    text: str
    why: str


@dataclass(frozen=True, slots=True)
class Block:
    """One logical line of the sheet.

    `kind` is "heading" (with `level` 1–3), "bullet" (with `level` ≥ 1) or "line" (prose
    or a label). `lines` are the input line numbers it was made of, `original` their
    text as read (joined), `text` the cleaned text without bullet marker.
    """

    kind: str
    text: str
    level: int
    lines: tuple[int, ...]
    original: str
    page: int | None = None

    @property
    def is_label(self) -> bool:
        """A line such as "Castratie:" that introduces what follows."""
        return self.kind != "heading" and self.text.endswith(":")

    @property
    def is_condition(self) -> bool:
        """A line such as "Indien premenopauzaal." that restricts what follows."""
        return bool(_CONDITION_LEAD.match(self.text))


@dataclass
class Layout:
    """The blocks of a document, with what was learnt about it on the way."""

    blocks: list[Block] = field(default_factory=list)
    artefacts: list[Artefact] = field(default_factory=list)
    title: str | None = None
    version: str | None = None
    invisible_removed: int = 0


def clean(text: str) -> tuple[str, int]:
    """Text without invisible/control characters, spaces collapsed; and how many were removed."""
    removed = 0
    kept: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cf", "Cc") and ch != "\t":
            removed += 1
            continue
        kept.append(" " if category == "Zs" or ch == "\t" else ch)
    return " ".join("".join(kept).split()), removed


def layout(lines: Sequence[RawLine]) -> Layout:
    """Turn read lines into blocks: artefacts out, wrapped lines joined, headings and bullets found."""
    result = Layout()
    furniture = _repeated_furniture(lines)
    kept: list[tuple[RawLine, str]] = []
    for line in lines:
        text, removed = clean(line.text)
        result.invisible_removed += removed
        if not text:
            continue
        text = _artefact(line, text, furniture, result)
        if text:
            kept.append((line, text))
    for line, text in kept:
        _add(result, line, text)
    return result


def _repeated_furniture(lines: Sequence[RawLine]) -> set[str]:
    """Lines that recur on three or more PDF pages (running headers and footers)."""
    pages: dict[str, set[int]] = {}
    for line in lines:
        if line.page is not None:
            text, _ = clean(line.text)
            if text:
                pages.setdefault(text, set()).add(line.page)
    return {text for text, seen in pages.items() if len(seen) >= 3}


def _artefact(line: RawLine, text: str, furniture: set[str], result: Layout) -> str:
    """The text to keep of a line; print artefacts go to `result.artefacts` (and footer metadata)."""
    if line.style == "furniture" or text in furniture:
        _footer_metadata(text, result)
        result.artefacts.append(Artefact(line.number, text, "running header or footer"))
        return ""
    trailing = _TRAILING_PAGE_NUMBER.search(text)
    if trailing and _PRINT_NOTICE.search(text):
        result.artefacts.append(Artefact(line.number, text, "printed-copy notice with page number"))
        return ""
    if _PAGE_NUMBER.match(text):
        result.artefacts.append(Artefact(line.number, text, "page number"))
        return ""
    if _PRINT_NOTICE.search(text):
        result.artefacts.append(Artefact(line.number, text, "printed-copy notice"))
        return ""
    footer = _FOOTER_VERSION.match(text)
    if footer and len(text) < 120 and not BULLET.match(text):
        _footer_metadata(text, result)
        result.artefacts.append(Artefact(line.number, text, "document footer (title and version)"))
        return ""
    if trailing:
        result.artefacts.append(Artefact(line.number, trailing.group().strip(), "page number"))
        return text[:trailing.start()]
    return text


def _footer_metadata(text: str, result: Layout) -> None:
    footer = _FOOTER_VERSION.match(text)
    if footer:
        if result.version is None:
            result.version = footer.group("version").strip()
        title = footer.group("title").strip(" -–|")
        if title and result.title is None:
            result.title = title


def _add(result: Layout, line: RawLine, text: str) -> None:
    blocks = result.blocks
    heading = _heading(line, text, blocks)
    if heading is not None:
        level, title = heading
        blocks.append(Block("heading", title, level, (line.number,), text, line.page))
        return
    if line.style == "title":
        if result.title is None:
            result.title = text
        blocks.append(Block("heading", text, 1, (line.number,), text, line.page))
        return
    bullet = BULLET.match(text)
    if line.style == "bullet" and not bullet:
        blocks.append(Block("bullet", text, max(1, line.level), (line.number,), text, line.page))
        return
    if bullet:
        mark = bullet.group("mark")
        level = max(line.level, 1) if line.style == "bullet" else BULLET_LEVELS.get(mark, 1)
        blocks.append(Block("bullet", bullet.group("rest"), level, (line.number,), text, line.page))
        return
    previous = blocks[-1] if blocks else None
    if previous is not None and line.style != "row" and _continues(previous, text):
        joiner = "" if previous.text.endswith("-") and text[:1].islower() else " "
        blocks[-1] = Block(previous.kind, previous.text + joiner + text, previous.level,
                           (*previous.lines, line.number), previous.original + "\n" + text, previous.page)
        return
    if previous is not None and previous.kind == "bullet" and (_RT_ONLY.match(text) or text[:1] in "<>≤≥="):
        # "3x 9 Gy of 5x6 Gy" under a bullet, "> of gelijk aan 1% = positief" under "PDL-1 <1% = negatief":
        # a list continued without its marker.
        level = previous.level + 1 if _RT_ONLY.match(text) else previous.level
        blocks.append(Block("bullet", text, level, (line.number,), text, line.page))
        return
    blocks.append(Block("line", text, 0, (line.number,), text, line.page))


def _heading(line: RawLine, text: str, blocks: list[Block]) -> tuple[int, str] | None:
    if line.style == "heading":
        return max(1, min(line.level, 3)), text
    caps = _CAPS_HEADING.match(text)
    if caps and len(caps.group("title")) >= 4 and any(c.isalpha() for c in caps.group("title")):
        return 1, text
    numbered = _NUMBERED_HEADING.match(text)
    if numbered and len(numbered.group("title").split()) <= 8 and not _RT_ONLY.match(text):
        number = numbered.group("num")
        depth = number.count(".") + 1
        inside_numbered = any(b.kind == "heading" and b.level == 1 and b.text[:1].isdigit() for b in blocks)
        if depth == 1 and inside_numbered and (text[len(number):len(number) + 1] == "."):
            depth = 2
        return min(depth, 3), _strip_number(text, number) if depth > 1 else text
    return None


def _strip_number(text: str, number: str) -> str:
    rest = text[len(number):].lstrip(". ").strip()
    return rest.rstrip(":").strip() or text


def _continues(previous: Block, text: str) -> bool:
    """Whether a marker-less line is the wrapped rest of the previous block."""
    if previous.kind == "heading" or previous.text.endswith(":") or _RT_ONLY.match(text):
        return False
    first = text[:1]
    if previous.text.endswith("-") and not previous.text.endswith(" -"):
        return True
    if first.islower() or first in "([":
        return True
    return bool(_CONTINUES.search(previous.text)) and not first.isdigit()


def counts(blocks: Sequence[Block]) -> Counter[str]:
    """How many blocks of each kind (for the report)."""
    return Counter(b.kind for b in blocks)
