"""The first-character dispatch of the scanners (`compiler.regex_code`) finds what the whole alternation finds.

Each parser state's scanner is one alternation of the terminals it accepts; `_Dispatch`
matches at a position with the smaller alternation of the terminals that can start with
the character there. These tests compare it with the whole alternation for every scanner
of the grammar: every character of the dispatch alphabet (and some outside it) with
adversarial continuations and left contexts, and every token of every shipped and test
sheet; they check that the comparison itself notices a wrong table, and the analysis of
first characters on patterns it must treat with care.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from typing import Any

import pytest

from compiler import parse as parsing
from compiler import regex_code
from tests.conftest import PARSER_SHEETS, ROOT, parser_text


@pytest.fixture(scope="module")
def scanners(fast: Any) -> list[tuple[Any, re.Pattern[str]]]:
    """(dispatch, whole alternation) for every scanner of the grammar."""
    kept: regex_code.KeptPatterns = fast.lexers.conf.re_module
    out = []
    for pattern, flags in kept.dispatch:
        dispatch = kept.compile(pattern, flags)
        assert isinstance(dispatch, regex_code._Dispatch)
        out.append((dispatch, re.compile(pattern, flags)))
    return out


def test_every_scanner_of_the_grammar_dispatches(fast: Any, scanners: list[tuple[Any, re.Pattern[str]]]) -> None:
    keys = {key | fast.lexers.extra for key in fast.lexers.accepts.values()}
    assert len(scanners) == len(keys)  # each state's terminal set has one scanner, each with a table


def _found(match: re.Match[str] | None) -> tuple[Any, ...] | None:
    return None if match is None else (match.span(), match.lastindex, match.lastgroup)


def _differences(dispatch: Any, whole: re.Pattern[str], texts: Iterator[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(text, pos) for text, pos in texts if _found(dispatch.match(text, pos)) != _found(whole.match(text, pos))]


OUTSIDE = "\u212a\u0130\u0131\u017f\u1e9e\u03bc\u2013\u2022\u00b5\u00d7\u00b2\u20ac\u4e2d\U0001f600\uffff\x00"
# what may follow the character (a terminal can fail or succeed on it) and what may precede it (look-behinds)
AFTER = ["", "\n", " x", "1 mg", "rug x", "aily\n", "g/m2:"]
BEFORE = ["a", " ", "1"]


def _adversarial(chars: str) -> Iterator[tuple[str, int]]:
    for char in chars:
        for after in AFTER:
            yield char + after, 0
        for before, after in zip(BEFORE, ["x", "Gy", ")"], strict=True):
            yield before + char + after, len(before)


def test_every_character_at_every_state_finds_what_the_whole_alternation_finds(
        scanners: list[tuple[Any, re.Pattern[str]]]) -> None:
    for dispatch, whole in scanners:
        chars = dispatch.alphabet + OUTSIDE
        assert not _differences(dispatch, whole, _adversarial(chars)), whole.pattern[:200]


def test_every_scanner_at_every_token_start_of_the_shipped_sheets(scanners: list[tuple[Any, re.Pattern[str]]]) -> None:
    # every position where a token can start in a shipped sheet (after a space, a line start, a
    # punctuation mark, a unit after a number), with every scanner, whatever state would ask there
    # (the parser's own questions, on every sheet, are the next test's)
    texts = [text for path in PARSER_SHEETS if path.is_relative_to(ROOT / "protocols") and (text := parser_text(path)) is not None]
    starts = re.compile(r"(?<![A-Za-z0-9_])|(?<=[0-9])(?=[^0-9 ])")
    # each start once: the character before it and the 40 after (time: long lines match slowly)
    cases = {(text[max(0, found.start() - 1):found.start() + 40], min(found.start(), 1))
             for text in texts for found in starts.finditer(text) if found.start() < len(text)}
    for dispatch, whole in scanners:
        assert not _differences(dispatch, whole, iter(cases)), whole.pattern[:200]


def _tokens(fast: Any, text: str) -> tuple[list[Any], str]:
    seen: list[tuple[Any, ...]] = []
    tokens = parsing._tokens(text, fast.lexers)
    next(tokens)

    def next_token(parser_state: Any) -> Any:
        token = tokens.send(parser_state)
        shown = token.end_line if isinstance(token.end_line, str) else token  # a kept token: its Lark token
        seen.append((shown.type, shown.value, shown.start_pos, shown.end_pos, shown.line, shown.column,
                     shown.end_line, shown.end_column))
        return token

    try:
        fast.parser.parse(parsing._TokenSource(next_token), "start")
    except Exception as error:  # the same error, after the same tokens
        return seen, type(error).__name__
    return seen, ""


def test_the_parser_sees_the_same_tokens_with_and_without_dispatch(fast: Any) -> None:
    module = fast.lexers.module
    plain = parsing._read_cache(*parsing._cache_path(module))
    assert plain is not None and plain.get("dispatch")
    without = parsing._Accelerated(module, dict(plain, dispatch={}))
    assert not without.lexers.conf.re_module.dispatch
    for path in PARSER_SHEETS:
        text = parser_text(path)
        if text is not None:
            assert _tokens(fast, text) == _tokens(without, text), path


def test_the_comparison_notices_a_wrong_table(scanners: list[tuple[Any, re.Pattern[str]]]) -> None:
    # a scanner that accepts `drug`: drop DRUG from the smaller alternation of `d`
    dispatch, whole = next((d, w) for d, w in scanners if "(?P<DRUG>" in w.pattern)
    alphabet, indices, members, widths, numbers, starts = dispatch.tables
    number = dispatch.indices[alphabet.index("d")]
    group_of = array("I")
    group_of.frombytes(numbers)
    of_d = array("H")
    of_d.frombytes(members[number])
    of_d.remove(next(i for i in of_d if dispatch.entry[4][group_of[i]] == "DRUG"))
    wrong_members = (*members[:number], of_d.tobytes(), *members[number + 1:])
    wrong = regex_code._Dispatch(dispatch.patterns, whole.pattern, 0,
                                 (alphabet, indices, wrong_members, widths, numbers, starts))
    sheet = [("drug x 1 mg po daily\n", 0)]
    assert _differences(wrong, whole, iter(sheet)) == sheet
    assert not _differences(dispatch, whole, iter(sheet))


def _firsts(pattern: str, flags: int = 0) -> list[re.Pattern[str]] | None:
    parsed = regex_code._parser.parse(pattern, flags)
    return regex_code._first_tests(parsed, flags | parsed.state.flags)


def _starts(pattern: str, char: str) -> bool:
    tests = _firsts(pattern)
    return tests is None or any(test.match(char) for test in tests)


@pytest.mark.parametrize(("pattern", "yes", "no"), [
    ("drug\\b", "d", "Dx "),
    ("(?i:drug)", "dD", "x "),
    ("(?i:k)", "kK\u212a", "x"),  # the Kelvin sign is a `k` to `re` without case
    ("(?i:s)", "sS\u017f", "x"),  # and the long s an `s`
    ("(?i:i)", "iI\u0130\u0131", "x"),
    ("(?!//)[^ \\t\\n]+", "/a", " \t\n"),  # a look-ahead consumes nothing: the class after it starts
    ("(?<=x)a", "a", "x"),
    ("\\ba", "a", "b"),
    ("(x|y)?z", "xyz", "a"),  # an optional start: what follows can start too
    ("(?:a*)*b", "ab", "c"),
    ("a{0}b", "ab", "c"),
    ("[^\\W\\d_]x", "a\u00e9\u4e2d", "1_ "),
    ("(?>ab)", "a", "b"),
    ("a++b", "a", "b"),
])
def test_first_characters_of_a_pattern(pattern: str, yes: str, no: str) -> None:
    for char in yes:
        assert _starts(pattern, char), (pattern, char)
    for char in no:
        assert not _starts(pattern, char), (pattern, char)
    # the analysis never misses a character a match starts with
    for char in yes + no:
        if re.match(pattern, char + "xyzb") or re.match(pattern, char + "b") or re.match(pattern, char):
            assert _starts(pattern, char)


@pytest.mark.parametrize("pattern", ["()\\1a", "(?P<x>a)?(?(x)b|c)", "a?", "(?=a)", ""])
def test_what_cannot_be_told_may_start_with_anything(pattern: str) -> None:
    assert _firsts(pattern) is None


def _alternation(alternatives: list[tuple[str, str]]) -> tuple[regex_code.KeptPatterns, str]:
    recorder = regex_code.Recorder()
    pattern = "|".join(f"(?P<{name}>{regexp})" for name, regexp in alternatives)
    recorder.compile(pattern, 0)
    chars = regex_code.alphabet([regexp for _, regexp in alternatives])
    assert recorder.record_dispatch(alternatives, 0, chars)
    return regex_code.KeptPatterns(recorder.kept, recorder.dispatch), pattern


def test_groups_inside_terminals_keep_their_numbers() -> None:
    alternatives = [("A", "(?i:(a)(?P<inner>b)c)"), ("B", "x(y)?"), ("C", "(?i:k(e)y)"), ("D", "[^ ]+"),
                    ("E", "(?i:s(t)+)"), ("F", "(?<=a)b")]
    kept, pattern = _alternation(alternatives)
    dispatch = kept.compile(pattern, 0)
    whole = re.compile(pattern)
    assert isinstance(dispatch, regex_code._Dispatch) and dispatch.groupindex == dict(whole.groupindex)
    texts = ["abc", "ABC", "xy", "x", "key", "\u212aey", "st", "\u017ftt", "ab", "b", "zzz", "KEY x"]
    assert not _differences(dispatch, whole, ((before + text, len(before)) for text in texts for before in ("", "a")))
    for text in texts:
        found, expected = dispatch.match(text), whole.match(text)
        assert (found and found.groups()) == (expected and expected.groups())


def test_a_scanner_whose_smaller_alternations_re_would_compile_otherwise_keeps_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = regex_code._Layout.assemble

    def off_by_one(self: Any, members: list[int]) -> tuple[str, list[int]]:
        text, code = original(self, members)
        code[3] += 1  # another minimum width than re.compile's
        return text, code

    monkeypatch.setattr(regex_code._Layout, "assemble", off_by_one)
    recorder = regex_code.Recorder()
    alternatives = [("A", "a+"), ("B", "b")]
    recorder.compile("(?P<A>a+)|(?P<B>b)", 0)
    assert not recorder.record_dispatch(alternatives, 0, regex_code.alphabet(["a+", "b"]))
    assert not recorder.dispatch


def test_a_damaged_dispatch_table_is_the_whole_alternation() -> None:
    kept, pattern = _alternation([("A", "a+"), ("B", "b")])
    table = kept.dispatch[(pattern, 0)]
    kept.dispatch[(pattern, 0)] = (table[0], table[1][:3], *table[2:])  # type: ignore[assignment]
    assert kept.compile(pattern, 0) == re.compile(pattern)
    assert (pattern, 0) not in kept.dispatch


def test_the_cache_keeps_tables_not_smaller_alternations(fast: Any) -> None:
    plain = parsing._read_cache(*parsing._cache_path(fast.lexers.module))
    assert plain is not None
    assert set(plain["dispatch"]) <= set(plain["regex"])
    assert not [key for key in plain["regex"] if regex_code.FILLER in key[0]]
