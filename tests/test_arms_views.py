"""The layout's views (compiler.arms) against a plain walk of the tree, over random sheets.

The layout lists what the checks read (lines, sections, the statements of each block, the
arm of each drug, the regimen around a line) in the one walk that makes its nodes, and
builds an arm's companions, texts and conditions from a chain shared by the members of a
block. Each view here is recomputed the plain way — a pass over every node, a walk up
every ancestor — and must be the same.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from compiler import arms as a
from compiler import model as m
from compiler.pipeline import Compiled, compile_text
from compiler.tables import load
from tests.conftest import TODAY
from tests.hostile import HEADER
from tests.hostile.test_bounds_arms import random_block

EXTRA = ("only with goserelin", "preferably with letrozole or anastrozole", "note: samen geven",
         "only when postmenopausal", "exclude when HER2+")


def random_sheet(rng: random.Random) -> str:
    lines = ["only when line >= 1"] if rng.random() < 0.3 else []
    for number in range(rng.randint(1, 3)):
        lines.append(f"# Sectie {number}")
        block: list[str] = []
        random_block(rng, 0, block)
        for line in block:
            lines.append(line)
            indent = line[:len(line) - len(line.lstrip())]
            if line.rstrip().endswith(":") and rng.random() < 0.5:  # a statement of the block just opened
                lines.append(f"{indent}  {rng.choice(EXTRA)}")
        if rng.random() < 0.3:
            lines.append("## Voorwaarden")
            lines.append("exclude when EGFR+")
    return HEADER + "\n".join(lines) + "\n"


def plain_path(lay: a.Layout, index: int) -> list[int]:
    out: list[int] = []
    current: int | None = index
    while current is not None:
        out.append(current)
        current = lay.nodes[current].parent
    return out


def plain_nodes(protocol: m.Protocol) -> list[tuple[object, int | None, int, bool]]:
    """(item, parent, end, content_of_bullet) of every node, in the order the layout numbers them."""
    out: list[list[object]] = [[None, None, 0, False]]

    def items(found: tuple[m.Item, ...], parent: int) -> None:
        for item in found:
            index = len(out)
            out.append([item, parent, 0, False])
            if isinstance(item, m.Bullet) and item.content is not None:
                out.append([item.content, index, index + 2, True])
            items(item.children, index)
            out[index][2] = len(out)

    def section(found: m.Section, parent: int) -> None:
        index = len(out)
        out.append([found, parent, 0, False])
        items(found.items, index)
        for sub in found.subsections:
            section(sub, index)
        out[index][2] = len(out)

    items(protocol.preamble, 0)
    for found in protocol.sections:
        section(found, 0)
    out[0][2] = len(out)
    return [(item, parent, end, bullet) for item, parent, end, bullet in out]  # type: ignore[misc]


def random_layouts(seed: int, count: int) -> Iterator[tuple[Compiled, a.Layout]]:
    """`count` random sheets, each compiled, with its layout."""
    rng = random.Random(seed)
    tables = load()
    for _ in range(count):
        result = compile_text("views.protocol", random_sheet(rng).encode(), TODAY)
        assert result.protocol is not None
        yield result, a.Layout(result.protocol, tables, result.source)


def test_the_views_agree_with_a_plain_walk() -> None:
    arms_seen = 0
    for result, lay in random_layouts(17, 60):
        assert result.protocol is not None
        assert lay.regimen_nodes() == [n for n in lay.nodes if isinstance(n.item, m.RegimenLine)]  # before `nodes`
        nodes = lay.nodes
        assert (lay.items, lay.parents, lay.ends) == ([n.item for n in nodes], [n.parent for n in nodes],
                                                      [n.end for n in nodes])
        assert [(n.item, n.parent, n.end, n.content_of_bullet) for n in nodes] == plain_nodes(result.protocol)
        assert [n.index for n in nodes] == list(range(len(nodes)))
        assert lay.regimen_nodes() == [n for n in nodes if isinstance(n.item, m.RegimenLine)]
        texts: list[str] = []
        for node in nodes:
            if isinstance(node.item, m.Prose):
                texts.append(node.item.text)
            elif isinstance(node.item, m.Note) and node.item.text is not None:
                texts.append(node.item.text.value)
        assert lay.all_texts() == texts
        for node in nodes:
            assert lay.ancestors(node.index) == plain_path(lay, node.index)
            regimen = next((x for x in plain_path(lay, node.index) if isinstance(nodes[x].item, m.RegimenLine)), None)
            phase = next((x for x in plain_path(lay, node.index) if isinstance(nodes[x].item, m.PhaseLine)), None)
            expected = None if regimen is None else nodes[regimen].item
            if regimen is not None and phase is not None and phase < regimen:
                pass  # a phase outside its regimen cannot be written
            elif regimen is not None and phase is not None:
                seen = nodes[phase].item
                assert isinstance(expected, m.RegimenLine) and isinstance(seen, m.PhaseLine)
                expected = a.phase_view(expected, seen)
            assert lay.enclosing_regimen(node.index) == expected
            assert lay.enclosing_phase(node.index) == phase
        # the statements of each block: by their owner, from every node
        owned: dict[int, list[int]] = {}
        for node in nodes:
            if isinstance(node.item, (m.OnlyWhen, m.ExcludeWhen, m.WithConstraint, m.Note, m.Prose)):
                owned.setdefault(lay.owner(node.index), []).append(node.index)
        assert lay._owned == owned
        for member in lay.members:
            arm = lay.arm(member)
            companions: list[a.CompanionGroup] = []
            texts = []
            for ancestor in plain_path(lay, member.node):
                block = lay._block(ancestor)
                companions.extend(block[0])
                texts.extend(block[1])
            if member.line is not None:
                texts.extend(c.text.value for c in member.line.children if isinstance(c, m.Note) and c.text is not None)
            if member.library is not None and member.library.get("note"):
                texts.append(str(member.library.get("note")))
            assert arm.companions == tuple(companions)
            assert arm.texts == tuple(texts)
            assert arm.conditions == lay.conditions(member.node)
            arms_seen += 1
        assert list(lay.arms()) == [lay.arm(member) for member in lay.members]
    assert arms_seen > 150


def _accessors_agree(lay: a.Layout) -> int:
    """The layout's node lists against a pass over every node; the number of drug lines seen."""
    nodes = lay.nodes
    drugs = [n.index for n in nodes if isinstance(n.item, m.DrugLine)]
    assert lay.drug_nodes() == drugs
    assert lay.phase_nodes() == [n.index for n in nodes if isinstance(n.item, m.PhaseLine)]
    assert lay.regimen_indices() == [n.index for n in nodes if isinstance(n.item, m.RegimenLine)]
    for node in nodes:
        around = [x for x in plain_path(lay, node.index)[1:] if isinstance(nodes[x].item, (m.PhaseLine, m.RegimenLine))]
        assert lay.container(node.index) == (around[0] if around else None)
        inside = nodes[node.index + 1:node.end]
        assert lay.drug_nodes_within(node.index) == [n.index for n in inside if isinstance(n.item, m.DrugLine)]
        assert lay.drug_lines_within(node.index) == [n.item for n in inside if isinstance(n.item, m.DrugLine)]
        assert lay.has_line_within(node.index) == any(isinstance(n.item, (m.DrugLine, m.RegimenLine)) for n in inside)
    return len(drugs)


def test_the_node_lists_agree_with_a_plain_walk() -> None:
    """`drug_nodes`, `drug_nodes_within`, `phase_nodes`, `has_line_within` (the S and C rules read
    them instead of walking every node), on random sheets and on every sheet of the repository.
    """
    tables = load()
    seen = 0
    for _, lay in random_layouts(1717, 40):
        seen += _accessors_agree(lay)
    phased = 0
    root = Path(__file__).resolve().parent.parent
    for path in sorted([*root.glob("protocols/**/*.protocol"), *root.glob("tests/fixtures/S01[456]/*.protocol")]):
        result = compile_text(str(path), path.read_bytes(), TODAY)
        if result.protocol is None:
            continue
        lay = a.Layout(result.protocol, tables, result.source)
        seen += _accessors_agree(lay)
        phased += bool(lay.phase_nodes())
    assert seen > 100 and phased > 3
