"""Treatment arms: which drugs a protocol gives *together*.

The combination (C) and schedule (S) checks need to know which drug statements of a
sheet describe one treatment given to one patient at one time — an **arm** — and which
are alternatives. Sheets use indentation for both: a bullet list under "Aromatase
inhibitors:" is a choice (letrozole *or* anastrozole), the drug lines of a regimen are
a combination. The rule protocolc applies is structural, so an author can always see —
and change — how a sheet is read:

1. **A regimen is one arm.** Every drug of a `regimen` — the drug lines indented under
   it (bulleted or not) and, for a library regimen, the drugs of its library entry —
   is given together. `when`/`otherwise` branches inside a regimen stay alternatives.
   The `phase`s of a regimen (`phase AC: …` / `followed by phase paclitaxel: …`) are
   given one after the other: drugs of two different phases are not together, drugs of
   one phase are (and a line in a phase sees the phase's cycle data, `enclosing_regimen`).
2. **Bullets are alternatives.** Sibling bullets (`- drug letrozole` / `- drug
   anastrozole`) are a choice of one; so are the branches of a decision (`when`,
   `otherwise`), a nested `decision:` ("or, by histology: …") and labelled sub-blocks
   (a prose line with an indented block, such as "Tamoxifen:" or "Aromataseremmers:").
3. **Bare lines in a block are together.** Drug and regimen lines written without a
   bullet directly in a block (under a label, a bullet, a `when` branch) are given with
   everything else in that block: `when premenopausal:` / `drug goserelin …` /
   `drug letrozole …` is goserelin + letrozole; `Label:` / `drug goserelin …` /
   `- drug letrozole …` / `- drug anastrozole …` is goserelin + one of the two.
4. **Section level is a list.** Statements directly under a heading are independent
   entries of the sheet (a section is a document unit, not a prescription), so two bare
   drug lines under a heading are not an arm. Group them under a label, or in a
   regimen, to say they are given together.

Formally, two drug statements are together when, at their lowest common ancestor, the
branch leading to at least one of them is *fixed* (a bare drug or regimen line, or a
bullet's own statement), or when that ancestor lies inside a regimen.

**Companions stated in words.** `only with …` and `preferably with …` name the
companions of the block they are indented under (or of the whole section at section
level): `preferably with CDK4/6-remmers` on an aromatase-inhibitor block says the AI is
given with a CDK4/6 inhibitor, and `only with aromataseremmer or fulvestrant` on a
CDK4/6 block names its endocrine partner. Targets are drug ids or `class:<id>`;
targets joined by `or` are alternatives (each must satisfy a requirement), targets
joined by `and` are all given.

**Conditions.** An arm applies to the patients admitted by every condition on its path:
`when` branches (an `otherwise` is "none of its sibling `when`s"), `only when`
(conjunct) and `exclude when` (negated conjunct) of every enclosing block. An `only
when` / `exclude when` in the preamble, or in a section that holds no drug or regimen
line at all (a "Voorwaarden" / eligibility section), applies to the whole protocol:
otherwise it would restrict nothing. Conditions are evaluated in three-valued logic
against a hypothetical patient (`{"EGFR": "positive", "line": 1}`): an arm *admits* the
patient unless some condition is certainly false for them.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from typing import Any

from compiler import model as m
from compiler.conditions import find_flag, find_variable, flag_meaning, variables
from compiler.records import frozen
from compiler.source import SourceFile, Span
from compiler.tables import Tables

# ---------------------------------------------------------------- tree layout

MAX_ARM = 64
"""The most partners one drug can have; a block giving more drugs together is P018.

A real arm holds a handful of drugs. The limit keeps every check that looks at all
partners (or all pairs) linear in the size of the sheet: 30,000 bare drug lines in one
block would otherwise make 900 million pairs.
"""


# What a node's item is, as bits (one look-up per type: the layout's loops run per node)
_DRUG, _REGIMEN, _BRANCH, _PHASE, _OWNED, _SECTION, _BULLET, _WITH = 1, 2, 4, 8, 16, 32, 64, 128
_LINE = _DRUG | _REGIMEN
_NOTED = _LINE | _OWNED | _BULLET  # the kinds the walk that makes the nodes lists
_KINDS: dict[type, int] = {}


def _kind(cls: type) -> int:
    found = _KINDS.get(cls)
    if found is None:
        found = _KINDS[cls] = (
            (_DRUG if issubclass(cls, m.DrugLine) else 0)
            | (_REGIMEN if issubclass(cls, m.RegimenLine) else 0)
            | (_BRANCH if issubclass(cls, (m.When, m.Otherwise)) else 0)
            | (_PHASE if issubclass(cls, m.PhaseLine) else 0)
            | (_OWNED if issubclass(cls, (m.OnlyWhen, m.ExcludeWhen, m.WithConstraint, m.Note, m.Prose)) else 0)
            | (_SECTION if issubclass(cls, m.Section) else 0)
            | (_BULLET if issubclass(cls, m.Bullet) else 0)
            | (_WITH if issubclass(cls, m.WithConstraint) else 0))
    return found


@dataclass(slots=True)
class Node:
    """One position in the sheet's tree: the protocol root, a section, or an item."""

    index: int
    item: m.Item | m.Section | None
    parent: int | None
    end: int = 0  # subtree = [index, end)
    content_of_bullet: bool = False

    @property
    def is_regimen(self) -> bool:
        """A regimen line (its subtree is one arm)."""
        return isinstance(self.item, m.RegimenLine)


@frozen(slots=True)
class Member:
    """A drug of an arm: a written drug line, or a drug of a library regimen."""

    drug_id: str | None
    node: int
    line: m.DrugLine | None = None
    regimen: m.RegimenLine | None = None
    library: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def span(self) -> Span:
        """Where a finding about this member is reported."""
        if self.line is not None:
            return self.line.name.span
        assert self.regimen is not None
        return self.regimen.name.span

    @property
    def label(self) -> str:
        """How the member is written (for messages)."""
        if self.line is not None:
            return self.line.name.value
        assert self.regimen is not None
        return f"{self.drug_id} (regimen {self.regimen.name.value})"


@frozen(slots=True)
class Target:
    """One target of an `only with` / `preferably with` constraint."""

    text: m.Text
    target_id: str | None  # a drug id or class:<id>; None when unknown


@frozen(slots=True)
class CompanionGroup:
    """The targets of one constraint: alternatives (`or`) or all given (`and`)."""

    constraint: m.WithConstraint
    targets: tuple[Target, ...]
    any_of: bool


