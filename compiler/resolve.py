"""Resolve names: drugs through the formulary, regimens through the library, targets of
combination constraints through drugs and classes.

Resolution only fills in ids (`drug_id`, `regimen_id`, `target_ids`) and how a name was
recognised (`resolved_by`); deciding whether that is acceptable (a brand alone, an
abbreviation, an unknown name) is the job of the F and X checks.
"""

from __future__ import annotations

import dataclasses

from compiler import model as m
from compiler.tables import Tables, normalise


def resolve(protocol: m.Protocol, tables: Tables) -> m.Protocol:
    """A copy of the protocol with every name resolved that can be."""

    def item(node: m.Item) -> m.Item:
        children = tuple(item(c) for c in node.children)
        if isinstance(node, m.Bullet):
            content = item(node.content) if node.content is not None else None
            return dataclasses.replace(node, children=children, content=content)
        if isinstance(node, m.DrugLine):
            drug_id, how = resolve_drug(node.name.value, tables)
            return dataclasses.replace(node, children=children, drug_id=drug_id, resolved_by=how)
        if isinstance(node, m.RegimenLine):
            regimen_id = tables.regimen_names.get(normalise(node.name.value))
            return dataclasses.replace(node, children=children, regimen_id=regimen_id)
        if isinstance(node, m.WithConstraint):
            ids = tuple(resolve_target(t.value, tables) for t in node.targets)
            return dataclasses.replace(node, children=children, target_ids=ids)
        return dataclasses.replace(node, children=children)

    def section(node: m.Section) -> m.Section:
        return dataclasses.replace(
            node,
            items=tuple(item(i) for i in node.items),
            subsections=tuple(section(s) for s in node.subsections),
        )

    return dataclasses.replace(
        protocol,
        preamble=tuple(item(i) for i in protocol.preamble),
        sections=tuple(section(s) for s in protocol.sections),
    )


def resolve_drug(name: str, tables: Tables) -> tuple[str | None, str | None]:
    """(drug id, how it was recognised); an ambiguous abbreviation yields no id."""
    hit = tables.names.get(normalise(name))
    if hit is None:
        return None, None
    if len(hit.drug_ids) != 1:
        return None, "ambiguous"
    return hit.drug_ids[0], hit.how


def resolve_target(name: str, tables: Tables) -> str | None:
    """A constraint target: `class:<id>` for a drug class, or a drug id."""
    key = normalise(name)
    class_id = tables.class_names.get(key)
    if class_id is not None:
        return "class:" + class_id
    drug_id, _ = resolve_drug(name, tables)
    return drug_id
