"""The grammar: strict LALR (no conflicts, no terminal collisions), friendly syntax errors,
and the language forms the documentation promises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark

from compiler.parse import ERROR_EXAMPLES, ProtocolIndenter, grammar_path, parse, parser
from compiler.pipeline import compile_text
from compiler.source import SourceFile


def test_grammar_is_strict_lalr() -> None:
    # strict=True makes Lark reject shift/reduce conflicts and regex collisions (interegular).
    Lark.open(str(grammar_path()), parser="lalr", lexer="contextual", postlex=ProtocolIndenter(),
              propagate_positions=True, maybe_placeholders=False, strict=True)


def test_parser_is_built_once() -> None:
    assert parser() is parser()


@pytest.mark.parametrize("label", sorted(ERROR_EXAMPLES))
def test_every_error_example_still_fails_with_its_message(label: str) -> None:
    message = label.split("|")[0]
    for example in ERROR_EXAMPLES[label]:
        result = parse(SourceFile.from_text("x.protocol", "# s\n" + example))
        assert result.problems, f"example parses now, orphaned: {example!r}"
        assert result.problems[0].message == message, (example, result.problems[0].message)


def _codes(text: str) -> list[tuple[int, str, str]]:
    result = compile_text("x.protocol", text.encode())
    return [(d.span.line, d.code, d.message) for d in result.diagnostics]


def test_recovery_reports_every_broken_line_and_checks_the_rest() -> None:
    found = _codes("# s\ndrug letrozole 2,5 po daily\ndrug zolendronaat 4 mg IV\ndrug anastrozole 1 po daily\n")
    lines = [(line, code) for line, code, _ in found if code in ("P001", "F001")]
    assert lines == [(2, "P001"), (3, "F001"), (4, "P001")]


def test_decimal_comma_and_point_read_the_same() -> None:
    from compiler.model import DrugLine

    for text in ("2,5", "2.5"):
        result = compile_text("x.protocol", f"# s\ndrug letrozole {text} mg po daily\n".encode())
        assert result.protocol is not None
        line = result.protocol.sections[0].items[0]
        assert isinstance(line, DrugLine) and line.phases[0].dose is not None
        assert str(line.phases[0].dose.amount.value) == "2.5"


def test_day_list_does_not_read_as_decimal() -> None:
    from compiler.model import DrugLine

    result = compile_text("x.protocol", b"# s\ndrug fulvestrant 500 mg IM on days 1, 15, 29 then every 28 days\n")
    assert result.protocol is not None
    line = result.protocol.sections[0].items[0]
    assert isinstance(line, DrugLine)
    assert line.phases[0].days is not None and line.phases[0].days.days == (1, 15, 29)
    assert line.phases[1].frequency is not None and line.phases[1].frequency.interval == 28


def test_prose_keeps_urls_but_drops_comments() -> None:
    from compiler.model import Prose

    result = compile_text("x.protocol", b"# s\nZie https://www.ema.europa.eu/x   // interne notitie\n")
    assert result.protocol is not None
    prose = result.protocol.sections[0].items[0]
    assert isinstance(prose, Prose) and prose.text == "Zie https://www.ema.europa.eu/x"


def test_keyword_line_never_silently_becomes_prose() -> None:
    found = _codes("# s\ndrug holidays are allowed\n")
    assert any(code in ("P001", "F001") for _, code, _ in found)
    escaped = _codes("# s\n\\drug holidays are allowed\n")
    assert all(code not in ("P001", "F001") for _, code, _ in escaped)


def _may_start_with(pattern: str, char: str) -> bool:
    """Whether a regular expression can match a text that starts with `char` (an over-estimate:
    lookarounds are ignored). Reads the expression with the `re` module's own parser."""
    import re

    sre_parse = pytest.importorskip("re._parser")
    constants = pytest.importorskip("re._constants")
    categories = {constants.CATEGORY_SPACE: r"\s", constants.CATEGORY_NOT_SPACE: r"\S",
                  constants.CATEGORY_DIGIT: r"\d", constants.CATEGORY_NOT_DIGIT: r"\D",
                  constants.CATEGORY_WORD: r"\w", constants.CATEGORY_NOT_WORD: r"\W"}
    code = ord(char)

    def in_set(items: list[tuple[object, object]], ignore_case: bool) -> bool:
        negate, found = False, False
        for op, av in items:
            if op is constants.NEGATE:
                negate = True
            elif op is constants.LITERAL:
                found |= av == code or (ignore_case and chr(int(str(av))).lower() == char.lower())
            elif op is constants.RANGE:
                low, high = av  # type: ignore[misc]
                found |= low <= code <= high
            elif op is constants.CATEGORY:
                found |= re.fullmatch(categories[av], char) is not None
            else:
                return True  # anything else: assume it may
        return found != negate

    def first(items: object, ignore_case: bool) -> tuple[bool, bool]:
        """(may start with `char`, may match the empty text) for a sequence of items."""
        for op, av in items:  # type: ignore[attr-defined]
            may, empty = item(op, av, ignore_case)
            if may:
                return True, False
            if not empty:
                return False, False
        return False, True

    def item(op: object, av: object, ignore_case: bool) -> tuple[bool, bool]:
        if op is constants.LITERAL:
            return av == code or (ignore_case and chr(int(str(av))).lower() == char.lower()), False
        if op is constants.NOT_LITERAL:
            return av != code, False
        if op is constants.IN:
            return in_set(av, ignore_case), False  # type: ignore[arg-type]
        if op in (constants.AT, constants.ASSERT, constants.ASSERT_NOT):
            return False, True  # zero width
        if op is constants.SUBPATTERN:
            _, add, _, body = av  # type: ignore[misc]
            return first(body, ignore_case or bool(add & constants.SRE_FLAG_IGNORECASE))
        if op is constants.BRANCH:
            results = [first(branch, ignore_case) for branch in av[1]]  # type: ignore[index]
            return any(m for m, _ in results), any(e for _, e in results)
        if op in (constants.MAX_REPEAT, constants.MIN_REPEAT, constants.POSSESSIVE_REPEAT):
            low, _, body = av  # type: ignore[misc]
            may, empty = first(body, ignore_case)
            return may, empty or low == 0
        if op is constants.ATOMIC_GROUP:
            return first(av, ignore_case)
        return True, True  # ANY, group references, …: assume it may

    parsed = sre_parse.parse(pattern)
    return first(parsed, bool(parsed.state.flags & constants.SRE_FLAG_IGNORECASE))[0]