_Views = tuple[tuple[CompanionGroup, ...], tuple[str, ...], tuple[m.Condition, ...]]
"""What a node and its ancestors add to the arms below it: companions, texts, conditions."""


class Arm:
    """The arm of one drug: the drug, what is given with it, and who it is for.

    Its texts and conditions are read from the blocks around the drug when first asked
    for: most arms are only looked at for their drug and partners (the rules that read
    conditions or texts ask only once a cheap test on the drug has passed).
    """

    __slots__ = ("_conditions", "_texts", "_tree", "companions", "focus", "partners")

    focus: Member
    partners: tuple[Member, ...]
    companions: tuple[CompanionGroup, ...]
    _tree: _Tree | None  # where the texts and conditions are read from (not the layout: no cycle through its arms)
    _conditions: tuple[m.Condition, ...] | None
    _texts: tuple[str, ...] | None

    def __init__(self, focus: Member, partners: tuple[Member, ...], companions: tuple[CompanionGroup, ...],
                 conditions: tuple[m.Condition, ...] | None = None, texts: tuple[str, ...] | None = None,
                 tree: _Tree | None = None) -> None:
        """An arm of the conditions and texts given, or (None) of those read from `tree` when first asked for."""
        self.focus = focus
        self.partners = partners
        self.companions = companions
        self._tree = tree
        self._conditions = conditions
        self._texts = texts

    @property
    def conditions(self) -> tuple[m.Condition, ...]:
        """The conditions of the patients the arm is for (a conjunction: global ones first)."""
        found = self._conditions
        if found is None:
            assert self._tree is not None
            found = self._conditions = self._tree.arm_conditions(self.focus.node)
        return found

    @property
    def texts(self) -> tuple[str, ...]:
        """The prose and notes around the drug, its line's notes and its library entry's note."""
        found = self._texts
        if found is None:
            assert self._tree is not None
            found = self._texts = _arm_texts(self._tree._around(self.focus.node)[1], self.focus)
        return found

    @property
    def members(self) -> tuple[Member, ...]:
        """The focus drug and its partners."""
        return (self.focus, *self.partners)

    def _fields(self) -> tuple[object, ...]:
        return (self.focus, self.partners, self.companions, self.conditions, self.texts)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Arm)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (f"Arm(focus={self.focus!r}, partners={self.partners!r}, companions={self.companions!r}, "
                f"conditions={self.conditions!r}, texts={self.texts!r})")


def _arm_texts(around: tuple[str, ...], member: Member) -> tuple[str, ...]:
    """The texts of a member's arm: those of the blocks around it, then what the member adds."""
    own = member_texts(member)
    return around + own if own else around


def member_texts(member: Member) -> tuple[str, ...]:
    """What a member adds to its arm's texts: its line's notes, its library entry's note.

    The arm's other texts are notes and prose lines of the protocol (`Layout.all_texts`).
    """
    extra: list[str] = []
    if member.line is not None:
        for child in member.line.children:
            if isinstance(child, m.Note) and child.text is not None:
                extra.append(child.text.value)
    if member.library is not None and member.library.get("note"):
        extra.append(str(member.library.get("note")))
    return tuple(extra) if extra else ()


