"""Meaning of conditions: flags and comparisons over the declared condition variables.

Turns a condition expression into facts over `compiler/data/conditions.yaml`'s
variables, so checks can test the domain (L004) and, later, coverage and overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from decimal import Decimal
from typing import Any

from compiler.labs import lab_specs
from compiler.records import frozen
from compiler.tables import Tables


@frozen(slots=True)
class Atom:
    """One resolved comparison: variable op value (value is a Decimal or a word)."""

    variable: str
    op: str
    value: Decimal | str
    percent: bool = False


def _key(text: str) -> str:
    return " ".join(text.replace("−", "-").split()).lower()


def variables(tables: Tables) -> dict[str, dict[str, Any]]:
    """Declared condition variables: conditions.yaml's, then the lab values of labs.yaml."""
    found: dict[str, dict[str, Any]] = tables.conditions.get("variables") or {}
    labs = lab_specs(tables)
    if not labs:
        return found
    merged = _MERGED.get(tables.fingerprint)
    if merged is None:
        merged = _MERGED[tables.fingerprint] = {**found, **labs}
    return merged


_MERGED: dict[str, dict[str, dict[str, Any]]] = {}


@frozen
class _Index:
    """Normalised look-up tables of one data set (built once per data fingerprint)."""

    variables: dict[str, str]
    flags: dict[str, dict[str, str]]
    exact: dict[str, str]  # case-sensitive spellings (eGFR vs EGFR)
    ambiguous: frozenset[str]  # lower-case keys only an exact spelling resolves
    lab_names: tuple[str, ...]  # exact spellings of lab variables (`eGFR…` is never a flag)
    # answers already given, by written text (bounded: cleared when full)
    found_variables: dict[str, str | None] = field(default_factory=dict)
    found_flags: dict[str, dict[str, str] | None] = field(default_factory=dict)


_MEMO_SIZE = 4096


_INDEXES: dict[str, _Index] = {}


def _index(tables: Tables) -> _Index:
    found = _INDEXES.get(tables.fingerprint)
    if found is None:
        names = {_key(v): v for v in variables(tables)}
        aliases: dict[str, str] = tables.conditions.get("variable_aliases") or {}
        for alias, variable in aliases.items():
            names.setdefault(_key(alias), variable)
        for name, spec in lab_specs(tables).items():
            for alias in spec.get("aliases") or []:
                names.setdefault(_key(str(alias)), name)
        # A name that differs from another only in case (eGFR, EGFR) is read only as written.
        exact: dict[str, str] = {}
        ambiguous: set[str] = set()
        for name, spec in lab_specs(tables).items():
            if spec.get("case_sensitive"):
                ambiguous.add(_key(name))
                exact[name] = name
        for name in variables(tables):
            if _key(name) in ambiguous:
                exact.setdefault(name, name)
        flags: dict[str, dict[str, str]] = {}
        for flag, meaning in (tables.conditions.get("flags") or {}).items():
            flags.setdefault(_key(flag), {k: str(v) for k, v in meaning.items()})
        labs = lab_specs(tables)
        lab_names = tuple(name for name, variable in exact.items() if variable in labs)
        found = _INDEXES[tables.fingerprint] = _Index(names, flags, exact, frozenset(ambiguous), lab_names)
    return found


def find_variable(name: str, tables: Tables) -> str | None:
    """Canonical variable name for a written one (case-insensitive, aliases; eGFR/EGFR by case)."""
    index = _index(tables)
    memo = index.found_variables
    if name in memo:
        return memo[name]
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    key = _key(name)
    if key in index.ambiguous:
        found = index.exact.get(" ".join(name.replace("−", "-").split()))
    else:
        found = index.variables.get(key)
    memo[name] = found
    return found


def find_flag(words: str, tables: Tables) -> dict[str, str] | None:
    """The assignments a flag stands for, or None when the words are not a known flag."""
    meaning = flag_meaning(words, tables)
    return None if meaning is None else dict(meaning)


_UNKNOWN: Any = object()  # not asked yet (a memo's answer may be None)


def flag_meaning(words: str, tables: Tables) -> Mapping[str, str] | None:
    """`find_flag`, as the memo's own mapping (not to be changed): conditions are evaluated for
    every arm and scenario, and a copy each time cost more than the look-up.
    """
    index = _index(tables)
    memo = index.found_flags
    found: dict[str, str] | None = memo.get(words, _UNKNOWN)
    if found is _UNKNOWN:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        found = memo[words] = _find_flag(words, index, tables)
    return found


def _find_flag(words: str, index: _Index, tables: Tables) -> dict[str, str] | None:
    key = _key(words)
    written = " ".join(words.split())
    if any(written.startswith(name) for name in index.lab_names):
        return None  # `eGFR…` is kidney function, never the EGFR-mutation flag
    for candidate in (key, key.replace(" ", "-")):
        meaning = index.flags.get(candidate)
        if meaning is not None:
            return dict(meaning)
    variable = find_variable(words, tables)
    if variable is not None and "yes" in [str(v) for v in variables(tables)[variable].get("values") or []]:
        return {variable: "yes"}
    return None


def known_words(tables: Tables) -> list[str]:
    """Every flag and variable spelling, for did-you-mean suggestions."""
    flags = list((tables.conditions.get("flags") or {}).keys())
    lab_aliases = [str(a) for spec in lab_specs(tables).values() for a in spec.get("aliases") or []]
    return flags + list(variables(tables)) + list((tables.conditions.get("variable_aliases") or {}).keys()) \
        + lab_aliases
