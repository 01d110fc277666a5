"""Checks: one module per family; each rule a function registered with `@check`.

`run_checks` runs every registered check in registry order over a resolved protocol,
then applies the protocol's acknowledgements (`allow CODE "justification"`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import field
from itertools import chain, repeat
from operator import call
from typing import Any, TypeVar

from compiler import model as m
from compiler.arms import Layout, layout
from compiler.diagnostics import REGISTRY, Diagnostic
from compiler.records import frozen
from compiler.source import SourceFile
from compiler.tables import Tables

T = TypeVar("T")
_MISSING: Any = object()  # a memo's value may be None
ItemT = TypeVar("ItemT", bound=m.Item)


@frozen
class Context:
    """What a check may read: the resolved protocol, its source, the data tables, today."""

    protocol: m.Protocol
    source: SourceFile
    tables: Tables
    today: datetime.date
    items: list[m.Item] = field(default_factory=list)
    # Derived views several rules read (dosed phases, decision analysis, modification tables…),
    # computed once per check run by `shared`/`memo`; never part of a Context's identity.
    shared_values: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    # `of_type`'s and `of_types`'s answers, by the class or the tuple of classes asked
    typed_items: dict[Any, list[m.Item]] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, name: str, compute: Callable[[Context], T]) -> T:
        """`compute(self)`, computed once for this check run and shared by every rule that asks for `name`."""
        # no typing.cast: these are asked thousands of times per sheet, and cast is a call; the name itself
        # is the key (a string: `shared`'s keys are functions, the index's a class)
        values = self.shared_values
        found: T = values.get(name, _MISSING)
        if found is _MISSING:
            found = values[name] = compute(self)
        return found

    def of_type(self, kind: type[ItemT]) -> list[ItemT]:
        """Every item of a kind, in sheet order (do not change the list: it is shared by the run's rules)."""
        found = self.typed_items.get(kind)
        if found is None:
            found = self.typed_items[kind] = self.of_types((kind,))
        typed: list[ItemT] = found  # type: ignore[assignment]
        return typed

    def of_types(self, kinds: tuple[type[m.Item], ...]) -> list[m.Item]:
        """Every item of any of the kinds, in sheet order (shared: do not change the list).

        Most rules read only a few kinds of item; each walking the whole item list multiplied
        the cost of a check by the rules. The items are indexed by type once per check run.
        """
        typed = self.typed_items
        found = typed.get(kinds)
        if found is None:
            index = self.shared_values.get(_ItemIndex)
            if index is None:
                index = self.shared_values[_ItemIndex] = _ItemIndex(self.items)
            matching = index.matching(kinds)
            if len(matching) == 1:  # most asks: that class's own list
                found = index.by_class[matching[0]]
            elif not matching:
                found = []
            else:  # several classes: a pass over the items keeps sheet order
                wanted = set(matching)
                found = [item for item in self.items if item.__class__ in wanted]
            typed[kinds] = found
        return found

    @property
    def language(self) -> str:
        """The document language (nl when not stated)."""
        return self.protocol.meta.language or "nl"

    def shared(self, compute: Callable[[Context], T]) -> T:
        """`compute(self)`, computed once per check run and shared by every rule that asks for it.

        Several rules read the same derived view of the model (every dosed phase with its formulary
        rows); walking the model again for each rule multiplied the cost of a check by the rules.
        `compute` must depend on the context only.
        """
        values = self.shared_values
        found: T = values.get(compute, _MISSING)
        if found is _MISSING:
            found = values[compute] = compute(self)
        return found


def arm_layout(context: Context) -> Layout:
    """The sheet's arms (`compiler.arms.layout`): built by the first rule that asks, shared by the rest."""
    return layout(context.protocol, context.tables, context.source)


class _ItemIndex:
    """The items of a sheet by class (each class's items in sheet order), made once per check run."""

    __slots__ = ("by_class", "present")

    def __init__(self, items: list[m.Item]) -> None:
        by_class: dict[type, list[m.Item]] = {}
        for item in items:
            bucket = by_class.get(item.__class__)
            if bucket is None:
                by_class[item.__class__] = [item]
            else:
                bucket.append(item)
        self.by_class = by_class
        self.present = frozenset(by_class)

    def matching(self, kinds: tuple[type, ...]) -> tuple[type, ...]:
        """The classes on the sheet that are of the kinds (every model class has subclasses: `_shadow`'s
        twins); the same kinds asked of sheets with the same classes are answered once per process.
        """
        key = (kinds, self.present)
        found = _MATCHING.get(key)
        if found is None:
            if len(_MATCHING) >= 4096:
                _MATCHING.clear()
            found = _MATCHING[key] = tuple(cls for cls in self.by_class if issubclass(cls, kinds))
        return found


_MATCHING: dict[tuple[tuple[type, ...], frozenset[type]], tuple[type, ...]] = {}


# The only characters outside ASCII that re.IGNORECASE matches with an ASCII letter (İ ı ſ and
# the Kelvin sign); found by trying every code point against `[a-z]` with re.IGNORECASE.
_FOLDS_TO_ASCII = "\u0130\u0131\u017f\u212a"


def folded(text: str) -> str | None:
    """`text.lower()`, in which a lower-case ASCII literal occurs wherever re.IGNORECASE finds it in `text`;
    None when the text holds a character that folds to an ASCII letter only under re's rules.

    A check searching many lines for a rare word asks this text first: absent here, absent everywhere.
    """
    if any(char in text for char in _FOLDS_TO_ASCII):
        return None
    return text.lower()


_LOADED: list[bool] = []


def load_rules() -> None:
    """Import every rule module of this package (one per family) so the registry is complete."""
    if _LOADED:
        return
    import importlib
    import pkgutil

    for module in sorted(info.name for info in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{module}")
    _LOADED.append(True)


def run_checks(protocol: m.Protocol, source: SourceFile, tables: Tables, today: datetime.date) -> list[Diagnostic]:
    """Run all registered checks over one protocol."""
    load_rules()
    context = Context(protocol, source, tables, today, protocol.all_items())
    # each rule run to its end before the next is called, by C iterators: most rules find nothing on a
    # sheet, and the interpreter's loop step per rule cost more than some of them
    return list(chain.from_iterable(map(call, _active_checks(), repeat(context))))


_ACTIVE: list[tuple[int, list[Callable[[Context], Iterable[Diagnostic]]]]] = []


def _active_checks() -> list[Callable[[Context], Iterable[Diagnostic]]]:
    """The check function of every active rule, in registry order (listed again only when a rule is
    registered: rules are frozen and never leave the registry).
    """
    if not _ACTIVE or _ACTIVE[0][0] != len(REGISTRY):
        _ACTIVE[:] = [(len(REGISTRY), [rule.check for rule in REGISTRY.values()
                                       if rule.check is not None and rule.status == "active"])]
    return _ACTIVE[0][1]