def test_only_the_ignored_blanks_can_start_with_a_space_or_a_tab() -> None:
    # WS has the highest priority so each scanner tries it first; that gives the same tokens as
    # trying it last only because no other terminal can match at a space or a tab.
    lark = parser()
    terminals = {t.name: t.pattern.to_regexp() for t in lark.terminals}
    assert terminals["WS"] in ("[ \t]+", "[ \\t]+") and "WS" in lark.lexer_conf.ignore  # Lark reads `\t` as a tab
    for char in " \t":
        starting = sorted(name for name, pattern in terminals.items() if _may_start_with(pattern, char))
        assert starting == ["WS"], char
    assert _may_start_with("(?i:(followed\\s+by\\s+)?phase\\b)", "f") and not _may_start_with("x+", " ")
    assert _may_start_with("(?:a)?[^b]", " ") and _may_start_with("\\s", "\t") and not _may_start_with("[^\\s]", "\t")


def test_the_text_terminals_match_what_a_look_ahead_at_every_character_matched() -> None:
    # the grammar's text terminals (META_VALUE, PROSE, …) take blank runs whole; before, each
    # character looked ahead for blanks and a `//`. Both must match the same text everywhere.
    import itertools
    import random
    import re

    before = [re.compile(r"[^ \t\n](?:(?![ \t]+\/\/)[^\n])*"), re.compile(r"(?!\/\/)[^ \t\n](?:(?![ \t]+\/\/)[^\n])*")]
    grammar = {t.name: t.pattern.to_regexp() for t in parser().terminals}
    now = [re.compile(grammar["META_VALUE"]), re.compile(grammar["PROSE"])]
    assert len({grammar[name] for name in ("META_VALUE", "HEADING_TEXT", "DECISION_TEXT", "NOTE_TEXT")}) == 1
    alphabet = " \t/a\n\r,\xa0"
    texts = ["".join(chars) for size in range(7) for chars in itertools.product(" \t/a\n", repeat=size)]
    chance = random.Random(17)
    texts += ["".join(chance.choice(alphabet) for _ in range(chance.randrange(1, 30))) for _ in range(20000)]
    for text in texts:
        for old, new in zip(before, now, strict=True):
            for start in {0, len(text) // 2}:
                found, expected = new.match(text, start), old.match(text, start)
                assert (found and found.span()) == (expected and expected.span()), (text, start)


def test_the_lexer_order_of_the_catch_all_terminals_is_pinned() -> None:
    # Lark orders terminals by priority, then longest possible match, then the length of the
    # expression, then name: rewriting an expression can move it. Where two terminals can match
    # the same text, the first one wins, so this order is part of the language.
    terminals = parser().terminals
    ordered = sorted((t for t in terminals if t.priority == 0 and t.pattern.max_width > 1000),
                     key=lambda t: (-t.pattern.max_width, -len(t.pattern.value), t.name))
    assert [t.name for t in ordered] == [
        "WORD", "CWORD", "OAR_ORGAN", "TARGET", "PROSE", "DECISION_TEXT", "HEADING_TEXT", "META_VALUE", "NOTE_TEXT",
        "_NL", "REASON_TEXT", "SITE_TEXT", "TOLERANCE_TEXT", "UNTIL_WHAT", "VOLUME_TEXT", "STRING"]


# The text terminals before their blank-run-and-word steps were made possessive (issue 17): kept
# here so that the rewrite is proved to match the same spans, on every sheet and on hostile text.
_TEXT_BEFORE = r"[^ \t\n](?:[^ \t\n]+|[ \t]++(?!\/\/))*"
_PROSE_BEFORE = r"(?!\/\/)[^ \t\n](?:[^ \t\n]+|[ \t]++(?!\/\/))*"
_TEXT_TERMINALS = {"META_VALUE": _TEXT_BEFORE, "HEADING_TEXT": _TEXT_BEFORE, "DECISION_TEXT": _TEXT_BEFORE,
                   "NOTE_TEXT": _TEXT_BEFORE, "PROSE": _PROSE_BEFORE}


def _text_terminal_pairs() -> list[tuple[str, object, object]]:
    import re

    grammar = {t.name: t.pattern.to_regexp() for t in parser().terminals}
    pairs = [(name, re.compile(before), re.compile(grammar[name])) for name, before in _TEXT_TERMINALS.items()]
    assert all(old.pattern != new.pattern for _, old, new in pairs)  # the test compares two forms, not one with itself
    return pairs


def _same_spans(pairs: list[tuple[str, object, object]], text: str, starts: range | list[int]) -> None:
    for name, old, new in pairs:
        old_match, new_match = old.match, new.match  # type: ignore[attr-defined]
        for start in starts:
            expected, found = old_match(text, start), new_match(text, start)
            assert (found and found.span()) == (expected and expected.span()), (name, text, start)


def test_the_possessive_text_terminals_match_the_same_spans_on_every_sheet() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sheets = sorted(path for folder in ("protocols", "tests") for path in (root / folder).rglob("*.protocol")
                    if path.is_file())
    assert len(sheets) > 100
    pairs = _text_terminal_pairs()
    for path in sheets:
        text = path.read_text(encoding="utf-8", errors="replace")
        _same_spans(pairs, text, range(len(text) + 1))  # every position of every line, and the end


def test_the_possessive_text_terminals_match_the_same_spans_on_hostile_text() -> None:
    import itertools
    import random

    pairs = _text_terminal_pairs()
    for size in range(8):
        for chars in itertools.product(" \t/a\n", repeat=size):
            text = "".join(chars)
            _same_spans(pairs, text, range(size + 1))
    chance = random.Random(1717)
    alphabet = " \t/a\n\r,\xa0\u2028#:é"
    for _ in range(5000):
        text = "".join(chance.choice(alphabet) for _ in range(chance.randrange(1, 60)))
        _same_spans(pairs, text, range(len(text) + 1))
    # long runs: a backtracking difference would show at the blanks before a late `//`
    for text in ["a" + " \t" * 300 + "//x", "w " * 500 + "  //", ("x\t" * 200) + "\n//", "/" * 50 + " " * 50 + "//"]:
        _same_spans(pairs, text, range(len(text) + 1))


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=st.sampled_from(" \t\n\r/ab,:#\xa0\u3000é"), max_size=80) | st.text(max_size=40))
def test_the_possessive_text_terminals_match_the_same_spans_on_any_text(text: str) -> None:
    _same_spans(_text_terminal_pairs(), text, range(len(text) + 1))