class _Tree:
    """What the blocks of a layout add to the arms below them (companions, texts, conditions),
    read from the layout's nodes and memoised per node. The arms keep this, not the layout:
    a layout holds its arms, so an arm holding the layout would make a cycle of every sheet's
    layout, freed only by the garbage collector.
    """

    def __init__(self, items: list[m.Item | m.Section | None], parents: list[int | None], ends: list[int],
                 owned: dict[int, list[int]], global_owners: set[int],
                 source: SourceFile | None, ancestor_paths: dict[int, tuple[int, ...]]) -> None:
        self.items = items
        self.parents = parents
        self.ends = ends
        self.source = source
        self._owned = owned
        self._global_owners = global_owners
        self._ancestor_paths = ancestor_paths
        self._global: tuple[m.Condition, ...] | None = None
        self._otherwise: dict[int, m.Condition | None] = {}
        self._conjuncts: dict[int, list[m.Condition]] = {}
        self._blocks: dict[int, _Views] = {}
        self._arounds: dict[int, _Views] = {}
        self._conditioned: dict[int, tuple[m.Condition, ...]] = {}  # by the block's conditions (`arm_conditions`)

    def arm_conditions(self, index: int) -> tuple[m.Condition, ...]:
        """The conditions of an arm at a node: the global ones, then those of its blocks (innermost
        first). One tuple for every arm of a block (the blocks' tuple is shared by them, `_around`).
        """
        local = self._around(index)[2]
        found = self._conditioned.get(id(local))  # (`_arounds` keeps `local` alive: its id is not reused)
        if found is None:
            found = self._conditioned[id(local)] = self.global_conditions + local
        return found

    def _path(self, index: int) -> tuple[int, ...]:
        """`ancestors`, as the shared tuple (not to be changed)."""
        path = self._ancestor_paths.get(index)
        if path is None:
            out: list[int] = []
            current: int | None = index
            while current is not None:
                out.append(current)
                current = self.parents[current]
            path = self._ancestor_paths[index] = tuple(out)
        return path

    def _around(self, index: int) -> tuple[tuple[CompanionGroup, ...], tuple[str, ...], tuple[m.Condition, ...]]:
        """What the node and its ancestors add to an arm (`_block` of each, innermost first).

        Built once per node from its parent's: the members of a block share all of it, and
        most nodes add nothing (their parent's tuples are then shared as they are).
        """
        arounds = self._arounds
        found = arounds.get(index)
        if found is not None:
            return found
        pending: list[int] = []
        base = _NOTHING
        for ancestor in self._path(index):
            known = arounds.get(ancestor)
            if known is not None:
                base = known
                break
            pending.append(ancestor)
        blocks = self._blocks
        for ancestor in reversed(pending):  # outermost first: each node's block goes before its parent's
            block = blocks.get(ancestor) or self._block(ancestor)
            if block is not _NOTHING:
                base = (block[0] + base[0], block[1] + base[1], block[2] + base[2])
            arounds[ancestor] = base
        return base

    def _group(self, constraint: m.WithConstraint) -> CompanionGroup:
        ids = constraint.target_ids or tuple(None for _ in constraint.targets)
        targets = tuple(Target(t, i) for t, i in zip(constraint.targets, ids, strict=False))
        any_of = True
        if self.source is not None and len(constraint.targets) > 1:
            first, second = constraint.targets[0].span, constraint.targets[1].span
            between = self._text_between(first, second).lower().split()
            any_of = not any(word in ("and", "en", "+") for word in between)
        return CompanionGroup(constraint, targets, any_of)

    def _text_between(self, first: Span, second: Span) -> str:
        assert self.source is not None
        if first.end_line != second.line:
            return ""
        return self.source.line_text(first.end_line)[first.end_column - 1:second.column - 1]

    def conditions(self, index: int) -> tuple[m.Condition, ...]:
        """Every condition that applies at a node (a conjunction)."""
        out: list[m.Condition] = list(self.global_conditions)
        for ancestor in self._path(index):
            block = self._blocks.get(ancestor) or self._block(ancestor)
            out.extend(block[2])
        return tuple(out)

    def _block(self, index: int) -> tuple[tuple[CompanionGroup, ...], tuple[str, ...], tuple[m.Condition, ...]]:
        """What a node adds to the arms below it: companions, texts, conditions (once per node:
        every arm in a block read the block's whole list of statements).
        """
        own = self.items[index]
        owned_here = self._owned.get(index)
        if owned_here is None and not isinstance(own, (m.Prose, m.When, m.Otherwise)):
            found = self._blocks[index] = _NOTHING  # most nodes add nothing
            return found
        companions: list[CompanionGroup] = []
        texts: list[str] = []
        conditions: list[m.Condition] = []
        if isinstance(own, m.Prose):
            texts.append(own.text)  # the label of a block the arm is in
        local = index not in self._global_owners  # a global owner's conditions apply to the whole protocol
        conjuncts: list[m.Condition] = []
        for owned in owned_here or ():
            item = self.items[owned]
            if isinstance(item, m.WithConstraint):
                companions.append(self._group(item))
            elif isinstance(item, m.Note):
                if item.text is not None:
                    texts.append(item.text.value)
            elif isinstance(item, m.Prose):
                if not item.children:
                    texts.append(item.text)  # a statement of the block, not a sibling sub-block's label
            elif local:  # `only when` / `exclude when` (nothing else is owned)
                conjuncts.extend(self._conjunct(owned))
        if isinstance(own, m.When):
            conditions.append(own.condition)
        elif isinstance(own, m.Otherwise) and self.parents[index] is not None:
            negated = self._otherwise_condition(index)
            if negated is not None:
                conditions.append(negated)
        conditions.extend(conjuncts)
        found = self._blocks[index] = (tuple(companions), tuple(texts), tuple(conditions))
        return found

    def _conjunct(self, owned: int) -> list[m.Condition]:
        """The conjunct of an `only when` / `exclude when`, built once: the arms of a block share its objects."""
        found = self._conjuncts.get(owned)
        if found is None:
            found = self._conjuncts[owned] = _as_conjunct(self.items[owned])
        return found

    def _children(self, index: int) -> list[int]:
        """A node's children, in order (a child's subtree ends where the next child begins)."""
        ends = self.ends
        out: list[int] = []
        child, end = index + 1, ends[index]
        while child < end:
            out.append(child)
            child = ends[child]
        return out

    def _otherwise_condition(self, index: int) -> m.Condition | None:
        """`otherwise`: none of its sibling `when`s (built once per branch, shared by every arm in it)."""
        if index not in self._otherwise:
            parent, item = self.parents[index], self.items[index]
            assert parent is not None and item is not None
            siblings = [self.items[i] for i in self._children(parent)]
            whens = tuple(s.condition for s in siblings if isinstance(s, m.When))
            self._otherwise[index] = m.Not(item.span, m.Any_(item.span, whens)) if whens else None
        return self._otherwise[index]

    def _global_conditions(self) -> Iterator[m.Condition]:
        for owner in sorted(self._global_owners):
            for owned in self._owned.get(owner, []):
                yield from _as_conjunct(self.items[owned])

    @property
    def global_conditions(self) -> tuple[m.Condition, ...]:
        """The `only when` / `exclude when` that apply to the whole protocol (see the module doc)."""
        found = self._global
        if found is None:
            found = self._global = tuple(self._global_conditions())
        return found


