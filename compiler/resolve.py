"""Resolve names: drugs through the formulary, regimens through the library, targets of
combination constraints through drugs and classes.

Resolution only fills in ids (`drug_id`, `regimen_id`, `target_ids`) and how a name was
recognised (`resolved_by`); deciding whether that is acceptable (a brand alone, an
abbreviation, an unknown name) is the job of the F and X checks.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable
from typing import Any, TypeVar

from compiler import model as m
from compiler._shadow import shadow
from compiler.tables import Tables, TablesMemo
from compiler.tables import normalise as _normalise


def normalise(name: str) -> str:
    """`tables.normalise`, remembered for short names: the same names recur on every line and in every sheet."""
    return _normalised(name) if len(name) <= 200 else _normalise(name)


_normalised = functools.lru_cache(maxsize=4096)(_normalise)


_T = TypeVar("_T")


def _replace(node: _T, **changes: Any) -> _T:
    """`dataclasses.replace` for the model's frozen dataclasses (no `__post_init__`, no init-only
    fields): the same object, built without re-validating the changes on every call.
    """
    cls = type(node)
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _plan(cls)
    get, position, make = plan
    values = list(get(node))
    if make is not None:  # the class's own parameters are its fields in order: the quickest way to build it
        for name, value in changes.items():
            values[position[name]] = value
        made: _T = make(*values)
        return made
    new = object.__new__(cls)
    for name, value in zip(position, values, strict=True):
        object.__setattr__(new, name, changes[name] if name in changes else value)
    return new


_Plan = tuple[Callable[[Any], tuple[Any, ...]], dict[str, int], Callable[..., Any] | None]
_PLANS: dict[type, _Plan] = {}


def _copy(node: _T, names: tuple[str, ...], *values: Any) -> _T:
    """`_replace(node, **dict(zip(names, values)))`, with where the named fields sit found once per class and names
    (resolve copies the same few classes with the same few changes, line after line).
    """
    key = (node.__class__, names)
    plan = _COPY_PLANS.get(key)
    if plan is None:
        get, places, make = _PLANS.get(key[0]) or _plan(key[0])
        plan = _COPY_PLANS[key] = (get, tuple(places[name] for name in names), make)
    get, positions, make = plan
    if make is None:  # (not a plain dataclass: `_replace` knows how)
        return _replace(node, **dict(zip(names, values, strict=True)))
    current = list(get(node))
    for position, value in zip(positions, values, strict=True):
        current[position] = value
    copied: _T = make(*current)
    return copied


_COPY_PLANS: dict[tuple[type, tuple[str, ...]],
                  tuple[Callable[[Any], tuple[Any, ...]], tuple[int, ...], Callable[..., Any] | None]] = {}
_CHILDREN = ("children",)
_BULLET_CHANGES = ("children", "content")
_DRUG_CHANGES = ("children", "drug_id", "resolved_by", "phases", "timing")
_ID_CHANGES = ("children", "drug_id")
_REGIMEN_CHANGES = ("children", "regimen_id")
_TARGET_CHANGES = ("children", "target_ids")
_SECTION_CHANGES = ("items", "subsections")


def _plan(cls: type) -> _Plan:
    """How `_replace` copies an instance of a class: its fields read at once, and what makes one from
    them all in order when its `__init__` takes them so (a plain dataclass: no init-only, keyword-only
    or post-init): the class's `_shadow`, which stores each field inline (its `__init__` sets each slot
    through the slot's descriptor), else the class itself; None when `_replace` must set each field.
    """
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    getter = operator.attrgetter(*names)
    get: Callable[[Any], tuple[Any, ...]] = getter if len(names) > 1 else (lambda node: (getter(node),))
    positional = all(f.init and not f.kw_only for f in fields) and not hasattr(cls, "__post_init__")
    plan = _PLANS[cls] = (get, {name: index for index, name in enumerate(names)}, shadow(cls) if positional else None)
    return plan


def resolve(protocol: m.Protocol, tables: Tables) -> m.Protocol:
    """A copy of the protocol with every name resolved that can be.

    What holds nothing to resolve is not copied: the item itself (frozen) serves both models, and so
    does a tuple of items none of which changed. Leaves (most items) are passed over without a call.
    """
    resolver = _Resolver(tables)
    preamble = resolver.items(protocol.preamble)
    resolved_sections = resolver.sections(protocol.sections)
    if preamble is protocol.preamble and resolved_sections is protocol.sections:
        return protocol
    return _replace(protocol, preamble=preamble, sections=resolved_sections)


class _Resolver:
    """`resolve`'s walk (methods, not nested functions calling each other through their cells: those
    leave a reference cycle per sheet for the collector).
    """

    __slots__ = ("tables",)

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def items(self, given: tuple[m.Item, ...]) -> tuple[m.Item, ...]:
        """The items resolved: `given` itself when none of them changed."""
        out: list[m.Item] | None = None
        kinds = _KINDS
        index = 0
        for node in given:
            kind = kinds.get(node.__class__)
            if kind is None:
                kind = _kind(node.__class__)
            if kind != _OTHER or node.children:  # a leaf with nothing to resolve: itself
                new = self.item(node, kind)
                if new is not node:
                    if out is None:
                        out = list(given)
                    out[index] = new
            index += 1
        return given if out is None else tuple(out)

    def item(self, node: m.Item, kind: int) -> m.Item:
        given = node.children
        kinds, tables = _KINDS, self.tables
        children = self.items(given) if given else given
        if kind == _OTHER:
            return node if children is given else _copy(node, _CHILDREN, children)
        if kind == _BULLET:
            assert isinstance(node, m.Bullet)
            content = given_content = node.content
            if content is not None:
                inner = kinds.get(content.__class__)
                if inner is None:
                    inner = _kind(content.__class__)
                if inner != _OTHER or content.children:
                    content = self.item(content, inner)
            if content is given_content and children is given:
                return node
            return _copy(node, _BULLET_CHANGES, children, content)
        if kind == _DRUG:
            assert isinstance(node, m.DrugLine)
            drug_id, how = resolve_product(node, tables)
            phases = node.phases
            for phase in phases:
                if phase.until_after is not None:  # rare: most phases have nothing to resolve
                    phases = tuple(_relative_end(p, tables) for p in phases)
                    break
            timing = node.timing
            if timing is not None:  # lang-b: `30 min before paclitaxel` names a drug or a class
                timing = _replace(timing, target_id=resolve_target(timing.target.value, tables))
            return _copy(node, _DRUG_CHANGES, children, drug_id, how, phases, timing)
        if kind == _MODIFICATION:
            assert isinstance(node, (m.DoseModification, m.DoseLevels))
            drug_id, _ = resolve_drug(node.drug.value, tables)
            return _copy(node, _ID_CHANGES, children, drug_id)
        if kind == _REGIMEN:
            assert isinstance(node, m.RegimenLine)
            regimen_id = tables.regimen_names.get(normalise(node.name.value))
            return _copy(node, _REGIMEN_CHANGES, children, regimen_id)
        assert isinstance(node, m.WithConstraint)
        ids = tuple(resolve_target(t.value, tables) for t in node.targets)
        return _copy(node, _TARGET_CHANGES, children, ids)

    def section(self, node: m.Section) -> m.Section:
        resolved = self.items(node.items)
        given = node.subsections
        subsections = self.sections(given) if given else given
        if resolved is node.items and subsections is given:
            return node  # nothing resolved in it: the section itself (frozen) serves both models
        return _copy(node, _SECTION_CHANGES, resolved, subsections)

    def sections(self, given: tuple[m.Section, ...]) -> tuple[m.Section, ...]:
        out = tuple(map(self.section, given))
        return given if all(map(operator.is_, out, given)) else out


_OTHER, _BULLET, _DRUG, _MODIFICATION, _REGIMEN, _WITH = range(6)
_KINDS: dict[type, int] = {}


def _kind(cls: type) -> int:
    """What `resolve` does with an item of this class (asked once per class: every item of a sheet passes)."""
    if issubclass(cls, m.Bullet):
        kind = _BULLET
    elif issubclass(cls, m.DrugLine):
        kind = _DRUG
    elif issubclass(cls, (m.DoseModification, m.DoseLevels)):
        kind = _MODIFICATION
    elif issubclass(cls, m.RegimenLine):
        kind = _REGIMEN
    elif issubclass(cls, m.WithConstraint):
        kind = _WITH
    else:
        kind = _OTHER
    _KINDS[cls] = kind
    return kind


def _relative_end(phase: m.Phase, tables: Tables) -> m.Phase:
    end = phase.until_after
    if end is None:
        return phase
    drug_id, _ = resolve_drug(end.drug.value, tables)
    return _replace(phase, until_after=_replace(end, drug_id=drug_id))


def resolve_drug(name: str, tables: Tables) -> tuple[str | None, str | None]:
    """(drug id, how it was recognised); an ambiguous abbreviation yields no id."""
    return _drug_of_key(normalise(name), tables)


def _drug_of_key(key: str, tables: Tables) -> tuple[str | None, str | None]:
    """`resolve_drug` of a name already normalised."""
    hit = tables.names.get(key)
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
    drug_id, _ = _drug_of_key(key, tables)
    return drug_id


def _routes_fit(line: m.DrugLine, entry: dict[str, Any]) -> bool:
    routes = [str(r) for r in entry.get("routes") or []]
    route = line.route
    return route is None or not routes or route.code in routes


def _doses_fit(line: m.DrugLine, tables: Tables, drug_id: str) -> bool:
    """Every dose of the line lies in a usual range (or is the loading dose) of the product."""
    ranges = _RANGES.answer(tables, drug_id, _dose_ranges, tables.drugs[drug_id])
    for phase in line.phases:
        dose = phase.dose
        if dose is None:
            continue
        value = float(dose.amount.value)
        if not any(unit == dose.unit and low <= value <= high for unit, low, high in ranges):
            return False
    return True


_RANGES: TablesMemo[str, tuple[tuple[str, float, float], ...]] = TablesMemo(10_000)


def _dose_ranges(entry: dict[str, Any]) -> tuple[tuple[str, float, float], ...]:
    """(unit, low, high) of each usual range of a product, and of its loading dose (read once per product)."""
    ranges: list[tuple[str, float, float]] = []
    for row in entry.get("doses") or []:
        usual = row.get("usual") or []
        if len(usual) == 2:
            ranges.append((str(row.get("unit")), float(usual[0]), float(usual[1])))
    loading = entry.get("loading") or {}
    if isinstance(loading, dict) and loading.get("dose") is not None:
        ranges.append((str(loading.get("unit")), float(loading["dose"]), float(loading["dose"])))
    return tuple(ranges)


def resolve_product(line: m.DrugLine, tables: Tables) -> tuple[str | None, str | None]:
    """Resolve a drug line's name, choosing among products that share an INN by route and dose.

    "trastuzumab … subcut" is the subcutaneous product, "denosumab 120 mg" is Xgeva; a
    name that stays ambiguous resolves to the group's default product, or to nothing.
    """
    key = normalise(line.name.value)
    group = _product_groups(tables).get(key)
    if group is not None:
        # The answer depends on the name, the brand, the route and the doses alone; the same lines recur from
        # sheet to sheet (a line of many phases is not kept: the memo outlives the sheet and must stay small).
        route = line.route
        written = (key, line.brand.value if line.brand is not None else None, route.code if route is not None else None,
                   tuple((p.dose.unit, p.dose.amount.value) for p in line.phases if p.dose is not None))
        known = _PRODUCTS.answers(tables)
        found = known.get(written)
        if found is None:
            found = _choose_product(line, tables, key, group)
            if len(written[3]) <= 20 and len(line.name.value) <= 200 and len(written[1] or "") <= 200:
                known[written] = found
        return found
    return _drug_of_key(key, tables)


_PRODUCTS: TablesMemo[tuple[object, ...], tuple[str | None, str | None]] = TablesMemo(4096)


def _choose_product(line: m.DrugLine, tables: Tables, key: str,
                    group: dict[str, object]) -> tuple[str | None, str | None]:
    """`resolve_product` of a line whose name is a product group's."""
    members = [str(x) for x in group.get("members") or [] if str(x) in tables.drugs]  # type: ignore[attr-defined]
    branded = resolve_drug(line.brand.value, tables)[0] if line.brand is not None else None
    if branded in members:
        return branded, "generic"  # `denosumab (Xgeva)`: the brand names the product
    fitting = [x for x in members if _routes_fit(line, tables.drugs[x])]
    by_dose = [x for x in fitting if _doses_fit(line, tables, x)]
    if by_dose:
        fitting = by_dose
    if len(fitting) > 1:
        # Prefer products whose own name begins with the written one: "trastuzumab"
        # subcut is trastuzumab SC, not the pertuzumab + trastuzumab combination.
        named = [x for x in fitting if normalise(tables.drug_name(x, "en")).startswith(key)]
        fitting = named or fitting
    if len(fitting) == 1:
        return fitting[0], "generic"
    default = group.get("default")
    if default is not None and str(default) in fitting:
        return str(default), "generic"
    return None, "ambiguous-product"


_GROUPS: list[tuple[Tables, dict[str, dict[str, object]]]] = []


def _product_groups(tables: Tables) -> dict[str, dict[str, object]]:
    """The product group of each of its names, normalised (the first group that lists a name), once per tables object."""
    if not _GROUPS or _GROUPS[0][0] is not tables:
        index: dict[str, dict[str, object]] = {}
        for group in tables.product_groups.values():
            for name in group.get("names") or []:
                index.setdefault(normalise(str(name)), group)
        _GROUPS[:] = [(tables, index)]
    return _GROUPS[0][1]
