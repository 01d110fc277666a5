"""resolve's copies are made by the classes' `_shadow`s (issue 17): each copy is an object of the model's
own class, equal to what `dataclasses.replace` makes, on every fixture sheet.
"""

from __future__ import annotations

import dataclasses

from compiler import model as m
from compiler.build import build
from compiler.parse import parse
from compiler.resolve import _copy, _replace, resolve
from compiler.source import SourceFile
from compiler.tables import load
from tests.conftest import FIXTURES


def _built(path: str, raw: bytes) -> m.Protocol | None:
    source = SourceFile.from_text(path, raw.decode("utf-8", "replace"), raw)
    parsed = parse(source, frozenset())
    return None if parsed.tree is None else build(source, parsed.tree)[0]


def test_resolved_copies_are_the_models_own_classes_and_equal_a_plain_replace() -> None:
    tables = load()
    copies = 0
    for path in sorted(FIXTURES.glob("*/*.protocol")):
        if not path.is_file():
            continue
        protocol = _built(str(path), path.read_bytes())
        if protocol is None:
            continue
        given = {id(item) for item in protocol.all_items()}
        for item in resolve(protocol, tables).all_items():
            assert type(item) is getattr(m, type(item).__name__), (path, type(item))
            if id(item) in given:
                continue
            copies += 1
            changes = {"children": item.children}
            assert _copy(item, ("children",), item.children) == dataclasses.replace(item, **changes) == item
            assert _replace(item, **changes) == item and type(_replace(item, **changes)) is type(item)
    assert copies > 100
