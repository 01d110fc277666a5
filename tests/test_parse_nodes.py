"""`Node`s made by the rule callbacks (`Node()`, fields set there) still copy as Lark's trees do."""

from __future__ import annotations

import copy

from compiler import parse as parsing
from compiler.parse import Node

TEXT = "# s\nwhen A:\n  drug x 1 mg po daily\n  drug y 2 mg po\nnote: z\n"


def _fields(node: Node) -> tuple[object, ...]:
    return node.data, node.start_pos, node.span_start, node.end_pos, node.span_end, node._meta


def test_copy_and_deepcopy_keep_every_field() -> None:
    tree = parsing.parser().parse(TEXT)
    assert isinstance(tree, Node)
    for node in tree.iter_subtrees():
        assert isinstance(node, Node)
        shallow = node.copy()
        assert type(shallow) is Node and _fields(shallow) == _fields(node)
        assert shallow.children is node.children
        deep = copy.deepcopy(node)
        assert type(deep) is Node and _fields(deep) == _fields(node) and deep == node
        assert deep.children is not node.children
