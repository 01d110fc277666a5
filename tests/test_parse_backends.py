"""The parser's own tree building (`compiler.parse.Node`) against Lark's `propagate_positions`.

`parser()` replaces Lark's per-rule wrappers by one callback that records the offsets
Lark would; these tests parse every shipped sheet and every fixture with both and
require the same trees, the same offsets for every node, and the same model and
diagnostics from the builder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lark import Token, Tree
from lark.exceptions import LarkError

from compiler.build import build
from compiler.model import to_json
from compiler.parse import Node, offsets, parser, reference_parser
from compiler.source import SourceFile
from tests.conftest import FIXTURES, ROOT

SHEETS = sorted(p for p in [*ROOT.glob("protocols/**/*.protocol"), *FIXTURES.glob("**/*.protocol")] if p.is_file())


def _text(path: Path) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        return None
    return text if text.endswith("\n") else text + "\n"


def _same(ours: Any, theirs: Any, where: str) -> None:
    if isinstance(theirs, Token):
        assert isinstance(ours, Token), where
        assert (ours.type, str(ours), ours.start_pos, ours.end_pos) == \
               (theirs.type, str(theirs), theirs.start_pos, theirs.end_pos), where
        return
    assert isinstance(ours, Node) and isinstance(theirs, Tree), where
    assert ours.data == theirs.data and len(ours.children) == len(theirs.children), where
    assert offsets(ours) == offsets(theirs), (where, ours.data)
    for mine, other in zip(ours.children, theirs.children, strict=True):
        _same(mine, other, where)


@pytest.fixture(scope="module")
def reference() -> Any:
    return reference_parser()


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: str(p.relative_to(ROOT)))
def test_trees_offsets_and_models_match_larks_own(path: Path, reference: Any) -> None:
    text = _text(path)
    if text is None:
        pytest.skip("not UTF-8 (refused before parsing)")
    try:
        theirs = reference.parse(text)
    except LarkError as error:
        with pytest.raises(type(error)):
            parser().parse(text)
        return
    ours = parser().parse(text)
    _same(ours, theirs, str(path))
    assert ours.pretty() == theirs.pretty()
    source = SourceFile.from_text(str(path), text)
    model, diagnostics = build(source, ours)
    reference_model, reference_diagnostics = build(source, theirs)
    assert to_json(model) == to_json(reference_model)
    assert diagnostics == reference_diagnostics


def test_offsets_of_an_inlined_rule_exclude_its_parentheses() -> None:
    # `(A or B)`: the condition covers `A or B`; the line covers the parentheses and the colon.
    text = "# s\nwhen (HER2+ or ER+):\n  drug x 1 mg po daily\n"
    tree = parser().parse(text)
    conditions = list(tree.find_data("or_cond"))
    assert len(conditions) == 1
    where = offsets(conditions[0])
    assert where is not None and text[slice(*where)] == "HER2+ or ER+"
    line = next(tree.find_data("when_line"))
    where = offsets(line)
    assert where is not None and text[slice(*where)] == "when (HER2+ or ER+):"


def test_a_node_without_tokens_has_no_offsets() -> None:
    tree = parser().parse("# s\ndrug letrozole\n")
    phase = next(tree.find_data("phase"))
    assert offsets(phase) is None