class Layout:
    """The tree of one protocol, indexed for arm queries."""

    def __init__(self, protocol: m.Protocol, tables: Tables, source: SourceFile | None = None) -> None:
        self.protocol = protocol
        self.tables = tables
        self.source = source
        # The nodes (the root, sections, items; a bullet's own statement is one too), as lists by
        # index: what each holds, its parent, where its subtree ends (subtree = [index, end)).
        # No object per node: the `Node`s are made only when asked for (`nodes`).
        self.items: list[m.Item | m.Section | None] = [None]
        self.parents: list[int | None] = [None]
        self.ends: list[int] = [0]
        self._bulleted: set[int] = set()  # the nodes of bullets' own statements (`Node.content_of_bullet`)
        self._node_list: list[Node] | None = None
        # Filled in by the one walk that makes the nodes (most nodes are neither of these, and
        # a sheet has far more nodes than drugs: no later pass over every node)
        self._kinds: list[int] = [0]  # what each node's item is (`_kind`)
        self._lines: list[int] = []  # the nodes of drug and regimen lines
        self._sections: list[int] = []  # the nodes of sections
        self._owned_nodes: list[int] = []  # constraints, notes and prose lines, in sheet order
        self._owned: dict[int, list[int]] = {}  # the same, by the block they belong to (`owner`)
        self._constrained = False  # an `only with` / `preferably with` among them: arms may have companions
        self._add_items(protocol.preamble, 0)
        for section in protocol.sections:
            self._add_section(section, 0)
        ends = self.ends
        ends[0] = len(ends)
        self.members: list[Member] = self._members()
        self._member_nodes = [mb.node for mb in self.members]
        self.treatment_nodes = set(self._member_nodes)
        # members before each node: the members of a subtree [start, end) are positions before[start]..before[end]
        counts = [0] * (len(ends) + 1)
        for index in self._member_nodes:
            counts[index + 1] += 1
        self._before = list(accumulate(counts))
        self._global_owners = self._compute_global_owners()
        # Checks ask for the same arms and pairs many times; answers are memoised here
        # (a Layout is built once per protocol and never changes).
        self._ancestor_paths: dict[int, tuple[int, ...]] = {}
        tree = self._tree = _Tree(self.items, self.parents, ends, self._owned, self._global_owners, source,
                                  self._ancestor_paths)
        # the tree's views, as the layout's own (bound once: `_path` is asked per member and per line)
        self._path: Callable[[int], tuple[int, ...]] = tree._path
        self._children: Callable[[int], list[int]] = tree._children
        self._around: Callable[[int], _Views] = tree._around
        self._block: Callable[[int], _Views] = tree._block
        self._group: Callable[[m.WithConstraint], CompanionGroup] = tree._group
        self.conditions: Callable[[int], tuple[m.Condition, ...]] = tree.conditions
        self._blocks = tree._blocks
        self._together: dict[tuple[int, int], bool] = {}
        self._arms: dict[int, Arm] = {}
        self._partners: dict[int, tuple[int, ...]] = {}
        self._arm_list: list[Arm] | None = None
        self._pair_list: list[tuple[Member, Member]] | None = None
        self._texts: list[str] | None = None
        self._lines_by_kind: dict[int, list[int]] = {}  # `_lines_of`, kept
        self._views: dict[tuple[int, int], m.RegimenLine] = {}
        self._enclosing: dict[int, m.RegimenLine | None] = {}  # `enclosing_regimen`, asked per line by several rules
        self._oversized: list[tuple[Member, int]] = []  # members with more than MAX_ARM partners
        self._indexed = False  # the partner index is built when first asked for (`_index_partners`)
        self._positions: dict[int, int] | None = None  # member (by identity): its position in `members`

    @property
    def global_conditions(self) -> tuple[m.Condition, ...]:
        """The `only when` / `exclude when` that apply to the whole protocol (see the module doc)."""
        return self._tree.global_conditions

    @property
    def nodes(self) -> list[Node]:
        """Every node, by index, as an object: made when first asked for (the layout reads its lists)."""
        found = self._node_list
        if found is None:
            bulleted = self._bulleted
            found = self._node_list = [
                Node(index, item, parent, end, index in bulleted)
                for index, (item, parent, end) in enumerate(zip(self.items, self.parents, self.ends, strict=True))]
        return found

    def _node_at(self, index: int) -> Node:
        """The node at an index (`nodes[index]`, without making them all)."""
        found = self._node_list
        if found is not None:
            return found[index]
        return Node(index, self.items[index], self.parents[index], self.ends[index], index in self._bulleted)

    @property
    def oversized(self) -> list[tuple[Member, int]]:
        """The members with more than MAX_ARM partners, and how many they have."""
        if not self._indexed:
            self._index_partners()
        return self._oversized

    # ------------------------------------------------------------ building
    def _add_items(self, items: tuple[m.Item, ...], parent: int) -> None:
        all_items = self.items
        add_item = all_items.append
        add_parent = self.parents.append
        ends = self.ends
        add_end = ends.append
        add_kind = self._kinds.append
        known = _KINDS
        owned: list[int] | None = None  # the statements of this block (`_owned[parent]`), once one is met
        # A walk with a stack of the blocks it is in, not a call per block (a sheet has many small blocks)
        stack: list[tuple[Iterator[m.Item], int]] = []
        walking = iter(items)
        while True:
            for item in walking:
                index = len(all_items)  # the hottest lines of a layout: three appends per statement
                add_item(item)
                add_parent(parent)
                add_end(index + 1)
                kind = known.get(type(item))
                if kind is None:
                    kind = _kind(type(item))
                add_kind(kind)
                if kind & _NOTED:
                    if kind & _LINE:
                        self._lines.append(index)
                    elif kind & _OWNED:
                        self._owned_nodes.append(index)
                        if kind & _WITH:
                            self._constrained = True
                        if owned is None:
                            owned = self._owned.setdefault(parent, [])
                        owned.append(index)
                    elif kind & _BULLET and item.content is not None:  # type: ignore[attr-defined]
                        # the bullet's own statement: a node of its own (its owner is the bullet's block)
                        content = item.content  # type: ignore[attr-defined]
                        add_item(content)
                        add_parent(index)
                        add_end(index + 2)
                        self._bulleted.add(index + 1)
                        ends[index] = index + 2
                        inner_kind = known.get(type(content))
                        if inner_kind is None:
                            inner_kind = _kind(type(content))
                        add_kind(inner_kind)
                        if inner_kind & _LINE:
                            self._lines.append(index + 1)
                        elif inner_kind & _OWNED:  # its owner is the bullet's block
                            self._owned_nodes.append(index + 1)
                            if inner_kind & _WITH:
                                self._constrained = True
                            if owned is None:
                                owned = self._owned.setdefault(parent, [])
                            owned.append(index + 1)
                children = item.children
                if children:  # its block next, then on with this one
                    stack.append((walking, parent))
                    walking, parent, owned = iter(children), index, None
                    break
            else:
                if not stack:
                    return
                ends[parent] = len(all_items)  # the block of item `parent` is done: its subtree ends here
                walking, parent = stack.pop()
                owned = None

    def _add_section(self, section: m.Section, parent: int) -> None:
        all_items = self.items
        index = len(all_items)
        all_items.append(section)
        self.parents.append(parent)
        self.ends.append(0)
        cls = type(section)
        kind = _KINDS.get(cls)
        self._kinds.append(_kind(cls) if kind is None else kind)
        self._sections.append(index)
        self._add_items(section.items, index)
        for sub in section.subsections:
            self._add_section(sub, index)
        self.ends[index] = len(all_items)

    def _members(self) -> list[Member]:
        items = self.items
        out: list[Member] = []
        for index in self._lines:
            item = items[index]
            if isinstance(item, m.DrugLine):
                out.append(Member(item.drug_id, index, item))
            elif isinstance(item, m.RegimenLine) and item.regimen_id is not None:
                written = {x.drug_id for x in items[index + 1:self.ends[index]] if isinstance(x, m.DrugLine)}
                entry = self.tables.regimens.get(item.regimen_id) or {}
                parent_index = self.parents[index]
                parent = items[parent_index] if parent_index is not None else None
                seen = phase_override(item, parent) if isinstance(parent, m.PhaseLine) else item
                for drug in entry.get("drugs") or []:
                    drug_id = str(drug.get("drug"))
                    if drug_id not in written:
                        out.append(Member(drug_id, index, None, seen, drug))
        return out

    def drug_nodes(self) -> list[int]:
        """The nodes of every drug line (a bullet's own statement included), in sheet order:
        the drug lines among the nodes, from the lines listed by the walk that made them.
        """
        return self._lines_of(_DRUG)

    def drug_nodes_within(self, index: int) -> list[int]:
        """`drug_nodes` inside a node's subtree (the node itself excluded)."""
        drugs = self.drug_nodes()
        return drugs[bisect_right(drugs, index):bisect_left(drugs, self.ends[index])]

    def drug_lines_within(self, index: int) -> list[m.DrugLine]:
        """The drug lines of `drug_nodes_within`."""
        items = self.items
        return [items[inner] for inner in self.drug_nodes_within(index)]  # type: ignore[misc]

    def has_line_within(self, index: int) -> bool:
        """Whether a drug or regimen line lies inside a node's subtree (the node itself excluded)."""
        lines = self._lines
        return bisect_right(lines, index) < bisect_left(lines, self.ends[index])

    def phase_nodes(self) -> list[int]:
        """The nodes of every `phase` line (a bullet's own statement included), in sheet order."""
        return [index for index, kind in enumerate(self._kinds) if kind & _PHASE]

    def regimen_nodes(self) -> list[Node]:
        """The nodes of every regimen line, in sheet order."""
        return [self._node_at(index) for index in self.regimen_indices()]

    def regimen_indices(self) -> list[int]:
        """`regimen_nodes`, as their indices (no objects made)."""
        return self._lines_of(_REGIMEN)

    def _lines_of(self, kind: int) -> list[int]:
        """The drug or regimen lines of a kind, from the lines listed by the walk (kept: several rules ask)."""
        found = self._lines_by_kind.get(kind)
        if found is None:
            kinds = self._kinds
            found = self._lines_by_kind[kind] = [index for index in self._lines if kinds[index] & kind]
        return found

    def ancestors(self, index: int) -> list[int]:
        """The node and its ancestors, innermost first."""
        return list(self._path(index))

    def owner(self, index: int) -> int:
        """The block a constraint, note or prose line belongs to."""
        parent = self.parents[index]
        assert parent is not None
        if index in self._bulleted:
            block = self.parents[parent]  # the bullet's
            assert block is not None
            return block
        return parent

    def in_subtree(self, index: int, root: int) -> bool:
        """True when node `index` lies in the subtree of `root` (inclusive)."""
        return root <= index < self.ends[root]

    def enclosing_regimen(self, index: int) -> m.RegimenLine | None:
        """The innermost regimen line around a node (the node itself included).

        Inside a `phase` of that regimen, the phase's cycle data (cycle length, count,
        end, maximum, frequency) take the place of the regimen's: the checks that ask
        for "the regimen's cycle" then see the phase the line is given in.
        """
        memo = self._enclosing
        if index in memo:
            return memo[index]
        found = memo[index] = self._enclosing_regimen(index)
        return found

    def _enclosing_regimen(self, index: int) -> m.RegimenLine | None:
        phase: int | None = None
        kinds = self._kinds
        for ancestor in self._path(index):
            kind = kinds[ancestor]
            if not kind & (_PHASE | _REGIMEN):
                continue
            if kind & _PHASE and phase is None:
                phase = ancestor
            if kind & _REGIMEN:
                item = self.items[ancestor]
                assert isinstance(item, m.RegimenLine)
                return item if phase is None else self._phase_view(ancestor, phase)
        return None

    def _phase_view(self, regimen: int, phase: int) -> m.RegimenLine:
        """`phase_view` of a regimen node from one of its phase nodes, made once (a pure function of the two)."""
        key = (regimen, phase)
        found = self._views.get(key)
        if found is None:
            line, seen = self.items[regimen], self.items[phase]
            assert isinstance(line, m.RegimenLine) and isinstance(seen, m.PhaseLine)
            found = self._views[key] = phase_view(line, seen)
        return found

    def ancestor_items(self, index: int) -> list[m.Item]:
        """lang-b: the items around a node (not sections), outermost first."""
        out = [self.items[x] for x in reversed(self.ancestors(index)[1:])]
        return [x for x in out if isinstance(x, m.Item)]

    def container(self, index: int) -> int | None:
        """The node of the innermost `phase` or regimen line around a node (the node itself excluded)."""
        kinds = self._kinds
        path = self._path(index)
        for at in range(1, len(path)):
            if kinds[path[at]] & (_PHASE | _REGIMEN):
                return path[at]
        return None

    def enclosing_phase(self, index: int) -> int | None:
        """lang-b: the node of the innermost `phase` around a node, if any."""
        kinds = self._kinds
        for ancestor in self._path(index):
            if kinds[ancestor] & _PHASE:
                return ancestor
        return None

    def _fixed(self, index: int) -> bool:
        parent_index = self.parents[index]
        parent = self.items[parent_index] if parent_index is not None else None
        if parent is None or isinstance(parent, m.Section):
            return False  # section level (or the preamble): a list of independent entries
        # Only a bare drug or regimen line (or a bullet's own statement) is fixed; bullets,
        # branches, nested decisions and labelled sub-blocks are entries of a list.
        return index in self._bulleted or isinstance(self.items[index], (m.DrugLine, m.RegimenLine))

    def together(self, a: int, b: int) -> bool:
        """Whether the statements at nodes a and b are given together (see the module doc)."""
        if a == b:
            return True
        key = (a, b) if a < b else (b, a)
        known = self._together.get(key)
        if known is None:
            known = self._together[key] = self._together_uncached(a, b)
        return known

    def _together_uncached(self, a: int, b: int) -> bool:
        path_a = self.ancestors(a)
        path_b = self.ancestors(b)
        set_b = set(path_b)
        lca = next(x for x in path_a if x in set_b)
        if lca in (a, b):
            return True
        child_a = path_a[path_a.index(lca) - 1]
        child_b = path_b[path_b.index(lca) - 1]
        items = self.items
        if isinstance(items[child_a], m.PhaseLine) and isinstance(items[child_b], m.PhaseLine):
            return False  # lang-b: the phases of a regimen follow each other (AC, then paclitaxel)
        if any(isinstance(items[x], m.RegimenLine) for x in self.ancestors(lca)):
            branches = (m.When, m.Otherwise)
            return not (isinstance(items[child_a], branches) and isinstance(items[child_b], branches))
        return self._fixed(child_a) or self._fixed(child_b)

    # ------------------------------------------------------------ arms
    def arm(self, member: Member) -> Arm:
        """The arm of one member: its partners, stated companions, conditions and texts."""
        known = self._arms.get(id(member))
        if known is None:
            known = self._arms[id(member)] = self._arm_uncached(member)
        return known

    def _arm_uncached(self, member: Member) -> Arm:
        if not self._indexed:
            self._index_partners()
        positions = self._positions
        if positions is None:  # only a single arm asked for needs a member's position (`arms` counts them)
            positions = self._positions = {id(mb): i for i, mb in enumerate(self.members)}
        return self._make_arm(positions[id(member)], member)

    def _make_arm(self, position: int, member: Member) -> Arm:
        members = self.members
        partners = tuple([members[p] for p in self._partners[position]])
        # the companions stated around it: none on a sheet without `only with` / `preferably with`;
        # its texts and conditions are read when first asked for (`Arm`)
        companions = self._tree._around(member.node)[0] if self._constrained else ()
        return Arm(member, partners, companions, tree=self._tree)

    def arms(self) -> Iterator[Arm]:
        """The arm of every member, in source order."""
        if self._arm_list is None:  # most C rules walk every arm: listed once
            if not self._indexed:
                self._index_partners()
            known = self._arms
            members = self.members
            partners = self._partners
            tree = self._tree
            around = tree._around if self._constrained else None
            out: list[Arm] = []
            for position, member in enumerate(members):
                found = known.get(id(member))
                if found is None:  # `_make_arm`, in the loop (one call fewer per arm)
                    found = known[id(member)] = Arm(
                        member, tuple([members[p] for p in partners[position]]),
                        () if around is None else around(member.node)[0], tree=tree)
                out.append(found)
            self._arm_list = out
        return iter(self._arm_list)

    def pairs(self) -> Iterator[tuple[Member, Member]]:
        """Every unordered pair of members given together (each pair once)."""
        if self._pair_list is None:  # several families walk every pair: listed once
            if not self._indexed:
                self._index_partners()
            members = self.members
            partners = self._partners
            self._pair_list = [(first, members[j]) for i, first in enumerate(members) for j in partners[i] if j > i]
        return iter(self._pair_list)

    # ------------------------------------------------------------ the partner index
    def _index_partners(self) -> None:
        """Every member's partners, computed once from the tree (the same answer as `together`).

        For a member and each of its ancestors L (the possible lowest common ancestor of
        a pair), the partners meeting it at L are whole subtrees of L's other children:
        all of them when its own branch is fixed (or L is inside a regimen and its own
        branch is not a `when`/`otherwise`), else those of the fixed children (or, in a
        regimen, of the non-branch children). Members are in tree order, so a subtree's
        members are one slice of the member list: the work is the depth of the sheet
        per member, plus the partners themselves (at most MAX_ARM each).
        """
        self._indexed = True
        members = self.members
        # per parent, its children with members below them: the fixed ones, and the non-branch ones
        # (listed when a member's walk first reaches the parent: only members' ancestors are asked)
        self._fixed_children: dict[int, list[int]] = {}
        self._plain_children: dict[int, list[int]] = {}
        if len(members) == 1:
            self._partners[0] = ()  # alone: nothing to walk for
            return
        walked = -1  # the members of a library regimen share its node: one walk for all of them
        count = 0
        base: list[int] = []  # the positions met by the walk (the member among them), in order
        partners = self._partners
        for position, member in enumerate(members):
            if member.node != walked:
                walked = member.node
                slices, count = self._slices_of(walked)
                base = []
                if count:
                    for low, high in slices:
                        base.extend(range(low, min(high, low + MAX_ARM + 2)))
                    base.sort()
            if not count:
                partners[position] = ()  # the walk met only the member itself
                continue
            found = base.copy()
            del found[bisect_left(found, position):bisect_right(found, position)]  # not its own partner
            if count > MAX_ARM:
                self._oversized.append((member, count))
            partners[position] = tuple(found[:MAX_ARM])

    def _has_members(self, index: int) -> bool:
        return self._before[self.ends[index]] > self._before[index]

    def _member_slice(self, start: int, end: int) -> tuple[int, int]:
        """The members (positions) whose node lies in [start, end)."""
        return self._before[start], self._before[end]

    def _slices_of(self, index: int) -> tuple[list[tuple[int, int]], int]:
        """The partners of a member at a node, as slices of the member list (the member itself
        among them), and how many partners that makes.
        """
        # The hot loop of every layout: a member's walk up the tree, reading the few nodes on
        # its path (a sheet has many more nodes than drugs: nothing is computed per node).
        ends = self.ends
        bulleted = self._bulleted
        kinds = self._kinds
        before = self._before
        member_at = self.treatment_nodes
        path = self._path(index)
        # The walk stops at the first section (or the root): at section level no branch is
        # fixed and no regimen encloses, so nothing above it meets the member.
        top = 1
        outer = 0  # the ancestors path[1:outer] lie inside a regimen (a regimen is on their path up)
        for ancestor in path[1:]:
            kind = kinds[ancestor]
            if not ancestor or kind & _SECTION:
                break
            top += 1
            if kind & _REGIMEN:
                outer = top
        end = ends[index]
        low, high = before[index], before[end]
        # in its own subtree, or sharing its node (a library regimen); the member itself is one of them
        slices: list[tuple[int, int]] = [(low, high)]
        count = high - low - 1
        child = index
        for depth in range(1, top):
            ancestor = path[depth]
            if ancestor in member_at:  # at an enclosing node (a regimen line)
                low, high = before[ancestor], before[ancestor + 1]
                if high > low:
                    slices.append((low, high))
                    count += high - low
            child_kind = kinds[child]
            others: list[int]
            if depth < outer and child_kind & _BRANCH:
                others = (self._plain_children[ancestor] if ancestor in self._plain_children
                          else self._list_children(ancestor)[1])
            elif depth < outer or child_kind & _LINE or child in bulleted:  # its branch is fixed
                if child_kind & _PHASE:
                    others = self._children(ancestor)  # every other child, phases filtered out below
                else:
                    others = []
                    low, high = before[ancestor + 1], before[child]
                    if high > low:
                        slices.append((low, high))
                        count += high - low
                    low, high = before[ends[child]], before[ends[ancestor]]
                    if high > low:
                        slices.append((low, high))
                        count += high - low
            else:
                others = (self._fixed_children[ancestor] if ancestor in self._fixed_children
                          else self._list_children(ancestor)[0])
            if child_kind & _PHASE:
                # the phases of a regimen follow each other (as `together` says): no partners in the other phases
                others = [c for c in others if not kinds[c] & _PHASE]
            for other in others:
                if count > MAX_ARM:
                    break
                if other != child:
                    low, high = before[other], before[ends[other]]
                    if high > low:
                        slices.append((low, high))
                        count += high - low
            if count > MAX_ARM:
                break
            child = ancestor
        return slices, count

    def _list_children(self, parent: int) -> tuple[list[int], list[int]]:
        """A parent's children with members below them: the fixed ones, and the non-branch ones."""
        before = self._before
        ends = self.ends
        kinds = self._kinds
        # the children with members below them (a child's subtree ends where the next begins)
        with_members: list[int] = []
        child, end = parent + 1, ends[parent]
        while child < end:
            after = ends[child]
            if before[after] > before[child]:
                with_members.append(child)
            child = after
        if not parent or kinds[parent] & _SECTION:
            fixed: list[int] = []  # section level (or the preamble): a list of independent entries
        else:
            bulleted = self._bulleted
            fixed = [c for c in with_members if c in bulleted or kinds[c] & _LINE]
        self._fixed_children[parent] = fixed
        plain = self._plain_children[parent] = [c for c in with_members if not kinds[c] & _BRANCH]
        return fixed, plain

    def _compute_global_owners(self) -> set[int]:
        owners = {0}
        before = self._before
        ends = self.ends
        for index in self._sections:
            if before[ends[index]] == before[index]:  # no drug or regimen line in it
                owners.add(index)
        return owners

    def all_texts(self) -> list[str]:
        """Every prose line and note of the protocol (queries excluded: they ask, not state)."""
        return list(self.texts_view())

    def texts_view(self) -> list[str]:
        """`all_texts`, as the layout's own list (not to be changed)."""
        if self._texts is None:  # listed once (only prose and note nodes are looked at)
            out: list[str] = []
            items = self.items
            for index in self._owned_nodes:
                item = items[index]
                if isinstance(item, m.Prose):
                    out.append(item.text)
                elif isinstance(item, m.Note) and item.text is not None:
                    out.append(item.text.value)
            self._texts = out
        return self._texts


