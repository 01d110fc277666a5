"""`resolve` copies only what it changes (issue 17): the result equals a plain copy-everything resolution, and
what holds nothing to resolve is the built object itself, shared by both models.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from compiler import model as m
from compiler import resolve as r
from compiler.build import build
from compiler.parse import parse
from compiler.source import SourceFile
from compiler.tables import Tables, load

ROOT = Path(__file__).resolve().parent.parent
SHEETS = [path for path in sorted((ROOT / "protocols").rglob("*.protocol")) + sorted((ROOT / "tests" / "fixtures").rglob("*.protocol"))
          if path.is_file()]


def _reference(protocol: m.Protocol, tables: Tables) -> m.Protocol:
    """The resolution written the plain way: every item and section copied with `dataclasses.replace`."""

    def item(node: Any) -> Any:
        children = tuple(item(child) for child in node.children)
        if isinstance(node, m.Bullet):
            content = item(node.content) if node.content is not None else None
            return dataclasses.replace(node, children=children, content=content)
        if isinstance(node, m.DrugLine):
            drug_id, how = r.resolve_product(node, tables)
            phases = tuple(dataclasses.replace(p, until_after=dataclasses.replace(
                p.until_after, drug_id=r.resolve_drug(p.until_after.drug.value, tables)[0]))
                if p.until_after is not None else p for p in node.phases)
            timing = node.timing
            if timing is not None:
                timing = dataclasses.replace(timing, target_id=r.resolve_target(timing.target.value, tables))
            return dataclasses.replace(node, children=children, drug_id=drug_id, resolved_by=how, phases=phases,
                                       timing=timing)
        if isinstance(node, (m.DoseModification, m.DoseLevels)):
            return dataclasses.replace(node, children=children, drug_id=r.resolve_drug(node.drug.value, tables)[0])
        if isinstance(node, m.RegimenLine):
            return dataclasses.replace(node, children=children,
                                       regimen_id=tables.regimen_names.get(r.normalise(node.name.value)))
        if isinstance(node, m.WithConstraint):
            return dataclasses.replace(node, children=children,
                                       target_ids=tuple(r.resolve_target(t.value, tables) for t in node.targets))
        return dataclasses.replace(node, children=children)

    def section(node: m.Section) -> m.Section:
        return dataclasses.replace(node, items=tuple(map(item, node.items)),
                                   subsections=tuple(map(section, node.subsections)))

    return dataclasses.replace(protocol, preamble=tuple(map(item, protocol.preamble)),
                               sections=tuple(map(section, protocol.sections)))


def _built(path: Path) -> m.Protocol | None:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None  # (a fixture of undecodable bytes: no model)
    source = SourceFile.from_text(str(path), text)
    parsed = parse(source, frozenset())
    if parsed.tree is None:
        return None
    return build(source, parsed.tree)[0]


def test_resolve_equals_the_plain_resolution() -> None:
    tables = load()
    checked = 0
    for path in SHEETS:
        protocol = _built(path)
        if protocol is None:
            continue
        assert r.resolve(protocol, tables) == _reference(protocol, tables), path
        checked += 1
    assert checked > 100


def test_what_holds_nothing_to_resolve_is_shared() -> None:
    tables = load()
    for path in SHEETS[:40]:
        protocol = _built(path)
        if protocol is None:
            continue
        resolved = r.resolve(protocol, tables)
        built_items, resolved_items = protocol.all_items(), resolved.all_items()
        assert len(built_items) == len(resolved_items), path
        for before, after in zip(built_items, resolved_items, strict=True):
            nothing = not isinstance(before, (m.Bullet, m.DrugLine, m.DoseModification, m.DoseLevels,
                                              m.RegimenLine, m.WithConstraint)) and not before.children
            if nothing:
                assert after is before, (path, before)
