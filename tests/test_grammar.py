"""The grammar: strict LALR (no conflicts, no terminal collisions), friendly syntax errors,
and the language forms the documentation promises."""

from __future__ import annotations

import pytest
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