_NOTHING: tuple[tuple[CompanionGroup, ...], tuple[str, ...], tuple[m.Condition, ...]] = ((), (), ())


def _as_conjunct(item: m.Item | m.Section | None) -> list[m.Condition]:
    if isinstance(item, m.OnlyWhen):
        return [item.condition]
    if isinstance(item, m.ExcludeWhen):
        return [m.Not(item.span, item.condition)]
    return []


_CACHE: list[tuple[m.Protocol, Layout]] = []


def phase_view(regimen: m.RegimenLine, phase: m.PhaseLine) -> m.RegimenLine:
    """lang-b: the regimen as seen from inside one of its phases (the phase's cycle data win)."""
    return dataclasses.replace(
        regimen,
        cycle_length=phase.cycle_length or regimen.cycle_length,
        cycles=phase.cycles if phase.cycles is not None else (None if phase.cycle_length else regimen.cycles),
        until=phase.until or regimen.until,
        max_duration=phase.max_duration or regimen.max_duration,
        frequency=phase.frequency or (None if phase.cycle_length else regimen.frequency))


def phase_override(line: m.RegimenLine, phase: m.PhaseLine) -> m.RegimenLine:
    """lang-b: a library regimen written in a phase (`phase AC: 4 cycles` / `regimen AC`): the
    phase's cycle data apply where the regimen line states none.
    """
    return dataclasses.replace(
        line,
        cycle_length=line.cycle_length or phase.cycle_length,
        cycles=line.cycles if line.cycles is not None else phase.cycles,
        until=line.until or phase.until,
        max_duration=line.max_duration or phase.max_duration,
        frequency=line.frequency or phase.frequency)


