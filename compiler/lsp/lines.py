"""What is written around the cursor, read from the line text alone.

Half-typed input often does not parse, so completion and the fallbacks of hover read the
current line directly: its indentation and bullet, the statement keyword, the drug name
of a drug line, the `§id` under the cursor. Everything here is pure string work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from compiler.tables import Tables, normalise

BULLET = re.compile(r"[-*•–−][ \t]+")
SECTION_REF = re.compile(r"§([a-z0-9][a-z0-9-]*)?")
HEADING = re.compile(r"^(#{1,9})[ \t]+(.*?)(?:[ \t]*\{([a-z0-9-]+)\})?[ \t]*(?://.*)?$")
NAME_WORD = re.compile(r"(?:[0-9]+-)?[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ0-9]*(?:[-'’][A-Za-zÀ-ÖØ-öø-ÿ0-9]+)*®?")


@dataclass(frozen=True)
class Statement:
    """A line split into indentation, bullet and body; `body_start` is the body's column."""

    indent: int
    body_start: int
    body: str


def statement(line: str) -> Statement:
    """The body of a line without its indentation and bullet marks (and without a comment)."""
    indent = len(line) - len(line.lstrip(" \t"))
    start = indent
    while True:
        match = BULLET.match(line, start)
        if match is None:
            break
        start = match.end()
    body = line[start:]
    comment = re.search(r"(^|[ \t])//", body)
    if comment is not None:
        body = body[: comment.start()]
    return Statement(indent, start, body)


def keyword(body: str) -> str | None:
    """The statement keyword a line body starts with (lower case, spaces normalised)."""
    match = re.match(r"(only\s+when|exclude\s+when|preferably\s+with|only\s+with|not\s+with|drug|regimen|rt|when|"
                     r"otherwise|decision|note:|nota:|query:|allow|followed\s+by\s+phase|phase|constraint)\b", body, re.IGNORECASE)
    if match is None and re.match(r"(note|nota|query):", body, re.IGNORECASE):
        match = re.match(r"(note|nota|query):", body, re.IGNORECASE)
    return " ".join(match.group(1).lower().split()) if match else None


@dataclass(frozen=True)
class DrugName:
    """The name part of a drug line: its columns in the line and what it resolves to."""

    start: int
    end: int
    text: str
    drug_id: str | None


def drug_name(line: str, tables: Tables) -> DrugName | None:
    """The written drug name of a `drug` line and the drug it resolves to (longest known prefix)."""
    stmt = statement(line)
    match = re.match(r"drug\b[ \t]*", stmt.body, re.IGNORECASE)
    if match is None:
        return None
    start = stmt.body_start + match.end()
    words: list[re.Match[str]] = []
    position = start
    while True:
        space = re.match(r"[ \t]*", line[position:])
        at = position + (space.end() if space else 0)
        word = NAME_WORD.match(line, at)
        if word is None or (words and (_is_part_word(word.group(0)))):
            break
        if not words and _is_part_word(word.group(0)) and word.group(0).upper() == "AUC":
            break
        words.append(word)
        position = word.end()
    if not words:
        return DrugName(start, start, "", None)
    drug_id: str | None = None
    end = words[-1].end()
    for count in range(len(words), 0, -1):
        text = line[words[0].start(): words[count - 1].end()]
        hit = tables.names.get(normalise(text))
        if hit is not None and len(hit.drug_ids) >= 1 and hit.drug_ids[0] in tables.drugs:
            drug_id = hit.drug_ids[0]
            end = words[count - 1].end()
            break
    return DrugName(words[0].start(), end, line[words[0].start(): end], drug_id)


PART_WORDS = {
    "auc", "then", "po", "oral", "iv", "im", "sc", "subcut", "sq", "intrathecal", "intravesical", "intrapleural",
    "intraperitoneal", "intra-arterial", "daily", "twice", "three", "weekly", "monthly", "every", "once", "days",
    "day", "cycle", "continuous", "for", "until", "infusion", "max", "tablet", "tablets", "capsule", "capsules",
    "syrup", "injection", "of", "mg", "g", "mcg", "ml", "units",
}


def _is_part_word(word: str) -> bool:
    return word.lower() in PART_WORDS


def section_ref_at(line: str, column: int) -> tuple[int, int, str] | None:
    """The `§id` under (or just before) the cursor: (start, end, id)."""
    for match in SECTION_REF.finditer(line):
        if match.start() <= column <= match.end():
            return match.start(), match.end(), match.group(1) or ""
    return None


def word_at(line: str, column: int, pattern: str = r"[A-Za-z0-9_-]+") -> tuple[int, int, str] | None:
    """The word under the cursor: (start, end, text)."""
    for match in re.finditer(pattern, line):
        if match.start() <= column <= match.end():
            return match.start(), match.end(), match.group(0)
    return None


@dataclass(frozen=True)
class HeadingText:
    """A heading found in the text: line, level, title and explicit id."""

    line: int
    level: int
    title: str
    id: str | None


def headings(lines: tuple[str, ...]) -> list[HeadingText]:
    """The headings of a text (for when the model is not available)."""
    found: list[HeadingText] = []
    for index, line in enumerate(lines):
        match = HEADING.match(line)
        if match is not None:
            found.append(HeadingText(index, len(match.group(1)), match.group(2), match.group(3)))
    return found


def in_metadata(lines: tuple[str, ...], line: int) -> bool:
    """Whether a line lies in the metadata block (before the first heading)."""
    return not any(HEADING.match(text) for text in lines[:line])
