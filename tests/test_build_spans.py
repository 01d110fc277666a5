"""The builder's span maker (`compiler.build.spans`) gives the spans `SourceFile.span` gives."""

from __future__ import annotations

import random
from pathlib import Path

from compiler.build import spans
from compiler.source import SourceFile, Span

TEXTS = ["", "x", "one\ntwo\n", "a\n\n\nbb\nccc", "\n", "id: x\n# Title {t}\n  drug a 5 mg iv\n\n", "é€\n😀 x\n"]


def test_every_pair_of_offsets_in_any_order() -> None:
    for text in TEXTS:
        source = SourceFile.from_text("f.protocol", text)
        pairs = [(start, end) for start in range(len(text) + 2) for end in range(len(text) + 2)]
        for order in (pairs, pairs[::-1], random.Random(7).sample(pairs, len(pairs))):
            span, _ = spans(source)  # a fresh maker: its remembered line starts at line 1
            for start, end in order:
                made = span(start, end)
                assert type(made) is Span
                assert repr(made) == repr(source.span(start, end)), (text, start, end)
                assert made == source.span(start, end)


def test_span_of_every_node_and_token_of_a_sheet() -> None:
    from lark import Token, Tree

    from compiler.build import plain_spans
    from compiler.parse import parse

    text = Path("protocols/borst/emmaus-gemetastaseerd-borstcarcinoom.protocol").read_text(encoding="utf-8")
    source = SourceFile.from_text("emmaus.protocol", text)
    tree = parse(source, frozenset()).tree
    assert tree is not None
    found: list[Tree[Token] | Token] = []
    stack: list[Tree[Token] | Token] = [tree]
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, Tree):
            stack.extend(node.children)
    _, expected = plain_spans(source)
    for order in (found, found[::-1], random.Random(3).sample(found, len(found))):
        _, span_of = spans(source)
        for node in order:
            assert repr(span_of(node)) == repr(expected(node))