def _phase_lines(phase: m.PhaseLine) -> Iterator[m.DrugLine]:
    stack = list(phase.children)
    while stack:
        item = stack.pop(0)
        statement = item.content if isinstance(item, m.Bullet) and item.content is not None else item
        if isinstance(statement, m.DrugLine):
            yield statement
        stack[0:0] = list(item.children)


def other_phase_lines(ancestors: Sequence[m.Item], drug_id: str | None, earlier: bool) -> list[m.DrugLine]:
    """lang-b: lines of the same drug in the earlier (or later) phases of the line's regimen.

    `ancestors` are the items around the line, outermost first. A loading dose written
    as its own phase (`phase "cycle 1": …, 1 cycle` / `followed by phase …`) is found
    this way by the loading and infusion checks.
    """
    regimen = next((a for a in reversed(ancestors) if isinstance(a, m.RegimenLine)), None)
    phase = next((a for a in reversed(ancestors) if isinstance(a, m.PhaseLine)), None)
    if regimen is None or phase is None or drug_id is None:
        return []
    statements = [c.content if isinstance(c, m.Bullet) and c.content is not None else c for c in regimen.children]
    phases = [p for p in statements if isinstance(p, m.PhaseLine)]
    if phase not in phases:
        return []
    at = phases.index(phase)
    chosen = phases[:at] if earlier else phases[at + 1:]
    return [line for p in chosen for line in _phase_lines(p) if line.drug_id == drug_id]


