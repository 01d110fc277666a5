"""The accelerated parser's own token loop (`compiler.parse._tokens`) against the pure parser.

lark-cython's parser loop takes its tokens from a generator that lexes as lark-cython's
contextual lexer would (`_Scanner` rebuilds each state's scanner, its `_create_unless`
folding, its line counting) and adds the Indenter's tokens; kept tokens are made as Lark
`Token`s there and handed over in one reused lark-cython token. These tests require every
token of every tree to be the pure parser's in every field (type, text, offsets, lines,
columns), every node's offsets to be the same, each tree token to be its own object, and
each scanner to be built from the very terminals, order and folding lark-cython's
`BasicLexer` uses.
"""

from __future__ import annotations

from typing import Any

import pytest
from lark import Token
from lark.exceptions import UnexpectedToken

from compiler import parse as parsing
from compiler import regex_code
from compiler.parse import Node
from tests.conftest import PARSER_SHEETS, parser_text

FIELDS = ("type", "value", "start_pos", "end_pos", "line", "column", "end_line", "end_column")

MORE = [
    "# s\ndrug x 1 mg po daily\n  query: y\n",
    "# s\n\n\n// c\n   // c2\ndrug x 1 mg po daily // c3\n\twhen HER2+:\n\t  drug y 2 mg po\n",
    "id: x\n# s\nwhen A:\n  when B:\n    when C:\n      drug x 1 mg po\nnote: z\n",
    "# s\r\ndrug x 1 mg po daily\r\n  query: y, z\r\n",
    "# é ü 中文\ndrug x 1 mg po daily\n  query: µg × ≥ 😀\n",
    "# s\nregimen \"A + B / C\"\ndrug x 1 mg/m2 IV day 1, 8 every 21 days\n",
    "# s\nwhen A:\n \t// a b\t c\n\n \t drug x 1 mg po\n\t\t when B:  // d e\n\t\t\tnote: z\nnote: y\n",
]


def _walk(tree: Any, out: list[tuple[Any, ...]], tokens: list[Any]) -> None:
    if isinstance(tree, Node):
        out.append((tree.data, tree.start_pos, tree.span_start, tree.end_pos, tree.span_end, len(tree.children)))
        for child in tree.children:
            _walk(child, out, tokens)
        return
    assert type(tree) is Token, type(tree)
    tokens.append(tree)
    out.append((*(getattr(tree, field) for field in FIELDS), str(tree)))


def _flat(tree: Any) -> tuple[list[tuple[Any, ...]], list[Any]]:
    out: list[tuple[Any, ...]] = []
    tokens: list[Any] = []
    _walk(tree, out, tokens)
    return out, tokens


def _texts() -> list[str]:
    return [text for text in (parser_text(path) for path in PARSER_SHEETS) if text is not None] + MORE


def test_every_token_and_node_is_the_pure_parsers(fast: Any) -> None:
    pure = parsing.parser()
    compared = 0
    for text in _texts():
        try:
            reference = pure.parse(text)
        except Exception:
            continue  # a syntax error: the pure parser parses it (tests/test_parse_backends.py)
        ours, tokens = _flat(fast.parse(text))
        assert ours == _flat(reference)[0], text[:80]
        assert len({id(token) for token in tokens}) == len(tokens)  # none shared through the carrier
        compared += 1
    assert compared > 100


def test_the_comparison_notices_a_wrong_column(fast: Any) -> None:
    text = MORE[0]
    tree = fast.parse(text)
    reference = _flat(parsing.parser().parse(text))[0]
    assert _flat(tree)[0] == reference
    _flat(tree)[1][-1].column += 1
    assert _flat(tree)[0] != reference


@pytest.mark.parametrize("text", [
    "# s\ndrug x 1 mg po daily\n    query: y\n  query: z\n",  # a dedent to no open block
    "# s\ndrug x 1 mg po daily §\n",  # no terminal matches
    "# s\nwhen HER2+\n",  # a token no rule expects (the colon is missing)
])
def test_what_the_loop_cannot_parse_raises(fast: Any, text: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 (any error: the pure parser parses it instead)
        fast.parse(text)


def test_each_scanner_is_lark_cythons(fast: Any) -> None:
    lexers = fast.lexers
    for state in lexers.accepts:
        ours = lexers.scanner(state)
        theirs = lexers.lark_lexer(state).scanner  # lark-cython's BasicLexer of the state
        assert [name for name in ours.names if name is not None] == [t.name for t in theirs.terminals]
        assert isinstance(ours.dispatch, regex_code._Dispatch)  # the very text the cache keeps a table for
        assert ours.blanks == " \t"  # WS comes first: blanks are skipped without a match
        names = {t.name for t in theirs.terminals}
        for number, name in enumerate(ours.names):
            if name is None or name not in names:
                continue
            code = ours.codes[number]
            assert bool(code & parsing._IGNORED) == (name in lexers.conf.ignore)
            assert bool(code & parsing._KEPT) == (name in lexers.kept)
            assert bool(code & parsing._LINE_END) == (name == "_NL")


def test_a_string_terminal_takes_the_place_of_an_expression_matching_it(fast: Any) -> None:
    """`,` alone as a heading's text is the ignored `,` terminal (Lark's `UnlessCallback`): the
    parser is handed that terminal, as the pure parser's lexer hands it, and stops there."""
    comma = next(t.name for t in fast.lexers.conf.terminals if t.pattern.value == ",")
    text = "# ,\n"
    seen: list[str] = []
    tokens = parsing._tokens(text, fast.lexers)
    next(tokens)

    def next_token(parser_state: Any) -> Any:
        token = tokens.send(parser_state)
        seen.append(token.type)
        return token

    with pytest.raises(UnexpectedToken):
        fast.parser.parse(parsing._TokenSource(next_token), "start")
    with pytest.raises(UnexpectedToken) as pure:
        parsing.parser().parse(text)
    assert seen == ["HEADING_MARK", comma] and pure.value.token.type == comma
