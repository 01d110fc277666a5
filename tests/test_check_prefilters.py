"""The cheap tests and shared scans of the L, N, S, R, M and X rules answer as their rule's own pattern (issue 17).

A rule that searches every line of a sheet first asks a cheaper question of all of them at once;
each such shortcut is compared here with the pattern it stands for, over every line of the shipped
sheets and the fixtures and over texts made to sit on its edges.
"""

from __future__ import annotations

from compiler.checks import notation
from tests.conftest import FIXTURES, ROOT

EDGE_TEXTS = ["", "5", "5 mg", "5mg", "5  MG", "1,5 µg", "2 Μg", "2 μg", "3 G", "3 g", "10 IU", "10 iu", "10 E",
              "10 e", "10 U", "30 mL/min", "12 mg/m²", "12 mg/m^2", "0 ſ", "5\u2009mg", "5\nmg", "55 5 mg", "5 5mg",
              "1 2 3 g", "6 mgx", "7 eenheden", "8 Eenheden", "9 mmol", "1 unit", "2 units", "4 cc", "AUC 5", "12e",
              "2 mg/400 units", "500 mg + 400 mg", "500 mg/5 mL", "1 g+2", "3 mcg / 4", "1\tmg", "x1 mg", "1 mg1",
              "5 m g", "5 µ", "½ mg", "٣ mg", "5 Mg/kg", "5 MCG/KG", "10 grams", "10 Gram", "10 K", "10 \u212a"]


def _texts() -> list[str]:
    texts = list(EDGE_TEXTS)
    for path in sorted((ROOT / "protocols").glob("**/*.protocol")) + sorted(p for p in FIXTURES.glob("**/*.protocol") if p.is_file()):
        lines = path.read_bytes().decode("utf-8", "replace").splitlines()
        texts.extend(lines)
        texts.append("\n".join(lines))
    texts.append("\n".join(EDGE_TEXTS))
    return texts


TEXTS = _texts()


def test_the_unit_starts_hold_every_start_of_the_dose_and_slash_patterns() -> None:
    for text in TEXTS:
        starts = set(notation._unit_starts(text))
        for pattern in (notation._DOSE_NEEDED_PATTERN, notation._SLASH_OR_PLUS_HINT):
            for position in range(len(text)):
                if pattern.match(text, position):
                    assert position in starts, (pattern.pattern, text, position)


def test_tried_at_the_unit_starts_the_patterns_find_what_their_search_finds() -> None:
    for text in TEXTS:
        starts = notation._unit_starts(text)
        assert notation._holds_dose_unit(text) == (notation._DOSE_NEEDED(text) is not None), text
        assert notation._holds_dose_unit(text, starts) == notation._holds_dose_unit(text), text
        hint = any(notation._SLASH_OR_PLUS_HINT_AT(text, start) for start in starts)
        assert hint == (notation._SLASH_OR_PLUS_HINT.search(text) is not None), text
