"""The memos behind the C, L, N and X checks change nothing but their speed (issue 17).

Analyses are shared between rules of one check run (`Context.memo`), and answers that
depend only on the data (regions of flags and comparisons, drug facts, word patterns)
are kept between sheets. A sheet must get the same findings whatever was checked before
it, and the faster pattern of the C rules must answer as `arms.mentions` does.
"""

from __future__ import annotations

import pytest

from compiler import arms, conditions, modification, thresholds
from compiler import model as m
from compiler.checks import combination_facts, schedule_label
from compiler.pipeline import compile_text
from compiler.source import Span
from compiler.tables import load
from tests.conftest import ROOT, TODAY

SHEETS = sorted((ROOT / "protocols").glob("**/*.protocol"))
SPAN = Span("test.protocol", 1, 1, 1, 2)


def forget() -> None:
    """Empty every memo that outlives one check run."""
    thresholds._ATOM_REGIONS.clear()
    thresholds._DOMAINS.clear()
    thresholds._ALGEBRAS.clear()
    conditions._INDEXES.clear()
    combination_facts._FACTS.clear()
    combination_facts._MENTIONS.clear()
    modification._SHAPES.clear()
    modification._KEYS.clear()
    schedule_label._ROWS.clear()


def findings(path: str, raw: bytes) -> tuple[object, ...]:
    return compile_text(path, raw, TODAY).diagnostics


def test_a_sheet_gets_the_same_findings_whatever_was_checked_before() -> None:
    sheets = {str(p): p.read_bytes() for p in SHEETS}
    alone = {}
    for path, raw in sheets.items():
        forget()
        alone[path] = findings(path, raw)
    forget()
    for path, raw in reversed(sheets.items()):  # every memo warm from the other sheets
        assert findings(path, raw) == alone[path], path
    for path, raw in sheets.items():  # and again, now also warm from itself
        assert findings(path, raw) == alone[path], path


def _word_lists() -> list[list[str]]:
    data = load().combinations
    lists = [[str(w) for w in rule.get("words") or []] for rule in data.get("supportive") or []]
    lists.append([str(w) for w in (data.get("ovarian_suppression") or {}).get("words") or []])
    return [words for words in lists if words] + [[], ["*"], ["B12"], ["dpd*", "DPYD"], ["a.b", "x+y*"]]


EDGE_TEXTS = ["", "DPD", "dpd-test", "xDPD", "DPDx", "DPYD*2A", "B12", "vitamine B12.", "B12x", "aB12",
              "ſ", "ı", "K", "Foliumzuur", "FOLIC ACID", "folic  acid", "a.b", "axb", "x+y", "x+yz", "1B12",
              "growth factors", "groeifactoren", "anti-emetica", "Anti-emetisch beleid", "G-CSF", "g-csf!"]


@pytest.mark.parametrize("words", _word_lists(), ids=lambda words: ",".join(words)[:40] or "none")
def test_the_c_rules_pattern_answers_as_arms_mentions(words: list[str]) -> None:
    texts = list(EDGE_TEXTS)
    for path in SHEETS:
        texts.extend(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    for text in texts:
        assert combination_facts.mentions([text], words) == arms.mentions([text], words), (words, text)
    assert combination_facts.mentions(texts, words) == arms.mentions(texts, words)


def compare(variable: str, op: str, value: str, unit: str | None = None, line: int = 1) -> m.Compare:
    from decimal import Decimal

    span = Span("test.protocol", line, 1, line, 2)
    number = m.Number(Decimal(value), value, span)
    return m.Compare(span, variable, span, op, number, False, None, None if unit is None else m.Text(unit, span))


def test_a_comparison_has_one_region_wherever_it_is_written() -> None:
    translator = thresholds.Translator(load())
    first = translator.region(compare("ANC", ">=", "1.5", "x10^9/L", line=3))
    again = thresholds.Translator(load()).region(compare("ANC", ">=", "1.5", "x10^9/L", line=40))
    assert again == first
    # written differently, read separately (the text of a number is part of the key)
    assert thresholds.atom_key(compare("ANC", ">=", "1.50", "x10^9/L")) != \
        thresholds.atom_key(compare("ANC", ">=", "1.5", "x10^9/L"))


def test_an_unreadable_condition_stays_unreadable_when_asked_again() -> None:
    translator = thresholds.Translator(load())
    unknown = m.Flag(SPAN, "no-such-flag")
    for _ in range(2):
        with pytest.raises(thresholds.Unresolvable):
            translator.region(unknown)
        with pytest.raises(thresholds.Unresolvable):
            thresholds.Translator(load()).region(m.All(SPAN, (unknown, m.Flag(SPAN, "HER2+"))))


TABLE_FIXTURES = sorted(p for code in ("L007", "L008", "L009", "L010", "L011", "D021", "D022")
                        for p in (ROOT / "tests" / "fixtures" / code).glob("*.protocol"))


@pytest.mark.parametrize("path", TABLE_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_table_seen_before_reports_on_its_own_rows(path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    text = path.read_text(encoding="utf-8")
    # the same tables two lines further down: their analysis comes from the memo
    moved = text.replace("\n# ", "\n// moved\n// down\n# ", 1)
    assert moved != text
    forget()
    alone = findings("moved.protocol", moved.encode())
    forget()
    findings(str(path), text.encode())
    assert findings("moved.protocol", moved.encode()) == alone