def layout(protocol: m.Protocol, tables: Tables, source: SourceFile | None = None) -> Layout:
    """The layout of a protocol, built once and shared by every check of a run."""
    if _CACHE:  # every rule of a family asks: one look at the one entry
        cached, value = _CACHE[0]
        if cached is protocol and value.tables is tables:
            return value
    value = Layout(protocol, tables, source)
    _CACHE[:] = [(protocol, value)]
    return value


# ---------------------------------------------------------------- conditions (three-valued)

Truth = bool | None  # None: unknown

Scenario = Mapping[str, str | int]


@dataclass
class _Lookups:
    """What the words of conditions mean in one set of tables, looked up once: conditions are
    evaluated for every arm and every scenario, with the same few flags and variables.
    """

    tables: Tables
    canonical: dict[tuple[str, str], str] = field(default_factory=dict)
    counted: dict[str, frozenset[str]] = field(default_factory=dict)
    satisfied: dict[tuple[str, str], bool] = field(default_factory=dict)

    def canonical_value(self, variable: str, word: str) -> str:
        key = (variable, word)
        if len(word) > _LONG:
            return _canonical_value(variable, word, self.tables)
        if key not in self.canonical:
            _bound(self.canonical)
            self.canonical[key] = _canonical_value(variable, word, self.tables)
        return self.canonical[key]


def _bound(memo: dict[Any, Any]) -> None:
    """Memo tables hold words of the sheets too: emptied when full, so memory stays bounded over a book."""
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()


_LOOKUPS: list[_Lookups] = []
_MEMO_LIMIT = 20_000
_LONG = 200  # longer sheet words are looked up each time, never kept


def _lookups(tables: Tables) -> _Lookups:
    """The look-ups of these tables (the tables object itself is the key: overrides make new ones)."""
    if not _LOOKUPS or _LOOKUPS[0].tables is not tables:
        _LOOKUPS[:] = [_Lookups(tables)]
    return _LOOKUPS[0]


