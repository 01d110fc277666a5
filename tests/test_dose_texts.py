"""The D rules' text prefilters (compiler/checks/dose_context.py) answer as the regexes they stand in front of."""

from __future__ import annotations

import re
from re import _parser as re_parser  # type: ignore[attr-defined]
from re._constants import BRANCH, LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN  # type: ignore[import-not-found]
from typing import Any

from compiler.checks import dose_context, folded

TEXTS = [
    "", "Tandsanering vóór de start", "BSA max 2,0 m²", "Lichaamsoppervlakte BEGRENZEN tot 2 M2",
    "CrCl ≥ 60 mL/min – renal function", "Calcium en VITAMINE-D3 dagelijks", "İstanbul kalk", "ONJ risico",
    "Kelvin \u212a sign", "long \u017f s and dotless \u0131", "Σίσυφος ΣΑΣ max 3 m^2", "no match here at all",
    "capped at 2.0 m2 (ASCO)", "eGFR < 30: niet meer dan 1,8 m²", "dental\ncheck", "a\x00b", "\ud800 lone surrogate",
]

# each pattern with the literals its prefilter looks for
PREFILTERED = ((dose_context.RENAL_WORDS, dose_context.RENAL_LITERALS),
               (dose_context.CALCIUM_WORDS, dose_context.CALCIUM_LITERALS),
               (dose_context.VITAMIN_D_WORDS, dose_context.VITAMIN_D_LITERALS),
               (dose_context.DENTAL_WORDS, dose_context.DENTAL_LITERALS),
               (dose_context.BSA_CAP, dose_context.BSA_CAP_WORDS))
LITERALS = (dose_context.RENAL_LITERALS + dose_context.CALCIUM_LITERALS + dose_context.VITAMIN_D_LITERALS + dose_context.DENTAL_LITERALS
            + dose_context.BSA_CAP_WORDS + dose_context.BSA_UNITS + dose_context.BSA_WORDS)


def test_fold_finds_the_literals_folded_finds() -> None:
    for text in TEXTS:
        ours, theirs = dose_context._fold(text), folded(text)
        assert (ours is None) == (theirs is None), text
        if ours is not None and theirs is not None:
            assert len(ours) == len(text)
            for word in LITERALS:
                assert (word in ours) == (word in theirs), (text, word)
                assert [m.start() for m in re.finditer(re.escape(word), ours)] == \
                    [m.start() for m in re.finditer(re.escape(word), theirs)], (text, word)


def test_holding_is_the_texts_one_by_one() -> None:
    for literals in (dose_context.RENAL_LITERALS, dose_context.DENTAL_LITERALS, dose_context.BSA_CAP_WORDS, dose_context.CALCIUM_LITERALS):
        for texts in (TEXTS, [t for t in TEXTS if folded(t) is not None], TEXTS[:1], []):
            expected = [i for i, t in enumerate(texts)
                        if folded(t) is None or any(w in (folded(t) or "") for w in literals)]
            found = dose_context._holding(texts, literals)
            if any(folded(t) is None for t in texts):
                assert found == list(range(len(texts)))
            else:
                assert found == expected, (literals, texts)



def test_the_literals_hold_every_match() -> None:
    """Each literal list is a necessary condition of its pattern: every match holds one of them, folded."""
    for pattern, literals in PREFILTERED:
        for text in TEXTS:
            lowered = folded(text)
            if lowered is not None and pattern.search(text):
                assert any(word in lowered for word in literals), (pattern, text)


def _covered(items: Any, literals: tuple[str, ...]) -> bool:
    """Every match of the parsed pattern `items` holds one of `literals` (lower case): some run of
    literal characters in the sequence holds one, or some part every match goes through is covered
    (a group, a repeat of at least one, an alternation whose branches all are).
    """
    run = ""
    for op, value in [*list(items), (None, None)]:
        if op is LITERAL:
            run += chr(value).lower()
            continue
        if any(word in run for word in literals):
            return True
        run = ""
        if op is SUBPATTERN and _covered(value[-1], literals):
            return True
        if op in (MAX_REPEAT, MIN_REPEAT) and value[0] >= 1 and _covered(value[2], literals):
            return True
        if op is BRANCH and all(_covered(branch, literals) for branch in value[1]):
            return True
    return False


def test_every_branch_of_each_pattern_holds_a_literal() -> None:
    """Read from the patterns themselves, not from sample texts: a word added to a pattern without its
    literal (so that the prefilter would hide its matches) fails here.
    """
    for pattern, literals in PREFILTERED:
        assert _covered(re_parser.parse(pattern.pattern, re.IGNORECASE), literals), pattern.pattern
    assert not _covered(re_parser.parse(dose_context.DENTAL_WORDS.pattern + "|mondzorg", re.IGNORECASE), dose_context.DENTAL_LITERALS)



def test_may_cap_is_the_words_of_the_cap() -> None:
    """`_may_cap` (units first, then a limit word alone) answers as the two word conditions of BSA_CAP do, and lets
    every match through.
    """
    for text in [*TEXTS, "Lichaamsoppervlakte maximaal 2,0 m²", "BSA afgetopt op 2", "max 4 m2", "BSA begrensd"]:
        lowered = dose_context._fold(text)
        expected = lowered is None or (
            (any(w in lowered for w in dose_context.BSA_CAP_WORDS) and any(u in lowered for u in dose_context.BSA_UNITS))
            or (any(w in lowered for w in dose_context.BSA_CAP_STEMS) and any(w in lowered for w in dose_context.BSA_WORDS)))
        assert dose_context._may_cap(lowered) == expected, text
        if dose_context.BSA_CAP.search(text):
            assert dose_context._may_cap(lowered), text

def test_every_cap_stem_is_a_limit_word() -> None:
    """`_may_cap` lets a limit word decide alone when a unit is present: that holds only while every stem is one."""
    assert all(stem in dose_context.BSA_CAP_WORDS for stem in dose_context.BSA_CAP_STEMS)
