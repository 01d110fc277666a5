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


def find_variable(name: str, tables: Tables) -> str | None:
    """Canonical variable name for a written one (case-insensitive, aliases)."""
    key = _key(name)
    for variable in variables(tables):
        if _key(variable) == key:
            return variable
    aliases: dict[str, str] = tables.conditions.get("variable_aliases") or {}
    return aliases.get(key)


def find_flag(words: str, tables: Tables) -> dict[str, str] | None:
    """The assignments a flag stands for, or None when the words are not a known flag."""
    flags: dict[str, dict[str, str]] = tables.conditions.get("flags") or {}
    candidates = {_key(words), _key(words).replace(" ", "-")}
    for flag, meaning in flags.items():
        if _key(flag) in candidates:
            return {k: str(v) for k, v in meaning.items()}
    variable = find_variable(words, tables)
    if variable is not None and "yes" in [str(v) for v in variables(tables)[variable].get("values") or []]:
        return {variable: "yes"}
    return None


def known_words(tables: Tables) -> list[str]:
    """Every flag and variable spelling, for did-you-mean suggestions."""
    flags = list((tables.conditions.get("flags") or {}).keys())
    return flags + list(variables(tables)) + list((tables.conditions.get("variable_aliases") or {}).keys())