def evaluate(condition: m.Condition, scenario: Scenario, tables: Tables) -> Truth:
    """Kleene three-valued truth of a condition for a partially known patient."""
    # Loops that stop at the first operand deciding the answer: the truth is the same as that of
    # every operand weighed (nothing is evaluated for its effects), with less asked.
    if isinstance(condition, m.Flag):
        meaning = flag_meaning(condition.words, tables)  # memoised per data set in conditions
        if meaning is None:
            return None
        result: Truth = True
        for var, value in meaning.items():
            known = scenario.get(var)
            if known is None:
                result = None
            elif str(known).lower() != value.lower():
                return False
        return result
    if isinstance(condition, m.Compare):
        return _evaluate_compare(condition, scenario, tables)
    if isinstance(condition, m.Not):
        inner = evaluate(condition.operand, scenario, tables)
        return None if inner is None else not inner
    if isinstance(condition, (m.All, m.Any_)):
        decisive = isinstance(condition, m.Any_)  # one true operand decides an `or`, one false an `and`
        result = not decisive
        for operand in condition.operands:
            truth = evaluate(operand, scenario, tables)
            if truth is decisive:
                return decisive
            if truth is None:
                result = None
        return result
    return None


def _evaluate_compare(condition: m.Compare, scenario: Scenario, tables: Tables) -> Truth:
    variable = find_variable(condition.variable, tables)
    if variable is None or variable not in scenario:
        return None
    known = scenario[variable]
    if condition.number is not None:
        if not isinstance(known, int):
            return None
        return _compare(Decimal(known), condition.op, condition.number.value)
    if condition.word is None:
        return None
    same = str(known).lower() == _lookups(tables).canonical_value(variable, condition.word).lower()
    if condition.op in ("=",):
        return same
    if condition.op in ("!=", "≠"):
        return not same
    return None


def _canonical_value(variable: str, word: str, tables: Tables) -> str:
    for value in variables(tables).get(variable, {}).get("values") or []:
        if str(value).lower() == word.lower():
            return str(value)
    return word


def _compare(left: Decimal, op: str, right: Decimal) -> bool | None:
    compare = _OPERATORS.get(op)  # only the comparison asked for (every arm and scenario asks)
    return None if compare is None else compare(left, right)


_OPERATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<": operator.lt, "<=": operator.le, "≤": operator.le, ">": operator.gt, ">=": operator.ge, "≥": operator.ge,
    "=": operator.eq, "!=": operator.ne, "≠": operator.ne}


def referenced_variables(conditions: tuple[m.Condition, ...], tables: Tables) -> set[str]:
    """The condition variables that a set of conditions mentions (flags resolved)."""
    out: set[str] = set()
    for condition in conditions:
        for atom in m.condition_atoms(condition):
            if isinstance(atom, m.Flag):
                out.update((find_flag(atom.words, tables) or {}).keys())
            else:
                variable = find_variable(atom.variable, tables)
                if variable is not None:
                    out.add(variable)
    return out


def admits(conditions: tuple[m.Condition, ...], scenario: Scenario, tables: Tables) -> bool:
    """Whether an arm with these conditions may be given to the scenario's patient."""
    return all(evaluate(c, scenario, tables) is not False for c in conditions)


def entails(conditions: tuple[m.Condition, ...], variable: str, value: str, tables: Tables) -> bool:
    """Whether the conditions restrict `variable` to `value` (every other value is excluded)."""
    others = [str(v) for v in variables(tables).get(variable, {}).get("values") or [] if str(v) != value]
    return bool(others) and all(not admits(conditions, {variable: other}, tables) for other in others)


# ---------------------------------------------------------------- drugs and classes


def counts_as(drug_id: str | None, tables: Tables) -> set[str]:
    """The drug ids a product stands for: itself and its `counts_as` (Phesgo: both antibodies)."""
    if drug_id is None:
        return set()
    return set(_counts_as(drug_id, tables))


def counted(drug_id: str, tables: Tables) -> frozenset[str]:
    """`counts_as` of a drug id, as the shared frozen set (looked up once per data set)."""
    return _counts_as(drug_id, tables)


def _counts_as(drug_id: str, tables: Tables) -> frozenset[str]:
    known = _lookups(tables).counted
    found = known.get(drug_id)
    if found is None:
        entry = tables.drugs.get(drug_id) or {}
        found = frozenset({drug_id, *(str(x) for x in entry.get("counts_as") or [])})
        _bound(known)
        known[drug_id] = found
    return found


def target_classes(target_id: str, tables: Tables) -> set[str]:
    """Classes a constraint target certainly belongs to (a class target: it and its parents)."""
    if target_id.startswith("class:"):
        return set(tables.class_ancestors(target_id[6:]))
    out: set[str] = set()
    for drug in counts_as(target_id, tables):
        out |= tables.drug_classes(drug)
    return out


def satisfies(option: str, drug_id: str | None, tables: Tables) -> bool:
    """Whether a drug satisfies one requirement option (a drug id or a class id)."""
    if drug_id is None:
        return False
    # The combination checks ask this for every pair of drug and requirement: answered once per tables object.
    known = _lookups(tables).satisfied
    key = (option, drug_id)
    found = known.get(key)
    if found is None:
        ids = _counts_as(drug_id, tables)
        found = option in ids or any(option in tables.drug_classes(d) for d in ids)
        _bound(known)
        known[key] = found
    return found


def target_satisfies(option: str, target_id: str, tables: Tables) -> bool:
    """Whether a constraint target certainly satisfies a requirement option."""
    if target_id.startswith("class:"):
        return option in tables.class_ancestors(target_id[6:])
    return satisfies(option, target_id, tables)


WORD_BOUNDARY = r"(?<![A-Za-z0-9]){}(?![A-Za-z0-9])"


def mentions(texts: list[str] | tuple[str, ...], words: list[str]) -> bool:
    """Whether any text names any of the words (case-insensitive, whole words or prefixes ending in `*`)."""
    joined = _mention_pattern(tuple(words))
    return joined is not None and any(joined.search(text) for text in texts)


_MENTIONS: dict[tuple[str, ...], re.Pattern[str] | None] = {}


def _mention_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """The pattern of a word list, built once (the lists come from the data tables)."""
    if words in _MENTIONS:
        return _MENTIONS[words]
    _bound(_MENTIONS)
    patterns = []
    for word in words:
        stem = word.rstrip("*")
        pattern = re.escape(stem)
        if not word.endswith("*"):
            pattern = WORD_BOUNDARY.format(pattern)
        else:
            pattern = r"(?<![A-Za-z0-9])" + pattern
        patterns.append(pattern)
    joined = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None
    _MENTIONS[words] = joined
    return joined
