"""The quick paths of the scans before parsing (compiler/source.py) against the line-by-line walks
they stand for: `scan_indentation` finds nothing by its quick test only when the walk would find
nothing (and the shipped sheets pass it), and `scan_invisible`'s single pass reports what a pass per line reported.
"""

from __future__ import annotations

import random
import re
import sys
import unicodedata

import pytest

from compiler import source as src
from compiler.source import MAX_DEPTH, SourceFile, SourceProblem, Span, scan_indentation, scan_invisible
from tests.conftest import ROOT

SHEETS = [path for path in sorted((ROOT / "protocols").rglob("*.protocol")) + sorted((ROOT / "tests" / "fixtures").rglob("*.protocol"))
          if path.is_file()]


def _texts() -> list[str]:
    rng = random.Random(17)
    texts = [path.read_bytes().decode("utf-8", errors="replace") for path in SHEETS]
    out = list(texts)
    leads = [" ", "  ", "   ", "\t", "\u00a0", " \u3000", "// ", "(" * (MAX_DEPTH + 1), "((", "\u202f", ""]
    for text in texts[:60]:
        lines = text.split("\n")
        for _ in range(6):
            changed = list(lines)
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(changed))
                how = rng.randrange(4)
                if how == 0:  # indent or dedent a line by a few spaces
                    changed[at] = " " * rng.randint(1, 3) + changed[at] if rng.random() < 0.5 else changed[at][1:]
                elif how == 1:
                    changed[at] = rng.choice(leads) + changed[at]
                elif how == 2:
                    changed.insert(at, " " * rng.randint(0, 9) + rng.choice(["x", "// c", "", ")("]))
                else:
                    changed[at] = changed[at] + " " + "(" * rng.randint(30, 36) + ")" * rng.randint(0, 40)
            out.append("\n".join(changed))
    out += ["", "\n", "a\n  b\n c\n", "a\n" + "".join(" " * i + "x\n" for i in range(40)), "\t", "x\r\n  y\r\n"]
    return out


TEXTS = _texts()


def _walked(source: SourceFile) -> list[SourceProblem]:
    original = src._well_indented
    src._well_indented = lambda text, depth: False  # the walk over every line
    try:
        return scan_indentation(source)
    finally:
        src._well_indented = original


@pytest.mark.parametrize("chunk", range(4))
def test_the_quick_indentation_test_agrees_with_the_walk(chunk: int) -> None:
    found = 0
    for text in TEXTS[chunk::4]:
        source = SourceFile.from_text("t.protocol", text)
        walked = _walked(source)
        if src._well_indented(text, MAX_DEPTH):  # False only sends the text to the walk
            assert not walked, text
        assert scan_indentation(source) == walked
        found += bool(walked)
    assert found > 20  # the changed texts do hold problems of each kind


def test_the_shipped_sheets_take_the_quick_indentation_test() -> None:
    for path in sorted((ROOT / "protocols").rglob("*.protocol")):
        assert src._well_indented(path.read_text(encoding="utf-8"), MAX_DEPTH), path


def _per_line(source: SourceFile) -> list[SourceProblem]:
    """The scan as it was: a pass per line."""
    problems: list[SourceProblem] = []
    for number, line in enumerate(source.text.split("\n"), start=1):
        for match in re.finditer(r"[^\t\n\x20-\x7e]", line):
            char = match.group(0)
            if unicodedata.category(char) not in src.INVISIBLE_CATEGORIES:
                continue
            column = match.start() + 1
            name = src._CHARACTER_NAMES.get(char) or unicodedata.name(char, "") or "control character"
            problems.append(SourceProblem(
                "P011", f"invisible or control character U+{ord(char):04X} ({name.lower()}) at column {column}",
                Span(source.path, number, column, number, column + 1),
                "delete the character (retype the text around it); it can hide a statement from the checks"))
    return problems


def test_the_single_pass_for_invisible_characters_reports_what_a_pass_per_line_did() -> None:
    rng = random.Random(11)
    odd = ["\u200b", "\ufeff", "\u202e", "\x1b", "\x00", "\x7f", "\x85", "\u2028", "\u2029", "\u00ad", "é", "–",
           "\r", "\x0c", "\U000e0001", "\U0001f600"]
    found = 0
    for text in TEXTS[:200]:
        chars = list(text)
        for _ in range(rng.randint(0, 4)):
            chars.insert(rng.randint(0, len(chars)), rng.choice(odd))
        source = SourceFile.from_text("t.protocol", "".join(chars))
        expected = _per_line(source)
        assert scan_invisible(source) == expected
        found += len(expected)
    assert found > 100


def test_a_text_the_quick_test_passes_holds_no_character_the_scan_reports() -> None:
    # scan_invisible returns at once for a text `str.isprintable` passes (its line ends made spaces): no
    # character of a reported category may be printable to Python, in this Python's Unicode
    printable_yet_reported = [f"U+{code:04X}" for code in range(sys.maxunicode + 1)
                              if unicodedata.category(chr(code)) in src.INVISIBLE_CATEGORIES and chr(code).isprintable()]
    assert printable_yet_reported == []
    accented = SourceFile.from_text("t.protocol", "id: x\ntitle: patiënt ≥ 18 jaar, 1.000 mg/m² – café\n")
    assert scan_invisible(accented) == []
    assert [p.code for p in scan_invisible(SourceFile.from_text("t.protocol", accented.text + "a\u00adb\n"))] == ["P011"]
