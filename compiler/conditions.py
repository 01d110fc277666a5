"""Meaning of conditions: flags and comparisons over the declared condition variables.

Turns a condition expression into facts over `compiler/data/conditions.yaml`'s
variables, so checks can test the domain (L004) and, later, coverage and overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from compiler.tables import Tables


@dataclass(frozen=True, slots=True)
class Atom:
    """One resolved comparison: variable op value (value is a Decimal or a word)."""

    variable: str
    op: str
    value: Decimal | str
    percent: bool = False


def _key(text: str) -> str:
    return " ".join(text.replace("−", "-").split()).lower()


def variables(tables: Tables) -> dict[str, dict[str, Any]]:
    """Declared condition variables."""
    found: dict[str, dict[str, Any]] = tables.conditions.get("variables") or {}
    return found


@dataclass(frozen=True)
class _Index:
    """Normalised look-up tables of one data set (built once per data fingerprint)."""

    variables: dict[str, str]
    flags: dict[str, dict[str, str]]


_INDEXES: dict[str, _Index] = {}


def _index(tables: Tables) -> _Index:
    found = _INDEXES.get(tables.fingerprint)
    if found is None:
        names = {_key(v): v for v in variables(tables)}
        aliases: dict[str, str] = tables.conditions.get("variable_aliases") or {}
        for alias, variable in aliases.items():
            names.setdefault(_key(alias), variable)
        flags: dict[str, dict[str, str]] = {}
        for flag, meaning in (tables.conditions.get("flags") or {}).items():
            flags.setdefault(_key(flag), {k: str(v) for k, v in meaning.items()})
        found = _INDEXES[tables.fingerprint] = _Index(names, flags)
    return found


def find_variable(name: str, tables: Tables) -> str | None:
    """Canonical variable name for a written one (case-insensitive, aliases)."""
    return _index(tables).variables.get(_key(name))


def find_flag(words: str, tables: Tables) -> dict[str, str] | None:
    """The assignments a flag stands for, or None when the words are not a known flag."""
    index = _index(tables)
    key = _key(words)
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
    return flags + list(variables(tables)) + list((tables.conditions.get("variable_aliases") or {}).keys())
