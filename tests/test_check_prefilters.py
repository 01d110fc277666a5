"""The cheap tests and shared scans of the L, N, S, R, M and X rules answer as their rule's own pattern (issue 17).

A rule that searches every line of a sheet first asks a cheaper question of all of them at once;
each such shortcut is compared here with the pattern it stands for, over every line of the shipped
sheets and the fixtures and over texts made to sit on its edges.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from compiler import radiobiology
from compiler.checks import notation, schedule, text
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
    for sample in TEXTS:
        starts = set(notation._unit_starts(sample))
        for pattern in (notation._DOSE_NEEDED_PATTERN, notation._SLASH_OR_PLUS_HINT):
            for position in range(len(sample)):
                if pattern.match(sample, position):
                    assert position in starts, (pattern.pattern, sample, position)


def test_tried_at_the_unit_starts_the_patterns_find_what_their_search_finds() -> None:
    for sample in TEXTS:
        starts = notation._unit_starts(sample)
        assert notation._holds_dose_unit(sample) == (notation._DOSE_NEEDED(sample) is not None), sample
        assert notation._holds_dose_unit(sample, starts) == notation._holds_dose_unit(sample), sample
        hint = any(notation._SLASH_OR_PLUS_HINT_AT(sample, start) for start in starts)
        assert hint == (notation._SLASH_OR_PLUS_HINT.search(sample) is not None), sample


def _old_total_consistent(fractions: Decimal, dose_per_fraction: Decimal, total: Decimal) -> bool:
    """`radiobiology.total_consistent` as it was written with Fractions (main at 545dc4b)."""
    exponent = dose_per_fraction.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    half = Fraction(1, 2 * 10**places) if places else Fraction(0)
    n, d, t = Fraction(fractions), Fraction(dose_per_fraction), Fraction(total)
    return n * (d - half) <= t <= n * (d + half)


def test_the_total_in_whole_numbers_holds_where_the_fractions_held() -> None:
    texts = ["0", "1", "2", "3", "5", "8", "15", "25", "0.5", "2.5", "2.50", "2.67", "2.666", "2.7", "4", "4.0",
             "4.00", "13.3", "40", "40.0", "40.1", "39.975", "40.125", "40.13", "26", "5.2", "60", "-1", "-2.5", "1E+1",
             "1E-3", "0.001", "100", "1.8", "3.25", "12.5", "48", "3.2", "15.5", "0.0", "7.14", "50"]
    values = [Decimal(t) for t in texts]
    for n in values:
        for d in values:
            for total in values:
                assert radiobiology.total_consistent(n, d, total) == _old_total_consistent(n, d, total), (n, d, total)


def test_a_text_holds_a_token_exactly_when_the_keyed_test_says_so() -> None:
    tokens = ["TODO", "TBD", "XXX", "FIXME", "???", "", "a", "ë", "≥5", "x y"]
    keyed = [(token, text._rarest(token)) for token in tokens]
    assert all(char in token for token, char in keyed if token)
    for sample in TEXTS:
        for token, char in keyed:
            assert text._holds_any(sample, [(token, char)]) == (token in sample), (token, sample)


def test_the_day_ranges_are_the_patterns_matches() -> None:
    days = ["1", "1-14", "1 - 14", "14-1", "1–8", "1 to 5", "-7 to -1", "1, 8, 15", "0", "1,8", "2 tot 5", "1\u20138"]
    for sample in TEXTS + days:
        found = [(m.span(), m.groups()) for m in schedule._day_ranges(sample)]
        assert found == [(m.span(), m.groups()) for m in schedule._DAY_RANGE.finditer(sample)], sample


def test_a_reference_is_read_only_from_a_sheet_holding_the_section_sign() -> None:
    from compiler import model as m
    from compiler.pipeline import compile_text
    from tests.conftest import TODAY

    sheets = sorted((ROOT / "protocols").glob("**/*.protocol")) + sorted(FIXTURES.glob("X003/*.protocol"))
    seen = 0
    for path in sheets:
        result = compile_text(str(path), path.read_bytes(), TODAY)
        if result.protocol is None or result.source is None:
            continue
        refs = [ref for item in result.protocol.all_items() if isinstance(item, (m.Prose, m.Note)) for ref in item.refs]
        seen += len(refs)
        assert "§" in result.source.text or not refs, path
    assert seen  # the sheets do hold references


def test_bed_eqd2_and_shown_kept_by_whole_numbers_are_the_formulas() -> None:
    values = [Fraction(1), Fraction(5), Fraction(25), Fraction(267, 100), Fraction(2), Fraction(35, 10), Fraction(18, 10),
              Fraction(40, 15), Fraction(10), Fraction(1, 3), 3]
    for n in values:
        for d in values:
            for ab in values:
                assert radiobiology.bed(n, d, ab) == n * d * (1 + Fraction(d) / ab)
                assert radiobiology.eqd2(n, d, ab) == n * d * (d + ab) / (2 + Fraction(ab))
        for places in (0, 1, 2):
            quantum = Decimal(1).scaleb(-places)
            exact = Fraction(n)
            text = str((Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(quantum, rounding="ROUND_HALF_UP"))
            assert radiobiology.shown(n, places) == (text.rstrip("0").rstrip(".") if "." in text else text)
